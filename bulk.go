package edgecache

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vercelkit/edgecache/internal/pace"
)

// DefaultBulkConcurrency is how many requests a bulk purge keeps in flight by default.
const DefaultBulkConcurrency = 4

// BulkOptions tunes [Client.Bulk].
type BulkOptions struct {
	// Concurrency is the most requests in flight at once; 0 means DefaultBulkConcurrency.
	Concurrency int
	// Progress, when set, is called after each request ends and when a pause begins. Calls
	// never overlap; it should return quickly.
	Progress func(BulkProgress)
	// MaxRate, when not zero, caps the requests started per second (see docs/rate-limits.md).
	MaxRate float64
	// Limiter, when not nil, is waited for before each request, retries included, besides
	// the pace learned from the server: one Limiter shared by every purge of a token keeps
	// them all under one limit (see [Limiter]). An error from it stops the run.
	Limiter Limiter
}

// BulkProgress is a bulk purge's state after one of its requests ended.
type BulkProgress struct {
	// Requests is the number of requests the purge is split into; RequestsDone have ended.
	Requests, RequestsDone int
	// Items counts the distinct tags or source images; ItemsPurged and ItemsFailed so far.
	Items, ItemsPurged, ItemsFailed int
	// Pause is what is left of the wait every worker shares after a 429, or zero.
	Pause time.Duration
}

// BulkResult accounts for every distinct item (tag or source image) exactly once: in Purged
// (its request was answered 2xx), in one of Failed (answered, not purged), in Interrupted
// (the context ended while its request was under way: sent and not answered, or waiting to
// be sent again, so it may or may not have been purged), or in NotAttempted (never sent: the
// input was invalid, an answer showed the rest would fail the same way, or the context ended).
type BulkResult struct {
	Purged       []string      `json:"purged"`
	Failed       []FailedBatch `json:"failed"`
	Interrupted  []string      `json:"interrupted"`
	NotAttempted []string      `json:"notAttempted"`
}

// FailedBatch is one request of a bulk purge that did not succeed.
type FailedBatch struct {
	Items   []string `json:"items"`          // the tags or source images it carried
	Status  int      `json:"status"`         // the HTTP status, 0 when no answer came
	Code    string   `json:"code,omitempty"` // the envelope's error code
	Message string   `json:"message"`        // the envelope's message, or the transport error
	Err     error    `json:"-"`              // an *APIError or a *TransportError
}

// BulkError is returned, with the result, when a bulk purge did not purge every item.
type BulkError struct {
	// Failed, Interrupted and NotAttempted count items, as in the result.
	Failed, Interrupted, NotAttempted int
	errs                              []error
}

// Error summarises the failure and gives the first request's error.
func (e *BulkError) Error() string {
	msg := fmt.Sprintf("edgecache: bulk purge incomplete: %d failed, %d not attempted", e.Failed, e.NotAttempted)
	if e.Interrupted > 0 {
		msg = fmt.Sprintf("edgecache: bulk purge incomplete: %d failed, %d interrupted, %d not attempted", e.Failed, e.Interrupted, e.NotAttempted)
	}
	if len(e.errs) > 0 {
		msg += ": " + e.errs[0].Error()
	}
	return msg
}

// Unwrap gives errors.Is and errors.As every failed or interrupted request's error, so that
// errors.Is(err, ErrForbidden) holds when a request was refused.
func (e *BulkError) Unwrap() []error { return e.errs }

