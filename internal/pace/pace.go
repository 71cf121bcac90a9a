// Package pace is the one pace the workers of a bulk purge share. When the server answers 429,
// every worker pauses until the server's reset; what the server let through between the ends of
// the first two pauses is the rate the run keeps from then on, 5% under it, spaced by
// golang.org/x/time/rate.
package pace

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Pacer is safe for concurrent use by the workers of one run.
type Pacer struct {
	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) error
	maxWait time.Duration
	onPause func(time.Duration)
	lim     *rate.Limiter

	mu           sync.Mutex
	until, since time.Time // the shared pause ends; the last pause that ended did
	passed       int       // answers 2xx since then
	learned      bool
}

// New returns a pacer that never starts more than maxRate requests a second (0: no cap) and
// waits out a 429 whose wait is at most maxWait. It reads the time with now and waits with
// sleep; onPause, if not nil, is called with the wait when a shared pause begins.
func New(maxRate float64, maxWait time.Duration, now func() time.Time, sleep func(context.Context, time.Duration) error, onPause func(time.Duration)) *Pacer {
	limit := rate.Limit(maxRate)
	if maxRate == 0 {
		limit = rate.Inf
	}
	return &Pacer{now: now, sleep: sleep, maxWait: maxWait, onPause: onPause, lim: rate.NewLimiter(limit, 1)}
}

// Wait returns when one more request may start: after the shared pause, at the pace.
func (p *Pacer) Wait(ctx context.Context) error {
	for reserved := false; ; {
		d := p.Pause()
		if d == 0 && reserved {
			return nil
		}
		if reserved = d == 0; reserved {
			now := p.now()
			if d = p.lim.ReserveN(now, 1).DelayFrom(now); d == 0 {
				return nil
			}
		}
		if err := p.sleep(ctx, d); err != nil {
			return err
		}
	}
}

// Pause returns what is left of the shared pause. Whoever first finds a pause over starts the
// next span, after learning the rate from the one that ended if it was the first whole one.
func (p *Pacer) Pause() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
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

// Observe takes one answer: ok for a 2xx, limited for a 429 with the wait the server asked
// for (0 when it gave none). It reports whether the request is to be sent again after the
// shared pause: a 429 whose wait is known and at most maxWait.
func (p *Pacer) Observe(ok, limited bool, wait time.Duration) bool {
	now := p.now()
	pause := limited && wait > 0 && wait <= p.maxWait
	p.mu.Lock()
	defer p.mu.Unlock()
	if ok {
		p.passed++
	}
	if pause && !now.Before(p.until) && p.onPause != nil { // a pause begins
		p.onPause(wait)
	}
	if pause && now.Add(wait).After(p.until) {
		p.until = now.Add(wait)
	}
	return pause
}

// Limit is the rate kept, in requests a second; math.MaxFloat64 until one is learned or capped.
func (p *Pacer) Limit() float64 { return float64(p.lim.Limit()) }
