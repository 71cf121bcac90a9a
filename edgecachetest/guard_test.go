package edgecachetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

const guardURL = "/v1/edge-cache/dangerously-delete-by-tags?projectIdOrName=prj_1"

// guardAnswer is one answer of the handler, its envelope decoded.
type guardAnswer struct {
	status    int
	code, msg string
	body      string
}

// serveGuarded sends body to h through a recorder, with a bearer token and a JSON content type.
func serveGuarded(t *testing.T, h http.Handler, token, body string) guardAnswer {
	t.Helper()
	r := httptest.NewRequestWithContext(t.Context(), http.MethodPost, guardURL, strings.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return decodeAnswer(t, w)
}

func decodeAnswer(t *testing.T, w *httptest.ResponseRecorder) guardAnswer {
	t.Helper()
	a := guardAnswer{status: w.Code, body: w.Body.String()}
	var env errorEnvelope
	if a.status != http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
			t.Fatalf("%d answer %q is not an envelope: %v", a.status, a.body, err)
		}
	}
	a.code, a.msg = env.Error.Code, env.Error.Message
	return a
}

// allocatedBy returns the bytes the process allocated while f ran. The tests using it do not
// run in parallel, so nearly all of it is f's.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// nest returns {"tags":[[…]]} with levels containers in all, the object included.
func nest(levels int) string {
	return `{"tags":` + strings.Repeat("[", levels-1) + strings.Repeat("]", levels-1) + `}`
}

// maxGuardedAlloc bounds what one refused request may allocate: a few copies of the largest
// body. Before the guard, the nesting bomb below allocated about 2.5 GB.
const maxGuardedAlloc = 8 << 20

func TestGuardRefusesANestingBomb(t *testing.T) {
	h := NewHandler()
	// About 20 KB, 9,990 levels: encoding/json refuses 10,000 and more itself, so this is
	// the deepest body that reached kin-openapi.
	bomb := nest(9990)
	var a guardAnswer
	alloc := allocatedBy(func() { a = serveGuarded(t, h, "t", bomb) })
	if a.status != http.StatusBadRequest || a.code != "bad_request" {
		t.Fatalf("got %d %q, want 400 bad_request", a.status, a.body)
	}
	want := fmt.Sprintf("body: must nest arrays and objects at most %d deep", maxBodyDepth)
	if !strings.HasPrefix(a.msg, want) {
		t.Errorf("message %q, want it to start with %q", a.msg, want)
	}
	if alloc > maxGuardedAlloc {
		t.Errorf("the request allocated %d MiB, want at most %d MiB", alloc>>20, maxGuardedAlloc>>20)
	}
}

func TestGuardRefusesTooManyValues(t *testing.T) {
	h := NewHandler()
	// 349,000 empty arrays in 1 MiB: shallow, but kin-openapi rendered every one of them
	// into its oneOf message (about 150 MB and 0.3–0.7 s a request).
	wide := `{"tags":[` + strings.Repeat("[],", 349000) + `[]]}`
	var a guardAnswer
	alloc := allocatedBy(func() { a = serveGuarded(t, h, "t", wide) })
	if a.status != http.StatusBadRequest || a.code != "bad_request" {
		t.Fatalf("got %d %q, want 400 bad_request", a.status, a.body)
	}
	want := fmt.Sprintf("body: must hold at most %d JSON values", maxBodyValues)
	if !strings.HasPrefix(a.msg, want) {
		t.Errorf("message %q, want it to start with %q", a.msg, want)
	}
	if alloc > maxGuardedAlloc {
		t.Errorf("the request allocated %d MiB, want at most %d MiB", alloc>>20, maxGuardedAlloc>>20)
	}
}

