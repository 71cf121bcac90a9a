package edgecachetest

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vercelkit/edgecache/internal/redact"
)

// DefaultMaxRecorded is how many requests a fake keeps by default; see [WithMaxRecorded].
const DefaultMaxRecorded = 10_000

// maxRecordedBody bounds how much of one body the log keeps. A body the spec accepts is at
// most a few kilobytes; a larger one is kept cut short, as a string.
const maxRecordedBody = 64 << 10

// RecordedRequest is one request to the API's paths as the log keeps it, whatever the
// answer: accepted, refused, faulted or unanswered. It is what GET /__admin/requests lists
// (the JSON names are the admin API's) and what [Handler.Journal] returns.
//
// It never holds a bearer token: the Authorization header is not kept, and the token sent
// with the request, or any token given to [WithTokens], is replaced by "[redacted]" wherever
// it appears in the path, the query, the body or the User-Agent, as sent or percent- or
// JSON-escaped.
type RecordedRequest struct {
	// Operation is the operationId the method and path name, such as "invalidateByTags"
	// ([OpInvalidateByTags]); "" for a path or method that is no operation.
	Operation string `json:"operation"`
	// Method is the HTTP method.
	Method string `json:"method"`
	// Path is the URL path, decoded.
	Path string `json:"path"`
	// Query maps each query parameter to its value: a string, or a []string of every value
	// when the name was repeated.
	Query map[string]any `json:"query"`
	// Body is the body as JSON: the body itself when it was JSON, a JSON string holding it
	// when it was not (or when it was longer than 64 KiB, cut at that length), and null when
	// there was none. It prints as that JSON text.
	Body RawJSON `json:"body"`
	// BodyTruncated reports that Body holds only the first 64 KiB of a longer body.
	BodyTruncated bool `json:"bodyTruncated,omitempty"`
	// Status is the status the fake answered; 0 when it sent none (a dropped connection, or
	// a client that went away first).
	Status int `json:"status"`
	// Fault reports that the answer was a fault queued with [Handler.FailNext] or
	// POST /__admin/faults.
	Fault bool `json:"fault,omitempty"`
	// TokenSent reports whether the request carried a bearer token (never which).
	TokenSent bool `json:"tokenSent"`
	// ContentType and UserAgent are the request's headers, "" when absent.
	ContentType string `json:"contentType,omitempty"`
	UserAgent   string `json:"userAgent,omitempty"`
	// RequestID is the x-vercel-id the fake answered with.
	RequestID string `json:"requestId"`
	// Time is when the request arrived.
	Time time.Time `json:"time"`
}

// RawJSON is one JSON value, kept as its text: [RecordedRequest.Body]. Unlike a
// json.RawMessage, it prints as that text with %v and %+v, not as a list of bytes, so that
// a logged or printed request is readable. It is marshalled as the value itself.
type RawJSON []byte

// String is the JSON text.
func (j RawJSON) String() string { return string(j) }

// MarshalJSON is the value itself; null when there is none.
func (j RawJSON) MarshalJSON() ([]byte, error) { return json.RawMessage(j).MarshalJSON() }

// UnmarshalJSON keeps a copy of data, so that a journal read back from the admin API keeps
// each body as it came.
func (j *RawJSON) UnmarshalJSON(data []byte) error {
	*j = append((*j)[:0], data...)
	return nil
}

// Journal is the log, or its part for one operation: GET /__admin/requests answers it.
type Journal struct {
	// Requests are the requests kept, oldest first.
	Requests []RecordedRequest `json:"requests"`
	// Dropped counts the requests no longer kept: the oldest, pushed out once the log held
	// its maximum (see [WithMaxRecorded]).
	Dropped int `json:"dropped"`
}

// exchange is one request and its answer as the log holds them. The JSON view
// (RecordedRequest) is built only when the log is read, so that recording costs a request
// little more than a copy of what it already has.
type exchange struct {
	req           Request // the typed record; only meaningful when accepted
	accepted      bool
	method        string
	path          string
	rawQuery      string
	body          []byte // nil when there was none
	bodyTruncated bool
	contentType   string
	userAgent     string
	status        int
	fault         bool
	tokenSent     bool
}

