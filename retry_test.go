package edgecache_test

// Reliability of one call: which answers are retried, how long the client waits, when it gives
// up, and what it reports. Backoff runs on an injected clock (fakeClock), so the waits the
// client asks for are asserted exactly and no test sleeps through them; real time is used
// only where the point is real cancellation or timeout latency.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/edgecachetest"
)

// checkAPIError asserts err is an *APIError with status and attempts, and returns it.
func checkAPIError(t *testing.T, err error, status, attempts int) *edgecache.APIError {
	t.Helper()
	var apiErr *edgecache.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %T (%v), want an *edgecache.APIError", err, err)
	}
	if apiErr.StatusCode != status || apiErr.Attempts != attempts {
		t.Errorf("APIError{StatusCode: %d, Attempts: %d}, want {StatusCode: %d, Attempts: %d} (%v)",
			apiErr.StatusCode, apiErr.Attempts, status, attempts, err)
	}
	return apiErr
}

// checkBackoff asserts that waits are full-jitter backoff waits of policy: wait n (from
// 1) in [0, min(MaxDelay, BaseDelay·2^(n-1))).
func checkBackoff(t *testing.T, policy edgecache.RetryPolicy, waits []time.Duration) {
	t.Helper()
	for i, w := range waits {
		ceiling := min(policy.BaseDelay<<i, policy.MaxDelay)
		if w < 0 || w >= ceiling {
			t.Errorf("wait before retry %d = %s, want full-jitter backoff in [0, %s)", i+1, w, ceiling)
		}
	}
}

func TestDefaultRetryPolicy(t *testing.T) {
	t.Parallel()
	want := edgecache.RetryPolicy{MaxAttempts: 3, BaseDelay: 500 * time.Millisecond, MaxDelay: 30 * time.Second, MaxRetryAfter: 60 * time.Second}
	if got := edgecache.DefaultRetryPolicy(); got != want {
		t.Fatalf("DefaultRetryPolicy() = %+v, want %+v", got, want)
	}

	// A client given no policy uses it: 3 attempts, then the last answer.
	s := newFake(t)
	clock := &fakeClock{}
	c := newClient(t, s, clock.Option())
	s.FailNext(5, edgecachetest.Fault{Status: http.StatusServiceUnavailable})
	_, err := c.DangerouslyDeleteByTags(context.Background(), deleteRequest("a"))
	_ = checkAPIError(t, err, http.StatusServiceUnavailable, 3)
	if got := s.Calls(); got != 3 {
		t.Errorf("the server saw %d requests, want 3", got)
	}
	waits := clock.Waits()
	if len(waits) != 2 {
		t.Fatalf("waits = %v, want 2 (before retries 1 and 2)", waits)
	}
	checkBackoff(t, want, waits)

	// Zero fields of a given policy take the default's values; MaxAttempts 1 disables retries.
	for _, tc := range []struct {
		policy       edgecache.RetryPolicy
		wantAttempts int
	}{
		{edgecache.RetryPolicy{}, 3},
		{edgecache.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}, 3},
		{edgecache.RetryPolicy{MaxAttempts: 1}, 1},
		{edgecache.RetryPolicy{MaxAttempts: 5}, 5},
	} {
		s.Reset()
		c := newClient(t, s, clock.Option(), edgecache.WithRetry(tc.policy))
		s.FailNext(10, edgecachetest.Fault{Status: http.StatusBadGateway})
		_, err := c.DangerouslyDeleteByTags(context.Background(), deleteRequest("a"))
		var apiErr *edgecache.APIError
		if !errors.As(err, &apiErr) || apiErr.Attempts != tc.wantAttempts || s.Calls() != tc.wantAttempts {
			t.Errorf("policy %+v: error %v after %d requests, want an *APIError after %d attempts", tc.policy, err, s.Calls(), tc.wantAttempts)
		}
	}

	if _, err := edgecache.New(testToken, edgecache.WithRetry(edgecache.RetryPolicy{BaseDelay: time.Second, MaxDelay: time.Millisecond})); err == nil {
		t.Error("New accepted a policy whose MaxDelay is below its BaseDelay")
	}
}

func TestBackoffIsFullJitter(t *testing.T) {
	t.Parallel()
	p := edgecache.RetryPolicy{MaxAttempts: 10, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second, MaxRetryAfter: time.Minute}
	const draws = 2000
	for retry, ceiling := range map[int]time.Duration{
		1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond,
		4: 800 * time.Millisecond, 5: time.Second, 6: time.Second, 60: time.Second,
	} {
		lo, hi, sum := time.Duration(1<<62), time.Duration(-1), time.Duration(0)
		for range draws {
			d := edgecache.Backoff(p, retry)
			if d < 0 || d >= ceiling {
				t.Fatalf("Backoff(retry %d) = %s, want in [0, %s)", retry, d, ceiling)
			}
			lo, hi, sum = min(lo, d), max(hi, d), sum+d
		}
		// Uniform in [0, ceiling): these fail with a probability below 1e-80.
		mean := sum / draws
		if lo > ceiling/10 || hi < ceiling*9/10 || mean < ceiling*45/100 || mean > ceiling*55/100 {
			t.Errorf("retry %d: %d draws in [%s, %s], mean %s; want uniform over [0, %s)", retry, draws, lo, hi, mean, ceiling)
		}
	}
}

