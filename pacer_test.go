package edgecache_test

// Tests of a bulk purge's shared pace (pacer.go): the shared pause on each kind of signal,
// waits over the cap, cancellation during a pause, exact accounting under random 429s, the
// rate learned from the server; and the benchmarks at the rate limit.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/edgecachetest"
)

// manualClock is a clock that moves only when the test advances it; Sleep blocks until then
// (or until ctx ends), so a test can look at a bulk purge while every worker waits.
type manualClock struct {
	mu       sync.Mutex
	now      time.Time
	sleepers int
	moved    chan struct{} // closed, and replaced, whenever now moves
}

func newManualClock(at time.Time) *manualClock {
	return &manualClock{now: at, moved: make(chan struct{})}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for wake := c.now.Add(d); c.now.Before(wake); {
		moved := c.moved
		c.sleepers++
		c.mu.Unlock()
		var err error
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-moved:
		}
		c.mu.Lock()
		c.sleepers--
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	close(c.moved)
	c.moved = make(chan struct{})
}

// awaitSleepers returns once n goroutines sleep on the clock or, when also is not nil, once
// the sleepers and also's value add up to n. It fails the test if that never happens; it
// measures nothing.
func (c *manualClock) awaitSleepers(t *testing.T, n int, also *atomic.Int64) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		c.mu.Lock()
		got := c.sleepers
		c.mu.Unlock()
		if also != nil {
			got += int(also.Load())
		}
		if got == n {
			return
		}
	}
	t.Fatalf("never %d goroutines asleep on the clock (or held)", n)
}

// paceStart is the tests' epoch: a whole second, so that X-RateLimit-Reset is exact.
var paceStart = time.Unix(1_700_000_000, 0)

// pacedTags returns n distinct valid tags.
func pacedTags(n int) []string {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("pace-%06d", i)
	}
	return tags
}

// gatedFake is the spec-validating fake behind a gate: while the gate is closed, signal sees
// every request first and may answer it itself (reporting true), or only add headers to the
// fake's answer. It counts every request.
type gatedFake struct {
	fake   *edgecachetest.Handler
	open   atomic.Bool
	calls  atomic.Int64
	signal func(w http.ResponseWriter, r *http.Request) bool
}

func (g *gatedFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.calls.Add(1)
	if !g.open.Load() && g.signal(w, r) {
		return
	}
	g.fake.ServeHTTP(w, r)
}

// lockedRandom is a seeded source of floats in [0, 1) that handlers may share.
func lockedRandom(seed, stream uint64) func() float64 {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, stream))
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		return rng.Float64()
	}
}

// randomFaults answers a share of requests itself, drawn from random: a 429 asking for a
// wait of retryAfterMs (a share of waited), a 429 with nothing to go by, which leaves the
// wait to the retry policy (bare), and a 503 (unavailable). The rest go on to the fake.
type randomFaults struct {
	random                    func() float64
	retryAfterMs              string
	waited, bare, unavailable float64
}

// answer is a gatedFake's signal.
func (f randomFaults) answer(w http.ResponseWriter, _ *http.Request) bool {
	switch x := f.random(); {
	case x < f.waited:
		w.Header().Set("Retry-After-Ms", f.retryAfterMs)
		write429(w, nil)
	case x < f.waited+f.bare:
		write429(w, nil)
	case x < f.waited+f.bare+f.unavailable:
		w.WriteHeader(http.StatusServiceUnavailable)
	default:
		return false
	}
	return true
}

// write429 answers 429 with Vercel's envelope, and the limit block when limit is not nil.
func write429(w http.ResponseWriter, limit *edgecache.RateLimit) {
	body := map[string]any{"code": "rate_limited", "message": "Too many requests"}
	if limit != nil {
		body["limit"] = limit
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": body})
}

// pauseRecorder keeps every Progress call that carried a pause.
type pauseRecorder struct {
	mu     sync.Mutex
	pauses []edgecache.BulkProgress
}

func (p *pauseRecorder) progress(s edgecache.BulkProgress) {
	if s.Pause > 0 {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.pauses = append(p.pauses, s)
	}
}

func (p *pauseRecorder) get() []edgecache.BulkProgress {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.pauses)
}

// bulkRun is a bulk purge running in a goroutine.
type bulkRun struct {
	cancel   context.CancelFunc
	finished chan struct{}
	res      *edgecache.BulkResult
	err      error
}

