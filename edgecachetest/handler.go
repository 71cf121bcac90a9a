package edgecachetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vercelkit/edgecache/api"
)

// The values of Request.TagsForm.
const (
	// FormArray is a request whose tags were a JSON array.
	FormArray = "array"
	// FormString is a request whose tags were one comma-separated JSON string.
	FormString = "string"
)

// RequestIDHeader is the header every answer carries, as Vercel's do.
const RequestIDHeader = "X-Vercel-Id"

// Request is one request the fake accepted (answered 200).
type Request struct {
	// ProjectIDOrName, TeamID and Slug are the query parameters; empty when absent.
	ProjectIDOrName, TeamID, Slug string
	// Tags are the tags as Vercel reads them: the array form's items and the string form,
	// each split on commas. Nothing is trimmed or dropped.
	Tags []string
	// TagsForm is the form the tags were sent in: FormArray or FormString.
	TagsForm string
	// Target is the body's target, empty when absent.
	Target string
	// RevalidationDeadlineSeconds is the body's deadline, nil when absent (a 0 sent
	// explicitly is a pointer to 0).
	RevalidationDeadlineSeconds *float64
	// UserAgent is the User-Agent header.
	UserAgent string
	// RequestID is the x-vercel-id the fake answered with.
	RequestID string
	// Time is when the fake accepted the request.
	Time time.Time
}

// Fault is an answer to inject instead of the normal one; see [Handler.FailNext].
//
// A Fault with Status 0 and no DropConnection only delays (by Latency): the request is then
// validated and answered as usual.
type Fault struct {
	// Status is the status to answer, such as 429 or 503.
	Status int
	// RetryAfter is the raw Retry-After header value ("2", or an HTTP-date); "" sends none.
	RetryAfter string
	// Body replaces the default envelope {"error":{"code":…,"message":…}}, whose code
	// follows Status: 400 bad_request, 401 unauthorized, 403 forbidden, 404 not_found,
	// 410 gone, 429 rate_limited, 5xx internal_server_error.
	Body string
	// Latency delays the answer (on top of WithLatency); the wait ends early if the client
	// goes away.
	Latency time.Duration
	// DropConnection closes the connection without answering (after Latency).
	DropConnection bool
}

// Option configures a fake in [NewHandler] or [NewServer].
type Option func(*config)

type config struct {
	tokens    map[string]struct{} // nil: any non-empty token
	tokenList []string            // the tokens in the order given
	projects  map[string]struct{} // nil: any project exists
	teams     map[string]struct{} // nil: any team is allowed
	latency   time.Duration
	logger    *slog.Logger
	noRecord  bool
	limit     *rateLimit // see ratelimit.go
}

// WithTokens accepts only these bearer tokens; any other is refused with 403 forbidden. By
// default any non-empty token is accepted. Repeated uses add up; WithTokens() with no token
// accepts none.
func WithTokens(tokens ...string) Option {
	return func(c *config) {
		c.tokens = addAll(c.tokens, tokens)
		c.tokenList = append(c.tokenList, tokens...)
	}
}

// WithProjects makes only these projectIdOrName values exist; any other is answered 404
// not_found. By default every project exists. Repeated uses add up.
func WithProjects(names ...string) Option {
	return func(c *config) { c.projects = addAll(c.projects, names) }
}

// WithTeams allows only these values of teamId and slug; any other is answered 403
// forbidden. A request naming no team is always allowed (a personal scope). By default every
// team is allowed. Repeated uses add up.
func WithTeams(idsOrSlugs ...string) Option {
	return func(c *config) { c.teams = addAll(c.teams, idsOrSlugs) }
}

// WithLatency delays every answer by d, faults included. The wait ends early when the client
// goes away or the Server is closed, so no handler is left sleeping.
func WithLatency(d time.Duration) Option {
	return func(c *config) { c.latency = d }
}

// WithLogger logs one line per request to l: method, path, project, status, error code and
// message, and duration. The Authorization header is never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithoutRecording keeps no record of accepted requests, so Requests stays empty: for a
// long-running server (edgecache serve), whose memory would otherwise grow with every request.
func WithoutRecording() Option {
	return func(c *config) { c.noRecord = true }
}

