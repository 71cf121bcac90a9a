package edgecache

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy says when and how long a Client waits before repeating a request.
//
// Repeating a purge is safe: purging a tag twice has the same effect as purging it once.
// Retried are connection errors that got no answer and the statuses 429, 500, 502, 503 and
// 504; never 400, 401, 402, 403, 404 or 410, which would fail the same way again.
//
// Waits use full-jitter exponential backoff: a random wait in [0, min(MaxDelay,
// BaseDelay·2^(n-1))) before retry n. A server's Retry-After (seconds or HTTP-date) or
// retry-after-ms replaces that wait. If the server asks for more than MaxRetryAfter, or for a
// wait past the context's deadline, the client returns the *APIError at once, RetryAfter
// filled in, instead of sleeping.
//
// A zero field takes the value of [DefaultRetryPolicy], so a policy names only what it
// changes: RetryPolicy{MaxAttempts: 5} keeps the default delays, and RetryPolicy{} is the
// default policy. MaxAttempts 1 disables retries. A negative field, or a MaxDelay below
// BaseDelay, makes [New] fail.
type RetryPolicy struct {
	MaxAttempts   int           // the most requests for one call, the first included; 1: no retry
	BaseDelay     time.Duration // the backoff's first ceiling
	MaxDelay      time.Duration // caps the backoff's ceiling
	MaxRetryAfter time.Duration // the longest server-requested wait the client honours
}

// DefaultRetryPolicy returns the policy a Client uses unless [WithRetry] replaces it:
// 3 attempts, 500 ms base delay, 30 s max delay, server waits of up to 60 s honoured (Vercel's
// rate-limit windows are one minute).
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 3, BaseDelay: 500 * time.Millisecond, MaxDelay: 30 * time.Second, MaxRetryAfter: time.Minute}
}

// withDefaults fills zero fields from the default policy and refuses negative ones.
func (p RetryPolicy) withDefaults() (RetryPolicy, error) {
	if p.MaxAttempts < 0 || p.BaseDelay < 0 || p.MaxDelay < 0 || p.MaxRetryAfter < 0 {
		return p, fmt.Errorf("RetryPolicy fields must not be negative (got %+v)", p)
	}
	d := DefaultRetryPolicy()
	p = RetryPolicy{MaxAttempts: cmp.Or(p.MaxAttempts, d.MaxAttempts), BaseDelay: cmp.Or(p.BaseDelay, d.BaseDelay),
		MaxDelay: cmp.Or(p.MaxDelay, d.MaxDelay), MaxRetryAfter: cmp.Or(p.MaxRetryAfter, d.MaxRetryAfter)}
	if p.MaxDelay < p.BaseDelay {
		return p, fmt.Errorf("RetryPolicy.MaxDelay (%s) is below BaseDelay (%s)", p.MaxDelay, p.BaseDelay)
	}
	return p, nil
}

// backoff returns the full-jitter wait before retry number retry (1 for the first retry).
func (p RetryPolicy) backoff(retry int) time.Duration {
	ceiling := p.BaseDelay
	for i := 1; i < retry && ceiling < p.MaxDelay; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, p.MaxDelay)
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling)
}

// isRetryableStatus is true for 429, 500, 502, 503 and 504.
func isRetryableStatus(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500 && status <= 504 && status != http.StatusNotImplemented
}

// retryLoop makes attempts until one succeeds, one fails in a way a retry cannot mend, the
// policy runs out, or ctx ends. attempt returns a *Result, an *APIError or a *TransportError.
func (c *Client) retryLoop(ctx context.Context, attempt func(context.Context) (*Result, error)) (*Result, error) {
	for n := 1; ; n++ {
		res, err := attempt(ctx)
		if err == nil {
			res.Attempts = n
			return res, nil
		}
		wait, ok := c.retryWait(ctx, n, err)
		if !ok {
			return nil, err
		}
		c.logger.LogAttrs(ctx, slog.LevelDebug, "edgecache: retrying",
			slog.Int("attempt", n), slog.Duration("wait", wait), slog.String("error", err.Error()))
		if sleepErr := c.sleep(ctx, wait); sleepErr != nil {
			return nil, fmt.Errorf("edgecache: %w while waiting to retry: %w", sleepErr, err)
		}
	}
}

// retryWait records the attempt count on err and says how long to wait before attempt n+1,
// or that there is to be none.
func (c *Client) retryWait(ctx context.Context, n int, err error) (time.Duration, bool) {
	var wait time.Duration
	retryable := false
	switch e := err.(type) {
	case *APIError:
		e.Attempts = n
		retryable, wait = e.Temporary(), e.RetryAfter
	case *TransportError:
		e.Attempts = n
		// An error caused by the caller's own context is not the server's fault. Any other
		// temporary one is retried, the HTTP client's own per-attempt Timeout included: its
		// error also matches context.DeadlineExceeded, so the error cannot tell them apart.
		retryable = ctx.Err() == nil && e.Temporary()
	}
	if !retryable || n >= c.retry.MaxAttempts {
		return 0, false
	}
	if wait > c.retry.MaxRetryAfter {
		c.logger.LogAttrs(ctx, slog.LevelWarn, "edgecache: server asked for a longer wait than the retry policy allows; not retrying",
			slog.Duration("retry_after", wait), slog.Duration("max_retry_after", c.retry.MaxRetryAfter))
		return 0, false
	}
	if wait == 0 {
		wait = c.retry.backoff(n)
	}
	if deadline, ok := ctx.Deadline(); ok && c.now().Add(wait).After(deadline) {
		c.logger.LogAttrs(ctx, slog.LevelWarn, "edgecache: next retry would pass the context deadline; not retrying", slog.Duration("wait", wait))
		return 0, false
	}
	return wait, true
}

// TransportError is a request that got no HTTP answer (a refused or reset connection, a
// timeout), after Attempts tries; Err is the last attempt's error.
type TransportError struct {
	Attempts int
	Err      error
}

// Error describes the failure; the token is redacted from it and from Err (see New).
func (e *TransportError) Error() string {
	if e.Attempts > 1 {
		return fmt.Sprintf("edgecache: no answer after %d attempts: %v", e.Attempts, e.Err)
	}
	return "edgecache: no answer: " + e.Err.Error()
}

// Temporary reports whether another attempt may get an answer: not when a plain-http server
// answered an https URL, or the server's certificate was refused, which every attempt meets.
func (e *TransportError) Temporary() bool {
	var certErr *tls.CertificateVerificationError
	return !errors.Is(e.Err, http.ErrSchemeMismatch) && !errors.As(e.Err, &certErr)
}

// Unwrap gives errors.Is and errors.As the underlying error, such as a *url.Error or
// context.DeadlineExceeded.
func (e *TransportError) Unwrap() error { return e.Err }

// sleepContext waits for d or until ctx ends, whichever is first.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// parseRetryAfter reads the wait a server asks for: retry-after-ms first (finer grained),
// then Retry-After as delta-seconds or an HTTP-date. It returns 0 when there is none or it
// cannot be read.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			// Clamped before the conversion: a float beyond int64 (1e300, Inf) would
			// otherwise convert to a negative duration.
			return time.Duration(min(ms, float64(maxRetryAfterHeader/time.Millisecond)) * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(min(max(secs, 0), int64(maxRetryAfterHeader/time.Second))) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		if d := at.Sub(now); d > 0 {
			return min(d, maxRetryAfterHeader)
		}
	}
	return 0
}

// maxRetryAfterHeader clamps absurd Retry-After and retry-after-ms values, in every form, so
// the duration cannot overflow.
const maxRetryAfterHeader = 365 * 24 * time.Hour