// startBulk starts purging tags with c. At the end of the test it calls release, cancels the
// purge and waits for it, so that a failing test leaves nothing behind.
func startBulk(t *testing.T, c *edgecache.Client, tags []string, opts edgecache.BulkOptions, release func()) *bulkRun {
	ctx, cancel := context.WithCancel(t.Context())
	r := &bulkRun{cancel: cancel, finished: make(chan struct{})}
	go func() {
		defer close(r.finished)
		r.res, r.err = c.Bulk(ctx, edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: testProject, Tags: edgecache.TagList(tags...)}, opts)
	}()
	t.Cleanup(func() {
		release()
		cancel()
		<-r.finished
	})
	return r
}

// wait returns once the purge has ended. It fails the test if that never happens; it
// measures nothing.
func (r *bulkRun) wait(t *testing.T) {
	t.Helper()
	select {
	case <-r.finished:
	case <-time.After(20 * time.Second):
		t.Fatal("the purge never ended")
	}
}

// A 429 pauses every worker until the server's reset, whichever signal gives it; the pause
// uses up no attempt (the client allows one); Progress shows it; then every tag is purged.
//
// The fake gives the signal to the first request only, and holds the others until every
// worker sleeps or is held: the workers whose request it then lets through must wait out the
// same pause without sending anything more.
func TestBulkSharedPauseOnEachSignal(t *testing.T) {
	reset := paceStart.Add(7 * time.Second)
	headers := func(w http.ResponseWriter, at time.Time) {
		w.Header().Set("X-RateLimit-Limit", "100")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(at.Unix(), 10))
	}
	block := func(at time.Time) *edgecache.RateLimit {
		return &edgecache.RateLimit{Remaining: 0, Reset: at.Unix(), ResetMs: at.UnixMilli(), Total: 100}
	}
	for _, tc := range []struct {
		name      string
		signal    func(w http.ResponseWriter) bool
		wantPause time.Duration
	}{
		{"Retry-After only", func(w http.ResponseWriter) bool {
			w.Header().Set("Retry-After", "7")
			write429(w, nil)
			return true
		}, 7 * time.Second},
		{"limit block only", func(w http.ResponseWriter) bool {
			write429(w, block(reset))
			return true
		}, 7 * time.Second},
		{"limit block refining Retry-After", func(w http.ResponseWriter) bool {
			w.Header().Set("Retry-After", "7")
			write429(w, block(paceStart.Add(6500*time.Millisecond)))
			return true
		}, 6500 * time.Millisecond},
		{"Retry-After overruling a skewed limit block", func(w http.ResponseWriter) bool {
			w.Header().Set("Retry-After", "7")
			write429(w, block(paceStart.Add(30*time.Second)))
			return true
		}, 7 * time.Second},
		{"X-RateLimit headers on the 429", func(w http.ResponseWriter) bool {
			headers(w, reset)
			write429(w, nil)
			return true
		}, 7 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const concurrency = 4
			var first atomic.Bool
			var held atomic.Int64
			hold := make(chan struct{})
			release := sync.OnceFunc(func() { close(hold) })
			g := &gatedFake{fake: edgecachetest.NewHandler(edgecachetest.WithTokens(testToken)),
				signal: func(w http.ResponseWriter, _ *http.Request) bool {
					if first.CompareAndSwap(false, true) {
						return tc.signal(w)
					}
					held.Add(1)
					<-hold
					return false
				}}
			clock := newManualClock(paceStart)
			c := clientOf(t, newHTTPServer(t, g), edgecache.WithClock(clock.Now, clock.Sleep), noRetry)
			tags := pacedTags(200)
			var rec pauseRecorder
			run := startBulk(t, c, tags, edgecache.BulkOptions{Concurrency: concurrency, Progress: rec.progress}, release)

			clock.awaitSleepers(t, concurrency, &held) // every worker asleep or held
			release()
			clock.awaitSleepers(t, concurrency, nil)
			if n := g.calls.Load(); n > concurrency {
				t.Errorf("%d requests before the pause ended, want at most one per worker", n)
			}
			// The first call comes as the pause begins, before any request has ended; the
			// others as the held requests end during it.
			pauses := rec.get()
			if len(pauses) == 0 || pauses[0].RequestsDone != 0 {
				t.Fatalf("Progress during the pause: %+v, want a first call as it began, with no request done", pauses)
			}
			for _, p := range pauses {
				if p.Pause != tc.wantPause {
					t.Errorf("Progress showed a pause of %s, want %s", p.Pause, tc.wantPause)
				}
			}

			g.open.Store(true)
			clock.Advance(tc.wantPause)
			run.wait(t)

			if run.err != nil {
				t.Fatalf("Bulk: %v", run.err)
			}
			if len(run.res.Purged) != len(tags) {
				t.Errorf("purged %d tags, want %d", len(run.res.Purged), len(tags))
			}
			checkAccounting(t, tags, run.res, acceptedItems(g.fake))
			if got := rec.get(); len(got) != len(pauses) {
				t.Errorf("Progress showed a pause after it ended: %v", got[len(pauses):])
			}
		})
	}
}

