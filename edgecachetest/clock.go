package edgecachetest

import (
	"fmt"
	"sync/atomic"
	"time"
)

// WithClock makes the fake read the time from now rather than time.Now. The CDN's ages,
// TTLs, stale windows and purge deadlines follow it, and so do the windows of [WithRateLimit].
// A test passes a time that stands still and moves it with [Handler.AdvanceClock] (over
// HTTP, POST /__admin/clock), so that nothing sleeps:
//
//	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
//	fake := edgecachetest.NewServer(edgecachetest.WithOrigin(origin.URL),
//		edgecachetest.WithClock(func() time.Time { return t0 }))
//	fake.AdvanceClock(61 * time.Second) // past an s-maxage of 60
//
// now must be safe for concurrent use. Timeouts that guard against a hung origin
// ([WithOriginTimeout]) and the latency of [WithLatency] run on real time: they bound how
// long a request waits, which a scripted clock must not stretch.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// clock is the fake's time: a base (time.Now or WithClock's) plus what AdvanceClock added.
// The offset is the one mechanism behind both the Go method and the admin call.
type clock struct {
	base   func() time.Time
	offset atomic.Int64 // nanoseconds
}

func newClock(base func() time.Time) *clock {
	if base == nil {
		base = time.Now
	}
	return &clock{base: base}
}

func (c *clock) now() time.Time { return c.base().Add(time.Duration(c.offset.Load())) }

// Now returns the fake's time: its clock ([WithClock], else time.Now) moved forward by every
// [Handler.AdvanceClock] so far.
func (h *Handler) Now() time.Time { return h.clock.now() }

// AdvanceClock moves the fake's time forward by d, for the CDN's TTLs, stale windows and
// deadlines and for the rate limit's windows. POST /__admin/clock {"advance":"30s"} calls it.
// Time never goes back: a negative d panics.
func (h *Handler) AdvanceClock(d time.Duration) {
	if d < 0 {
		panic(fmt.Sprintf("edgecachetest: AdvanceClock: d must not be negative (got %v)", d))
	}
	h.clock.offset.Add(int64(d))
}