func TestRetriedStatuses(t *testing.T) {
	t.Parallel()
	policy := edgecache.DefaultRetryPolicy()
	sentinel := func(status int) error {
		if status == http.StatusTooManyRequests {
			return edgecache.ErrRateLimited
		}
		return edgecache.ErrServer
	}
	for _, status := range []int{429, 500, 502, 503, 504} {
		for _, failures := range []int{1, 2, 3} {
			name := fmt.Sprintf("%d×%d", status, failures)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				s := newFake(t)
				clock := &fakeClock{}
				c := newClient(t, s, clock.Option())
				s.FailNext(failures, edgecachetest.Fault{Status: status})
				res, err := c.DangerouslyDeleteByTags(context.Background(), deleteRequest("a"))
				attempts := min(failures+1, 3)
				if failures < 3 {
					if err != nil {
						t.Fatalf("%d failures then success: %v", failures, err)
					}
					if res.Attempts != attempts || res.StatusCode != http.StatusOK {
						t.Errorf("Result %+v, want StatusCode 200 and Attempts %d", *res, attempts)
					}
					if got := len(s.Requests()); got != 1 {
						t.Errorf("the fake accepted %d requests, want 1", got)
					}
				} else {
					if res != nil {
						t.Errorf("got a Result %+v with the error", res)
					}
					apiErr := checkAPIError(t, err, status, 3)
					if !errors.Is(err, sentinel(status)) {
						t.Errorf("errors.Is(err, %v) = false for %v", sentinel(status), err)
					}
					if !apiErr.Temporary() {
						t.Errorf("Temporary() = false for a %d", status)
					}
					if !strings.Contains(err.Error(), "after 3 attempts") {
						t.Errorf("error text %q does not say how many attempts were made", err)
					}
				}
				if got := s.Calls(); got != attempts {
					t.Errorf("the server saw %d requests, want %d", got, attempts)
				}
				waits := clock.Waits()
				if len(waits) != attempts-1 {
					t.Fatalf("waits = %v, want %d", waits, attempts-1)
				}
				checkBackoff(t, policy, waits)
			})
		}
	}
}

func TestNotRetriedStatuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status   int
		sentinel error
	}{
		{400, edgecache.ErrBadRequest}, {401, edgecache.ErrUnauthorized}, {403, edgecache.ErrForbidden},
		{404, edgecache.ErrNotFound}, {410, edgecache.ErrGone},
		// Not in the retried list either: a refusal of the request, or a fault a retry cannot mend.
		{408, nil}, {409, nil}, {501, edgecache.ErrServer}, {505, edgecache.ErrServer},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			t.Parallel()
			s := newFake(t)
			clock := &fakeClock{}
			c := newClient(t, s, clock.Option())
			// A Retry-After does not make a refusal retryable, but is still reported.
			s.FailNext(3, edgecachetest.Fault{Status: tc.status, RetryAfter: "1"})
			_, err := c.DangerouslyDeleteByTags(context.Background(), deleteRequest("a"))
			apiErr := checkAPIError(t, err, tc.status, 1)
			if apiErr.RetryAfter != time.Second {
				t.Errorf("RetryAfter = %s, want 1s (reported even when not retried)", apiErr.RetryAfter)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("errors.Is(err, %v) = false", tc.sentinel)
			}
			if apiErr.Temporary() {
				t.Errorf("Temporary() = true for a %d", tc.status)
			}
			if got := s.Calls(); got != 1 {
				t.Errorf("the server saw %d requests, want 1: a %d must not be retried", got, tc.status)
			}
			if w := clock.Waits(); len(w) != 0 {
				t.Errorf("the client waited %v, want no wait", w)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	// A fixed virtual "now", so that an HTTP-date gives an exact wait.
	base := time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)
	date := func(d time.Duration) string { return base.Add(d).Format(http.TimeFormat) }
	defaults := edgecache.DefaultRetryPolicy()
	cases := []struct {
		name     string
		fault    edgecachetest.Fault
		ms       string // retry-after-ms header on the faulted answer, "" for none
		policy   edgecache.RetryPolicy
		failures int // how many answers get the fault; 1 unless set

		wantAttempts   int
		wantWaits      []time.Duration // nil with wantBackoff
		wantBackoff    bool            // one full-jitter wait instead
		wantErr        bool
		wantRetryAfter time.Duration // on the error
	}{
		{name: "seconds", fault: edgecachetest.Fault{Status: 429, RetryAfter: "2"}, wantAttempts: 2, wantWaits: []time.Duration{2 * time.Second}},
		{name: "seconds on a 503", fault: edgecachetest.Fault{Status: 503, RetryAfter: "5"}, wantAttempts: 2, wantWaits: []time.Duration{5 * time.Second}},
		{name: "seconds, twice", fault: edgecachetest.Fault{Status: 429, RetryAfter: "3"}, failures: 2, wantAttempts: 3, wantWaits: []time.Duration{3 * time.Second, 3 * time.Second}},
		{name: "HTTP-date", fault: edgecachetest.Fault{Status: 429, RetryAfter: date(7 * time.Second)}, wantAttempts: 2, wantWaits: []time.Duration{7 * time.Second}},
		{name: "HTTP-date in the past", fault: edgecachetest.Fault{Status: 429, RetryAfter: date(-time.Hour)}, wantAttempts: 2, wantBackoff: true},
		{name: "absent", fault: edgecachetest.Fault{Status: 429}, wantAttempts: 2, wantBackoff: true},
		{name: "unreadable", fault: edgecachetest.Fault{Status: 429, RetryAfter: "soon"}, wantAttempts: 2, wantBackoff: true},
		{name: "zero", fault: edgecachetest.Fault{Status: 503, RetryAfter: "0"}, wantAttempts: 2, wantBackoff: true},
		{name: "retry-after-ms", fault: edgecachetest.Fault{Status: 429}, ms: "1500", wantAttempts: 2, wantWaits: []time.Duration{1500 * time.Millisecond}},
		{name: "retry-after-ms wins over Retry-After", fault: edgecachetest.Fault{Status: 429, RetryAfter: "9"}, ms: "250", wantAttempts: 2, wantWaits: []time.Duration{250 * time.Millisecond}},
		{name: "unreadable retry-after-ms falls back to Retry-After", fault: edgecachetest.Fault{Status: 429, RetryAfter: "4"}, ms: "x", wantAttempts: 2, wantWaits: []time.Duration{4 * time.Second}},
		{name: "exactly the policy's limit", fault: edgecachetest.Fault{Status: 429, RetryAfter: "60"}, wantAttempts: 2, wantWaits: []time.Duration{time.Minute}},
		{name: "one second over the limit", fault: edgecachetest.Fault{Status: 429, RetryAfter: "61"},
			wantAttempts: 1, wantErr: true, wantRetryAfter: 61 * time.Second},
		{name: "an hour", fault: edgecachetest.Fault{Status: 429, RetryAfter: "3600"},
			wantAttempts: 1, wantErr: true, wantRetryAfter: time.Hour},
		{name: "an hour as an HTTP-date", fault: edgecachetest.Fault{Status: 503, RetryAfter: date(time.Hour)},
			wantAttempts: 1, wantErr: true, wantRetryAfter: time.Hour},
		{name: "an hour in ms", fault: edgecachetest.Fault{Status: 429}, ms: "3600000",
			wantAttempts: 1, wantErr: true, wantRetryAfter: time.Hour},
		{name: "absurd ms", fault: edgecachetest.Fault{Status: 429}, ms: "1e300",
			wantAttempts: 1, wantErr: true, wantRetryAfter: edgecache.MaxRetryAfterHeader},
		{name: "over a custom limit", fault: edgecachetest.Fault{Status: 429, RetryAfter: "6"}, policy: edgecache.RetryPolicy{MaxRetryAfter: 5 * time.Second},
			wantAttempts: 1, wantErr: true, wantRetryAfter: 6 * time.Second},
		{name: "on the last attempt", fault: edgecachetest.Fault{Status: 429, RetryAfter: "1"}, failures: 3,
			wantAttempts: 3, wantWaits: []time.Duration{time.Second, time.Second}, wantErr: true, wantRetryAfter: time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var wrap func(http.Handler) http.Handler
			if tc.ms != "" {
				wrap = func(next http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						w.Header().Set("Retry-After-Ms", tc.ms) // ignored on the 200
						next.ServeHTTP(w, r)
					})
				}
			}
			fake, rec, url := fakeBehind(t, wrap)
			clock := &fakeClock{base: base}
			c := clientFor(t, url, clock.Option(), edgecache.WithRetry(tc.policy))
			fake.FailNext(max(tc.failures, 1), tc.fault)

			start := time.Now()
			res, err := c.DangerouslyDeleteByTags(context.Background(), deleteRequest("a"))
			elapsed := time.Since(start)

			if tc.wantErr {
				apiErr := checkAPIError(t, err, tc.fault.Status, tc.wantAttempts)
				if apiErr.RetryAfter != tc.wantRetryAfter {
					t.Errorf("RetryAfter = %s, want %s", apiErr.RetryAfter, tc.wantRetryAfter)
				}
			} else {
				if err != nil {
					t.Fatalf("DangerouslyDeleteByTags: %v", err)
				}
				if res.Attempts != tc.wantAttempts {
					t.Errorf("Attempts = %d, want %d", res.Attempts, tc.wantAttempts)
				}
			}
			if got := len(rec.Seen()); got != tc.wantAttempts {
				t.Errorf("the server saw %d requests, want %d", got, tc.wantAttempts)
			}
			waits := clock.Waits()
			switch {
			case tc.wantBackoff:
				if len(waits) != 1 {
					t.Fatalf("waits = %v, want one backoff wait", waits)
				}
				checkBackoff(t, defaults, waits)
			case !slices.Equal(waits, tc.wantWaits):
				t.Errorf("waits = %v, want %v", waits, tc.wantWaits)
			}
			// The clock is fake: not one of those waits may be slept for real.
			if elapsed > 5*time.Second {
				t.Errorf("the call took %s of real time", elapsed)
			}
		})
	}
}

