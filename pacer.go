package edgecache

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// pacer is the one pace the workers of a bulk purge share. A 429 pauses them all until the
// server's reset; what the server let through between the ends of the first two pauses is
// the rate the run keeps from then on, 5% under it (golang.org/x/time/rate spaces requests).
type pacer struct {
	c        *Client
	lim      *rate.Limiter
	progress *progressReporter

	mu           sync.Mutex
	until, since time.Time // the shared pause ends; the last pause that ended did
	passed       int       // answers 2xx since then
	learned      bool
}

// wait returns when one more request may start: after the shared pause, at the pace.
func (p *pacer) wait(ctx context.Context) error {
	for reserved := false; ; {
		d := p.pause()
		if d == 0 && reserved {
			return nil
		}
		if reserved = d == 0; reserved {
			now := p.c.now()
			if d = p.lim.ReserveN(now, 1).DelayFrom(now); d == 0 {
				return nil
			}
		}
		if err := p.c.sleep(ctx, d); err != nil {
			return err
		}
	}
}

// pause returns what is left of the shared pause. Whoever first finds a pause over starts the
// next span, after learning the rate from the one that ended if it was the first whole one.
func (p *pacer) pause() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.c.now()
	if !now.Before(p.until) && p.since.Before(p.until) {
		if !p.since.IsZero() && p.passed > 0 && !p.learned {
			learned := rate.Limit(0.95 * float64(p.passed) / p.until.Sub(p.since).Seconds())
			p.lim.SetLimitAt(now, min(p.lim.Limit(), learned))
			p.learned = true
		}
		p.since, p.passed = now, 0 // now: a late wake-up is not the server's doing
	}
	return max(p.until.Sub(now), 0)
}

// observe reads an answer's rate-limit signals and reports whether it is a 429 to wait out
// with the other workers and send again: one whose wait is known and within MaxRetryAfter.
func (p *pacer) observe(h http.Header, err error) bool {
	now := p.c.now()
	e, limited := err.(*APIError)
	limited = limited && e.StatusCode == http.StatusTooManyRequests
	var wait time.Duration
	if reset, perr := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); perr == nil && limited {
		wait = time.Unix(reset, 0).Sub(now)
	}
	if limited && e.RateLimit != nil {
		wait = time.UnixMilli(max(e.RateLimit.ResetMs, e.RateLimit.Reset*1000)).Sub(now)
	}
	// Retry-After (whole seconds, rounded up; immune to clock skew) overrules a reset it does not confirm.
	if limited && e.RetryAfter > 0 && (wait <= e.RetryAfter-time.Second || wait > e.RetryAfter) {
		wait = e.RetryAfter
	}
	ok := wait > 0 && wait <= p.c.retry.MaxRetryAfter
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		p.passed++
	}
	if r := p.progress; ok && !now.Before(p.until) && r.fn != nil { // a pause begins
		r.mu.Lock()
		r.state.Pause = wait
		r.fn(r.state)
		r.mu.Unlock()
	}
	if ok && now.Add(wait).After(p.until) {
		p.until = now.Add(wait)
	}
	return limited && ok
}