// recorder is the bounded log behind both [Handler.Requests] and the admin API: a ring of at
// most max exchanges that keeps the newest. It grows to max as requests arrive, so a fake
// that sees few requests holds little.
type recorder struct {
	mu      sync.Mutex
	max     int
	buf     []exchange
	oldest  int            // index of the oldest exchange once buf is full
	dropped map[string]int // per operation, the exchanges pushed out
}

func newRecorder(maxRecorded int) *recorder {
	return &recorder{max: max(0, maxRecorded), dropped: map[string]int{}}
}

// add keeps x, pushing out the oldest exchange when the log is full.
func (l *recorder) add(x exchange) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.max == 0:
		l.dropped[x.req.Operation]++
	case len(l.buf) < l.max:
		l.buf = append(l.buf, x)
	default:
		l.dropped[l.buf[l.oldest].req.Operation]++
		l.buf[l.oldest] = x
		l.oldest = (l.oldest + 1) % l.max
	}
}

// clear forgets every exchange and the dropped counts.
func (l *recorder) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = nil
	l.oldest = 0
	clear(l.dropped)
}

// snapshot copies the exchanges, oldest first, that match keep, and the dropped count of the
// operation ("" counts all). The copies share their slices with the log, which never changes
// a kept exchange: readers must not change them either.
func (l *recorder) snapshot(keep func(*exchange) bool, operation string) ([]exchange, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]exchange, 0, len(l.buf))
	for _, part := range [2][]exchange{l.buf[l.oldest:], l.buf[:l.oldest]} {
		for i := range part {
			if keep(&part[i]) {
				out = append(out, part[i])
			}
		}
	}
	dropped := l.dropped[operation]
	if operation == "" {
		dropped = 0
		for _, n := range l.dropped {
			dropped += n
		}
	}
	return out, dropped
}

// Requests returns a copy of the accepted requests (answered 2xx) the log still holds, in
// the order they arrived. The log keeps the newest requests only (see [WithMaxRecorded]);
// [Handler.Journal] says how many were dropped.
func (h *Handler) Requests() []Request {
	xs, _ := h.log.snapshot(func(x *exchange) bool { return x.accepted }, "")
	out := make([]Request, len(xs))
	for i, x := range xs {
		r := x.req
		r.Tags = slices.Clone(r.Tags)
		r.SrcImages = slices.Clone(r.SrcImages)
		if r.RevalidationDeadlineSeconds != nil {
			d := *r.RevalidationDeadlineSeconds
			r.RevalidationDeadlineSeconds = &d
		}
		out[i] = r
	}
	return out
}

// Journal returns every request the log still holds, whatever its answer, oldest first, with
// the count of those dropped: for one operation, such as [OpInvalidateByTags], or for all
// with [AllOperations]. It is what GET /__admin/requests answers (?operation= for one).
func (h *Handler) Journal(operation string) Journal {
	keep := func(*exchange) bool { return true }
	if operation != "" {
		keep = func(x *exchange) bool { return x.req.Operation == operation }
	}
	xs, dropped := h.log.snapshot(keep, operation)
	j := Journal{Requests: make([]RecordedRequest, len(xs)), Dropped: dropped}
	for i := range xs {
		j.Requests[i] = xs[i].view()
	}
	return j
}

// ClearRequests forgets the recorded requests and the dropped count; the pending faults and
// Calls are kept. DELETE /__admin/requests calls it.
func (h *Handler) ClearRequests() { h.log.clear() }

// view renders an exchange as the admin API shows it.
func (x *exchange) view() RecordedRequest {
	v := RecordedRequest{
		Operation:     x.req.Operation,
		Method:        x.method,
		Path:          x.path,
		Query:         queryObject(x.rawQuery),
		Body:          RawJSON(bodyJSON(x.body, x.bodyTruncated)),
		BodyTruncated: x.bodyTruncated,
		Status:        x.status,
		Fault:         x.fault,
		TokenSent:     x.tokenSent,
		ContentType:   x.contentType,
		UserAgent:     x.userAgent,
		RequestID:     x.req.RequestID,
		Time:          x.req.Time,
	}
	return v
}