func TestRetryAfterPastContextDeadline(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name           string
		retryAfter     string
		deadline       time.Duration
		wantAttempts   int
		wantWaits      []time.Duration
		wantRetryAfter time.Duration
	}{
		// 10 s is within the policy's 60 s but past the context's deadline: no point waiting.
		{name: "past the deadline", retryAfter: "10", deadline: 5 * time.Second, wantAttempts: 1, wantRetryAfter: 10 * time.Second},
		{name: "before the deadline", retryAfter: "2", deadline: 30 * time.Second, wantAttempts: 2, wantWaits: []time.Duration{2 * time.Second}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newFake(t)
			clock := &fakeClock{} // real now, so the context's deadline and the clock agree
			c := newClient(t, s, clock.Option())
			s.FailNext(1, edgecachetest.Fault{Status: http.StatusTooManyRequests, RetryAfter: tc.retryAfter})
			ctx, cancel := context.WithTimeout(context.Background(), tc.deadline)
			defer cancel()
			start := time.Now()
			res, err := c.DangerouslyDeleteByTags(ctx, deleteRequest("a"))
			elapsed := time.Since(start)
			if tc.wantRetryAfter > 0 {
				apiErr := checkAPIError(t, err, http.StatusTooManyRequests, tc.wantAttempts)
				if apiErr.RetryAfter != tc.wantRetryAfter {
					t.Errorf("RetryAfter = %s, want %s", apiErr.RetryAfter, tc.wantRetryAfter)
				}
				if errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("error %v matches context.DeadlineExceeded; the deadline has not passed, the client gave up early", err)
				}
			} else if err != nil || res.Attempts != tc.wantAttempts {
				t.Fatalf("got (%+v, %v), want success after %d attempts", res, err, tc.wantAttempts)
			}
			if w := clock.Waits(); !slices.Equal(w, tc.wantWaits) {
				t.Errorf("waits = %v, want %v", w, tc.wantWaits)
			}
			if s.Calls() != tc.wantAttempts {
				t.Errorf("the server saw %d requests, want %d", s.Calls(), tc.wantAttempts)
			}
			if elapsed > 2*time.Second {
				t.Errorf("returned after %s, want at once", elapsed)
			}
		})
	}
}

func TestRetryResendsTheWholeBody(t *testing.T) {
	t.Parallel()
	fake, rec, url := fakeBehind(t, nil)
	clock := &fakeClock{}
	c := clientFor(t, url, clock.Option())
	req := edgecache.DangerouslyDeleteByTagsRequest{
		ProjectIDOrName: testProject, Tags: edgecache.TagString("blog,products"),
		Target: edgecache.TargetProduction, RevalidationDeadlineSeconds: edgecache.Ptr(30),
	}
	prepared, err := c.Prepare(req)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	fake.FailNext(1, edgecachetest.Fault{Status: http.StatusServiceUnavailable})
	fake.FailNext(1, edgecachetest.Fault{DropConnection: true})
	res, err := c.DangerouslyDeleteByTags(context.Background(), req)
	if err != nil || res.Attempts != 3 {
		t.Fatalf("got (%+v, %v), want success at attempt 3", res, err)
	}
	seen := rec.Seen()
	if len(seen) != 3 {
		t.Fatalf("the server saw %d requests, want 3", len(seen))
	}
	for i, r := range seen {
		if !bytes.Equal(r.Body, prepared.Body) {
			t.Errorf("attempt %d sent body %q, want %q", i+1, r.Body, prepared.Body)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
			t.Errorf("attempt %d: Authorization %q, want the bearer token", i+1, strings.ReplaceAll(got, testToken, "<token>"))
		}
		if r.Method+" "+r.Path+"?"+r.RawQuery != prepared.Method+" "+strings.TrimPrefix(prepared.URL, url) {
			t.Errorf("attempt %d: %s %s?%s, want %s %s", i+1, r.Method, r.Path, r.RawQuery, prepared.Method, prepared.URL)
		}
	}
	if got := fake.Requests(); len(got) != 1 || got[0].TagsForm != edgecachetest.FormString || !slices.Equal(got[0].Tags, []string{"blog", "products"}) {
		t.Errorf("the fake accepted %+v, want one string-form request of blog and products", got)
	}
}