// Bulk is the bulk form of every operation: it purges any number of tags or source images,
// given as one request of any of the four types whose Tags or SrcImages hold them all. Items
// are trimmed; empty ones are dropped and duplicates sent once. They are split into requests
// of at most 16 tags or 8 source images (see [Split]), every one validated before anything is
// sent, and run with bounded concurrency; each is one call with its retries. The workers share
// one pace: a 429 pauses them all until the server's reset, uses up no attempt while the wait
// is within MaxRetryAfter, and the run then restarts gradually and keeps to the rate the
// server allowed, within what each answer says the window still allows (see
// docs/rate-limits.md). A pause that begins is logged at debug level (see [WithLogger]).
//
// After a 401, 402, 403 or 404, or a 429 it may not wait out, no new request starts: the rest
// would fail the same way. The result is never nil and accounts for every distinct item exactly
// once; when the input is invalid, every item is NotAttempted and the error is the
// *ValidationError. When some items were not purged otherwise, the error is a *BulkError.
//
// Deleting many tags at once multiplies the cache stampede of each: prefer invalidation, or a
// revalidation deadline, for large sets.
func (c *Client) Bulk(ctx context.Context, req Request, opts BulkOptions) (*BulkResult, error) {
	items := distinct(req.operation().items())
	batches, err := split(req, items)
	if err == nil {
		err = validatePace(opts.Concurrency, opts.MaxRate)
	}
	if err != nil {
		return &BulkResult{Purged: []string{}, Failed: []FailedBatch{}, Interrupted: []string{}, NotAttempted: items}, err
	}
	concurrency := cmp.Or(opts.Concurrency, DefaultBulkConcurrency)
	outcomes := make([]error, len(batches))
	started := make([]bool, len(batches))
	var (
		next     atomic.Int64
		halt     atomic.Bool
		stopped  atomic.Value // the limiter's error that stopped the run
		wg       sync.WaitGroup
		progress = progressReporter{fn: opts.Progress, state: BulkProgress{Requests: len(batches), Items: len(items)}}
	)
	pacer := c.newPacer(min(concurrency, len(batches)), opts.MaxRate, opts.Limiter, progress.paused)
	progress.pacer = pacer
	for range min(concurrency, len(batches)) {
		wg.Go(func() {
			for !halt.Load() && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(batches) {
					return
				}
				turn, err := pacer.Wait(ctx)
				if err != nil {
					if ctx.Err() == nil { // the outside limiter's own error
						stopped.CompareAndSwap(nil, fmt.Errorf("edgecache: Limiter: %w", err))
						halt.Store(true)
					}
					return
				}
				started[i] = true
				_, err = c.send(ctx, batches[i].req.operation(), pacer, turn)
				outcomes[i] = err
				if haltsBulk(err) {
					halt.Store(true)
				}
				progress.report(len(batches[i].items), err == nil)
			}
		})
	}
	wg.Wait()
	stopErr, _ := stopped.Load().(error)
	return account(ctx, batches, started, outcomes, stopErr)
}

// validatePace checks the options a bulk purge and a purger share.
func validatePace(concurrency int, maxRate float64) error {
	if concurrency < 0 {
		return invalidCount("Concurrency", "must not be negative", concurrency)
	}
	if !(maxRate >= 0) {
		return &ValidationError{Field: "MaxRate", Rule: "must not be negative", Value: fmt.Sprint(maxRate)}
	}
	return nil
}

// Split validates req and splits its tags or source images, trimmed and de-duplicated, into
// the requests [Client.Bulk] would send, in order, without sending anything. A
// *ValidationError indexes the items as de-duplicated.
func Split(req Request) ([]Request, error) {
	batches, err := split(req, distinct(req.operation().items()))
	out := make([]Request, len(batches))
	for i, b := range batches {
		out[i] = b.req
	}
	return out, err
}

// batch is one request of a bulk purge and the items it carries.
type batch struct {
	req   Request
	items []string
}

func split(req Request, items []string) ([]batch, error) {
	op := req.operation()
	if len(items) == 0 {
		return nil, op.withItems(nil).operation().validate(0)
	}
	size := MaxSrcImagesPerRequest
	if op.tags != nil {
		size = MaxTagsPerRequest
	}
	var batches []batch
	for start := 0; start < len(items); start += size {
		end := min(start+size, len(items))
		chunk := items[start:end:end]
		b := batch{req: op.withItems(chunk), items: chunk}
		if err := b.req.operation().validate(start); err != nil {
			return nil, err
		}
		batches = append(batches, b)
	}
	return batches, nil
}

// distinct trims each item and drops empty ones and duplicates, keeping first-seen order.
func distinct(in []string) []string {
	out := make([]string, 0, len(in))
	seen := make(map[string]struct{}, len(in))
	for _, item := range in {
		item = strings.TrimSpace(item)
		if _, dup := seen[item]; !dup && item != "" {
			seen[item] = struct{}{}
			out = append(out, item)
		}
	}
	return out
}

