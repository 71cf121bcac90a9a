package edgecache

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/vercelkit/edgecache/internal/pace"
)

// Limiter is an outside limit on how fast requests start, for [BulkOptions] and
// [PurgerOptions]: Wait blocks until one more request may start, or returns an error (ctx's,
// when it ends first). Its own error stops a bulk purge, and fails the items of the request a
// purger was about to send. *rate.Limiter from golang.org/x/time/rate satisfies it.
//
// Vercel counts requests per token. Code that purges with one token from several places can
// keep them all under one limit with one Limiter: pass the same *rate.Limiter to every bulk
// purge and purger of a process; across processes, implement Wait over something they share
// (a Redis-backed limiter, say), or give each process its share of the rate. Every request
// waits for it, retries and requests sent again after a 429 included, and only after the
// pace the client has learned from the server lets it go.
type Limiter interface {
	Wait(ctx context.Context) error
}

// rateLimitWait is the wait a 429 asks for, from Vercel's signals: the limit block (or, without
// one, X-RateLimit-Reset; used when present, never required), else Retry-After, which also
// overrules a reset it does not confirm: it is given in whole seconds, rounded up, and is
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
	if e.RateLimit != nil && (e.RateLimit.ResetMs > 0 || e.RateLimit.Reset > 0) {
		wait = time.UnixMilli(max(e.RateLimit.ResetMs, e.RateLimit.Reset*1000)).Sub(now)
	}
	if e.RetryAfter > 0 && (wait <= e.RetryAfter-time.Second || wait > e.RetryAfter) {
		wait = e.RetryAfter
	}
	return wait
}

// rateLimitHeaders reads X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (Unix
// seconds), which third parties report on Vercel's answers; nil without a readable Remaining.
func rateLimitHeaders(h http.Header) *RateLimit {
	remaining, err := strconv.Atoi(h.Get("X-RateLimit-Remaining"))
	if err != nil {
		return nil
	}
	total, _ := strconv.Atoi(h.Get("X-RateLimit-Limit"))
	reset, _ := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64)
	return &RateLimit{Remaining: remaining, Total: total, Reset: reset, ResetMs: reset * 1000}
}

// paceAnswer is what the pace learns from one answer: its status, the wait a 429 asks for, and
// the limit the server reported, 2xx answers included.
func (c *Client) paceAnswer(resp *http.Response, res *Result, err error) pace.Answer {
	a := pace.Answer{Status: resp.StatusCode, Wait: c.rateLimitWait(resp.Header, err)}
	rl := (*RateLimit)(nil)
	if res != nil {
		rl = res.RateLimit
	} else if apiErr, ok := errors.AsType[*APIError](err); ok {
		rl = apiErr.RateLimit
	}
	if rl != nil {
		a.Limit = &pace.Limit{Total: rl.Total, Remaining: rl.Remaining}
		if rl.ResetMs > 0 || rl.Reset > 0 {
			a.Limit.Reset = time.UnixMilli(max(rl.ResetMs, rl.Reset*1000))
		}
	}
	return a
}

// newPacer is the pace of one bulk purge or purger. A pause that begins is told to onPause
// (nil: nobody) and logged at debug level, as is the rate learned.
func (c *Client) newPacer(concurrency int, maxRate float64, outside Limiter, onPause func(time.Duration)) *pace.Pacer {
	cfg := pace.Config{
		MaxRate: maxRate, MaxWait: c.retry.MaxRetryAfter, Concurrency: concurrency,
		Outside: outside, Now: c.now, Sleep: c.sleep,
		OnPause: func(wait time.Duration, a pace.Answer) {
			attrs := []slog.Attr{slog.Duration("wait", wait)}
			if a.Limit != nil && a.Limit.Total > 0 {
				attrs = append(attrs, slog.Int("limit", a.Limit.Total))
			}
			c.logger.LogAttrs(context.Background(), slog.LevelDebug, "edgecache: rate limited (429); every request waits", attrs...)
			if onPause != nil {
				onPause(wait)
			}
		},
		OnRate: func(perSecond float64) {
			c.logger.LogAttrs(context.Background(), slog.LevelDebug, "edgecache: pacing requests at the rate the server allowed",
				slog.String("rate", strconv.FormatFloat(perSecond, 'f', 2, 64)+"/s"))
		},
	}
	return pace.New(cfg)
}