func TestConnectionErrors(t *testing.T) {
	t.Parallel()
	t.Run("dropped once, then answered", func(t *testing.T) {
		t.Parallel()
		s := newFake(t)
		clock := &fakeClock{}
		c := newClient(t, s, clock.Option())
		s.FailNext(1, edgecachetest.Fault{DropConnection: true})
		res, err := c.DangerouslyDeleteByTags(context.Background(), deleteRequest("a"))
		if err != nil || res.Attempts != 2 {
			t.Fatalf("got (%+v, %v), want success after 2 attempts", res, err)
		}
		if s.Calls() != 2 || len(clock.Waits()) != 1 {
			t.Errorf("the server saw %d requests and the client waited %v; want 2 and one wait", s.Calls(), clock.Waits())
		}
		checkBackoff(t, edgecache.DefaultRetryPolicy(), clock.Waits())
	})
	t.Run("dropped every time", func(t *testing.T) {
		t.Parallel()
		s := newFake(t)
		clock := &fakeClock{}
		c := newClient(t, s, clock.Option())
		s.FailNext(3, edgecachetest.Fault{DropConnection: true})
		res, err := c.DangerouslyDeleteByTags(context.Background(), deleteRequest("a"))
		if res != nil {
			t.Errorf("got a Result %+v with the error", res)
		}
		var tErr *edgecache.TransportError
		if !errors.As(err, &tErr) {
			t.Fatalf("error %T (%v), want an *edgecache.TransportError", err, err)
		}
		if tErr.Attempts != 3 || s.Calls() != 3 {
			t.Errorf("TransportError.Attempts = %d, server saw %d requests; want 3 and 3", tErr.Attempts, s.Calls())
		}
		if _, isAPI := errors.AsType[*edgecache.APIError](err); isAPI {
			t.Errorf("a connection with no answer became an *APIError: %v", err)
		}
		if !strings.Contains(err.Error(), "after 3 attempts") {
			t.Errorf("error text %q does not say how many attempts were made", err)
		}
		if w := clock.Waits(); len(w) != 2 {
			t.Errorf("waits = %v, want 2", w)
		}
		checkBackoff(t, edgecache.DefaultRetryPolicy(), clock.Waits())
	})
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		l, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		clock := &fakeClock{}
		c := clientFor(t, "http://"+addr, clock.Option())
		_, err = c.DangerouslyDeleteByTags(context.Background(), deleteRequest("a"))
		var tErr *edgecache.TransportError
		if !errors.As(err, &tErr) || tErr.Attempts != 3 {
			t.Fatalf("error %T (%v), want an *edgecache.TransportError after 3 attempts", err, err)
		}
		if w := clock.Waits(); len(w) != 2 {
			t.Errorf("waits = %v, want 2", w)
		}
	})
}

// TestAttemptTimeoutIsRetried: the HTTP client's Timeout bounds one attempt (see
// WithHTTPClient); an attempt that times out got no answer and is retried like any other
// connection error, as long as the caller's context is alive.
func TestAttemptTimeoutIsRetried(t *testing.T) {
	t.Parallel()
	const attemptTimeout = 500 * time.Millisecond
	for _, tc := range []struct {
		name     string
		hangs    int
		wantErr  bool
		attempts int
	}{
		{"hangs twice", 2, false, 3},
		{"hangs every time", 3, true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newFake(t)
			clock := &fakeClock{}
			hc := &http.Client{Timeout: attemptTimeout, Transport: s.Client().Transport}
			c := newClient(t, s, edgecache.WithHTTPClient(hc), clock.Option())
			s.FailNext(tc.hangs, edgecachetest.Fault{Latency: 10 * time.Second})
			start := time.Now()
			res, err := c.DangerouslyDeleteByTags(context.Background(), deleteRequest("a"))
			elapsed := time.Since(start)
			if tc.wantErr {
				var tErr *edgecache.TransportError
				if !errors.As(err, &tErr) || tErr.Attempts != tc.attempts {
					t.Fatalf("error %T (%v), want an *edgecache.TransportError after %d attempts", err, err, tc.attempts)
				}
			} else if err != nil || res.Attempts != tc.attempts {
				t.Fatalf("got (%+v, %v), want success after %d attempts", res, err, tc.attempts)
			}
			if s.Calls() != tc.attempts {
				t.Errorf("the server saw %d requests, want %d", s.Calls(), tc.attempts)
			}
			if len(clock.Waits()) != tc.attempts-1 {
				t.Errorf("waits = %v, want %d", clock.Waits(), tc.attempts-1)
			}
			if limit := time.Duration(tc.hangs)*attemptTimeout + 3*time.Second; elapsed > limit {
				t.Errorf("took %s, want about %d × %s", elapsed, tc.hangs, attemptTimeout)
			}
		})
	}
}

