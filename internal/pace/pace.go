// Package pace is the one pace the requests of a bulk purge, or of a coalescing purger, share.
//
// It learns the server's rate limit from the answers, spending as few requests as it can on
// finding it:
//
//   - Requests go out in rounds until the pace is free: a round starts only when every request
//     of the one before has been answered. The first round holds as many requests as the
//     caller runs at once, so that a limit below that concurrency is met by that round alone
//     and not again by workers racing on before its 429s are read. After a 429's pause the
//     rounds restart at one request and grow by one per round, so that the restart finds the
//     limit with one request too many, not with every worker at once.
//   - When a 429 arrives, every request pauses until the server's reset, not only the one that
//     got it. What got through between the ends of the first two pauses (one whole window) is
//     the rate the run keeps from then on, 5% under it, spaced by golang.org/x/time/rate.
//   - When an answer, 2xx included, says how many requests the window still allows (the limit
//     block, or X-RateLimit-Remaining), no more start than that. When none is left, one request
//     at a time goes ahead, at the pace: a probe. Once the pace is known the probe falls in the
//     next window and passes; before, its 429 gives the reset. Nothing waits for a reset given
//     in whole seconds, which would start every window up to a second late.
//   - An outside limiter, when given, is waited for before each request too.
package pace

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is an outside limit on how fast requests start; *rate.Limiter satisfies it.
type Limiter interface {
	Wait(ctx context.Context) error
}

// Config configures a Pacer.
type Config struct {
	// MaxRate caps the requests started per second; 0 means no cap.
	MaxRate float64
	// MaxWait is the longest wait a 429 may ask for and still be waited out.
	MaxWait time.Duration
	// Concurrency is how many requests the caller may have in flight at once (at least 1).
	Concurrency int
	// Outside, when not nil, is waited for before each request starts.
	Outside Limiter
	// Now reads the time and Sleep waits; tests replace them.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// OnPause, when not nil, is called with the wait and the answer when a shared pause
	// begins. It is called with the pacer's lock held: it must not call the pacer.
	OnPause func(wait time.Duration, a Answer)
	// OnRate, when not nil, is called with the rate learned, in requests a second, under the
	// same lock.
	OnRate func(perSecond float64)
}

// Answer is what the pace needs of one request's answer.
type Answer struct {
	// Status is the HTTP status; 0 when no answer came.
	Status int
	// Wait is the wait a 429 asked for, 0 when it gave none.
	Wait time.Duration
	// Limit is the server's account of its limit, nil when the answer carried none.
	Limit *Limit
}

// Limit is the server's account of its limit in one answer.
type Limit struct {
	// Total is the most requests a window allows, 0 when not given.
	Total int
	// Remaining is how many more the window allows, -1 when not given.
	Remaining int
	// Reset is when the window ends, zero when not given. It tells one window from the next.
	Reset time.Time
}

// Turn is one request's permission to start, given by Wait and handed back to Observe with
// the request's answer.
type Turn struct {
	round uint64 // the round it belongs to
	probe bool   // sent with no request left in the window, as far as was known
}

// Pacer is safe for concurrent use by every request of one run.
type Pacer struct {
	cfg Config
	lim *rate.Limiter

	mu           sync.Mutex
	until, since time.Time // the shared pause ends; the last pause that ended did
	passed       int       // answers 2xx since `since`, for learning the rate
	learned      bool
	inFlight     int

	// Rounds: while size > 0, at most size requests start in the round numbered round, and
	// the next round starts once all of them are answered. size 0: requests flow freely.
	round                  uint64
	size, granted, settled int

	total     int       // the requests a window allows, as the server said; 0 unknown
	left      int       // what the current window still allows, as far as known
	leftKnown bool      // left holds something
	leftReset time.Time // the window left was reported for

	waiting  int           // goroutines waiting for an answer
	answered chan struct{} // closed, and replaced, when an answer comes while some wait
}

// New returns a pacer; see Config.
func New(cfg Config) *Pacer {
	limit := rate.Limit(cfg.MaxRate)
	if cfg.MaxRate == 0 {
		limit = rate.Inf
	}
	cfg.Concurrency = max(cfg.Concurrency, 1)
	return &Pacer{cfg: cfg, lim: rate.NewLimiter(limit, 1), size: cfg.Concurrency, answered: make(chan struct{})}
}

// Wait returns when one more request may start: after the shared pause, in its round, within
// what the window allows, at the pace, and once the outside limiter agrees. Every Turn it
// returns must be handed back to Observe exactly once.
func (p *Pacer) Wait(ctx context.Context) (Turn, error) {
	reserved, outside := false, p.cfg.Outside == nil
	for {
		p.mu.Lock()
		now := p.cfg.Now()
		d := p.pauseLocked(now)
		if d == 0 && !p.mayStartLocked() {
			answered := p.answered
			p.waiting++
			p.mu.Unlock()
			select {
			case <-answered:
			case <-ctx.Done():
				p.mu.Lock()
				p.waiting--
				p.mu.Unlock()
				return Turn{}, ctx.Err()
			}
			p.mu.Lock()
			p.waiting--
			p.mu.Unlock()
			continue
		}
		if d == 0 && !reserved {
			reserved = true
			d = p.lim.ReserveN(now, 1).DelayFrom(now)
		}
		if d > 0 {
			p.mu.Unlock()
			if err := p.cfg.Sleep(ctx, d); err != nil {
				return Turn{}, err
			}
			continue
		}
		if !outside {
			// Waited for without the lock; the pause and the gates are checked again after.
			p.mu.Unlock()
			if err := p.cfg.Outside.Wait(ctx); err != nil {
				return Turn{}, err
			}
			outside = true
			continue
		}
		turn := p.grantLocked()
		p.mu.Unlock()
		return turn, nil
	}
}