// TestGuardLeavesBreachesWithinBoundsToTheValidator checks the bounds refuse only what no
// operation could accept, so that the usual breaches keep their precise messages.
func TestGuardLeavesBreachesWithinBoundsToTheValidator(t *testing.T) {
	h := NewHandler()
	atDepth := nest(maxBodyDepth)
	items := make([]string, maxBodyValues-2) // the object and the array are values too
	for i := range items {
		items[i] = `"a"`
	}
	atValues := `{"tags":[` + strings.Join(items, ",") + `]}`
	// Exactly maxBodyBytes: one tag padded to fill the limit.
	atSize := `{"tags":["` + strings.Repeat("x", maxBodyBytes-len(`{"tags":[""]}`)) + `"]}`
	tests := []struct {
		name, body, want string
	}{
		{"depth at the bound", atDepth, "tags[0]: must be a string (got array)"},
		{"values at the bound", atValues, fmt.Sprintf("tags: must hold at most 16 items (got %d)", maxBodyValues-2)},
		{"size at the bound", atSize, "tags[0]: must be at most 256 characters"},
		{"malformed JSON", `{"tags":["a"`, "body: is not valid JSON"},
		{"data after malformed JSON", `{"tags":]} {}`, "body: is not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := serveGuarded(t, h, "t", tt.body)
			if a.status != http.StatusBadRequest || !strings.HasPrefix(a.msg, tt.want) {
				t.Errorf("got %d %q, want 400 %q…", a.status, a.msg, tt.want)
			}
		})
	}
}

// TestGuardBoundsFitTheSpec fails when the spec's request bodies grow past the guard's
// bounds, so that a valid body can never be refused by them.
func TestGuardBoundsFitTheSpec(t *testing.T) {
	doc, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil || op.RequestBody.Value == nil {
				continue
			}
			for mime, media := range op.RequestBody.Value.Content {
				depth, values, err := schemaBounds(media.Schema)
				if err != nil {
					t.Errorf("%s %s %s: %v", method, path, mime, err)
					continue
				}
				n++
				t.Logf("%s %s: a valid body nests up to %d deep and holds up to %d values", method, path, depth, values)
				if depth > maxBodyDepth {
					t.Errorf("%s %s: a valid body nests %d deep, beyond maxBodyDepth %d", method, path, depth, maxBodyDepth)
				}
				if values > maxBodyValues {
					t.Errorf("%s %s: a valid body holds up to %d values, beyond maxBodyValues %d", method, path, values, maxBodyValues)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("the spec has no request body to check")
	}
}

// schemaBounds returns the deepest nesting of arrays and objects and the most JSON values a
// body valid against ref can have.
func schemaBounds(ref *openapi3.SchemaRef) (depth, values int, err error) {
	if ref == nil || ref.Value == nil {
		return 0, 1, nil
	}
	s := ref.Value
	for _, alt := range append(append(append(openapi3.SchemaRefs{}, s.OneOf...), s.AnyOf...), s.AllOf...) {
		d, v, err := schemaBounds(alt)
		if err != nil {
			return 0, 0, err
		}
		depth, values = max(depth, d), max(values, v)
	}
	switch {
	case s.Type.Is("object"):
		if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
			return 0, 0, errors.New("an object that allows any property has no bound")
		}
		d, v := 0, 1
		for _, p := range s.Properties {
			pd, pv, err := schemaBounds(p)
			if err != nil {
				return 0, 0, err
			}
			d, v = max(d, pd), v+pv
		}
		depth, values = max(depth, d+1), max(values, v)
	case s.Type.Is("array"):
		if s.MaxItems == nil {
			return 0, 0, errors.New("an array without maxItems has no bound")
		}
		d, v, err := schemaBounds(s.Items)
		if err != nil {
			return 0, 0, err
		}
		depth, values = max(depth, d+1), max(values, 1+int(*s.MaxItems)*v)
	default:
		values = max(values, 1)
	}
	return depth, values, nil
}

func TestGuardOversizedBodyIs400WithAValidToken(t *testing.T) {
	big := `{"tags":["` + strings.Repeat("x", maxBodyBytes) + `"]}`
	want := fmt.Sprintf("body: must be at most %d bytes", maxBodyBytes)
	for _, tt := range []struct {
		name  string
		opts  []Option
		token string
	}{
		{"valid token", []Option{WithTokens("secret")}, "secret"},
		{"valid token, with latency", []Option{WithTokens("secret"), WithLatency(time.Millisecond)}, "secret"},
		{"no token: the size comes first", []Option{WithTokens("secret")}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := serveGuarded(t, NewHandler(tt.opts...), tt.token, big)
			if a.status != http.StatusBadRequest || a.code != "bad_request" || a.msg != want {
				t.Errorf("got %d %q, want 400 bad_request %q", a.status, a.body, want)
			}
		})
	}
}