// TestHangingServerVersusContextDeadline uses real time: the point is how soon the call
// returns once the caller's deadline passes.
func TestHangingServerVersusContextDeadline(t *testing.T) {
	s := newFake(t)
	c := newClient(t, s) // the real clock
	s.FailNext(1, edgecachetest.Fault{Latency: 10 * time.Second})
	const deadline = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	res, err := c.DangerouslyDeleteByTags(ctx, deleteRequest("a"))
	elapsed := time.Since(start)
	t.Logf("a 10 s hang against a %s deadline returned after %s", deadline, elapsed)
	if res != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got (%+v, %v), want an error matching context.DeadlineExceeded", res, err)
	}
	var tErr *edgecache.TransportError
	if !errors.As(err, &tErr) || tErr.Attempts != 1 {
		t.Errorf("error %T (%v), want an *edgecache.TransportError after 1 attempt: the caller's deadline is not retried", err, err)
	}
	if elapsed > deadline+time.Second {
		t.Errorf("returned %s after the call began, want soon after the %s deadline", elapsed, deadline)
	}
	if s.Calls() != 1 {
		t.Errorf("the server saw %d requests, want 1", s.Calls())
	}
}

// signalWriter closes signal the first time a written log line contains marker.
type signalWriter struct {
	marker string
	signal chan struct{}
	once   sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(w.marker)) {
		w.once.Do(func() { close(w.signal) })
	}
	return len(p), nil
}