// windowLimit is a fixed-window rate limit on a manual clock, as edgecachetest.WithRateLimit
// has on the real one: n requests a second, the window opening with the first request after
// the last one closed; a 429 carries the signals of signal (see rateLimitSignals).
type windowLimit struct {
	clock  *manualClock
	n      int
	signal string

	mu           sync.Mutex
	start        time.Time
	used         int
	calls, limit int
}

// refuse counts a request and answers it 429 when the window is spent, reporting true; it
// adds X-RateLimit headers to any answer when signal is "headers".
func (l *windowLimit) refuse(w http.ResponseWriter) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	if l.start.IsZero() || now.Sub(l.start) >= time.Second {
		l.start, l.used = now, 0
	}
	l.used++
	l.calls++
	reset := l.start.Add(time.Second)
	if l.signal == "headers" {
		w.Header().Set("X-RateLimit-Limit", strconv.Itoa(l.n))
		w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(max(l.n-l.used, 0)))
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	}
	if l.used <= l.n {
		return false
	}
	l.limit++
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(reset.Sub(now).Seconds()))))
	var block *edgecache.RateLimit
	if l.signal != "retry-after" {
		block = &edgecache.RateLimit{Remaining: 0, Reset: reset.Unix(), ResetMs: reset.UnixMilli(), Total: l.n}
	}
	write429(w, block)
	return true
}

func (l *windowLimit) counts() (calls, limited int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls, l.limit
}

// A bulk purge finds a limit below its concurrency with few 429s, whichever signals the server
// gives: the first round (8 requests against a limit of 5) is answered before any worker sends
// again, so it costs 3; after the pause the restart is gradual, and finds the next window's
// end with 1 (with the limit known, the window's 5 and one probe; without, rounds of 1, 2, 3).
// Racing workers, or all 8 released at once, would spend 3 or more in each window.
func TestBulkLearnsTheLimitCheaply(t *testing.T) {
	for _, signal := range rateLimitSignals {
		t.Run(signal, func(t *testing.T) {
			const concurrency = 8
			clock := newManualClock(paceStart)
			limit := &windowLimit{clock: clock, n: 5, signal: signal}
			g := &gatedFake{fake: edgecachetest.NewHandler(edgecachetest.WithTokens(testToken)),
				signal: func(w http.ResponseWriter, _ *http.Request) bool { return limit.refuse(w) }}
			c := clientOf(t, newHTTPServer(t, g), edgecache.WithClock(clock.Now, clock.Sleep))
			tags := pacedTags(1500)
			run := startBulk(t, c, tags, edgecache.BulkOptions{Concurrency: concurrency}, func() {})

			clock.awaitSleepers(t, concurrency, nil) // every worker waits out the first pause
			// At most the first round: a worker that had not started when the first 429
			// came back waits without sending.
			calls1, limited1 := limit.counts()
			if calls1 > concurrency || limited1 != calls1-5 {
				t.Fatalf("first window: %d requests, %d answered 429; want at most the round of 8, all but 5 answered 429", calls1, limited1)
			}
			clock.Advance(time.Second)
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
				if calls, _ := limit.counts(); calls >= calls1+6 || time.Now().After(deadline) {
					break
				}
			}
			clock.awaitSleepers(t, concurrency, nil) // every worker waits out the second pause
			if calls, limited := limit.counts(); calls-calls1 != 6 || limited-limited1 != 1 {
				t.Errorf("second window: %d requests, %d answered 429; want 6 and 1 (the window's 5, and 1 more)", calls-calls1, limited-limited1)
			}
			run.cancel()
			run.wait(t)
			checkAccounting(t, tags, run.res, acceptedItems(g.fake))
			if len(run.res.Purged) != 10*16 {
				t.Errorf("purged %d tags, want the 10 requests' 160", len(run.res.Purged))
			}
		})
	}
}

