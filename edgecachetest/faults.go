package edgecachetest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is an answer to inject instead of the normal one; see [Handler.FailNext].
//
// A Fault with Status 0 and no DropConnection only delays (by Latency): the request is then
// validated and answered as usual.
type Fault struct {
	// Operation limits the fault to requests for one operation, such as
	// [OpInvalidateByTags]; [AllOperations] (""), the zero value, applies it to any request.
	Operation string
	// Status is the status to answer, such as 429 or 503: 0, or 200 to 999.
	Status int
	// RetryAfter is the raw Retry-After header value ("2", or an HTTP-date); "" sends none.
	RetryAfter string
	// RetryAfterMs is the raw retry-after-ms header value ("50"); "" sends none. The client
	// prefers it to Retry-After, which counts whole seconds, so a test of a 429 can ask for a
	// wait of milliseconds instead of sleeping a second.
	RetryAfterMs string
	// Body replaces the default envelope {"error":{"code":…,"message":…}}, whose code
	// follows Status: 400 bad_request, 401 unauthorized, 402 payment_required, 403
	// forbidden, 404 not_found, 410 gone, 429 rate_limited, 5xx internal_server_error.
	Body string
	// Latency delays the answer (on top of WithLatency); the wait ends early if the client
	// goes away.
	Latency time.Duration
	// DropConnection closes the connection without answering (after Latency).
	DropConnection bool
}

// QueuedFault is a fault waiting in the queue, as [Handler.Faults] lists it.
type QueuedFault struct {
	Fault
	// Times is how many more requests the fault will answer.
	Times int
}

// check reports what makes f unusable, naming the field.
func (f Fault) check() error {
	if f.Status != 0 && (f.Status < 200 || f.Status > 999) {
		return fmt.Errorf("status: must be 0 or from 200 to 999 (got %d)", f.Status)
	}
	if ops := Operations(); f.Operation != "" && !slices.Contains(ops, f.Operation) {
		quoted := make([]string, len(ops))
		for i, op := range ops {
			quoted[i] = strconv.Quote(op)
		}
		return fmt.Errorf("operation: must be one of %s, or absent for any (got %q)", strings.Join(quoted, ", "), f.Operation)
	}
	if f.Latency < 0 {
		return fmt.Errorf("latency: must not be negative (got %v)", f.Latency)
	}
	return nil
}

// faultQueue holds the pending faults, first queued first applied.
type faultQueue struct {
	pending atomic.Int64 // how many entries list holds, read without the lock on the common path
	mu      sync.Mutex
	list    []QueuedFault
}

// push queues f for the next n requests it applies to.
func (q *faultQueue) push(f Fault, n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.list = append(q.list, QueuedFault{Fault: f, Times: n})
	q.pending.Store(int64(len(q.list)))
}

// pop takes one use of the first fault that applies to operation.
func (q *faultQueue) pop(operation string) (Fault, bool) {
	if q.pending.Load() == 0 {
		return Fault{}, false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range q.list {
		qf := &q.list[i]
		if qf.Operation != "" && qf.Operation != operation {
			continue
		}
		f := qf.Fault
		if qf.Times--; qf.Times == 0 {
			q.list = slices.Delete(q.list, i, i+1)
			q.pending.Store(int64(len(q.list)))
		}
		return f, true
	}
	return Fault{}, false
}

func (q *faultQueue) snapshot() []QueuedFault {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.list)
}

func (q *faultQueue) clear() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.list = nil
	q.pending.Store(0)
}

// FailNext makes the next n requests that f applies to (those for f.Operation, or any when
// it is "") get fault f, after the faults already queued. Faults are applied before any
// validation, so a faulted request may carry anything. n ≤ 0 queues nothing. It panics if
// f.Status is neither 0 nor from 200 to 999, if f.Operation is not "" or one of
// [Operations], or if f.Latency is negative.
func (h *Handler) FailNext(n int, f Fault) {
	if err := f.check(); err != nil {
		panic("edgecachetest: FailNext: " + err.Error())
	}
	if n <= 0 {
		return
	}
	h.faults.push(f, n)
}

// Faults returns the pending faults, in the order they will apply. GET /__admin/faults
// lists them.
func (h *Handler) Faults() []QueuedFault { return h.faults.snapshot() }

// ClearFaults drops the pending faults. DELETE /__admin/faults calls it.
func (h *Handler) ClearFaults() { h.faults.clear() }