// TestCancelDuringBackoff uses real time: the client is told to wait 10 s and the caller
// cancels 50 ms into the wait.
func TestCancelDuringBackoff(t *testing.T) {
	s := newFake(t)
	retrying := &signalWriter{marker: "edgecache: retrying", signal: make(chan struct{})}
	c := newClient(t, s, edgecache.WithLogger(slog.New(slog.NewTextHandler(retrying, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	s.FailNext(1, edgecachetest.Fault{Status: http.StatusServiceUnavailable, RetryAfter: "10"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelled := make(chan time.Time, 1)
	go func() {
		select {
		case <-retrying.signal: // logged just before the wait begins
		case <-time.After(10 * time.Second):
		}
		time.Sleep(50 * time.Millisecond)
		cancelled <- time.Now()
		cancel()
	}()
	start := time.Now()
	res, err := c.DangerouslyDeleteByTags(ctx, deleteRequest("a"))
	returned := time.Now()
	cancelAt := <-cancelled
	t.Logf("returned %s after the cancel, %s after the call began", returned.Sub(cancelAt), returned.Sub(start))
	if res != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("got (%+v, %v), want an error matching context.Canceled", res, err)
	}
	apiErr := checkAPIError(t, err, http.StatusServiceUnavailable, 1)
	if apiErr.RetryAfter != 10*time.Second {
		t.Errorf("RetryAfter = %s, want 10s", apiErr.RetryAfter)
	}
	if d := returned.Sub(cancelAt); d > time.Second {
		t.Errorf("returned %s after the cancel, want promptly (the wait was 10 s)", d)
	}
	if returned.Sub(start) > 5*time.Second {
		t.Errorf("the call took %s: the wait was not cut short", returned.Sub(start))
	}
	if s.Calls() != 1 {
		t.Errorf("the server saw %d requests, want 1", s.Calls())
	}
}

func TestMalformedBodiesUnderRetries(t *testing.T) {
	t.Parallel()
	html := "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"
	huge := strings.Repeat("x", 4<<20)
	binary := string([]byte{0xff, 0xfe, 'o', 'k', 0x80, 0xc3})
	cases := []struct {
		name        string
		fault       edgecachetest.Fault
		failures    int
		wantErr     bool
		wantCode    string
		wantMessage string // checked when wantErr; "…" suffix means a 200-rune excerpt
		wantWaits   []time.Duration
	}{
		{name: "HTML 502, three times", fault: edgecachetest.Fault{Status: 502, Body: html}, failures: 3, wantErr: true, wantMessage: html},
		{name: "HTML 502, then answered", fault: edgecachetest.Fault{Status: 502, Body: html}, failures: 2},
		{name: "truncated JSON 503, three times", fault: edgecachetest.Fault{Status: 503, Body: `{"error":{"code":"internal_server_error","mess`}, failures: 3, wantErr: true, wantMessage: `{"error":{"code":"internal_server_error","mess`},
		{name: "truncated JSON 429 with Retry-After, then answered", fault: edgecachetest.Fault{Status: 429, RetryAfter: "1", Body: `{"error":`}, failures: 1, wantWaits: []time.Duration{time.Second}},
		{name: "rate-limit envelope, three times", fault: edgecachetest.Fault{Status: 429, RetryAfter: "2", Body: `{"error":{"code":"rate_limited","message":"Rate limit exceeded","limit":{"remaining":0,"reset":1,"resetMs":1000,"total":100}}}`}, failures: 3,
			wantErr: true, wantCode: "rate_limited", wantMessage: "Rate limit exceeded", wantWaits: []time.Duration{2 * time.Second, 2 * time.Second}},
		{name: "4 MiB 503, three times", fault: edgecachetest.Fault{Status: 503, Body: huge}, failures: 3, wantErr: true, wantMessage: huge[:200] + "…"},
		{name: "4 MiB 500, then answered", fault: edgecachetest.Fault{Status: 500, Body: huge}, failures: 2},
		{name: "binary 500, three times", fault: edgecachetest.Fault{Status: 500, Body: binary}, failures: 3, wantErr: true, wantMessage: "\uFFFDok\uFFFD"},
		{name: "whitespace 504, three times", fault: edgecachetest.Fault{Status: 504, Body: " \n\t "}, failures: 3, wantErr: true, wantMessage: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newFake(t)
			counter := &countingTransport{base: s.Client().Transport}
			clock := &fakeClock{}
			c := newClient(t, s, edgecache.WithHTTPClient(&http.Client{Transport: counter}), clock.Option())
			s.FailNext(tc.failures, tc.fault)
			start := time.Now()
			res, err := c.DangerouslyDeleteByTags(context.Background(), deleteRequest("a"))
			elapsed := time.Since(start)
			attempts := min(tc.failures+1, 3)
			if tc.wantErr {
				apiErr := checkAPIError(t, err, tc.fault.Status, attempts)
				if apiErr.Code != tc.wantCode || apiErr.Message != tc.wantMessage {
					t.Errorf("Code %q, Message %.80q; want %q, %.80q", apiErr.Code, apiErr.Message, tc.wantCode, tc.wantMessage)
				}
				if !utf8.ValidString(apiErr.Message) || !utf8.ValidString(err.Error()) {
					t.Errorf("the message %q is not valid UTF-8", apiErr.Message)
				}
				if n := len(err.Error()); n > 2048 {
					t.Errorf("the error text is %d bytes, want a short one", n)
				}
			} else if err != nil || res.Attempts != attempts {
				t.Fatalf("got (%+v, %v), want success after %d attempts", res, err, attempts)
			}
			if s.Calls() != attempts {
				t.Errorf("the server saw %d requests, want %d", s.Calls(), attempts)
			}
			if tc.wantWaits != nil && !slices.Equal(clock.Waits(), tc.wantWaits) {
				t.Errorf("waits = %v, want %v", clock.Waits(), tc.wantWaits)
			}
			for i, n := range counter.PerResponse() {
				if n > edgecache.MaxErrorBody {
					t.Errorf("response %d: read %d bytes of the body, want at most %d", i+1, n, edgecache.MaxErrorBody)
				}
			}
			if elapsed > 10*time.Second {
				t.Errorf("the call took %s", elapsed)
			}
		})
	}
}

// fuzzMaxString caps fuzzed header values: the fuzzing engine minimizes every new interesting
// input at a cost quadratic in its length, and longer values add no coverage here.
const fuzzMaxString = 64

// FuzzParseRetryAfter: the wait read from Retry-After and retry-after-ms is never negative
// and never above the clamp, and a plain reading of either header is honoured exactly.
func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC).Unix()
	for _, seed := range []struct {
		retryAfter, ms string
		now            int64
	}{
		{"2", "", now},
		{"0", "", now},
		{"-5", "", now},
		{"3600", "", now},
		{"99999999999999999999", "", now},
		{"9223372036854775807", "", now},
		{"Wed, 02 Jan 2030 03:04:12 GMT", "", now},
		{"Wed, 02 Jan 2030 03:04:12 GMT", "", math.MinInt64},
		{"Fri, 31 Dec 9999 23:59:59 GMT", "", now},
		{"Sun, 06 Nov 1994 08:49:37 GMT", "", now},
		{"Sunday, 06-Nov-94 08:49:37 GMT", "", now},
		{"Sun Nov  6 08:49:37 1994", "", now},
		{"soon", "", now},
		{"", "1500", now},
		{"9", "250.5", now},
		{"4", "x", now},
		{"", "1e300", now},
		{"", "Inf", now},
		{"", "NaN", now},
		{"", "-1", now},
		{"", "1e-9", now},
		{"", "31536000000", now},
		{"", "31536000001", now},
		{" 7 ", " 0x10 ", now},
	} {
		f.Add(seed.retryAfter, seed.ms, seed.now)
	}
	f.Fuzz(func(t *testing.T, retryAfter, ms string, nowUnix int64) {
		if len(retryAfter) > fuzzMaxString || len(ms) > fuzzMaxString {
			return
		}
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		if ms != "" {
			h.Set("Retry-After-Ms", ms)
		}
		now := time.Unix(nowUnix, 0)
		d := edgecache.ParseRetryAfter(h, now)
		if d < 0 || d > edgecache.MaxRetryAfterHeader {
			t.Fatalf("Retry-After %q, retry-after-ms %q at %d gave %s, want within [0, %s]", retryAfter, ms, nowUnix, d, edgecache.MaxRetryAfterHeader)
		}

		// Where the answer is plain, it must be exact.
		if msf, err := strconv.ParseFloat(strings.TrimSpace(ms), 64); err == nil && msf > 0 {
			if limit := float64(edgecache.MaxRetryAfterHeader / time.Millisecond); msf < limit {
				if want := time.Duration(msf * float64(time.Millisecond)); d != want {
					t.Fatalf("retry-after-ms %q gave %s, want %s", ms, d, want)
				}
			} else if d != edgecache.MaxRetryAfterHeader {
				t.Fatalf("retry-after-ms %q gave %s, want the clamp %s", ms, d, edgecache.MaxRetryAfterHeader)
			}
			return
		}
		v := strings.TrimSpace(retryAfter)
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
			want := time.Duration(0)
			if secs > 0 {
				want = min(time.Duration(min(secs, math.MaxInt64/int64(time.Second)))*time.Second, edgecache.MaxRetryAfterHeader)
			}
			if d != want {
				t.Fatalf("Retry-After %q gave %s, want %s", retryAfter, d, want)
			}
		}
	})
}

// TestRetriesAreLoggedAtDebugLevel: a retry is routine, so it is logged at debug level only; a
// logger at the default info level stays quiet.
func TestRetriesAreLoggedAtDebugLevel(t *testing.T) {
	t.Parallel()
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		s := newFake(t)
		var buf bytes.Buffer
		c := newClient(t, s, (&fakeClock{}).Option(), edgecache.WithLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level}))))
		s.FailNext(1, edgecachetest.Fault{Status: http.StatusServiceUnavailable})
		if _, err := c.InvalidateByTags(context.Background(), edgecache.InvalidateByTagsRequest{ProjectIDOrName: testProject, Tags: edgecache.TagList("a")}); err != nil {
			t.Fatal(err)
		}
		logged := buf.String()
		if want := level == slog.LevelDebug; strings.Contains(logged, "level=DEBUG msg=\"edgecache: retrying\" attempt=1") != want {
			t.Errorf("logger at %s: log %q, want a debug retry line = %v", level, logged, want)
		}
		if level == slog.LevelInfo && logged != "" {
			t.Errorf("logger at info: log %q, want nothing", logged)
		}
		if strings.Contains(logged, testToken) {
			t.Error("the log holds the token")
		}
	}
}

