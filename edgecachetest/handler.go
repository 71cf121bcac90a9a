package edgecachetest

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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

// The operationIds of the spec's four operations: the values of Request.Operation,
// RecordedRequest.Operation and Fault.Operation, and of GET /__admin/requests?operation=.
const (
	// OpInvalidateByTags is POST /v1/edge-cache/invalidate-by-tags.
	OpInvalidateByTags = "invalidateByTags"
	// OpDangerouslyDeleteByTags is POST /v1/edge-cache/dangerously-delete-by-tags.
	OpDangerouslyDeleteByTags = "dangerouslyDeleteByTags"
	// OpInvalidateBySrcImages is POST /v1/edge-cache/invalidate-by-src-images.
	OpInvalidateBySrcImages = "invalidateBySrcImages"
	// OpDangerouslyDeleteBySrcImages is POST /v1/edge-cache/dangerously-delete-by-src-images.
	OpDangerouslyDeleteBySrcImages = "dangerouslyDeleteBySrcImages"

	// AllOperations, "", stands for every operation: given to [Handler.Journal], it lists
	// every request; as a Fault's Operation (the zero value), it applies the fault to any
	// request.
	AllOperations = ""
)

// Operations returns the operationIds the fake serves, in the spec's order.
func Operations() []string {
	return []string{OpInvalidateByTags, OpDangerouslyDeleteByTags, OpInvalidateBySrcImages, OpDangerouslyDeleteBySrcImages}
}

// Request is one request the fake accepted (answered 200).
type Request struct {
	// Operation is the operationId, such as OpInvalidateByTags.
	Operation string
	// ProjectIDOrName, TeamID and Slug are the query parameters; empty when absent.
	ProjectIDOrName, TeamID, Slug string
	// Tags are the tags as Vercel reads them: the array form's items and the string form,
	// each split on commas. Nothing is trimmed or dropped. Nil for the src-images operations.
	Tags []string
	// TagsForm is the form the tags were sent in: FormArray or FormString; "" for the
	// src-images operations.
	TagsForm string
	// SrcImages are the body's srcImages, as sent; nil for the tag operations.
	SrcImages []string
	// Target is the body's target, empty when absent.
	Target string
	// RevalidationDeadlineSeconds is the body's deadline, nil when absent (a 0 sent
	// explicitly is a pointer to 0).
	RevalidationDeadlineSeconds *int
	// UserAgent is the User-Agent header.
	UserAgent string
	// RequestID is the x-vercel-id the fake answered with.
	RequestID string
	// Time is when the request arrived.
	Time time.Time
}

// Option configures a fake in [NewHandler] or [NewServer].
type Option func(*config)