func addAll(set map[string]struct{}, values []string) map[string]struct{} {
	if set == nil {
		set = make(map[string]struct{}, len(values))
	}
	for _, v := range values {
		set[v] = struct{}{}
	}
	return set
}

// Handler is the fake as an http.Handler, for mounting in a server of your own at the
// endpoint's path (/v1/edge-cache/dangerously-delete-by-tags) or at "/". It is safe for
// concurrent use.
type Handler struct {
	cfg       config
	validated http.Handler

	calls   atomic.Int64
	seq     atomic.Uint64
	pending atomic.Int64 // len(faults), read without the lock on the common path

	mu     sync.Mutex
	reqs   requestLog
	faults []Fault

	closing   chan struct{}
	closeOnce sync.Once
}

// NewHandler returns a fake configured by opts. The spec is parsed once per process.
func NewHandler(opts ...Option) *Handler {
	h := &Handler{closing: make(chan struct{})}
	for _, opt := range opts {
		if opt != nil {
			opt(&h.cfg)
		}
	}
	h.validated = h.newValidatedHandler()
	return h
}

// Requests returns a copy of the accepted requests, in the order they were accepted.
func (h *Handler) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Request, 0, h.reqs.len())
	for _, block := range h.reqs.blocks {
		for _, r := range block {
			r.Tags = slices.Clone(r.Tags)
			if r.RevalidationDeadlineSeconds != nil {
				d := *r.RevalidationDeadlineSeconds
				r.RevalidationDeadlineSeconds = &d
			}
			out = append(out, r)
		}
	}
	return out
}

// requestLog holds the accepted requests in blocks of requestLogBlock records. Growing it
// never copies a record, as growing one slice would (each growth of a large slice copies
// all of it, several times over the log's life): under load that copying, and the zeroing
// of each new array, was a tenth of the fake's time.
type requestLog struct {
	blocks [][]Request
}

// requestLogBlock is how many records one block holds.
const requestLogBlock = 256

func (l *requestLog) len() int {
	n := 0
	for _, b := range l.blocks {
		n += len(b)
	}
	return n
}

// add appends rec; block, when not nil, is an empty block to use if the last one is full.
func (l *requestLog) add(rec Request, block []Request) {
	if l.full() {
		if block == nil {
			block = make([]Request, 0, requestLogBlock)
		}
		l.blocks = append(l.blocks, block)
	}
	last := len(l.blocks) - 1
	l.blocks[last] = append(l.blocks[last], rec)
}

// full reports whether the next add needs a new block.
func (l *requestLog) full() bool {
	last := len(l.blocks) - 1
	return last < 0 || len(l.blocks[last]) == cap(l.blocks[last])
}

// Reset forgets the recorded requests and the pending faults, and sets Calls back to 0.
// Request ids keep counting up.
func (h *Handler) Reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reqs = requestLog{}
	h.faults = nil
	h.pending.Store(0)
	h.calls.Store(0)
}

// Calls returns how many requests reached the handler since it was made or Reset: accepted,
// refused and faulted ones alike.
func (h *Handler) Calls() int { return int(h.calls.Load()) }

// FailNext makes the next n requests get fault f, after the faults already queued. Faults
// are applied before any validation, so a faulted request may carry anything. n ≤ 0 queues
// nothing. It panics if f.Status is neither 0 nor a valid HTTP status (100–999).
func (h *Handler) FailNext(n int, f Fault) {
	if f.Status != 0 && (f.Status < 100 || f.Status > 999) {
		panic(fmt.Sprintf("edgecachetest: FailNext: invalid status %d", f.Status))
	}
	if n <= 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for range n {
		h.faults = append(h.faults, f)
	}
	h.pending.Store(int64(len(h.faults)))
}

// popFault takes the next queued fault, if any.
func (h *Handler) popFault() (Fault, bool) {
	if h.pending.Load() == 0 {
		return Fault{}, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.faults) == 0 {
		return Fault{}, false
	}
	f := h.faults[0]
	h.faults = h.faults[1:]
	h.pending.Store(int64(len(h.faults)))
	return f, true
}

// close ends every pending wait; Server.Close calls it before closing the server.
func (h *Handler) close() { h.closeOnce.Do(func() { close(h.closing) }) }