// With a limit above the concurrency, what the server says the window allows keeps a bulk
// purge within it: with X-RateLimit-Remaining on every answer, from the start; with the limit
// block's total, from the first pause on. Each window then gets exactly the limit and one
// probe, where free-running workers would each have met the 429.
func TestBulkKeepsWithinTheWindowItIsTold(t *testing.T) {
	for _, signal := range []string{"block", "headers"} {
		t.Run(signal, func(t *testing.T) {
			const concurrency, n = 8, 50
			clock := newManualClock(paceStart)
			limit := &windowLimit{clock: clock, n: n, signal: signal}
			g := &gatedFake{fake: edgecachetest.NewHandler(edgecachetest.WithTokens(testToken)),
				signal: func(w http.ResponseWriter, _ *http.Request) bool { return limit.refuse(w) }}
			c := clientOf(t, newHTTPServer(t, g), edgecache.WithClock(clock.Now, clock.Sleep))
			tags := pacedTags(5000)
			run := startBulk(t, c, tags, edgecache.BulkOptions{Concurrency: concurrency}, func() {})

			clock.awaitSleepers(t, concurrency, nil)
			calls1, limited1 := limit.counts()
			if signal == "headers" && (calls1 != n+1 || limited1 != 1) {
				t.Errorf("first window: %d requests, %d answered 429; want %d and 1", calls1, limited1, n+1)
			}
			clock.Advance(time.Second)
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
				if calls, _ := limit.counts(); calls >= calls1+n+1 || time.Now().After(deadline) {
					break
				}
			}
			clock.awaitSleepers(t, concurrency, nil)
			if calls, limited := limit.counts(); calls-calls1 != n+1 || limited-limited1 != 1 {
				t.Errorf("second window: %d requests, %d answered 429; want %d and 1", calls-calls1, limited-limited1, n+1)
			}
			run.cancel()
			run.wait(t)
			checkAccounting(t, tags, run.res, acceptedItems(g.fake))
		})
	}
}

// Cancelling the context during a pause ends the purge at once, with exact accounting: the
// batches waiting out the 429 are interrupted, the others were never sent. goleak (TestMain)
// checks that no worker is left.
func TestBulkCancelledDuringPause(t *testing.T) {
	const concurrency = 4
	g := &gatedFake{fake: edgecachetest.NewHandler(edgecachetest.WithTokens(testToken)),
		signal: func(w http.ResponseWriter, _ *http.Request) bool {
			w.Header().Set("Retry-After", "30")
			write429(w, nil)
			return true
		}}
	clock := newManualClock(paceStart)
	c := clientOf(t, newHTTPServer(t, g), edgecache.WithClock(clock.Now, clock.Sleep))
	tags := pacedTags(200)
	run := startBulk(t, c, tags, edgecache.BulkOptions{Concurrency: concurrency}, func() {})
	clock.awaitSleepers(t, concurrency, nil)
	run.cancel()
	run.wait(t)

	if !errors.Is(run.err, context.Canceled) || !errors.Is(run.err, edgecache.ErrRateLimited) {
		t.Errorf("err = %v, want one matching context.Canceled and ErrRateLimited", run.err)
	}
	if _, ok := errors.AsType[*edgecache.BulkError](run.err); !ok {
		t.Errorf("err is %T, want *BulkError", run.err)
	}
	// A worker that found the pause begun before its first request never sent it.
	sent := int(g.calls.Load())
	if len(run.res.Purged) != 0 || len(run.res.Failed) != 0 || len(run.res.Interrupted) != sent*16 || sent < 1 || sent > concurrency {
		t.Errorf("%d requests: purged %d tags, failed %d batches, interrupted %d tags; want 1 to %d requests, each an interrupted batch",
			sent, len(run.res.Purged), len(run.res.Failed), len(run.res.Interrupted), concurrency)
	}
	checkAccounting(t, tags, run.res, acceptedItems(g.fake))
}

