package edgecachetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/vercelkit/edgecache"
)

// AdminPrefix is where the admin API lives, after WireMock's convention. No path of
// Vercel's API starts with it.
const AdminPrefix = "/__admin/"

// The admin API's paths.
const (
	adminRequests = AdminPrefix + "requests"
	adminFaults   = AdminPrefix + "faults"
	adminReset    = AdminPrefix + "reset"
	adminSpec     = AdminPrefix + "spec"
	adminCache    = AdminPrefix + "cache"
	adminClock    = AdminPrefix + "clock"
)

// adminEndpoint is one method and path of the admin API, as its index lists it.
type adminEndpoint struct {
	Method      string `json:"method"`
	Path        string `json:"path"`
	Description string `json:"description"`
}

// adminIndex is what GET /__admin/ answers: every endpoint, so that the URL serve prints
// leads somewhere. It is the one list of the admin API's paths; the 404 names them from it.
var adminIndex = []adminEndpoint{
	{"GET", AdminPrefix, "this index"},
	{"GET", adminRequests + "[?operation=ID]", "the recorded requests, oldest first, and how many were dropped"},
	{"DELETE", adminRequests, "forget the recorded requests"},
	{"POST", adminFaults, "queue a fault (operation, times, status, retryAfter, retryAfterMs, body, delayMs, drop); answers 201 with it"},
	{"GET", adminFaults, "the pending faults"},
	{"DELETE", adminFaults, "forget the pending faults"},
	{"POST", adminReset, "forget the requests and the faults, and empty the CDN's cache"},
	{"GET", adminSpec + "[?format=yaml]", "the OpenAPI document the fake validates against (JSON, or the vendored YAML)"},
	{"GET", adminCache + "[?wait=1]", "the CDN's cache (with an origin): entries, usage, limits, purges and their matches, newest answers"},
	{"GET", adminCache + "?url=/path[&wait=1]", "what the CDN holds for one URL and why, or why it was not cached"},
	{"DELETE", adminCache, "empty the CDN's cache"},
	{"GET", adminClock, "the fake's time: {\"now\":…}"},
	{"POST", adminClock, "move the fake's time forward: {\"advance\":\"30s\"}; TTLs, stale windows, deadlines and the rate limit follow it"},
}

// maxAdminBody bounds a fault posted to the admin API.
const maxAdminBody = 1 << 20

// isAdminPath reports whether path belongs to the admin API.
func isAdminPath(path string) bool {
	return strings.HasPrefix(path, AdminPrefix) || path == strings.TrimSuffix(AdminPrefix, "/")
}

// AdminHandler returns the admin API alone, for mounting at [AdminPrefix] in a server of
// your own ([WithAdminAPI] mounts it in the Handler itself). It is a thin HTTP face over the
// same log and fault queue as the Go methods, with JSON bodies:
//
//	GET    /__admin/                         an index of these endpoints, as indented JSON
//	GET    /__admin/requests[?operation=ID]  Journal: {"requests":[…],"dropped":N}, oldest first
//	DELETE /__admin/requests                 ClearRequests
//	POST   /__admin/faults                   FailNext; answers 201 with the fault queued
//	GET    /__admin/faults                   Faults: {"faults":[…]}
//	DELETE /__admin/faults                   ClearFaults
//	POST   /__admin/reset                    Reset
//	GET    /__admin/spec[?format=yaml]       the OpenAPI document the fake validates against
//	GET    /__admin/cache[?wait=1]           the CDN's cache: entries, usage, limits, purges, newest answers
//	GET    /__admin/cache?url=/path[&wait=1] what the CDN holds for one URL and why ([CDN.Explain])
//	DELETE /__admin/cache                    CDN.Clear: empty the cache
//	GET    /__admin/clock                    the fake's time: {"now":…}
//	POST   /__admin/clock                    AdvanceClock: {"advance":"30s"}; answers {"now":…}
//
// With wait=1, the cache is shown once no background revalidation runs ([CDN.Settle]),
// or when the request is cancelled. The cache paths answer 404 when the fake has no CDN
// ([WithOrigin]).
//
// A fault is {"operation":ID,"times":N,"status":S,"retryAfter":"…","retryAfterMs":"…",
// "body":…,"delayMs":N,"drop":true}, every field optional but one of status, delayMs and drop;
// times defaults to 1, and body (a JSON value, or a string sent verbatim) to Vercel's envelope
// for the status.
// The admin API's own errors use the same envelope as the fake's: 400 bad_request naming the
// field, 404 not_found, 405 method_not_allowed with an Allow header.
func (h *Handler) AdminHandler() http.Handler { return h.admin }