// mayStartLocked reports whether the round and the window allow one more request now.
func (p *Pacer) mayStartLocked() bool {
	if p.size > 0 && p.granted >= p.size {
		if p.settled < p.granted {
			return false // the round is not over
		}
		p.round++
		p.size++
		if p.size > p.cfg.Concurrency {
			p.size = 0 // free: the workers' own concurrency bounds the requests in flight
		}
		p.granted, p.settled = 0, 0
	}
	// With nothing left in the window, one request at a time: the probe.
	return !p.leftKnown || p.left-p.inFlight > 0 || p.inFlight == 0
}

func (p *Pacer) grantLocked() Turn {
	p.inFlight++
	if p.size > 0 {
		p.granted++
	}
	return Turn{round: p.round, probe: p.leftKnown && p.left-(p.inFlight-1) <= 0}
}

// Pause returns what is left of the shared pause.
func (p *Pacer) Pause() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pauseLocked(p.cfg.Now())
}

// pauseLocked returns what is left of the shared pause. Whoever first finds a pause over
// starts the next window: the rounds restart at one request, the window allows what the
// server said it does, and the rate is learned from the first whole window.
func (p *Pacer) pauseLocked(now time.Time) time.Duration {
	if !now.Before(p.until) && p.since.Before(p.until) {
		if !p.since.IsZero() && p.passed > 0 && !p.learned {
			learned := 0.95 * float64(p.passed) / p.until.Sub(p.since).Seconds()
			p.lim.SetLimitAt(now, min(p.lim.Limit(), rate.Limit(learned)))
			p.learned = true
			if p.cfg.OnRate != nil {
				p.cfg.OnRate(float64(p.lim.Limit()))
			}
		}
		p.since, p.passed = now, 0 // now: a late wake-up is not the server's doing
		p.round++
		p.size, p.granted, p.settled = min(1, p.cfg.Concurrency), 0, 0
		if p.size >= p.cfg.Concurrency {
			p.size = 0
		}
		p.left, p.leftKnown, p.leftReset = p.total, p.total > 0, time.Time{}
	}
	return max(p.until.Sub(now), 0)
}

// Observe takes the answer to a request that Wait let start. It reports whether the request is
// to be sent again after the shared pause (with a new Turn from Wait): a 429 whose wait is
// known and at most MaxWait.
func (p *Pacer) Observe(turn Turn, a Answer) bool {
	if p == nil {
		return false
	}
	now := p.cfg.Now()
	limited := a.Status == 429
	pause := limited && a.Wait > 0 && a.Wait <= p.cfg.MaxWait
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inFlight = max(p.inFlight-1, 0)
	if turn.round == p.round && p.size > 0 {
		p.settled++
	}
	ok := a.Status >= 200 && a.Status <= 299
	if ok {
		p.passed++
	}
	p.learnWindowLocked(turn, a, ok, limited)
	if pause && !now.Before(p.until) && p.cfg.OnPause != nil { // a pause begins
		p.cfg.OnPause(a.Wait, a)
	}
	if pause && now.Add(a.Wait).After(p.until) {
		p.until = now.Add(a.Wait)
	}
	if p.waiting > 0 {
		close(p.answered)
		p.answered = make(chan struct{})
	}
	return pause
}

// learnWindowLocked updates what the current window still allows.
func (p *Pacer) learnWindowLocked(turn Turn, a Answer, ok, limited bool) {
	l := a.Limit
	if l != nil && l.Total > 0 {
		p.total = l.Total
	}
	switch {
	case limited:
		p.left, p.leftKnown = 0, true
	case l != nil && l.Remaining >= 0:
		// Answers may come back out of order: within one window the least remaining is the
		// latest; an answer from a window that has ended says nothing of this one.
		switch {
		case turn.probe || p.leftReset.IsZero() || l.Reset.After(p.leftReset):
			p.left, p.leftReset = l.Remaining, l.Reset
		case l.Reset.Equal(p.leftReset):
			p.left = min(p.left, l.Remaining)
		}
		p.leftKnown = true
	case ok && turn.probe:
		// The window was spent, and yet this one passed: a new window has begun. Without
		// the server's total, nothing is known of it.
		p.left, p.leftKnown, p.leftReset = p.total-1, p.total > 0, time.Time{}
	case p.leftKnown:
		// Counted by the server, as far as anyone can tell: a request that got no answer
		// may have been.
		p.left = max(p.left-1, 0)
	}
}

// Limit is the rate kept, in requests a second; math.MaxFloat64 until one is learned or capped.
func (p *Pacer) Limit() float64 { return float64(p.lim.Limit()) }
