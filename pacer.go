package edgecache

import (
	"errors"
	"net/http"
	"strconv"
	"time"
)

// rateLimitWait is the wait a 429 asks for, from Vercel's signals: the envelope's limit block,
// else an X-RateLimit-Reset header (used when present, never required), else Retry-After, which
// also overrules a reset it does not confirm: it is given in whole seconds, rounded up, and is
// immune to clock skew. It is 0 for any other answer, and when the 429 gives no wait.
func (c *Client) rateLimitWait(h http.Header, err error) time.Duration {
	e, ok := errors.AsType[*APIError](err)
	if !ok || e.StatusCode != http.StatusTooManyRequests {
		return 0
	}
	now := c.now()
	var wait time.Duration
	if reset, perr := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); perr == nil {
		wait = time.Unix(reset, 0).Sub(now)
	}
	if e.RateLimit != nil {
		wait = time.UnixMilli(max(e.RateLimit.ResetMs, e.RateLimit.Reset*1000)).Sub(now)
	}
	if e.RetryAfter > 0 && (wait <= e.RetryAfter-time.Second || wait > e.RetryAfter) {
		wait = e.RetryAfter
	}
	return wait
}