func TestGuardRefusesDataAfterTheBody(t *testing.T) {
	for _, tt := range []struct{ name, body, got string }{
		{"garbage", `{"tags":["a"]}garbage`, `"garbage"`},
		{"empty object", `{"tags":["a"]} {}`, `"{}"`},
		{"second body", `{"tags":["a"]}{"tags":["b"]}`, `"{\"tags\":[\"b\"]}"`},
		{"stray bracket", `{"tags":["a"]}` + "\n" + `]`, `"]"`},
		{"long tail", `{"tags":["a"]} ` + strings.Repeat("z", 100), `"` + strings.Repeat("z", 40) + `…"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHandler()
			a := serveGuarded(t, h, "t", tt.body)
			want := "body: must be one JSON value (got " + tt.got + " after it)"
			if a.status != http.StatusBadRequest || a.code != "bad_request" || a.msg != want {
				t.Errorf("got %d %q, want 400 bad_request %q", a.status, a.body, want)
			}
			if n := len(h.Requests()); n != 0 {
				t.Errorf("%d requests recorded", n)
			}
		})
	}
	for _, ws := range []string{"\n", " \t\r\n "} {
		h := NewHandler()
		if a := serveGuarded(t, h, "t", `{"tags":["a"]}`+ws); a.status != http.StatusOK {
			t.Errorf("whitespace %q after the body: got %d %q, want 200", ws, a.status, a.body)
		}
		if reqs := h.Requests(); len(reqs) != 1 || len(reqs[0].Tags) != 1 || reqs[0].Tags[0] != "a" {
			t.Errorf("whitespace %q after the body: recorded %+v", ws, reqs)
		}
	}
}

// TestGuardComesBeforeFaults checks a refused body does not use up a queued fault.
func TestGuardComesBeforeFaults(t *testing.T) {
	h := NewHandler()
	h.FailNext(1, Fault{Status: http.StatusServiceUnavailable})
	if a := serveGuarded(t, h, "t", `{"tags":["a"]}garbage`); a.status != http.StatusBadRequest {
		t.Errorf("data after the body with a fault queued: got %d %q, want 400", a.status, a.body)
	}
	if a := serveGuarded(t, h, "t", `{"tags":["a"]}`); a.status != http.StatusServiceUnavailable {
		t.Errorf("the next request: got %d %q, want the queued 503", a.status, a.body)
	}
}

// failingBody sends part of a body, then fails as a connection that ended or timed out.
type failingBody struct{ sent bool }

func (b *failingBody) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		return copy(p, `{"tags":["a"`), nil
	}
	return 0, errors.New("read tcp: i/o timeout")
}

func (b *failingBody) Close() error { return nil }

// TestGuardBodyThatCannotBeRead checks a body that breaks off is neither accepted nor
// taken for an auth failure.
func TestGuardBodyThatCannotBeRead(t *testing.T) {
	for _, opts := range [][]Option{nil, {WithLatency(time.Millisecond)}} {
		h := NewHandler(opts...)
		r := httptest.NewRequestWithContext(t.Context(), http.MethodPost, guardURL, nil)
		r.Body = &failingBody{}
		r.Header.Set("Authorization", "Bearer t")
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		a := decodeAnswer(t, w)
		if a.status != http.StatusBadRequest || !strings.HasPrefix(a.msg, "body: could not be read") {
			t.Errorf("latency %v: got %d %q, want 400 body: could not be read…", h.cfg.latency, a.status, a.body)
		}
		if got := w.Header().Get("Connection"); got != "close" {
			t.Errorf("latency %v: Connection: %q, want close: the connection is out of step", h.cfg.latency, got)
		}
	}
}

// BenchmarkGuard measures a request with a hostile body (time and memory per request):
// refused by the guard (nesting-bomb, wide-1MiB) or, within its bounds, by the validator
// (string-1MiB, the costliest). valid is the common case, for comparison.
func BenchmarkGuard(b *testing.B) {
	for _, bc := range []struct{ name, body string }{
		{"valid", `{"tags":["blog","products"],"target":"production","revalidationDeadlineSeconds":0}`},
		{"nesting-bomb", nest(9990)},
		{"wide-1MiB", `{"tags":[` + strings.Repeat("[],", 349000) + `[]]}`},
		{"string-1MiB", `{"tags":"` + strings.Repeat("a", maxBodyBytes-20) + `"}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := NewHandler()
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.body)))
			for b.Loop() {
				r := httptest.NewRequestWithContext(b.Context(), http.MethodPost, guardURL, strings.NewReader(bc.body))
				r.Header.Set("Authorization", "Bearer t")
				r.Header.Set("Content-Type", "application/json")
				h.ServeHTTP(httptest.NewRecorder(), r)
			}
		})
	}
}