// TestWrongSchemeIsNotRetried: an https base URL pointed at a plain-http server, or a refused
// certificate, fails the same way on every attempt, so the call makes one, and a bulk purge
// starts no other request.
func TestWrongSchemeIsNotRetried(t *testing.T) {
	t.Parallel()
	plain := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	selfSigned := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	selfSigned.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	selfSigned.StartTLS()
	t.Cleanup(selfSigned.Close)
	for name, baseURL := range map[string]string{
		"https to a plain-http server": strings.Replace(plain.URL, "http://", "https://", 1),
		"an untrusted certificate":     selfSigned.URL,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{}
			c := clientFor(t, baseURL, clock.Option())
			_, err := c.DangerouslyDeleteByTags(context.Background(), deleteRequest("a"))
			var tErr *edgecache.TransportError
			if !errors.As(err, &tErr) || tErr.Attempts != 1 || tErr.Temporary() || len(clock.Waits()) != 0 {
				t.Fatalf("error %v (%T), waits %v; want a permanent *TransportError after 1 attempt", err, err, clock.Waits())
			}
			res, err := bulkDelete(context.Background(), c, tagsN("t", 80), edgecache.BulkOptions{Concurrency: 1})
			if len(res.Failed) != 1 || len(res.NotAttempted) != 64 || !errors.As(err, &tErr) {
				t.Errorf("bulk: %d failed batches, %d not attempted (%v); want the first batch failed and the rest not attempted", len(res.Failed), len(res.NotAttempted), err)
			}
		})
	}
}
