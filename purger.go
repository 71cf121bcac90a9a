package edgecache

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/vercelkit/edgecache/internal/pace"
)

// DefaultPurgerWindow is how long a [Purger] holds a request open for more items by default.
const DefaultPurgerWindow = 20 * time.Millisecond

// ErrPurgerClosed is the error of Purge and Enqueue once Close has been called. It also
// matches the error of items that Close could not send, or whose request it did not hear back
// about, before its context ended.
var ErrPurgerClosed = errors.New("edgecache: purger closed")

// PurgerOptions tunes [Client.NewPurger]. The zero value is ready to use.
type PurgerOptions struct {
	// Window is how long a request waits for more items to join it once its first has
	// arrived; 0 means DefaultPurgerWindow. A request that is full (16 tags, 8 source images)
	// goes at once. While the pace holds requests back (a rate limit), they keep filling.
	Window time.Duration
	// Concurrency is the most requests in flight at once; 0 means DefaultBulkConcurrency.
	Concurrency int
	// MaxRate, when not zero, caps the requests started per second, as in [BulkOptions].
	MaxRate float64
	// Limiter, when not nil, is waited for before each request, as in [BulkOptions].
	Limiter Limiter
}

// Purger merges purges from any number of goroutines into few requests: a Go backend that
// invalidates a tag or two on every event sends a request per 16 tags, not one per call, and
// stays far below the rate limit that one request per call would meet.
//
// Items of requests with the same operation, project, team, target and deadline share
// requests: a request goes when it is full (16 tags or 8 source images) or when its first
// item has waited [PurgerOptions.Window], and an item already waiting is not added twice. An
// item whose request is already on its way is sent again: that request may have been answered
// before the content changed. Every request goes at one pace, the one [Client.Bulk] keeps: a
// 429 pauses them all, the restart is gradual, and the rate the server allowed is kept.
//
// It takes deletions too, but prefer invalidation: deleting sends the next request for every
// page under a tag to the origin, in the foreground, and merged deletions do so for many tags
// at once (a cache stampede).
//
// A Purger is safe for concurrent use. Create it with [Client.NewPurger], and call Close when
// done: Close sends whatever is still waiting, and ends the Purger's goroutines.
type Purger struct {
	c           *Client
	window      time.Duration
	concurrency int
	invalid     error // the options' error, returned by every Purge and Enqueue
	pacer       *pace.Pacer

	ctx     context.Context // the requests': it ends when Close gives up waiting
	cancel  context.CancelCauseFunc
	stopped chan struct{} // closed once the dispatcher and every request have ended

	mu        sync.Mutex
	running   bool
	closing   bool
	queues    map[purgeKey]*purgeQueue
	wake      chan struct{} // a request may have become due sooner, or Close began
	unclaimed []PurgeFailure
}

// purgeKey is what requests must share to be merged.
type purgeKey struct {
	operation, project, teamID, teamSlug string
	target                               Target
	deadline                             int
	hasDeadline                          bool
}

// purgeQueue is the items waiting for a request of one key, oldest first.
type purgeQueue struct {
	req   Request // one request of the key, rebuilt with the items of each request sent
	size  int     // the most items a request carries
	items []*purgeItem
	index map[string]*purgeItem
}

// purgeItem is one tag or source image waiting, and every call waiting for it.
type purgeItem struct {
	value   string
	arrived time.Time
	calls   []*purgeCall
}

// purgeCall is one Purge or Enqueue. Its fields are guarded by the Purger's mu until done
// is closed, and read-only after.
type purgeCall struct {
	pending int     // items not answered yet
	errs    []error // the distinct errors of the requests that carried them
	waiting bool    // a Purge call is waiting to be told
	done    chan struct{}
}

// purgeBatch is one request and the items it carries.
type purgeBatch struct {
	req   Request
	items []*purgeItem
}