// A 429 whose wait is over MaxRetryAfter (60 s) is not waited out: its tags fail, with the
// wait in the error, and no new request starts. Only Retry-After is exact enough to skip the
// retry policy; a limit block alone leaves the 429 to it.
func TestBulkWaitOverTheCap(t *testing.T) {
	for _, tc := range []struct {
		name     string
		signal   func(w http.ResponseWriter, now time.Time)
		attempts int // requests per batch
	}{
		{"Retry-After", func(w http.ResponseWriter, _ time.Time) {
			w.Header().Set("Retry-After", "120")
			write429(w, nil)
		}, 1},
		{"limit block", func(w http.ResponseWriter, now time.Time) {
			at := now.Add(2 * time.Minute)
			write429(w, &edgecache.RateLimit{Reset: at.Unix(), ResetMs: at.UnixMilli(), Total: 1})
		}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{base: paceStart}
			var calls atomic.Int64
			g := &gatedFake{fake: edgecachetest.NewHandler(edgecachetest.WithTokens(testToken)),
				signal: func(w http.ResponseWriter, _ *http.Request) bool {
					// A bound, so that a client waiting out these 429s ends (and fails below).
					if calls.Add(1) > 100 {
						return false
					}
					tc.signal(w, clock.Now())
					return true
				}}
			c := clientOf(t, newHTTPServer(t, g), clock.Option())
			tags := pacedTags(200)
			res, err := c.Bulk(t.Context(), edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: testProject, Tags: edgecache.TagList(tags...)},
				edgecache.BulkOptions{Concurrency: 4})
			if !errors.Is(err, edgecache.ErrRateLimited) {
				t.Fatalf("err = %v, want ErrRateLimited", err)
			}
			for _, w := range clock.Waits() {
				if w >= time.Minute {
					t.Errorf("the client waited %s, over MaxRetryAfter", w)
				}
			}
			// Each worker's first batch at most: no new request starts after the first failure.
			if n := len(res.Failed); n < 1 || n > 4 || g.calls.Load() != int64(n*tc.attempts) {
				t.Errorf("%d failed batches, %d requests; want 1 to 4 batches of %d requests each", n, g.calls.Load(), tc.attempts)
			}
			for _, fb := range res.Failed {
				if apiErr, ok := errors.AsType[*edgecache.APIError](fb.Err); !ok || fb.Status != http.StatusTooManyRequests ||
					tc.name == "Retry-After" && apiErr.RetryAfter != 2*time.Minute {
					t.Errorf("failed batch: %d %v, want a 429 (with its Retry-After)", fb.Status, fb.Err)
				}
			}
			checkAccounting(t, tags, res, acceptedItems(g.fake))
		})
	}
}

// Under random 429s (most waited out, a few with no wait to go by), 503s and 200s at
// concurrency 64, every tag is accounted for exactly once and Purged is exactly what the
// server accepted. Run with -race.
func TestBulkAccountingUnderRandom429s(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			random := lockedRandom(seed, 10)
			g := &gatedFake{fake: edgecachetest.NewHandler(edgecachetest.WithTokens(testToken)),
				signal: randomFaults{random: random, retryAfterMs: "3", waited: 0.25, bare: 0.03, unavailable: 0.05}.answer}
			clock := &fakeClock{}
			c := clientOf(t, newHTTPServer(t, g), clock.Option())
			tags := pacedTags(64 * 16 * 4)
			res, err := c.Bulk(t.Context(), edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: testProject, Tags: edgecache.TagList(tags...)},
				edgecache.BulkOptions{Concurrency: 64})
			checkAccounting(t, tags, res, acceptedItems(g.fake))
			if (err == nil) != (len(res.Purged) == len(tags)) {
				t.Errorf("err = %v with %d of %d tags purged", err, len(res.Purged), len(tags))
			}
			t.Logf("%d requests: %d tags purged, %d batches failed, %d tags not attempted",
				g.calls.Load(), len(res.Purged), len(res.Failed), len(res.NotAttempted))
		})
	}
}

// A single call keeps the retry policy: its 429 uses up an attempt.
func TestSingleCallRateLimitIsARetry(t *testing.T) {
	clock := &fakeClock{base: paceStart}
	var calls atomic.Int64
	g := &gatedFake{fake: edgecachetest.NewHandler(edgecachetest.WithTokens(testToken)),
		signal: func(w http.ResponseWriter, _ *http.Request) bool {
			if calls.Add(1) > 1 {
				return false
			}
			w.Header().Set("Retry-After", "1")
			write429(w, nil)
			return true
		}}
	c := clientOf(t, newHTTPServer(t, g), clock.Option())
	res, err := c.DangerouslyDeleteByTags(t.Context(), edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: testProject, Tags: edgecache.TagList("a")})
	if err != nil || res.Attempts != 2 || !slices.Equal(clock.Waits(), []time.Duration{time.Second}) {
		t.Errorf("res %+v, err %v, waits %v; want 2 attempts after a 1 s wait", res, err, clock.Waits())
	}
}