type config struct {
	tokens      map[string]struct{} // nil: any non-empty token
	tokenList   []string            // the tokens in the order given
	projects    map[string]struct{} // nil: any project exists
	teams       map[string]struct{} // nil: any team is allowed
	latency     time.Duration
	logger      *slog.Logger
	maxRecorded int
	admin       bool
	limit       *rateLimit // see ratelimit.go
	now         func() time.Time

	// The CDN (cdn.go); origin nil: none.
	origin        *url.URL
	environment   string
	originTimeout time.Duration
	cacheLimits   CacheLimits
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

// WithLogger logs one line per request to l: method, path, operation, project, status, error
// code and message, and duration. The Authorization header is never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithMaxRecorded keeps the newest n requests in the log ([Handler.Requests],
// [Handler.Journal], GET /__admin/requests) and counts the older ones as dropped. The
// default is [DefaultMaxRecorded]; n ≤ 0 keeps none.
func WithMaxRecorded(n int) Option {
	return func(c *config) { c.maxRecorded = max(0, n) }
}

// WithoutRecording keeps no record of requests, so Requests stays empty: WithMaxRecorded(0).
func WithoutRecording() Option {
	return WithMaxRecorded(0)
}

// WithAdminAPI makes the Handler answer the admin API under /__admin/ (see
// [Handler.AdminHandler]) besides the API's paths, which it leaves unchanged: edgecache serve
// uses it, so that a test in any language can read the log and queue faults over HTTP.
func WithAdminAPI() Option {
	return func(c *config) { c.admin = true }
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
// API's paths (/v1/edge-cache/) or at "/". It is safe for concurrent use.
type Handler struct {
	cfg       config
	validated http.Handler
	admin     http.Handler
	redact    redactor

	calls atomic.Int64
	seq   atomic.Uint64

	log    *recorder
	faults faultQueue
	clock  *clock
	cdn    *CDN // nil without WithOrigin

	closing   chan struct{}
	closeOnce sync.Once
}

// NewHandler returns a fake configured by opts. The spec is parsed once per process.
func NewHandler(opts ...Option) *Handler {
	h := &Handler{closing: make(chan struct{}), cfg: config{maxRecorded: DefaultMaxRecorded}}
	for _, opt := range opts {
		if opt != nil {
			opt(&h.cfg)
		}
	}
	h.validated = h.newValidatedHandler()
	h.admin = newAdmin(h)
	h.log = newRecorder(h.cfg.maxRecorded)
	h.redact = redactor{tokens: h.cfg.tokenList}
	h.clock = newClock(h.cfg.now)
	if h.cfg.limit != nil && h.cfg.limit.now == nil {
		h.cfg.limit.now = h.clock.now
	}
	if h.cfg.origin != nil {
		h.cdn = newCDN(&h.cfg, h.clock.now)
	}
	return h
}

// CDN returns the CDN in front of the origin [WithOrigin] gave, nil without one. Mount it
// as the site's handler in a server of your own (NewServer does, at [Server.CDNURL]), and
// Close it when done.
func (h *Handler) CDN() *CDN { return h.cdn }

// Reset forgets the recorded requests (and the dropped count) and the pending faults, and
// sets Calls back to 0; with a CDN, it empties its cache too ([CDN.Clear]). Request ids keep
// counting up, and the clock keeps its time. POST /__admin/reset calls it.
func (h *Handler) Reset() {
	h.log.clear()
	h.faults.clear()
	h.calls.Store(0)
	if h.cdn != nil {
		h.cdn.Clear()
	}
}

// Calls returns how many requests reached the API's paths since the handler was made or
// Reset: accepted, refused and faulted ones alike. Admin API requests are not counted.
func (h *Handler) Calls() int { return int(h.calls.Load()) }

// close ends every pending wait; Server.Close calls it before closing the server.
func (h *Handler) close() { h.closeOnce.Do(func() { close(h.closing) }) }

// ServeHTTP answers one request; see the package documentation for the order of verdicts.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.cfg.admin && isAdminPath(r.URL.Path) {
		h.admin.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	h.calls.Add(1)
	w.Header().Set(RequestIDHeader, "fake1::"+strconv.FormatUint(h.seq.Add(1), 10))
	aw := &answerWriter{ResponseWriter: w, operation: operationOf(r)}

	body, ok := guardBody(aw, r)
	if !ok {
		h.finish(r, aw, body, start, false)
		return
	}
	fault, faulted := h.faults.pop(aw.operation)
	delay := h.cfg.latency
	if faulted {
		delay += fault.Latency
	}
	switch {
	case delay > 0 && !h.wait(aw, r, delay):
		// The client went away: there is no one to answer.
	case faulted && fault.DropConnection:
		aw.note(0, "", "connection dropped (fault)")
		h.finish(r, aw, body, start, true)
		dropConnection(w)
		return
	case faulted && fault.Status != 0:
		writeFault(aw, fault)
	case h.cfg.limit.refuse(aw):
	default:
		h.validated.ServeHTTP(aw, r)
	}
	h.finish(r, aw, body, start, faulted)
}

// finish records the exchange and writes its log line.
func (h *Handler) finish(r *http.Request, aw *answerWriter, body []byte, start time.Time, faulted bool) {
	h.record(r, aw, body, start, faulted)
	h.logAnswer(r, aw, start, faulted)
}

// record adds the exchange to the log, without any bearer token.
func (h *Handler) record(r *http.Request, aw *answerWriter, body []byte, start time.Time, faulted bool) {
	x := exchange{
		req:         aw.accepted,
		accepted:    aw.status >= 200 && aw.status < 300 && aw.accepted.Operation != "",
		method:      r.Method,
		path:        r.URL.Path,
		rawQuery:    r.URL.RawQuery,
		body:        body,
		contentType: r.Header.Get("Content-Type"),
		userAgent:   r.UserAgent(),
		status:      aw.status,
		fault:       faulted,
	}
	x.req.Operation = aw.operation
	x.req.UserAgent = r.UserAgent()
	x.req.RequestID = aw.Header().Get(RequestIDHeader)
	x.req.Time = start
	if len(x.body) > maxRecordedBody {
		// A copy, so that the log does not hold the whole body's array.
		x.body, x.bodyTruncated = bytes.Clone(x.body[:maxRecordedBody]), true
	}
	sent := bearerToken(r.Header.Get("Authorization"))
	x.tokenSent = sent != ""
	if tokens := h.redact.tokensFor(sent); len(tokens) > 0 {
		x.path = redactText(x.path, tokens)
		x.rawQuery = redactQuery(x.rawQuery, tokens)
		x.contentType = redactText(x.contentType, tokens)
		x.userAgent = redactText(x.userAgent, tokens)
		x.body = redactBody(x.body, tokens)
	}
	h.log.add(x)
}

// bearerToken returns the credentials of an Authorization header, "" when there are none.
func bearerToken(auth string) string {
	scheme, token, found := strings.Cut(auth, " ")
	if !found {
		return strings.TrimSpace(scheme)
	}
	return strings.TrimSpace(token)
}

// wait sleeps for d, ending early when the client goes away or the Server closes. It reports
// whether the request should still be answered. The body has been read already: net/http
// only notices a closed connection (and cancels the request's context) once it has been.
func (h *Handler) wait(aw *answerWriter, r *http.Request, d time.Duration) bool {
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
	if f.RetryAfterMs != "" {
		aw.Header().Set("Retry-After-Ms", f.RetryAfterMs)
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
	case status == http.StatusPaymentRequired:
		return "payment_required"
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

// queryParams are the query parameters every operation takes.
type queryParams struct {
	projectIDOrName string
	teamID, slug    *string
}

// accept handles a request the validator passed for operation: the rules beyond the spec,
// the project and team checks, then the typed record and the 200.
func (h *Handler) accept(w http.ResponseWriter, r *http.Request, operation string, params queryParams) {
	carrier, ok := r.Body.(interface{ ValidatedValue() any })
	if !ok {
		// The spec leaves the body optional, but its schema requires tags or srcImages.
		field := "tags"
		if operation == OpInvalidateBySrcImages || operation == OpDangerouslyDeleteBySrcImages {
			field = "srcImages"
		}
		writeError(w, http.StatusBadRequest, "bad_request", field+": is required (the request body is empty)")
		return
	}
	body, _ := carrier.ValidatedValue().(map[string]any)
	if params.projectIDOrName == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "projectIdOrName: must not be empty")
		return
	}
	if h.cfg.projects != nil {
		if _, ok := h.cfg.projects[params.projectIDOrName]; !ok {
			writeError(w, http.StatusNotFound, "not_found", "Project not found: "+strconv.Quote(params.projectIDOrName))
			return
		}
	}
	rec := Request{Operation: operation, ProjectIDOrName: params.projectIDOrName}
	if params.teamID != nil {
		rec.TeamID = *params.teamID
	}
	if params.slug != nil {
		rec.Slug = *params.slug
	}
	if h.cfg.teams != nil {
		for _, team := range [...]string{rec.TeamID, rec.Slug} {
			if _, ok := h.cfg.teams[team]; team != "" && !ok {
				writeError(w, http.StatusForbidden, "forbidden", "Not authorized to act for team "+strconv.Quote(team))
				return
			}
		}
	}
	// The validator has checked the body against the operation's schema: each field below
	// is present only where the operation takes it, with the type the spec gives it.
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
	if images, ok := body["srcImages"].([]any); ok {
		rec.SrcImages = make([]string, 0, len(images))
		for _, img := range images {
			s, _ := img.(string)
			rec.SrcImages = append(rec.SrcImages, s)
		}
	}
	rec.Target, _ = body["target"].(string)
	if d, ok := body["revalidationDeadlineSeconds"].(json.Number); ok {
		// The validator took it as an integer; 2.0 is one too, which Int64 would refuse.
		if f, err := d.Float64(); err == nil {
			seconds := int(f)
			rec.RevalidationDeadlineSeconds = &seconds
		}
	}

	if aw, ok := w.(*answerWriter); ok {
		aw.accepted = rec
		aw.note(http.StatusOK, "", "")
	}
	if h.cdn != nil {
		// Vercel applies a purge before it answers; so does the fake, so that the next
		// request through the CDN sees it.
		h.cdn.purge(rec)
	}
	w.WriteHeader(http.StatusOK)
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

// answerWriter remembers the verdict, for the log and the log line.
type answerWriter struct {
	http.ResponseWriter
	operation     string  // the operationId the method and path name, "" for none
	accepted      Request // the typed record, set by accept
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
	// What the client sent may hold its token (in the path, the project, a value a message
	// repeats): the log line gets the log's redaction.
	tokens := h.redact.tokensFor(bearerToken(r.Header.Get("Authorization")))
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", redactText(r.URL.Path, tokens)),
		slog.String("operation", aw.operation),
		slog.String("project", redactText(r.URL.Query().Get("projectIdOrName"), tokens)),
		slog.Int("status", aw.status),
	}
	if aw.code != "" {
		attrs = append(attrs, slog.String("code", aw.code))
	}
	if aw.message != "" {
		attrs = append(attrs, slog.String("message", redactText(aw.message, tokens)))
	}
	if faulted {
		attrs = append(attrs, slog.Bool("fault", true))
	}
	attrs = append(attrs,
		slog.String("request_id", aw.Header().Get(RequestIDHeader)),
		slog.Duration("duration", time.Since(start)))
	l.LogAttrs(r.Context(), slog.LevelInfo, "edgecachetest: request", attrs...)
}
