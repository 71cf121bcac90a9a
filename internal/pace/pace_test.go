package pace_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/vercelkit/edgecache/internal/pace"
)

// *rate.Limiter is the outside limiter the package documents.
var _ pace.Limiter = (*rate.Limiter)(nil)

// clock is a virtual clock: Sleep records the wait and moves now forward at once.
type clock struct {
	now   time.Time
	waits []time.Duration
}

func (c *clock) Now() time.Time { return c.now }

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	return nil
}

var epoch = time.Unix(1_700_000_000, 0)

// harness drives one pacer from a single goroutine: start asks for a turn without waiting for
// anything (a cancelled context makes Wait return instead of wait), answer hands one back.
type harness struct {
	t      *testing.T
	clk    *clock
	p      *pace.Pacer
	turns  []pace.Turn // granted, not yet answered, oldest first
	pauses []time.Duration
}

func newHarness(t *testing.T, concurrency int, maxRate float64) *harness {
	h := &harness{t: t, clk: &clock{now: epoch}}
	h.p = pace.New(pace.Config{MaxRate: maxRate, MaxWait: time.Minute, Concurrency: concurrency, Now: h.clk.Now, Sleep: h.clk.Sleep,
		OnPause: func(d time.Duration, _ pace.Answer) { h.pauses = append(h.pauses, d) }})
	return h
}

// start reports whether a request may start at once, and if so keeps its turn.
func (h *harness) start() bool {
	ctx, cancel := context.WithCancel(h.t.Context())
	cancel()
	turn, err := h.p.Wait(ctx)
	if err != nil {
		return false
	}
	h.turns = append(h.turns, turn)
	return true
}

// starts counts how many requests may start at once, up to most.
func (h *harness) starts(most int) int {
	n := 0
	for n < most && h.start() {
		n++
	}
	return n
}

// answer hands back the oldest turn with a.
func (h *harness) answer(a pace.Answer) bool {
	h.t.Helper()
	if len(h.turns) == 0 {
		h.t.Fatal("no request in flight to answer")
	}
	turn := h.turns[0]
	h.turns = h.turns[1:]
	return h.p.Observe(turn, a)
}

var ok = pace.Answer{Status: 200}

func limited(wait time.Duration, total int) pace.Answer {
	a := pace.Answer{Status: 429, Wait: wait}
	if total > 0 {
		a.Limit = &pace.Limit{Total: total, Remaining: 0}
	}
	return a
}

// The first round holds Concurrency requests; no more start until all are answered, so that a
// limit below the concurrency meets that round only. Then requests flow freely.
func TestFirstRoundIsAnsweredBeforeMoreStart(t *testing.T) {
	h := newHarness(t, 3, 0)
	if n := h.starts(10); n != 3 {
		t.Fatalf("%d requests started at once, want the concurrency, 3", n)
	}
	h.answer(ok)
	h.answer(ok)
	if h.start() {
		t.Fatal("a request started before the first round was answered")
	}
	h.answer(ok)
	if n := h.starts(10); n != 10 {
		t.Errorf("after the first round, %d requests could start, want no bound from the pace (10)", n)
	}
}

// After a pause the rounds restart at one request and grow by one per round, each round
// starting once the one before is answered, until they reach the concurrency.
func TestRestartAfterAPauseIsGradual(t *testing.T) {
	h := newHarness(t, 4, 0)
	h.starts(4)
	h.answer(ok)
	if !h.answer(limited(time.Second, 0)) {
		t.Fatal("a 429 with a 1 s wait is not waited out")
	}
	h.answer(ok)
	h.answer(ok)
	if h.start() {
		t.Fatal("a request started during the pause")
	}
	h.clk.now = h.clk.now.Add(time.Second)
	for size := 1; size <= 4; size++ {
		if n := h.starts(10); n != size {
			t.Fatalf("round %d: %d requests started, want %d", size, n, size)
		}
		for range size {
			h.answer(ok)
		}
	}
	if n := h.starts(10); n != 10 {
		t.Errorf("after the rounds reach the concurrency, %d could start, want no bound (10)", n)
	}
	if len(h.pauses) != 1 || h.pauses[0] != time.Second {
		t.Errorf("pauses told: %v, want one of 1s", h.pauses)
	}
}