func TestBulkMaxRateValidated(t *testing.T) {
	s := newFake(t)
	c := newClient(t, s)
	for _, rate := range []float64{-1, math.NaN()} {
		res, err := c.Bulk(t.Context(), edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: testProject, Tags: edgecache.TagList("a", "b")},
			edgecache.BulkOptions{MaxRate: rate})
		var vErr *edgecache.ValidationError
		if !errors.As(err, &vErr) || vErr.Field != "MaxRate" || len(res.NotAttempted) != 2 {
			t.Errorf("MaxRate %v: err %v, result %+v; want a ValidationError naming MaxRate, nothing sent", rate, err, res)
		}
	}
	if s.Calls() != 0 {
		t.Errorf("%d requests sent, want none", s.Calls())
	}
}

// rateLimitSignals are the ways a rate-limited fake says so: "block", as edgecachetest's
// WithRateLimit does (a 429 with Retry-After and the envelope's limit block); "headers", with
// X-RateLimit-* on every answer too (WithRateLimitHeaders); "retry-after", a 429 with
// Retry-After alone, the only signal Vercel is known to send.
var rateLimitSignals = []string{"block", "headers", "retry-after"}

// limitedFake is a rate-limited fake (see rateLimitedFake) that counts its answers.
type limitedFake struct {
	fake           http.Handler
	calls, limited atomic.Int64
}

func (f *limitedFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	f.fake.ServeHTTP(rec, r)
	f.calls.Add(1)
	if rec.Code == http.StatusTooManyRequests {
		f.limited.Add(1)
	}
	maps.Copy(w.Header(), rec.Header())
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// rateLimitedFake serves a fake that allows limit requests in each fixed one-second window,
// signalling it as signal says, with recording off, on 127.0.0.1. It returns the fake and its
// URL; the server closes at the end of the benchmark.
func rateLimitedFake(tb testing.TB, limit int, signal string) (*limitedFake, string) {
	tb.Helper()
	opts := []edgecachetest.Option{edgecachetest.WithRateLimit(limit, time.Second), edgecachetest.WithoutRecording()}
	switch signal {
	case "headers":
		opts = append(opts, edgecachetest.WithRateLimitHeaders())
	case "retry-after":
		opts = append(opts, edgecachetest.WithRateLimitRetryAfterOnly())
	}
	f := &limitedFake{fake: edgecachetest.NewHandler(opts...)}
	return f, newHTTPServer(tb, f).URL
}

// BenchmarkPacedBulk purges tags at concurrency 8. Without a limit, at 20 ms latency: 10,000
// tags (625 requests), whose floor is ceil(625/8) × 20 ms = 1.58 s. Against a fake limited to R
// requests per second in fixed one-second windows (EDGECACHE_BENCH_RATELIMIT=1 runs them;
// scripts/bench-ratelimit.sh): N tags, each way of signalling the limit; the floor is
// requests/R. x-floor is the wall time over the floor; 429s/req-% the share of requests
// answered 429 (targets for 1,500 tags at 5/s: 5% with the limit block or headers, 10% with
// Retry-After alone, 1.15x the floor).
func BenchmarkPacedBulk(b *testing.B) {
	const concurrency = 8
	purge := func(b *testing.B, c *edgecache.Client, tags []string) {
		res, err := c.Bulk(b.Context(), edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: testProject, Tags: edgecache.TagList(tags...)},
			edgecache.BulkOptions{Concurrency: concurrency})
		if err != nil || len(res.Purged) != len(tags) {
			b.Fatalf("purged %d of %d tags: %v", len(res.Purged), len(tags), err)
		}
	}

	b.Run("unlimited/latency=20ms", func(b *testing.B) {
		if f := flag.Lookup("test.benchtime"); b.N > 1 && f != nil && strings.HasSuffix(f.Value.String(), "x") {
			b.Skip("one op is a 1.6 s purge; the first ran (use a -benchtime duration)")
		}
		const tags = 10000
		requests := (tags + edgecache.MaxTagsPerRequest - 1) / edgecache.MaxTagsPerRequest
		s := edgecachetest.NewServer(edgecachetest.WithLatency(20*time.Millisecond), edgecachetest.WithoutRecording())
		defer s.Close()
		c, err := s.NewClient()
		if err != nil {
			b.Fatal(err)
		}
		all := pacedTags(tags)
		b.ResetTimer()
		for range b.N {
			purge(b, c, all)
		}
		floor := time.Duration((requests+concurrency-1)/concurrency) * 20 * time.Millisecond
		b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(floor), "x-floor")
	})

	for _, run := range []struct{ tags, limit int }{{1500, 5}, {2000, 5}, {10000, 5}, {1500, 50}, {2000, 50}, {10000, 50}} {
		for _, signal := range rateLimitSignals {
			b.Run(fmt.Sprintf("tags=%d/limit=%d-per-s/signal=%s", run.tags, run.limit, signal), func(b *testing.B) {
				requests := (run.tags + edgecache.MaxTagsPerRequest - 1) / edgecache.MaxTagsPerRequest
				if os.Getenv("EDGECACHE_BENCH_RATELIMIT") == "" {
					b.Skipf("a purge at %d requests/s takes %d s: set EDGECACHE_BENCH_RATELIMIT=1", run.limit, requests/run.limit)
				}
				all := pacedTags(run.tags)
				var calls, limited int
				var elapsed time.Duration
				for range b.N {
					b.StopTimer()
					fake, url := rateLimitedFake(b, run.limit, signal)
					c := clientFor(b, url)
					b.StartTimer()
					start := time.Now()
					purge(b, c, all)
					elapsed += time.Since(start)
					b.StopTimer()
					calls += int(fake.calls.Load())
					limited += int(fake.limited.Load())
				}
				floor := time.Duration(requests) * time.Second / time.Duration(run.limit)
				b.ReportMetric(float64(elapsed)/float64(b.N)/float64(floor), "x-floor")
				b.ReportMetric(float64(calls)/float64(b.N), "requests/op")
				b.ReportMetric(100*float64(limited)/float64(calls), "429s/req-%")
				b.ReportMetric(float64(limited)/float64(b.N), "429s/op")
			})
		}
	}
}

