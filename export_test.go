package edgecache

import (
	"context"
	"net/http"
	"runtime/debug"
	"time"
)

// Test-only hooks for the external test package edgecache_test.

// WithClock replaces the client's clock: now is read for Retry-After HTTP-dates and for the
// context-deadline check, sleep is every wait between attempts. A nil function keeps the real
// one. With a sleep that records its argument and returns at once, backoff tests run in
// microseconds and can assert the exact waits the client asked for.
func WithClock(now func() time.Time, sleep func(context.Context, time.Duration) error) Option {
	return func(c *Client) error {
		if now != nil {
			c.now = now
		}
		if sleep != nil {
			c.sleep = sleep
		}
		return nil
	}
}

// ParseErrorBody runs the error-body parser on body and returns what it filled in.
func ParseErrorBody(body []byte) *APIError {
	e := &APIError{}
	parseErrorBody(e, body, func(s string) string { return s })
	return e
}

// ParseRetryAfter is the Retry-After / retry-after-ms reader.
func ParseRetryAfter(h http.Header, now time.Time) time.Duration { return parseRetryAfter(h, now) }

// Backoff is the full-jitter wait the policy draws before retry number retry (1 = first).
func Backoff(p RetryPolicy, retry int) time.Duration { return p.backoff(retry) }

// The unexported limits and bounds.
const (
	MinItemsPerRequest      = minItemsPerRequest
	MinRevalidationDeadline = minRevalidationDeadline
	MaxRetryAfterHeader     = maxRetryAfterHeader
	MaxExcerpt              = maxExcerpt
	MaxErrorBody            = maxErrorBody
)

// NewDefaultHTTPClient exposes the client New uses by default, so a test can give it a
// test server's TLS trust and still exercise its redirect policy.
func NewDefaultHTTPClient() *http.Client { return newDefaultHTTPClient() }

// VersionIn is the version Version reports for a program built as info says.
func VersionIn(info *debug.BuildInfo, ok bool) string { return versionIn(info, ok) }