// With the server's total known from a 429's limit block, the window after the pause gets
// exactly that many requests, in rounds of 1, 2 and what is left, then a single probe; the
// probe's 429 starts the next pause.
func TestWindowAllowsTheServersTotalThenOneProbe(t *testing.T) {
	h := newHarness(t, 8, 0)
	h.starts(8)
	for range 5 {
		h.answer(ok)
	}
	for range 3 {
		h.answer(limited(time.Second, 5))
	}
	h.clk.now = h.clk.now.Add(time.Second)
	for _, want := range []int{1, 2, 2} {
		if n := h.starts(10); n != want {
			t.Fatalf("%d requests started, want %d (rounds of 1, 2, then the 2 the window has left)", n, want)
		}
		for range want {
			h.answer(ok)
		}
	}
	// Every request answered, none left: one probe, and only one.
	if n := h.starts(3); n != 1 {
		t.Fatalf("%d probes started, want 1", n)
	}
	if !h.answer(limited(time.Second, 5)) {
		t.Fatal("the probe's 429 is not waited out")
	}
	if h.start() {
		t.Error("a request started during the probe's pause")
	}
}

// X-RateLimit-Remaining on 2xx answers bounds the requests in flight to what the window still
// allows, and Remaining: 0 makes nobody wait for the reset (given in whole seconds, it would
// start every window up to a second late): one probe goes at once, at the pace, and its answer
// from the next window opens it.
func TestRemainingOn2xxBoundsTheWindowWithoutWaitingForTheReset(t *testing.T) {
	h := newHarness(t, 1, 0)
	reset := epoch.Add(time.Second)
	remaining := func(n int, reset time.Time) pace.Answer {
		return pace.Answer{Status: 200, Limit: &pace.Limit{Total: 5, Remaining: n, Reset: reset}}
	}
	h.starts(1)
	h.answer(remaining(2, reset))
	if n := h.starts(10); n != 2 {
		t.Fatalf("%d requests started with 2 remaining, want 2", n)
	}
	h.answer(remaining(0, reset))
	if h.start() {
		t.Fatal("a request started with none remaining and 1 in flight")
	}
	// Out of order: an answer that says more remain than one before it changes nothing.
	h.answer(remaining(1, reset))
	if n := h.starts(3); n != 1 {
		t.Fatalf("%d requests started with none remaining, want one probe", n)
	}
	h.answer(remaining(4, reset.Add(time.Second)))
	if n := h.starts(10); n != 4 {
		t.Errorf("%d requests started in the next window, want its 4 remaining", n)
	}
	if len(h.clk.waits) != 0 {
		t.Errorf("the pace waited %v; Remaining: 0 on a 2xx must not wait for the reset", h.clk.waits)
	}
}

// An answer from a window that has ended does not reopen the current one.
func TestAnswerFromAnEndedWindow(t *testing.T) {
	h := newHarness(t, 1, 0)
	reset := epoch.Add(time.Second)
	h.starts(1)
	h.answer(pace.Answer{Status: 200, Limit: &pace.Limit{Total: 5, Remaining: 3, Reset: reset.Add(time.Second)}})
	if n := h.starts(10); n != 3 {
		t.Fatalf("%d requests started with 3 remaining, want 3", n)
	}
	h.answer(pace.Answer{Status: 200, Limit: &pace.Limit{Total: 5, Remaining: 1, Reset: reset.Add(time.Second)}})
	h.answer(pace.Answer{Status: 200, Limit: &pace.Limit{Total: 5, Remaining: 4, Reset: reset}})
	h.answer(ok)
	// 1 remaining, less the request answered since without a count: a probe, not 4 more.
	if n := h.starts(10); n != 1 {
		t.Errorf("%d requests started; want 1, the probe", n)
	}
}