// ServeHTTP answers one request; see the package documentation for the order of verdicts.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	h.calls.Add(1)
	w.Header().Set(RequestIDHeader, "fake1::"+strconv.FormatUint(h.seq.Add(1), 10))
	aw := &answerWriter{ResponseWriter: w}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	}

	fault, faulted := h.popFault()
	delay := h.cfg.latency
	if faulted {
		delay += fault.Latency
	}
	switch {
	case delay > 0 && !h.wait(aw, r, delay):
		// The client went away (nothing to answer) or a too large body was refused.
	case faulted && fault.DropConnection:
		aw.note(0, "", "connection dropped (fault)")
		h.logAnswer(r, aw, start, true)
		dropConnection(w)
		return
	case faulted && fault.Status != 0:
		writeFault(aw, fault)
	case h.cfg.limit.refuse(aw):
	default:
		h.validated.ServeHTTP(aw, r)
	}
	h.logAnswer(r, aw, start, faulted)
}

// wait sleeps for d, ending early when the client goes away or the Server closes. It reports
// whether the request should still be answered.
//
// The body is read first: net/http only notices a closed connection (and cancels the
// request's context) once the body has been consumed.
func (h *Handler) wait(aw *answerWriter, r *http.Request, d time.Duration) bool {
	if r.Body != nil && r.Body != http.NoBody {
		data, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
				writeError(aw, http.StatusBadRequest, "bad_request", fmt.Sprintf("body: must be at most %d bytes", maxBodyBytes))
				return false
			}
			aw.note(0, "", "client gone while the body was read")
			return false
		}
		r.Body = io.NopCloser(bytes.NewReader(data))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		aw.note(0, "", "client gone during latency")
		return false
	case <-h.closing:
		// Returning without writing would send a 200; abort the connection instead.
		panic(http.ErrAbortHandler)
	}
}

// dropConnection closes the connection without an answer.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 or a recorder: net/http resets the stream or closes the connection.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// writeFault answers an injected fault.
func writeFault(aw *answerWriter, f Fault) {
	if f.RetryAfter != "" {
		aw.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Body == "" {
		writeError(aw, f.Status, defaultCode(f.Status), "Injected fault: "+http.StatusText(f.Status))
		return
	}
	if json.Valid([]byte(f.Body)) {
		aw.Header().Set("Content-Type", "application/json; charset=utf-8")
	} else {
		aw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	aw.note(f.Status, "", "injected body")
	aw.WriteHeader(f.Status)
	_, _ = io.WriteString(aw, f.Body)
}

// defaultCode is the envelope code Vercel uses for a status.
func defaultCode(status int) string {
	switch {
	case status == http.StatusBadRequest:
		return "bad_request"
	case status == http.StatusUnauthorized:
		return "unauthorized"
	case status == http.StatusForbidden:
		return "forbidden"
	case status == http.StatusNotFound:
		return "not_found"
	case status == http.StatusGone:
		return "gone"
	case status == http.StatusTooManyRequests:
		return "rate_limited"
	case status >= 500:
		return "internal_server_error"
	}
	if text := http.StatusText(status); text != "" {
		return strings.ToLower(strings.NewReplacer(" ", "_", "-", "_", "'", "").Replace(text))
	}
	return "error"
}

// accept handles a request the validator passed: the rules beyond the spec, the project and
// team checks, then the record and the 200.
func (h *Handler) accept(w http.ResponseWriter, r *http.Request, params api.DangerouslyDeleteByTagsParams) {
	carrier, ok := r.Body.(interface{ ValidatedValue() any })
	if !ok {
		// The spec leaves the body optional, but its schema requires tags.
		writeError(w, http.StatusBadRequest, "bad_request", "tags: is required (the request body is empty)")
		return
	}
	body, _ := carrier.ValidatedValue().(map[string]any)
	if params.ProjectIdOrName == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "projectIdOrName: must not be empty")
		return
	}
	if h.cfg.projects != nil {
		if _, ok := h.cfg.projects[params.ProjectIdOrName]; !ok {
			writeError(w, http.StatusNotFound, "not_found", "Project not found: "+strconv.Quote(params.ProjectIdOrName))
			return
		}
	}
	rec := Request{
		ProjectIDOrName: params.ProjectIdOrName,
		UserAgent:       r.UserAgent(),
		RequestID:       w.Header().Get(RequestIDHeader),
	}
	if params.TeamId != nil {
		rec.TeamID = *params.TeamId
	}
	if params.Slug != nil {
		rec.Slug = *params.Slug
	}
	if h.cfg.teams != nil {
		for _, team := range [...]string{rec.TeamID, rec.Slug} {
			if _, ok := h.cfg.teams[team]; team != "" && !ok {
				writeError(w, http.StatusForbidden, "forbidden", "Not authorized to act for team "+strconv.Quote(team))
				return
			}
		}
	}
	switch tags := body["tags"].(type) {
	case []any:
		rec.TagsForm = FormArray
		rec.Tags = make([]string, 0, len(tags))
		for _, t := range tags {
			s, _ := t.(string)
			rec.Tags = appendSplit(rec.Tags, s)
		}
	case string:
		rec.TagsForm = FormString
		rec.Tags = appendSplit(nil, tags)
	}
	rec.Target, _ = body["target"].(string)
	if d, ok := body["revalidationDeadlineSeconds"].(json.Number); ok {
		if f, err := d.Float64(); err == nil {
			rec.RevalidationDeadlineSeconds = &f
		}
	}
	rec.Time = time.Now()

	h.record(rec)

	if aw, ok := w.(*answerWriter); ok {
		aw.note(http.StatusOK, "", "")
	}
	w.WriteHeader(http.StatusOK)
}