// NewPurger returns a [Purger] that sends through c. Invalid options (a negative Window,
// Concurrency or MaxRate) make every Purge and Enqueue return a *ValidationError naming them.
func (c *Client) NewPurger(opts PurgerOptions) *Purger {
	p := &Purger{c: c, window: cmp.Or(opts.Window, DefaultPurgerWindow), concurrency: cmp.Or(opts.Concurrency, DefaultBulkConcurrency),
		stopped: make(chan struct{}), queues: map[purgeKey]*purgeQueue{}, wake: make(chan struct{}, 1)}
	p.invalid = validatePace(opts.Concurrency, opts.MaxRate)
	if opts.Window < 0 {
		p.invalid = &ValidationError{Field: "Window", Rule: "must not be negative", Value: opts.Window.String()}
	}
	p.ctx, p.cancel = context.WithCancelCause(context.Background())
	p.pacer = c.newPacer(p.concurrency, opts.MaxRate, opts.Limiter, nil)
	return p
}

// Purge purges req's tags or source images, merged with those of other calls, and returns
// once every request that carries them has been answered: nil when all were purged, else the
// error of each request that failed, as a single call's (errors.Is(err, ErrForbidden) and
// errors.As(err, &apiErr) work; several are joined). req is any of the four request types,
// with any number of items, as [Client.Bulk] takes it: they are trimmed and de-duplicated,
// and validated first; a *ValidationError means nothing was queued.
//
// ctx bounds the wait, not the purge: the requests carry other callers' items too. If ctx
// ends first, Purge returns ctx's error at once and the items stay queued: they are sent, and
// if they fail, the failure is logged (see [WithLogger]) and reported by Close. A ctx that has
// already ended queues nothing. After Close, Purge returns ErrPurgerClosed.
func (p *Purger) Purge(ctx context.Context, req Request) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	call, err := p.accept(req, true)
	if err != nil {
		return err
	}
	select {
	case <-call.done:
		return call.err()
	case <-ctx.Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-call.done: // answered as ctx ended: the answer is worth more
		return call.err()
	default:
	}
	call.waiting = false
	return fmt.Errorf("edgecache: Purge: %w; its items stay queued, and Close reports any that fail", ctx.Err())
}

// Enqueue is the form of Purge that does not wait: it validates req and queues its items,
// and returns nil once they are queued. Nobody is told their outcome: failures are logged
// (see [WithLogger]) and reported by Close.
func (p *Purger) Enqueue(req Request) error {
	_, err := p.accept(req, false)
	return err
}

// accept validates req and queues its items for a call.
func (p *Purger) accept(req Request, waiting bool) (*purgeCall, error) {
	if p.invalid != nil {
		return nil, p.invalid
	}
	op := req.operation()
	items := distinct(op.items())
	if _, err := split(req, items); err != nil {
		return nil, err
	}
	call := &purgeCall{pending: len(items), waiting: waiting, done: make(chan struct{})}
	now := p.c.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return nil, ErrPurgerClosed
	}
	if !p.running {
		p.running = true
		go p.run()
	}
	key := purgeKey{operation: op.name, project: op.project, teamID: op.teamID, teamSlug: op.teamSlug, target: op.target}
	if op.deadline != nil {
		key.deadline, key.hasDeadline = *op.deadline, true
	}
	q := p.queues[key]
	if q == nil {
		q = &purgeQueue{req: req, size: MaxSrcImagesPerRequest, index: map[string]*purgeItem{}}
		if op.tags != nil {
			q.size = MaxTagsPerRequest
		}
		p.queues[key] = q
	}
	wasEmpty := len(q.items) == 0
	for _, value := range items {
		item := q.index[value]
		if item == nil {
			item = &purgeItem{value: value, arrived: now}
			q.index[value] = item
			q.items = append(q.items, item)
		}
		item.calls = append(item.calls, call)
	}
	if wasEmpty || len(q.items) >= q.size { // a request is due sooner than the dispatcher thinks
		p.signalLocked()
	}
	return call, nil
}