// admin is the admin API of one Handler.
type admin struct{ h *Handler }

func newAdmin(h *Handler) http.Handler { return admin{h} }

// ServeHTTP routes an admin request by path, then by method.
func (a admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch r.URL.Path {
	case AdminPrefix, strings.TrimSuffix(AdminPrefix, "/"):
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w, r, "GET, HEAD")
			return
		}
		a.index(w)
	case adminRequests:
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			a.listRequests(w, r)
		case http.MethodDelete:
			a.h.ClearRequests()
			w.WriteHeader(http.StatusNoContent)
		default:
			methodNotAllowed(w, r, "GET, HEAD, DELETE")
		}
	case adminFaults:
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			a.listFaults(w)
		case http.MethodPost:
			a.queueFault(w, r)
		case http.MethodDelete:
			a.h.ClearFaults()
			w.WriteHeader(http.StatusNoContent)
		default:
			methodNotAllowed(w, r, "GET, HEAD, POST, DELETE")
		}
	case adminReset:
		if r.Method != http.MethodPost {
			methodNotAllowed(w, r, "POST")
			return
		}
		a.h.Reset()
		w.WriteHeader(http.StatusNoContent)
	case adminSpec:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w, r, "GET, HEAD")
			return
		}
		a.spec(w, r)
	case adminCache:
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			a.cache(w, r)
		case http.MethodDelete:
			if a.h.cdn == nil {
				noCDN(w)
				return
			}
			a.h.cdn.Clear()
			w.WriteHeader(http.StatusNoContent)
		default:
			methodNotAllowed(w, r, "GET, HEAD, DELETE")
		}
	case adminClock:
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			writeJSON(w, http.StatusOK, clockJSON{Now: a.h.Now()})
		case http.MethodPost:
			a.advanceClock(w, r)
		default:
			methodNotAllowed(w, r, "GET, HEAD, POST")
		}
	default:
		// The path is not repeated: whatever a caller put in it stays out of admin answers.
		writeError(w, http.StatusNotFound, "not_found", "The admin API has no such path; GET "+AdminPrefix+" lists its paths")
	}
}

// index answers the list of endpoints, indented, since it is read by people in a browser or
// a terminal more often than by programs.
func (a admin) index(w http.ResponseWriter) {
	data, err := json.MarshalIndent(struct {
		Endpoints []adminEndpoint `json:"endpoints"`
	}{adminIndex}, "", "  ")
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal_server_error", "edgecachetest: encoding the index: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(data, '\n'))
}

func noCDN(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "not_found", "The fake has no CDN: give it an origin (WithOrigin, or serve --origin URL)")
}

// cacheJSON is GET /__admin/cache's answer.
type cacheJSON struct {
	Environment string       `json:"environment"`
	Origin      string       `json:"origin"`
	Now         time.Time    `json:"now"`
	Entries     []CacheEntry `json:"entries"`
	Count       int          `json:"count"`
	Bytes       int64        `json:"bytes"`
	Evicted     int64        `json:"evicted"`
	// Collapsed is how many requests wait for a concurrent request's origin fetch.
	Collapsed int64           `json:"collapsed"`
	Limits    cacheLimitsJSON `json:"limits"`
	Purges    []PurgeRecord   `json:"purges"`
	Answers   []CDNAnswer     `json:"answers"`
}

type cacheLimitsJSON struct {
	MaxEntries   int   `json:"maxEntries"`
	MaxBytes     int64 `json:"maxBytes"`
	MaxBodyBytes int64 `json:"maxBodyBytes"`
}

