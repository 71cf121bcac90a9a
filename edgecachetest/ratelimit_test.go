package edgecachetest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// limitClock is a clock the test moves by hand, for the fake's rate-limit windows.
type limitClock struct{ ns atomic.Int64 }

func (c *limitClock) now() time.Time             { return time.Unix(0, c.ns.Load()) }
func (c *limitClock) advance(d time.Duration)    { c.ns.Add(int64(d)) }
func newLimitClock(at time.Time) *limitClock     { c := &limitClock{}; c.ns.Store(at.UnixNano()); return c }
func (c *limitClock) set(h *Handler) *limitClock { h.cfg.limit.now = c.now; return c }

// limitBody is a 429's envelope with its limit block.
type limitBody struct {
	Error struct {
		Code, Message string
		Limit         *struct {
			Remaining      int
			Reset, ResetMs int64
			Total          int
		}
	}
}

// purge sends one valid request straight to h and returns the recorder.
func purge(h http.Handler, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/v1/edge-cache/dangerously-delete-by-tags?projectIdOrName=p", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer t")
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

const validBody = `{"tags":["a"]}`

// The base of the test clocks: a whole second plus 200 ms, so that rounding shows.
var limitStart = time.Unix(1_700_000_000, 200*int64(time.Millisecond))

func TestRateLimitFixedWindow(t *testing.T) {
	h := NewHandler(WithRateLimit(3, 2*time.Second))
	clock := newLimitClock(limitStart).set(h)
	for i := range 3 {
		if rec := purge(h, validBody); rec.Code != http.StatusOK {
			t.Fatalf("request %d: %d %s, want 200 (within the limit)", i+1, rec.Code, rec.Body)
		}
		clock.advance(100 * time.Millisecond)
	}
	// 300 ms into the window: the reset is 1.7 s away, so Retry-After rounds up to 2.
	rec := purge(h, validBody)
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("4th request: %d, want 429", rec.Code)
	}
	if got := rec.Header().Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q, want 2 (1.7 s rounded up)", got)
	}
	var env limitBody
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		t.Fatalf("429 body %q: %v", rec.Body, err)
	}
	reset := limitStart.Add(2 * time.Second)
	if env.Error.Code != "rate_limited" || env.Error.Limit == nil {
		t.Fatalf("429 body %s: want code rate_limited and a limit block", rec.Body)
	}
	if l := *env.Error.Limit; l.Remaining != 0 || l.Total != 3 || l.Reset != reset.Unix() || l.ResetMs != reset.UnixMilli() {
		t.Errorf("limit = %+v, want remaining 0, total 3, reset %d, resetMs %d", l, reset.Unix(), reset.UnixMilli())
	}
	for _, name := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
		if v := rec.Header().Get(name); v != "" {
			t.Errorf("%s = %q without WithRateLimitHeaders, want none", name, v)
		}
	}
	// 1 ms before the reset: still refused, with the smallest wait, 1 s.
	clock.advance(reset.Sub(clock.now()) - time.Millisecond)
	if rec := purge(h, validBody); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("1 ms before the reset: %d, Retry-After %q; want 429, 1", rec.Code, rec.Header().Get("Retry-After"))
	}
	// At the reset a new window opens with this request, for 3 more.
	clock.advance(time.Millisecond)
	for i := range 3 {
		if rec := purge(h, validBody); rec.Code != http.StatusOK {
			t.Fatalf("new window, request %d: %d, want 200", i+1, rec.Code)
		}
	}
	if rec := purge(h, validBody); rec.Code != http.StatusTooManyRequests {
		t.Errorf("new window, 4th request: %d, want 429", rec.Code)
	}
}

func TestRateLimitHeaders(t *testing.T) {
	h := NewHandler(WithRateLimitHeaders(), WithRateLimit(2, time.Minute))
	newLimitClock(limitStart).set(h)
	reset := strconv.FormatInt(limitStart.Add(time.Minute).Unix()+1, 10) // rounded up
	for i, want := range []struct {
		status    int
		remaining string
	}{{200, "1"}, {200, "0"}, {429, "0"}} {
		rec := purge(h, validBody)
		got := [...]string{rec.Header().Get("X-RateLimit-Limit"), rec.Header().Get("X-RateLimit-Remaining"), rec.Header().Get("X-RateLimit-Reset")}
		if rec.Code != want.status || got != [...]string{"2", want.remaining, reset} {
			t.Errorf("request %d: %d with limit/remaining/reset %q; want %d with %q", i+1, rec.Code, got, want.status, [...]string{"2", want.remaining, reset})
		}
	}
}

func TestRateLimitRetryAfterOnly(t *testing.T) {
	h := NewHandler(WithRateLimitRetryAfterOnly(), WithRateLimit(1, time.Minute))
	newLimitClock(limitStart).set(h)
	purge(h, validBody)
	rec := purge(h, validBody)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "60" ||
		strings.Contains(rec.Body.String(), `"limit"`) || !strings.Contains(rec.Body.String(), "rate_limited") {
		t.Errorf("%d, Retry-After %q, body %s; want 429, 60 and an envelope without the limit block", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
}

func TestRateLimitCountsEveryVerdictButFaults(t *testing.T) {
	h := NewHandler(WithRateLimit(2, time.Minute))
	newLimitClock(limitStart).set(h)
	h.FailNext(5, Fault{Status: http.StatusServiceUnavailable})
	for range 5 {
		if rec := purge(h, validBody); rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("faulted request: %d, want the fault's 503", rec.Code)
		}
	}
	if rec := purge(h, `{"tags":[]}`); rec.Code != http.StatusBadRequest {
		t.Fatalf("invalid request: %d, want 400", rec.Code)
	}
	if rec := purge(h, validBody); rec.Code != http.StatusOK {
		t.Fatalf("second counted request: %d, want 200", rec.Code)
	}
	if rec := purge(h, `{"tags":[]}`); rec.Code != http.StatusTooManyRequests {
		t.Errorf("third counted request, invalid: %d, want 429 (the limit comes before validation)", rec.Code)
	}
}

// Concurrent requests never get more than n through in a window (run with -race).
func TestRateLimitConcurrent(t *testing.T) {
	const n, callers = 7, 64
	h := NewHandler(WithRateLimit(n, time.Hour), WithoutRecording())
	var ok, limited atomic.Int64
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			switch purge(h, validBody).Code {
			case http.StatusOK:
				ok.Add(1)
			case http.StatusTooManyRequests:
				limited.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != n || limited.Load() != callers-n {
		t.Errorf("%d accepted and %d refused, want %d and %d", ok.Load(), limited.Load(), n, callers-n)
	}
}

func TestWithRateLimitRefusesBadArguments(t *testing.T) {
	for _, tc := range []struct {
		n      int
		window time.Duration
	}{{0, time.Second}, {-1, time.Second}, {1, 0}, {1, -time.Second}} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), "WithRateLimit") {
					t.Errorf("WithRateLimit(%d, %s): recovered %v, want a panic naming WithRateLimit", tc.n, tc.window, r)
				}
			}()
			WithRateLimit(tc.n, tc.window)
		}()
	}
	// Headers alone, without a limit, change nothing.
	h := NewHandler(WithRateLimitHeaders())
	if rec := purge(h, validBody); rec.Code != http.StatusOK || rec.Header().Get("X-RateLimit-Limit") != "" {
		t.Errorf("WithRateLimitHeaders alone: %d, X-RateLimit-Limit %q; want 200 and no header", rec.Code, rec.Header().Get("X-RateLimit-Limit"))
	}
}
