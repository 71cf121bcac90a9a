package edgecache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// DefaultBulkConcurrency is how many requests a bulk purge keeps in flight unless told
// otherwise: enough to hide latency, few enough not to trip Vercel's rate limits.
const DefaultBulkConcurrency = 4

// BulkDeleteRequest is a purge of any number of tags in one project.
type BulkDeleteRequest struct {
	// ProjectIDOrName is the project's id or name. Required.
	ProjectIDOrName string
	// Tags to delete, in any number. Each is trimmed; empty ones are dropped and duplicates
	// are sent once. No tag may hold a comma or exceed 256 characters.
	Tags []string
	// Target limits every request to one environment; empty means all environments.
	Target Target
	// RevalidationDeadlineSeconds applies to every request, as in DeleteByTagsRequest.
	RevalidationDeadlineSeconds *int
	// TeamID, when set, overrides the client's WithTeamID.
	TeamID string
	// TeamSlug, when set, overrides the client's WithTeamSlug.
	TeamSlug string
	// Concurrency is the most requests in flight at once; 0 means DefaultBulkConcurrency.
	Concurrency int
	// Progress, when set, is called after each request ends. Calls never overlap, so it
	// need not be safe for concurrent use; it should return quickly.
	Progress func(BulkProgress)
}

// BulkProgress is a bulk purge's state after one of its requests ended.
type BulkProgress struct {
	// Requests is the number of requests the purge is split into; RequestsDone have ended.
	Requests, RequestsDone int
	// Tags is the number of distinct tags; TagsPurged and TagsFailed so far.
	Tags, TagsPurged, TagsFailed int
}

// BulkResult accounts for every distinct input tag exactly once: in Purged (its request
// was answered 2xx), in one of Failed, or in NotAttempted (never sent, because an earlier
// answer showed the rest would fail the same way or the context ended).
type BulkResult struct {
	// Purged are the tags whose request was answered 2xx.
	Purged []string `json:"purged"`
	// Failed are the requests that were sent and did not succeed, with their tags.
	Failed []FailedBatch `json:"failed"`
	// NotAttempted are the tags never sent.
	NotAttempted []string `json:"notAttempted"`
}

// FailedBatch is one request of a bulk purge that did not succeed.
type FailedBatch struct {
	// Tags are the tags that request carried.
	Tags []string `json:"tags"`
	// Status is the HTTP status, 0 when no answer came.
	Status int `json:"status"`
	// Code is the envelope's error code, empty when there was none.
	Code string `json:"code,omitempty"`
	// Message is the envelope's message, or describes the transport error.
	Message string `json:"message"`
	// Err is the request's error: an *APIError or a *TransportError.
	Err error `json:"-"`
}

// BulkError is returned, with the result, when a bulk purge did not purge every tag.
type BulkError struct {
	// Failed and NotAttempted count tags, as in the result.
	Failed, NotAttempted int
	errs                 []error
}

// Error summarises the failure and gives the first request's error.
func (e *BulkError) Error() string {
	msg := fmt.Sprintf("edgecache: bulk purge incomplete: %d tags failed, %d not attempted", e.Failed, e.NotAttempted)
	if len(e.errs) > 0 {
		msg += ": " + e.errs[0].Error()
	}
	return msg
}

// Unwrap gives errors.Is and errors.As every failed request's error, so that
// errors.Is(err, ErrForbidden) holds when a request was refused.
func (e *BulkError) Unwrap() []error { return e.errs }

// DangerouslyDeleteByTagsBulk deletes any number of tags, split into requests of at most
// MaxTagsPerRequest run with bounded concurrency. Every tag is validated before anything is
// sent. Each request is a DangerouslyDeleteByTags call, with its retries.
//
// After a 401, 403 or 404 no new request starts: the rest would fail the same way. The
// result accounts for every distinct tag exactly once. When some tags were not purged the
// error is a *BulkError, and the result is still returned.
//
// Every deleted tag sends the next request of each page under it to the origin; purging many
// tags at once multiplies that cache stampede. Prefer a revalidation deadline for large sets.
func (c *Client) DangerouslyDeleteByTagsBulk(ctx context.Context, req BulkDeleteRequest) (*BulkResult, error) {
	calls, err := req.Requests()
	if err != nil {
		return nil, err
	}
	concurrency := req.Concurrency
	if concurrency == 0 {
		concurrency = DefaultBulkConcurrency
	}
	tagCount := 0
	for _, call := range calls {
		tagCount += len(call.Tags.list)
	}
	outcomes := make([]error, len(calls))
	started := make([]bool, len(calls))
	var (
		next     atomic.Int64
		halt     atomic.Bool
		wg       sync.WaitGroup
		progress = progressReporter{fn: req.Progress, state: BulkProgress{Requests: len(calls), Tags: tagCount}}
	)
	for range min(concurrency, len(calls)) {
		wg.Go(func() {
			for !halt.Load() && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(calls) {
					return
				}
				started[i] = true
				_, err := c.DangerouslyDeleteByTags(ctx, calls[i])
				outcomes[i] = err
				if haltsBulk(err) {
					halt.Store(true)
				}
				progress.report(len(calls[i].Tags.list), err == nil)
			}
		})
	}
	wg.Wait()
	return account(calls, started, outcomes, ctx.Err())
}