// cache answers GET /__admin/cache, for the whole cache or (?url=) one URL.
func (a admin) cache(w http.ResponseWriter, r *http.Request) {
	c := a.h.cdn
	if c == nil {
		noCDN(w)
		return
	}
	q := r.URL.Query()
	switch wait := q.Get("wait"); wait {
	case "", "0", "false":
	case "1", "true":
		if err := c.Settle(r.Context()); err != nil {
			return // the caller left
		}
	default:
		a.badRequest(w, `wait: must be "1" or "true" (got `+quoteOrNone(wait)+")")
		return
	}
	if q.Has("url") {
		target := q.Get("url")
		if target == "" {
			a.badRequest(w, "url: must be a path such as /blog/1 (got none)")
			return
		}
		writeJSON(w, http.StatusOK, c.Explain(target))
		return
	}
	count, bytes, evicted := c.store.usage()
	writeJSON(w, http.StatusOK, cacheJSON{
		Environment: c.env, Origin: c.Origin(), Now: a.h.Now(), Entries: c.Entries(),
		Count: count, Bytes: bytes, Evicted: evicted, Collapsed: c.collapsed.Load(),
		Limits:  cacheLimitsJSON{c.limits.MaxEntries, c.limits.MaxBytes, c.limits.MaxBodyBytes},
		Purges:  c.Purges(),
		Answers: c.recentAnswers("", 50),
	})
}

// clockJSON is the admin API's view of the clock: the time, and a move forward.
type clockJSON struct {
	Now     time.Time `json:"now"`
	Advance string    `json:"advance,omitempty"`
}

// advanceClock answers POST /__admin/clock {"advance":"30s"}.
func (a admin) advanceClock(w http.ResponseWriter, r *http.Request) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	var in struct {
		Advance string `json:"advance"`
	}
	if err := dec.Decode(&in); err != nil {
		msg := describeDecodeError(err)
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			msg = strings.Trim(name, `"`) + `: is not a field of a clock move; send {"advance":"30s"}`
		}
		a.badRequest(w, msg)
		return
	}
	d, err := time.ParseDuration(in.Advance)
	if err != nil || d < 0 {
		a.badRequest(w, `advance: must be a duration of 0 or more, such as "30s" or "1h" (got `+quoteOrNone(in.Advance)+")")
		return
	}
	a.h.AdvanceClock(d)
	writeJSON(w, http.StatusOK, clockJSON{Now: a.h.Now()})
}

func (a admin) listRequests(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	op := q.Get("operation")
	if op != "" && !slices.Contains(Operations(), op) {
		a.badRequest(w, Fault{Operation: op}.check().Error())
		return
	}
	writeJSON(w, http.StatusOK, a.h.Journal(op))
}

// faultJSON is a fault as the admin API reads and writes it.
type faultJSON struct {
	Operation    string          `json:"operation,omitempty"`
	Times        *int            `json:"times,omitempty"`
	Status       int             `json:"status,omitempty"`
	RetryAfter   string          `json:"retryAfter,omitempty"`
	RetryAfterMs string          `json:"retryAfterMs,omitempty"`
	Body         json.RawMessage `json:"body,omitempty"`
	DelayMs      int64           `json:"delayMs,omitempty"`
	Drop         bool            `json:"drop,omitempty"`
}

type faultList struct {
	Faults []faultJSON `json:"faults"`
}

func (a admin) listFaults(w http.ResponseWriter) {
	queued := a.h.Faults()
	list := faultList{Faults: make([]faultJSON, len(queued))}
	for i, q := range queued {
		list.Faults[i] = a.faultJSON(q)
	}
	writeJSON(w, http.StatusOK, list)
}

// faultJSON renders a queued fault, any configured token in its body or Retry-After redacted.
func (a admin) faultJSON(q QueuedFault) faultJSON {
	tokens := a.h.redact.tokens
	f := faultJSON{
		Operation:    q.Operation,
		Times:        &q.Times,
		Status:       q.Status,
		RetryAfter:   redactText(q.RetryAfter, tokens),
		RetryAfterMs: redactText(q.RetryAfterMs, tokens),
		DelayMs:      q.Latency.Milliseconds(),
		Drop:         q.DropConnection,
	}
	if q.Body != "" {
		f.Body = bodyJSON(redactBody([]byte(q.Body), tokens), false)
	}
	return f
}