func (p *Purger) signalLocked() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run is the dispatcher: it sends each request when it is due, at the pace, with at most
// concurrency in flight, and returns once Close has begun and nothing is left, or Close gave
// up waiting.
func (p *Purger) run() {
	defer close(p.stopped)
	var requests sync.WaitGroup
	defer requests.Wait()
	slots := make(chan struct{}, p.concurrency)
	for {
		p.mu.Lock()
		due, wait := p.dueLocked(p.c.now())
		closing := p.closing
		p.mu.Unlock()
		if due == nil {
			if wait < 0 && closing {
				return
			}
			if !p.idle(wait) {
				return
			}
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-p.ctx.Done():
			return
		}
		turn, err := p.pacer.Wait(p.ctx)
		if err != nil && p.ctx.Err() != nil {
			<-slots
			return
		}
		// Taken only now: while the pace held it back, the request kept filling.
		b := p.take()
		if err != nil { // the outside limiter refused
			<-slots
			p.settle(b, fmt.Errorf("edgecache: Limiter: %w", err))
			continue
		}
		requests.Go(func() {
			defer func() { <-slots }()
			op := b.req.operation()
			err := op.validate(0) // each call's items were valid; so is any mix of them
			if err == nil {
				_, err = p.c.send(p.ctx, op, p.pacer, turn)
			} else {
				p.pacer.Observe(turn, pace.Answer{})
			}
			p.settle(b, err)
		})
	}
}

// dueLocked returns the queue whose request goes next: of those that are full or whose oldest
// item has waited the window (all of them once Close has begun), the one whose oldest item is
// oldest. When none is due, it returns how long until one is, or -1 when nothing waits.
func (p *Purger) dueLocked(now time.Time) (*purgeQueue, time.Duration) {
	var due *purgeQueue
	wait := time.Duration(-1)
	for _, q := range p.queues {
		left := q.items[0].arrived.Add(p.window).Sub(now)
		if len(q.items) >= q.size || p.closing || left <= 0 {
			if due == nil || q.items[0].arrived.Before(due.items[0].arrived) {
				due = q
			}
		} else if wait < 0 || left < wait {
			wait = left
		}
	}
	return due, wait
}

// idle waits until wake, or until wait has passed when it is not negative. It reports false
// when the Purger's context has ended.
func (p *Purger) idle(wait time.Duration) bool {
	if wait < 0 {
		select {
		case <-p.wake:
		case <-p.ctx.Done():
		}
		return p.ctx.Err() == nil
	}
	ctx, cancel := context.WithCancel(p.ctx)
	slept := make(chan struct{})
	go func() {
		defer close(slept)
		_ = p.c.sleep(ctx, wait) // the client's clock, so that tests can move it
	}()
	select {
	case <-slept:
	case <-p.wake:
	}
	cancel()
	<-slept
	return p.ctx.Err() == nil
}

// take removes the next request's items from their queue: the due queue's, up to a full
// request.
func (p *Purger) take() *purgeBatch {
	p.mu.Lock()
	defer p.mu.Unlock()
	q, _ := p.dueLocked(p.c.now())
	n := min(q.size, len(q.items))
	b := &purgeBatch{items: slices.Clone(q.items[:n])}
	q.items = slices.Delete(q.items, 0, n)
	values := make([]string, n)
	for i, item := range b.items {
		values[i] = item.value
		delete(q.index, item.value)
	}
	b.req = q.req.operation().withItems(values)
	if len(q.items) == 0 {
		for key, kq := range p.queues {
			if kq == q {
				delete(p.queues, key)
			}
		}
	}
	return b
}

// settle tells every call waiting for the batch's items its outcome; a failure that no call
// waits for is kept for Close to report.
func (p *Purger) settle(b *purgeBatch, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.settleLocked(b, err)
}