// The pace is what the server let through from the end of the first pause to the end of the
// second, answers that arrive during the second included, 5% under.
func TestPacerLearnsTheRate(t *testing.T) {
	clk := &clock{now: epoch}
	ctx := t.Context()
	var rates []float64
	p := pace.New(pace.Config{MaxWait: time.Minute, Concurrency: 1, Now: clk.Now, Sleep: clk.Sleep,
		OnRate: func(r float64) { rates = append(rates, r) }})
	var turns []pace.Turn
	wait := func() {
		t.Helper()
		turn, err := p.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		turns = append(turns, turn)
	}
	answer := func(a pace.Answer) bool {
		turn := turns[0]
		turns = turns[1:]
		return p.Observe(turn, a)
	}
	for range 5 { // the first window
		wait()
		answer(ok)
	}
	wait()
	if !answer(limited(time.Second, 0)) {
		t.Fatal("a 429 with Retry-After: 1 is not waited out")
	}
	for range 5 {
		wait() // the first until epoch + 1 s
		answer(ok)
	}
	_ = clk.Sleep(ctx, 100*time.Millisecond)
	wait()
	wait() // two more in flight at the 429
	wait()
	answer(limited(time.Second, 0)) // until epoch + 2.1 s: a span of 1.1 s
	answer(ok)
	answer(ok)
	if got := p.Limit(); got != math.MaxFloat64 {
		t.Errorf("before the second pause ends: limit %v, want none", got)
	}
	wait()
	want := 0.95 * 7 / 1.1
	if math.Abs(p.Limit()-want) > 1e-9 {
		t.Fatalf("learned %v requests/s, want %v", p.Limit(), want)
	}
	if len(rates) != 1 || math.Abs(rates[0]-want) > 1e-9 {
		t.Errorf("OnRate told %v, want [%v]", rates, want)
	}
	answer(ok)
	before := len(clk.waits)
	wait()
	waits := clk.waits[before:]
	if want := time.Duration(float64(time.Second) / want); len(waits) != 1 || (waits[0]-want).Abs() > time.Microsecond {
		t.Errorf("waits at the pace: %v, want [%v]", waits, want)
	}
}

// MaxRate spaces requests from the start, before anything is learned.
func TestMaxRateSpacesRequests(t *testing.T) {
	h := newHarness(t, 1, 2)
	for range 4 {
		turn, err := h.p.Wait(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		h.p.Observe(turn, ok)
	}
	if want := []time.Duration{500 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond}; fmt.Sprint(h.clk.waits) != fmt.Sprint(want) {
		t.Errorf("waits %v, want %v", h.clk.waits, want)
	}
}

// TestObserve: only a 429 with a known wait within the cap is waited out; a pause begins once,
// told to OnPause, and every request waits for its end; a cancelled context ends the wait.
func TestObserve(t *testing.T) {
	cases := []struct {
		a    pace.Answer
		want bool
	}{
		{ok, false},
		{pace.Answer{Status: 503, Wait: 5 * time.Second}, false}, // not a 429
		{limited(0, 0), false},            // a 429 that gives no wait: the retry policy's
		{limited(time.Hour, 0), false},    // over the cap
		{limited(2*time.Second, 0), true}, // a pause begins
		{limited(time.Second, 0), true},   // within the pause already begun
		{pace.Answer{}, false},            // no answer
		{pace.Answer{Status: 429, Wait: 2 * time.Second, Limit: &pace.Limit{Total: 5, Remaining: 0}}, true},
	}
	h := newHarness(t, len(cases), 0)
	h.starts(len(cases))
	for _, tc := range cases {
		if got := h.answer(tc.a); got != tc.want {
			t.Errorf("Observe(%+v) = %v, want %v", tc.a, got, tc.want)
		}
	}
	if len(h.pauses) != 1 || h.pauses[0] != 2*time.Second || h.p.Pause() != 2*time.Second {
		t.Errorf("pauses told %v, Pause() %v; want one of 2s, 2s left", h.pauses, h.p.Pause())
	}
	if h.start() {
		t.Error("a request started during the pause")
	}
	turn, err := h.p.Wait(t.Context())
	if err != nil || !h.clk.now.Equal(epoch.Add(2*time.Second)) {
		t.Errorf("Wait = %v at %v, want nil at the end of the pause", err, h.clk.now)
	}
	h.p.Observe(turn, ok)
}

// countingLimiter is an outside limiter that counts its waits and can refuse.
type countingLimiter struct {
	waits int
	err   error
}

func (l *countingLimiter) Wait(ctx context.Context) error {
	l.waits++
	return cmp.Or(l.err, ctx.Err())
}

// The outside limiter is waited for once per request, and its error is Wait's.
func TestOutsideLimiter(t *testing.T) {
	clk := &clock{now: epoch}
	lim := &countingLimiter{}
	p := pace.New(pace.Config{MaxWait: time.Minute, Concurrency: 2, Outside: lim, Now: clk.Now, Sleep: clk.Sleep})
	for i := range 5 {
		turn, err := p.Wait(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		p.Observe(turn, ok)
		if lim.waits != i+1 {
			t.Fatalf("%d requests, %d waits for the outside limiter", i+1, lim.waits)
		}
	}
	lim.err = errors.New("refused")
	if _, err := p.Wait(t.Context()); !errors.Is(err, lim.err) {
		t.Errorf("Wait = %v, want the limiter's error", err)
	}
}
