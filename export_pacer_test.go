package edgecache

import (
	"cmp"
	"context"
	"net/http"

	"golang.org/x/time/rate"
)

// Test-only hooks for pacer_test.go: a bulk purge's pacer, driven answer by answer.

// Pacer is the pace a bulk purge's workers share.
type Pacer struct{ p *pacer }

// NewPacer returns the pacer Bulk would make with BulkOptions.MaxRate maxRate, on c's clock
// and retry policy, with progress (nil for none) as BulkOptions.Progress.
func NewPacer(c *Client, maxRate float64, progress func(BulkProgress)) *Pacer {
	lim := rate.NewLimiter(cmp.Or(rate.Limit(maxRate), rate.Inf), 1) // as in Bulk
	return &Pacer{&pacer{c: c, lim: lim, progress: &progressReporter{fn: progress}}}
}

// Observe reads one answer: h its headers, err nil for a 2xx or its *APIError. It reports
// whether the request is to be sent again after the shared pause.
func (p *Pacer) Observe(h http.Header, err error) bool { return p.p.observe(h, err) }

// Wait returns when one more request may start.
func (p *Pacer) Wait(ctx context.Context) error { return p.p.wait(ctx) }

// Limit is the rate the pacer keeps, in requests per second (+Inf before it has learned one).
func (p *Pacer) Limit() float64 { return float64(p.p.lim.Limit()) }