func (p *Purger) settleLocked(b *purgeBatch, err error) {
	if err != nil && p.ctx.Err() != nil && !errors.Is(err, ErrPurgerClosed) {
		// A wait that Close cut short ends with context.Canceled; say who cancelled it.
		err = fmt.Errorf("%w: %w", context.Cause(p.ctx), err)
	}
	var unclaimed []string
	for _, item := range b.items {
		told := false
		for _, call := range item.calls {
			told = told || call.waiting
			call.finish(err)
		}
		if !told && err != nil {
			unclaimed = append(unclaimed, item.value)
		}
	}
	if len(unclaimed) > 0 {
		op := b.req.operation()
		p.unclaimed = append(p.unclaimed, PurgeFailure{Request: op.withItems(unclaimed), Err: err})
		p.c.logger.LogAttrs(context.Background(), slog.LevelWarn, "edgecache: purge failed, and no caller was waiting for it; Close reports it",
			slog.String("operation", op.name), slog.String("project", op.project), slog.Int("items", len(unclaimed)), slog.String("error", err.Error()))
	}
}

func (c *purgeCall) finish(err error) {
	if err != nil && !slices.Contains(c.errs, err) {
		c.errs = append(c.errs, err)
	}
	if c.pending--; c.pending == 0 {
		close(c.done)
	}
}

// err is the call's outcome, once done is closed.
func (c *purgeCall) err() error {
	if len(c.errs) == 1 {
		return c.errs[0]
	}
	return errors.Join(c.errs...)
}

// Close stops accepting items, sends every item accepted, and waits for the answers. It
// returns nil when every item was purged or its caller told of its failure; otherwise a
// *CloseError listing what was not purged and not told: failures after a caller stopped
// waiting or of Enqueue, and, if ctx ends first, the items Close could not send (its requests
// in flight are then cancelled, their outcome unknown). Once Close has been called, Purge and
// Enqueue return ErrPurgerClosed; a second Close waits as the first does and returns nil.
func (p *Purger) Close(ctx context.Context) error {
	p.mu.Lock()
	first, running := !p.closing, p.running
	p.closing = true
	p.signalLocked()
	p.mu.Unlock()
	if !running {
		return nil
	}
	select {
	case <-p.stopped:
	case <-ctx.Done():
		p.cancel(fmt.Errorf("%w before the answer came: %w", ErrPurgerClosed, ctx.Err()))
		<-p.stopped
	}
	p.cancel(ErrPurgerClosed) // nothing runs any more; this releases the context
	if !first {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	notSent := fmt.Errorf("%w before sending it: %w", ErrPurgerClosed, ctx.Err())
	for len(p.queues) > 0 {
		b := &purgeBatch{}
		for _, q := range p.queues {
			b.req, b.items = q.req, q.items
			q.items = nil
			break
		}
		values := make([]string, len(b.items))
		for i, item := range b.items {
			values[i] = item.value
		}
		b.req = b.req.operation().withItems(values)
		p.settleLocked(b, notSent)
		for key, q := range p.queues {
			if len(q.items) == 0 {
				delete(p.queues, key)
			}
		}
	}
	if len(p.unclaimed) == 0 {
		return nil
	}
	return &CloseError{Failures: p.unclaimed}
}

// PurgeFailure is a request a [Purger] did not purge and whose outcome no caller was told.
type PurgeFailure struct {
	// Request holds the operation, project, team, target and deadline, and the items
	// concerned, as many as there are: Client.Bulk or another Purger takes it as it is.
	Request Request
	// Err is why: an *APIError or a *TransportError, as a single call's; one matching
	// ErrPurgerClosed as well was cut short by Close (a *TransportError: sent, its outcome
	// unknown; otherwise never sent).
	Err error
}

// CloseError is Close's report of the items a [Purger] accepted and did not purge, whose
// outcome no caller was told.
type CloseError struct {
	Failures []PurgeFailure
}

// Error counts the items and gives the first failure's error.
func (e *CloseError) Error() string {
	n := 0
	for _, f := range e.Failures {
		n += len(f.Request.operation().items())
	}
	return "edgecache: purger closed with " + strconv.Itoa(n) + " items not purged: " + e.Failures[0].Err.Error()
}

// Unwrap gives errors.Is and errors.As every failure's error.
func (e *CloseError) Unwrap() []error {
	errs := make([]error, len(e.Failures))
	for i, f := range e.Failures {
		errs[i] = f.Err
	}
	return errs
}