// record adds rec to the log. A new block is allocated outside the lock, so that other
// requests do not wait on it.
func (h *Handler) record(rec Request) {
	if h.cfg.noRecord {
		return
	}
	var block []Request
	h.mu.Lock()
	if h.reqs.full() {
		h.mu.Unlock()
		block = make([]Request, 0, requestLogBlock)
		h.mu.Lock()
	}
	h.reqs.add(rec, block)
	h.mu.Unlock()
}

// appendSplit appends the comma-separated parts of s, as Vercel reads a tag.
func appendSplit(dst []string, s string) []string {
	for {
		part, rest, more := strings.Cut(s, ",")
		dst = append(dst, part)
		if !more {
			return dst
		}
		s = rest
	}
}

// errorEnvelope is Vercel's error body.
type errorEnvelope struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError answers status with the envelope.
func writeError(w http.ResponseWriter, status int, code, message string) {
	if aw, ok := w.(*answerWriter); ok {
		aw.note(status, code, message)
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(errorEnvelope{Error: errorBody{Code: code, Message: message}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(bytes.TrimSuffix(body.Bytes(), []byte("\n")))
}

// answerWriter remembers the verdict, for the log line.
type answerWriter struct {
	http.ResponseWriter
	status        int
	code, message string
	wrote         bool
}

func (a *answerWriter) note(status int, code, message string) {
	a.status, a.code, a.message = status, code, message
}

// WriteHeader notes the status for the log line, then passes it on.
func (a *answerWriter) WriteHeader(status int) {
	if !a.wrote {
		a.wrote = true
		a.status = status
	}
	a.ResponseWriter.WriteHeader(status)
}

// Write notes an implicit 200 for the log line, then passes the bytes on.
func (a *answerWriter) Write(b []byte) (int, error) {
	if !a.wrote {
		a.wrote = true
		a.status = http.StatusOK
	}
	return a.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (a *answerWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// logAnswer writes the request's log line, if a logger is set.
func (h *Handler) logAnswer(r *http.Request, aw *answerWriter, start time.Time, faulted bool) {
	l := h.cfg.logger
	if l == nil {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("project", r.URL.Query().Get("projectIdOrName")),
		slog.Int("status", aw.status),
	}
	if aw.code != "" {
		attrs = append(attrs, slog.String("code", aw.code))
	}
	if aw.message != "" {
		attrs = append(attrs, slog.String("message", aw.message))
	}
	if faulted {
		attrs = append(attrs, slog.Bool("fault", true))
	}
	attrs = append(attrs,
		slog.String("request_id", aw.Header().Get(RequestIDHeader)),
		slog.Duration("duration", time.Since(start)))
	l.LogAttrs(r.Context(), slog.LevelInfo, "edgecachetest: request", attrs...)
}