// Requests validates the purge and splits it into the requests DangerouslyDeleteByTagsBulk
// would send, in order, without sending anything: for a dry run, or to drive the calls
// yourself.
func (req BulkDeleteRequest) Requests() ([]DeleteByTagsRequest, error) {
	tags, err := normalizeTags(req.Tags)
	if err != nil {
		return nil, err
	}
	if req.Concurrency < 0 {
		return nil, invalidCount("Concurrency", "must not be negative", req.Concurrency)
	}
	calls := make([]DeleteByTagsRequest, 0, (len(tags)+MaxTagsPerRequest-1)/MaxTagsPerRequest)
	for len(tags) > 0 {
		n := min(MaxTagsPerRequest, len(tags))
		calls = append(calls, DeleteByTagsRequest{
			ProjectIDOrName:             req.ProjectIDOrName,
			Tags:                        Tags{list: tags[:n:n], form: tagsList},
			Target:                      req.Target,
			RevalidationDeadlineSeconds: req.RevalidationDeadlineSeconds,
			TeamID:                      req.TeamID,
			TeamSlug:                    req.TeamSlug,
		})
		tags = tags[n:]
	}
	// Every call shares the same project, target and deadline, so checking the first
	// checks them all; the tags were checked one by one above.
	if err := calls[0].Validate(); err != nil {
		return nil, err
	}
	return calls, nil
}

// account builds the result from each batch's outcome. ctxErr is the context's error when
// the workers stopped, so that a purge cut short by its context matches it with errors.Is.
func account(calls []DeleteByTagsRequest, started []bool, outcomes []error, ctxErr error) (*BulkResult, error) {
	res := &BulkResult{Purged: []string{}, Failed: []FailedBatch{}, NotAttempted: []string{}}
	var bulkErr BulkError
	for i, call := range calls {
		batch := call.Tags.list
		switch {
		case !started[i]:
			res.NotAttempted = append(res.NotAttempted, batch...)
			bulkErr.NotAttempted += len(batch)
		case outcomes[i] == nil:
			res.Purged = append(res.Purged, batch...)
		default:
			res.Failed = append(res.Failed, failedBatch(batch, outcomes[i]))
			bulkErr.Failed += len(batch)
			bulkErr.errs = append(bulkErr.errs, outcomes[i])
		}
	}
	if bulkErr.Failed == 0 && bulkErr.NotAttempted == 0 {
		return res, nil
	}
	if bulkErr.NotAttempted > 0 && ctxErr != nil && !errors.Is(&bulkErr, ctxErr) {
		bulkErr.errs = append(bulkErr.errs, fmt.Errorf("edgecache: bulk purge stopped before sending every request: %w", ctxErr))
	}
	if len(bulkErr.errs) == 0 {
		bulkErr.errs = append(bulkErr.errs, errors.New("edgecache: bulk purge stopped before sending every request"))
	}
	return res, &bulkErr
}

func failedBatch(tags []string, err error) FailedBatch {
	fb := FailedBatch{Tags: tags, Message: err.Error(), Err: err}
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
	return errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrForbidden) || errors.Is(err, ErrNotFound)
}

// normalizeTags trims each tag, drops empty ones and duplicates (keeping first-seen order),
// and checks the rest, naming a bad tag by its index in the input.
func normalizeTags(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	seen := make(map[string]struct{}, len(in))
	for i, tag := range in {
		tag = strings.TrimSpace(tag)
		if tag == "" {
			continue
		}
		if _, dup := seen[tag]; dup {
			continue
		}
		if err := validateTag(tag, i); err != nil {
			return nil, err
		}
		seen[tag] = struct{}{}
		out = append(out, tag)
	}
	if len(out) == 0 {
		return nil, invalidCount("tags", "must hold at least 1 non-empty tag", 0)
	}
	return out, nil
}

// progressReporter serialises progress callbacks from the workers.
type progressReporter struct {
	mu    sync.Mutex
	fn    func(BulkProgress)
	state BulkProgress
}

func (p *progressReporter) report(tags int, ok bool) {
	if p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state.RequestsDone++
	if ok {
		p.state.TagsPurged += tags
	} else {
		p.state.TagsFailed += tags
	}
	p.fn(p.state)
}