// *rate.Limiter from golang.org/x/time/rate is the outside limiter Limiter documents.
var _ edgecache.Limiter = (*rate.Limiter)(nil)

// countingLimiter is an outside limiter that counts its waits and refuses after allow of them
// (never when allow is negative).
type countingLimiter struct {
	allow int64
	waits atomic.Int64
}

var errLimiterRefused = errors.New("limiter refused")

func (l *countingLimiter) Wait(ctx context.Context) error {
	if n := l.waits.Add(1); l.allow >= 0 && n > l.allow {
		return errLimiterRefused
	}
	return ctx.Err()
}

// Every request waits for the outside limiter, retries and requests sent again after a 429
// included: it sees exactly what the server sees. Its own error stops a bulk purge, which
// says why; the purger gives it to the callers whose items it held back.
func TestOutsideLimiter(t *testing.T) {
	t.Run("every request", func(t *testing.T) {
		s := newFake(t)
		s.FailNext(1, edgecachetest.Fault{Status: http.StatusServiceUnavailable})
		s.FailNext(1, edgecachetest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"})
		c := newClient(t, s, (&fakeClock{}).Option())
		lim := &countingLimiter{allow: -1}
		tags := pacedTags(100)
		res, err := c.Bulk(t.Context(), deleteRequest(tags...), edgecache.BulkOptions{Concurrency: 2, Limiter: lim})
		if err != nil || len(res.Purged) != len(tags) {
			t.Fatalf("Bulk: %v, purged %d", err, len(res.Purged))
		}
		if got, want := lim.waits.Load(), int64(s.Calls()); got != want || want != 9 {
			t.Errorf("the limiter was waited for %d times, the server saw %d requests; want both 9 (7 and a retry and a re-send)", got, want)
		}
	})
	t.Run("refusing stops a bulk purge", func(t *testing.T) {
		s := newFake(t)
		c := newClient(t, s)
		res, err := c.Bulk(t.Context(), deleteRequest(pacedTags(100)...), edgecache.BulkOptions{Concurrency: 1, Limiter: &countingLimiter{allow: 2}})
		if !errors.Is(err, errLimiterRefused) || len(res.Purged) != 32 || len(res.NotAttempted) != 68 || s.Calls() != 2 {
			t.Errorf("err %v, purged %d, not attempted %d, %d requests; want the limiter's error, 32, 68, 2",
				err, len(res.Purged), len(res.NotAttempted), s.Calls())
		}
	})
	t.Run("purger", func(t *testing.T) {
		s := newFake(t)
		c := newClient(t, s)
		lim := &countingLimiter{allow: 1}
		p := c.NewPurger(edgecache.PurgerOptions{Window: time.Hour, Limiter: lim})
		closePurger(t, p)
		if err := p.Purge(t.Context(), invalidate(pacedTags(16)...)); err != nil {
			t.Fatalf("first Purge = %v", err)
		}
		if err := p.Purge(t.Context(), invalidate(pacedTags(17)[1:]...)); !errors.Is(err, errLimiterRefused) {
			t.Errorf("second Purge = %v, want the limiter's error", err)
		}
		if s.Calls() != 1 || lim.waits.Load() != 2 {
			t.Errorf("%d requests, %d waits; want 1 and 2", s.Calls(), lim.waits.Load())
		}
	})
}

// A shared pause is logged at debug level when it begins, with its wait and the server's limit,
// and the rate learned when it is learned.
func TestRateLimitWaitsAreLogged(t *testing.T) {
	clock := newManualClock(paceStart)
	limit := &windowLimit{clock: clock, n: 5, signal: "block"}
	g := &gatedFake{fake: edgecachetest.NewHandler(edgecachetest.WithTokens(testToken)),
		signal: func(w http.ResponseWriter, _ *http.Request) bool { return limit.refuse(w) }}
	var logs logBuffer
	c := clientOf(t, newHTTPServer(t, g), edgecache.WithClock(clock.Now, clock.Sleep), logs.option())
	run := startBulk(t, c, pacedTags(500), edgecache.BulkOptions{Concurrency: 8}, func() {})
	clock.awaitSleepers(t, 8, nil)
	clock.Advance(time.Second)
	for deadline := time.Now().Add(20 * time.Second); strings.Count(logs.String(), "every request waits") < 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	clock.awaitSleepers(t, 8, nil)
	clock.Advance(time.Second)
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(logs.String(), "pacing requests") && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	run.cancel()
	run.wait(t)
	got := logs.String()
	for _, want := range []string{
		`level=DEBUG msg="edgecache: rate limited (429); every request waits" wait=1s limit=5`,
		`level=DEBUG msg="edgecache: pacing requests at the rate the server allowed" rate=4.75/s`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the log lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "every request waits"); n != 2 {
		t.Errorf("%d pauses logged, want 2 (one per pause, not per request):\n%s", n, got)
	}
}

// A 2xx answer carries the rate limit the server reported, as go-github's Response.Rate does;
// an error without a limit block takes it from the headers too.
func TestResultCarriesTheRateLimit(t *testing.T) {
	var headers atomic.Bool
	_, _, url := fakeBehind(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if headers.Load() {
				w.Header().Set("X-RateLimit-Limit", "100")
				w.Header().Set("X-RateLimit-Remaining", "42")
				w.Header().Set("X-RateLimit-Reset", "1700000060")
			}
			next.ServeHTTP(w, r)
		})
	}, edgecachetest.WithProjects(testProject))
	c := clientFor(t, url, noRetry)
	res, err := c.InvalidateByTags(t.Context(), invalidate("a"))
	if err != nil || res.RateLimit != nil {
		t.Fatalf("without headers: %+v, %v; want no RateLimit", res, err)
	}
	headers.Store(true)
	want := edgecache.RateLimit{Total: 100, Remaining: 42, Reset: 1700000060, ResetMs: 1700000060000}
	res, err = c.InvalidateByTags(t.Context(), invalidate("a"))
	if err != nil || res.RateLimit == nil || *res.RateLimit != want {
		t.Errorf("Result %+v (RateLimit %+v), %v; want RateLimit %+v", res, res.RateLimit, err, want)
	}
	_, err = c.InvalidateByTags(t.Context(), edgecache.InvalidateByTagsRequest{ProjectIDOrName: "prj_missing", Tags: edgecache.TagList("a")})
	if apiErr, ok := errors.AsType[*edgecache.APIError](err); !ok || apiErr.RateLimit == nil || *apiErr.RateLimit != want {
		t.Errorf("404: %v; want an *APIError with RateLimit %+v", err, want)
	}
}
