package edgecache

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/vercelkit/edgecache/api"
)

// RetryPolicy says when and how long a Client waits before repeating a request.
//
// Repeating this POST is safe: deleting a tag that is already deleted has the same effect as
// deleting it once, so a retry after a lost answer cannot do harm. Retried are connection
// errors that got no answer and the statuses 429, 500, 502, 503 and 504; never 400, 401, 403,
// 404 or 410, which would fail the same way again.
//
// Waits use full-jitter exponential backoff: a random wait in [0, min(MaxDelay,
// BaseDelay·2^(n-1))) before retry n. A server's Retry-After (seconds or HTTP-date) or
// retry-after-ms replaces that wait. If the server asks for more than MaxRetryAfter, or for a
// wait past the context's deadline, the client returns the *APIError at once, RetryAfter
// filled in, instead of sleeping.
type RetryPolicy struct {
	// MaxAttempts is the most requests made for one call, the first included. 1 disables
	// retries.
	MaxAttempts int
	// BaseDelay is the backoff's first ceiling.
	BaseDelay time.Duration
	// MaxDelay caps the backoff's ceiling.
	MaxDelay time.Duration
	// MaxRetryAfter is the longest server-requested wait the client will honour.
	MaxRetryAfter time.Duration
}

// DefaultRetryPolicy returns the policy a Client uses unless [WithRetry] replaces it:
// 3 attempts, 500 ms base delay, 30 s max delay, server waits of up to 60 s honoured (Vercel's
// rate-limit windows are one minute).
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		MaxAttempts:   3,
		BaseDelay:     500 * time.Millisecond,
		MaxDelay:      30 * time.Second,
		MaxRetryAfter: 60 * time.Second,
	}
}

// withDefaults fills zero fields from the default policy and refuses negative ones.
func (p RetryPolicy) withDefaults() (RetryPolicy, error) {
	if p.MaxAttempts < 0 || p.BaseDelay < 0 || p.MaxDelay < 0 || p.MaxRetryAfter < 0 {
		return p, fmt.Errorf("RetryPolicy fields must not be negative (got %+v)", p)
	}
	d := DefaultRetryPolicy()
	if p.MaxAttempts == 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.BaseDelay == 0 {
		p.BaseDelay = d.BaseDelay
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = d.MaxDelay
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = d.MaxRetryAfter
	}
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

func isRetryableStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// sendWithRetry makes attempts until one succeeds, one fails in a way a retry cannot mend,
// the policy runs out, or ctx ends. The body is re-encoded by the generated client on each
// attempt, so no attempt sees a drained reader.
func (c *Client) sendWithRetry(ctx context.Context, params *api.DangerouslyDeleteByTagsParams, body *api.DangerouslyDeleteByTagsJSONRequestBody) (*Result, error) {
	policy := c.retry
	for attempt := 1; ; attempt++ {
		res, apiErr, err := c.send(ctx, params, body)
		if res != nil {
			res.Attempts = attempt
			return res, nil
		}
		var lastErr error
		retryable := false
		wait := time.Duration(0)
		if apiErr != nil {
			apiErr.Attempts = attempt
			lastErr = apiErr
			retryable = isRetryableStatus(apiErr.StatusCode)
			wait = apiErr.RetryAfter
		} else {
			lastErr = &TransportError{Attempts: attempt, Err: err}
			// An error caused by the caller's own context is not the server's fault. Any other
			// is retried, the HTTP client's own per-attempt Timeout included: its error also
			// matches context.DeadlineExceeded, so the error itself cannot tell them apart.
			retryable = ctx.Err() == nil
		}
		if !retryable || attempt >= policy.MaxAttempts {
			return nil, lastErr
		}
		if wait > policy.MaxRetryAfter {
			c.logger.LogAttrs(ctx, slog.LevelWarn, "edgecache: server asked for a longer wait than the retry policy allows; not retrying",
				slog.Duration("retry_after", wait), slog.Duration("max_retry_after", policy.MaxRetryAfter))
			return nil, lastErr
		}
		if wait == 0 {
			wait = policy.backoff(attempt)
		}
		if deadline, ok := ctx.Deadline(); ok && c.now().Add(wait).After(deadline) {
			c.logger.LogAttrs(ctx, slog.LevelWarn, "edgecache: next retry would pass the context deadline; not retrying",
				slog.Duration("wait", wait))
			return nil, lastErr
		}
		c.logger.LogAttrs(ctx, slog.LevelInfo, "edgecache: retrying",
			slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.String("error", lastErr.Error()))
		if err := c.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("edgecache: %w while waiting to retry: %w", err, lastErr)
		}
	}
}

// TransportError is a request that got no HTTP answer (a refused or reset connection, a
// timeout), after Attempts tries.
type TransportError struct {
	// Attempts is how many requests were made.
	Attempts int
	// Err is the last attempt's error.
	Err error
}

// Error describes the failure; it never holds the token, which travels only in a header.
func (e *TransportError) Error() string {
	if e.Attempts > 1 {
		return fmt.Sprintf("edgecache: no answer after %d attempts: %v", e.Attempts, e.Err)
	}
	return "edgecache: no answer: " + e.Err.Error()
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