// toFault checks a posted fault and converts it, naming the field at fault.
func (f faultJSON) toFault() (Fault, int, error) {
	times := 1
	if f.Times != nil {
		times = *f.Times
		if times < 1 {
			return Fault{}, 0, fmt.Errorf("times: must be at least 1 (got %d)", times)
		}
	}
	if f.DelayMs < 0 {
		return Fault{}, 0, fmt.Errorf("delayMs: must not be negative (got %d)", f.DelayMs)
	}
	if f.Status == 0 && !f.Drop && f.DelayMs == 0 {
		return Fault{}, 0, errors.New("status: is required unless drop or delayMs is given")
	}
	fault := Fault{
		Operation:      f.Operation,
		Status:         f.Status,
		RetryAfter:     f.RetryAfter,
		RetryAfterMs:   f.RetryAfterMs,
		Latency:        time.Duration(f.DelayMs) * time.Millisecond,
		DropConnection: f.Drop,
	}
	if len(f.Body) > 0 && !bytes.Equal(f.Body, []byte("null")) {
		// A JSON string is the body itself; any other JSON value is sent as JSON.
		var s string
		if json.Unmarshal(f.Body, &s) == nil {
			fault.Body = s
		} else {
			fault.Body = string(f.Body)
		}
	}
	if err := fault.check(); err != nil {
		return Fault{}, 0, err
	}
	return fault, times, nil
}

func (a admin) queueFault(w http.ResponseWriter, r *http.Request) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	var in faultJSON
	if err := dec.Decode(&in); err != nil {
		a.badRequest(w, describeDecodeError(err))
		return
	}
	if dec.Decode(&struct{}{}) != io.EOF {
		a.badRequest(w, "body: must hold one JSON object")
		return
	}
	f, times, err := in.toFault()
	if err != nil {
		a.badRequest(w, err.Error())
		return
	}
	a.h.FailNext(times, f)
	writeJSON(w, http.StatusCreated, a.faultJSON(QueuedFault{Fault: f, Times: times}))
}

// badRequest answers 400 with a message that may repeat part of the caller's input (a
// field's name, a value); a configured token in it is redacted all the same.
func (a admin) badRequest(w http.ResponseWriter, message string) {
	writeError(w, http.StatusBadRequest, "bad_request", redactText(message, a.h.redact.tokens))
}

// describeDecodeError words a fault's decoding error by field, without repeating the input.
func describeDecodeError(err error) string {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
		return te.Field + ": must be " + jsonTypeOf(te.Type) + " (got " + te.Value + ")"
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return fmt.Sprintf("body: must be at most %d bytes", maxAdminBody)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return strings.Trim(name, `"`) + ": is not a field of a fault (operation, times, status, retryAfter, retryAfterMs, body, delayMs, drop)"
	}
	if errors.Is(err, io.EOF) {
		return "body: must be a JSON object (the body is empty)"
	}
	return "body: must be a JSON object (" + err.Error() + ")"
}

// jsonTypeOf names, with an article, the JSON type a field of faultJSON takes.
func jsonTypeOf(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	}
	return "a JSON value"
}

// specJSON is the embedded document rendered as JSON, built on first use.
var specJSON = sync.OnceValues(func() ([]byte, error) {
	doc, err := openapi3.NewLoader().LoadFromData(edgecache.OpenAPISpec)
	if err != nil {
		return nil, err
	}
	return json.Marshal(doc)
})

// spec answers the document the fake validates against: as JSON, or as the vendored YAML
// itself with ?format=yaml.
func (a admin) spec(w http.ResponseWriter, r *http.Request) {
	switch format := r.URL.Query().Get("format"); format {
	case "yaml":
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(edgecache.OpenAPISpec)
	case "", "json":
		data, err := specJSON()
		if err != nil {
			writeError(w, http.StatusInternalServerError, "internal_server_error", "edgecachetest: rendering the spec: "+err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(data)
	default:
		a.badRequest(w, `format: must be "json" or "yaml" (got `+quoteOrNone(format)+")")
	}
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" "+r.URL.Path+": use "+allow)
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		writeError(w, http.StatusInternalServerError, "internal_server_error", "edgecachetest: encoding the answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body.Bytes())
}