// queryObject maps each name to its value, or to all its values when repeated. A query that
// does not parse keeps the pairs that do.
func queryObject(raw string) map[string]any {
	values, _ := url.ParseQuery(raw)
	out := make(map[string]any, len(values))
	for name, vs := range values {
		if len(vs) == 1 {
			out[name] = vs[0]
		} else {
			out[name] = vs
		}
	}
	return out
}

// bodyJSON is the body as it goes in the admin API's JSON: itself when it is JSON, else a
// JSON string.
func bodyJSON(body []byte, truncated bool) json.RawMessage {
	if body == nil {
		return json.RawMessage("null")
	}
	if !truncated && json.Valid(body) {
		return json.RawMessage(body)
	}
	s := string(body)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimSuffix(out.Bytes(), []byte("\n"))
}

// redactor keeps bearer tokens out of the log: the request's own and the configured ones.
type redactor struct {
	tokens []string // the tokens given to WithTokens
}

// tokensFor lists the tokens to look for in a request that sent token sent ("" for none).
func (r redactor) tokensFor(sent string) []string {
	if sent == "" || slices.Contains(r.tokens, sent) {
		return r.tokens
	}
	return append(slices.Clip(r.tokens), sent)
}

// redactText replaces each token in s, by the client's own rule (package internal/redact): a
// short test token is replaced only where it stands alone, so that it cannot shred the log.
func redactText(s string, tokens []string) string {
	for _, t := range tokens {
		s = redact.Token(s, t)
	}
	return s
}

// redactQuery replaces each token in a raw query, as sent and percent-encoded. The query is
// decoded only when it holds an escape, and re-encoded only when a token was found in it.
func redactQuery(raw string, tokens []string) string {
	raw = redactText(raw, tokens)
	if !strings.ContainsAny(raw, "%+") {
		return raw
	}
	values, err := url.ParseQuery(raw)
	if err != nil || !valuesHold(values, tokens) {
		return raw
	}
	clean := make(url.Values, len(values))
	for name, vs := range values {
		for _, v := range vs {
			clean.Add(redactText(name, tokens), redactText(v, tokens))
		}
	}
	return clean.Encode()
}

func valuesHold(values url.Values, tokens []string) bool {
	for name, vs := range values {
		if redactText(name, tokens) != name {
			return true
		}
		for _, v := range vs {
			if redactText(v, tokens) != v {
				return true
			}
		}
	}
	return false
}

// redactBody replaces each token in a body, as sent, JSON-escaped or percent-encoded. It
// copies the body only when a token is found. A JSON body holding an escape is decoded to
// find a token written with escapes, and re-encoded (compact) if one was.
func redactBody(body []byte, tokens []string) []byte {
	if clean := redactText(string(body), tokens); clean != string(body) {
		body = []byte(clean)
	}
	switch {
	case bytes.IndexByte(body, '\\') >= 0 && json.Valid(body):
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			return body
		}
		if clean, changed := redactValue(v, tokens); changed {
			var out bytes.Buffer
			enc := json.NewEncoder(&out)
			enc.SetEscapeHTML(false)
			if enc.Encode(clean) == nil {
				return bytes.TrimSuffix(out.Bytes(), []byte("\n"))
			}
		}
	case bytes.ContainsAny(body, "%+") && !json.Valid(body):
		return []byte(redactQuery(string(body), tokens))
	}
	return body
}

// redactValue replaces each token in the strings (keys included) of a decoded JSON value.
func redactValue(v any, tokens []string) (any, bool) {
	switch v := v.(type) {
	case string:
		clean := redactText(v, tokens)
		return clean, clean != v
	case []any:
		changed := false
		for i, item := range v {
			var c bool
			v[i], c = redactValue(item, tokens)
			changed = changed || c
		}
		return v, changed
	case map[string]any:
		out := make(map[string]any, len(v))
		changed := false
		for k, item := range v {
			clean, c := redactValue(item, tokens)
			ck := redactText(k, tokens)
			out[ck] = clean
			changed = changed || c || ck != k
		}
		return out, changed
	}
	return v, false
}
