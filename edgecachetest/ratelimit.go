package edgecachetest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// WithRateLimit makes the fake allow at most n requests in each fixed window of the given
// length, as Vercel's rate-limit buckets do: a window opens with the first request after the
// last one closed. Every request counts, whatever its verdict, except one answered with a fault
// queued by FailNext. A request over the limit is answered 429 rate_limited before any other
// check, with a Retry-After header in whole seconds, rounded up, and the envelope's limit
// block: {"error":{"code":"rate_limited","message":…,"limit":{"remaining":0,"reset":…,
// "resetMs":…,"total":n}}}, reset in Unix seconds and resetMs in Unix milliseconds.
//
// It panics if n < 1 or window ≤ 0.
func WithRateLimit(n int, window time.Duration) Option {
	if n < 1 || window <= 0 {
		panic(fmt.Sprintf("edgecachetest: WithRateLimit: want n ≥ 1 and window > 0 (got %d, %s)", n, window))
	}
	return func(c *config) {
		if c.limit == nil {
			c.limit = &rateLimit{}
		}
		c.limit.n, c.limit.window = n, window
	}
}

// WithRateLimitHeaders makes every answer of a rate-limited fake (see [WithRateLimit]) carry
// X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (Unix seconds, rounded up).
// They are off by default: third parties report them, but no Vercel source confirms them.
func WithRateLimitHeaders() Option {
	return func(c *config) {
		if c.limit == nil {
			c.limit = &rateLimit{}
		}
		c.limit.headers = true
	}
}

// WithRateLimitRetryAfterOnly makes a rate-limited fake's 429s (see [WithRateLimit]) carry
// Retry-After alone, without the envelope's limit block: the one signal Vercel is known to
// send, so that a client can be tried on it alone.
func WithRateLimitRetryAfterOnly() Option {
	return func(c *config) {
		if c.limit == nil {
			c.limit = &rateLimit{}
		}
		c.limit.noBlock = true
	}
}

// rateLimit is the state of WithRateLimit: one bucket for the whole fake.
type rateLimit struct {
	n       int
	window  time.Duration
	headers bool
	noBlock bool
	now     func() time.Time // nil: time.Now; tests set it

	mu    sync.Mutex
	start time.Time // the window opened
	used  int       // requests in the window
}

// refuse counts the request and, when it is over the limit, answers it 429 and reports true.
// A nil rateLimit, or one without a limit, refuses nothing.
func (l *rateLimit) refuse(aw *answerWriter) bool {
	if l == nil || l.n == 0 {
		return false
	}
	now := time.Now()
	if l.now != nil {
		now = l.now()
	}
	l.mu.Lock()
	if l.start.IsZero() || now.Sub(l.start) >= l.window {
		l.start, l.used = now, 0
	}
	l.used++
	used, reset := l.used, l.start.Add(l.window)
	l.mu.Unlock()

	if l.headers {
		aw.Header().Set("X-RateLimit-Limit", strconv.Itoa(l.n))
		aw.Header().Set("X-RateLimit-Remaining", strconv.Itoa(max(l.n-used, 0)))
		aw.Header().Set("X-RateLimit-Reset", strconv.FormatInt(ceilUnix(reset), 10))
	}
	if used <= l.n {
		return false
	}
	wait := int64(math.Ceil(reset.Sub(now).Seconds()))
	aw.Header().Set("Retry-After", strconv.FormatInt(max(wait, 1), 10))
	message := fmt.Sprintf("Rate limit exceeded: %d requests per %s", l.n, l.window)
	envelope := map[string]any{"code": "rate_limited", "message": message}
	if !l.noBlock {
		envelope["limit"] = map[string]any{"remaining": 0, "reset": reset.Unix(), "resetMs": reset.UnixMilli(), "total": l.n}
	}
	body, _ := json.Marshal(map[string]any{"error": envelope})
	aw.note(http.StatusTooManyRequests, "rate_limited", message)
	aw.Header().Set("Content-Type", "application/json; charset=utf-8")
	aw.WriteHeader(http.StatusTooManyRequests)
	_, _ = aw.Write(body)
	return true
}

// ceilUnix is t in Unix seconds, rounded up, so that a client waiting for it is never early.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}