// account builds the result from each batch's outcome. A batch whose request the context
// cut short is Interrupted, and a purge cut short by its context matches it with errors.Is;
// stopErr is what else stopped the run early, if anything.
func account(ctx context.Context, batches []batch, started []bool, outcomes []error, stopErr error) (*BulkResult, error) {
	res := &BulkResult{Purged: []string{}, Failed: []FailedBatch{}, Interrupted: []string{}, NotAttempted: []string{}}
	var bulkErr BulkError
	for i, b := range batches {
		switch {
		case !started[i]:
			res.NotAttempted = append(res.NotAttempted, b.items...)
			bulkErr.NotAttempted += len(b.items)
		case outcomes[i] == nil:
			res.Purged = append(res.Purged, b.items...)
		case interrupted(ctx, outcomes[i]):
			res.Interrupted = append(res.Interrupted, b.items...)
			bulkErr.Interrupted += len(b.items)
			bulkErr.errs = append(bulkErr.errs, outcomes[i])
		default:
			res.Failed = append(res.Failed, failedBatch(b.items, outcomes[i]))
			bulkErr.Failed += len(b.items)
			bulkErr.errs = append(bulkErr.errs, outcomes[i])
		}
	}
	if bulkErr.Failed == 0 && bulkErr.Interrupted == 0 && bulkErr.NotAttempted == 0 {
		return res, nil
	}
	if stopErr != nil {
		bulkErr.errs = append(bulkErr.errs, stopErr)
	}
	if ctxErr := ctx.Err(); bulkErr.NotAttempted > 0 && ctxErr != nil && !errors.Is(&bulkErr, ctxErr) {
		bulkErr.errs = append(bulkErr.errs, fmt.Errorf("edgecache: bulk purge stopped before sending every request: %w", ctxErr))
	}
	if len(bulkErr.errs) == 0 {
		bulkErr.errs = append(bulkErr.errs, errors.New("edgecache: bulk purge stopped before sending every request"))
	}
	return res, &bulkErr
}

// interrupted reports whether err is ctx ending while its request was under way: its error or
// its cause, which net/http gives instead of context.Canceled when there is one.
func interrupted(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, ctx.Err()) || errors.Is(err, context.Cause(ctx)))
}

func failedBatch(items []string, err error) FailedBatch {
	fb := FailedBatch{Items: items, Message: err.Error(), Err: err}
	if apiErr, ok := errors.AsType[*APIError](err); ok {
		fb.Status, fb.Code, fb.Message = apiErr.StatusCode, apiErr.Code, apiErr.Message
		if fb.Message == "" {
			fb.Message = http.StatusText(apiErr.StatusCode)
		}
	}
	return fb
}

// haltsBulk reports whether an error means every other request would fail the same way.
func haltsBulk(err error) bool {
	transportErr, ok := errors.AsType[*TransportError](err)
	return errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrForbidden) || errors.Is(err, ErrNotFound) ||
		errors.Is(err, ErrPaymentRequired) || errors.Is(err, ErrRateLimited) || ok && !transportErr.Temporary()
}

// progressReporter serialises progress callbacks from the workers.
type progressReporter struct {
	mu    sync.Mutex
	fn    func(BulkProgress)
	state BulkProgress
	pacer *pace.Pacer
}

// report counts a request that ended.
func (p *progressReporter) report(items int, ok bool) {
	pause := p.pacer.Pause() // before the lock: the pacer calls paused under its own
	p.update(func(s *BulkProgress) {
		s.RequestsDone, s.Pause = s.RequestsDone+1, pause
		if ok {
			s.ItemsPurged += items
		} else {
			s.ItemsFailed += items
		}
	})
}

// paused tells Progress that a shared pause of d begins.
func (p *progressReporter) paused(d time.Duration) { p.update(func(s *BulkProgress) { s.Pause = d }) }

func (p *progressReporter) update(change func(*BulkProgress)) {
	if p.fn != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		change(&p.state)
		p.fn(p.state)
	}
}
