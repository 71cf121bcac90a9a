package edgecache_test

// Tests of errors.go: how every answer becomes a *Result or an *APIError, bounded reads of
// whatever a server sends back, and the redaction of the token wherever an answer could echo
// it.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/edgecachetest"
)

// countingClient is an *http.Client that counts the body bytes read, on a transport closed at
// the end of the test.
func countingClient(t testing.TB) (*http.Client, *countingTransport) {
	hc := callerClient(t, nil)
	counter := &countingTransport{base: hc.Transport}
	hc.Transport = counter
	return hc, counter
}

func TestAPIErrorMapping(t *testing.T) {
	t.Parallel()
	const requestID = "fra1::iad1::abcde-1700000000000-0123456789ab"
	sentinels := map[string]error{
		"ErrBadRequest": edgecache.ErrBadRequest, "ErrUnauthorized": edgecache.ErrUnauthorized,
		"ErrPaymentRequired": edgecache.ErrPaymentRequired, "ErrForbidden": edgecache.ErrForbidden,
		"ErrNotFound": edgecache.ErrNotFound, "ErrGone": edgecache.ErrGone, "ErrRateLimited": edgecache.ErrRateLimited,
		"ErrServer": edgecache.ErrServer, "ErrInvalidRequest": edgecache.ErrInvalidRequest,
	}
	statuses := []struct {
		status   int
		sentinel string
	}{
		{400, "ErrBadRequest"}, {401, "ErrUnauthorized"}, {402, "ErrPaymentRequired"}, {403, "ErrForbidden"},
		{404, "ErrNotFound"}, {410, "ErrGone"}, {429, "ErrRateLimited"}, {500, "ErrServer"}, {502, "ErrServer"},
		{503, "ErrServer"}, {418, ""},
	}
	html := `<!DOCTYPE html><html><head><title>Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>`
	huge := `{"error":{"code":"huge","message":"` + strings.Repeat("a", 2<<20) + `"}}`
	type bodyCase struct {
		name        string
		body        string
		noRequestID bool
		wantCode    string
		wantMessage string
		wantLimit   *edgecache.RateLimit
	}
	bodies := []bodyCase{
		{name: "envelope", body: `{"error":{"code":"some_code","message":"Something went wrong."}}`, wantCode: "some_code", wantMessage: "Something went wrong."},
		{name: "empty body"},
		{name: "HTML body", body: "\n" + html + "\n", wantMessage: html},
		{name: "truncated JSON", body: `{"error":{"code":"forbidden","mess`, wantMessage: `{"error":{"code":"forbidden","mess`},
		{name: "not an envelope", body: `{"message":"x"}`, wantMessage: `{"message":"x"}`},
		// Cut at 1 MiB, the envelope does not parse: its start becomes the message.
		{name: "2 MiB body", body: huge, wantMessage: huge[:200] + "…"},
		{name: "no request id", body: `{"error":{"code":"c","message":"m"}}`, noRequestID: true, wantCode: "c", wantMessage: "m"},
	}
	type tcase struct {
		status   int
		sentinel string
		bodyCase
	}
	var cases []tcase
	for _, s := range statuses {
		for _, b := range bodies {
			cases = append(cases, tcase{s.status, s.sentinel, b})
		}
	}
	cases = append(cases, tcase{429, "ErrRateLimited", bodyCase{
		name:        "envelope with limit",
		body:        `{"error":{"code":"rate_limited","message":"Rate limit exceeded","limit":{"remaining":0,"reset":1700000060,"resetMs":1700000060000,"total":100}}}`,
		wantCode:    "rate_limited",
		wantMessage: "Rate limit exceeded",
		wantLimit:   &edgecache.RateLimit{Remaining: 0, Reset: 1700000060, ResetMs: 1700000060000, Total: 100},
	}})
	ops := everyOperation()
	for i, tc := range cases {
		op := ops[i%len(ops)] // the shared core reads every operation's answers
		t.Run(fmt.Sprintf("%d %s %s", tc.status, tc.name, op.id), func(t *testing.T) {
			t.Parallel()
			var requests atomic.Int32
			srv := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				if !tc.noRequestID {
					w.Header().Set("X-Vercel-Id", requestID)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			hc, counter := countingClient(t)
			c := clientOf(t, srv, edgecache.WithHTTPClient(hc), noRetry)
			res, err := op.call(t.Context(), c)
			if res != nil || err == nil {
				t.Fatalf("got (%+v, %v), want an *APIError", res, err)
			}
			apiErr, ok := errors.AsType[*edgecache.APIError](err)
			if !ok {
				t.Fatalf("error %T (%v) is not an *APIError", err, err)
			}
			wantID := requestID
			if tc.noRequestID {
				wantID = ""
			}
			if apiErr.StatusCode != tc.status || apiErr.Code != tc.wantCode || apiErr.Message != tc.wantMessage || apiErr.RequestID != wantID {
				t.Errorf("APIError{StatusCode: %d, Code: %q, Message: %.80q, RequestID: %q}\nwant     {StatusCode: %d, Code: %q, Message: %.80q, RequestID: %q}",
					apiErr.StatusCode, apiErr.Code, apiErr.Message, apiErr.RequestID, tc.status, tc.wantCode, tc.wantMessage, wantID)
			}
			if !reflect.DeepEqual(apiErr.RateLimit, tc.wantLimit) {
				t.Errorf("RateLimit = %+v, want %+v", apiErr.RateLimit, tc.wantLimit)
			}
			if apiErr.Attempts != 1 || requests.Load() != 1 {
				t.Errorf("Attempts = %d, requests = %d; want 1 and 1 with MaxAttempts 1", apiErr.Attempts, requests.Load())
			}
			for name, sentinel := range sentinels {
				if got, want := errors.Is(err, sentinel), name == tc.sentinel; got != want {
					t.Errorf("errors.Is(err, %s) = %v, want %v", name, got, want)
				}
			}
			msg := err.Error()
			if !strings.Contains(msg, strconv.Itoa(tc.status)) || (tc.wantCode != "" && !strings.Contains(msg, tc.wantCode)) || !strings.Contains(msg, wantID) {
				t.Errorf("error text %.200q does not give the status, the code and the request id", msg)
			}
			if len(msg) > 1024 {
				t.Errorf("error text is %d bytes long, want a short excerpt of the body", len(msg))
			}
			if n := counter.total.Load(); n > edgecache.MaxErrorBody {
				t.Errorf("read %d bytes of the error body, want at most %d", n, edgecache.MaxErrorBody)
			}
		})
	}
}

func TestSuccessfulAnswers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		status    int
		body      string
		requestID string
	}{
		{"200 with {}", 200, "{}", "fra1::abc-1"},
		{"200 with an empty body", 200, "", "fra1::abc-2"},
		{"200 without a request id", 200, "{}", ""},
		{"202 with an empty body", 202, "", "fra1::abc-3"},
		{"204", 204, "", "fra1::abc-4"},
	}
	for _, op := range everyOperation() {
		for _, tc := range cases {
			t.Run(op.id+" "+tc.name, func(t *testing.T) {
				t.Parallel()
				srv := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if tc.requestID != "" {
						w.Header().Set("x-vercel-id", tc.requestID)
					}
					w.WriteHeader(tc.status)
					_, _ = io.WriteString(w, tc.body)
				}))
				res, err := op.call(t.Context(), clientOf(t, srv, noRetry))
				if err != nil {
					t.Fatalf("%s: %v", op.id, err)
				}
				if want := (edgecache.Result{StatusCode: tc.status, RequestID: tc.requestID, Attempts: 1}); *res != want {
					t.Errorf("Result = %+v, want %+v", *res, want)
				}
			})
		}
	}
}

// streamer answers with status and a body of size bytes (a JSON-looking prefix, then
// filler), counting the bytes it managed to write before the client hung up.
type streamer struct {
	status  int
	size    int64
	written atomic.Int64
	done    chan struct{}
	once    sync.Once
}

func (s *streamer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer s.once.Do(func() { close(s.done) })
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(s.status)
	chunk := bytes.Repeat([]byte("a"), 32<<10)
	n, err := w.Write([]byte(`{"error":{"code":"huge","message":"`))
	s.written.Add(int64(n))
	for err == nil && s.written.Load() < s.size {
		n, err = w.Write(chunk)
		s.written.Add(int64(n))
	}
}

// TestResponseBodiesAreCapped streams 64 MiB answers: the client reads at most 1 MiB of each,
// hangs up, and returns promptly, whatever the status.
func TestResponseBodiesAreCapped(t *testing.T) {
	t.Parallel()
	const size = 64 << 20
	for _, status := range []int{http.StatusOK, http.StatusForbidden, http.StatusServiceUnavailable} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			s := &streamer{status: status, size: size, done: make(chan struct{})}
			hc, counter := countingClient(t)
			c := clientOf(t, newHTTPServer(t, s), edgecache.WithHTTPClient(hc), noRetry)
			res, err := everyOperation()[0].call(t.Context(), c)
			if status == http.StatusOK {
				if err != nil || res.StatusCode != 200 {
					t.Fatalf("got (%+v, %v), want success", res, err)
				}
			} else {
				apiErr, ok := errors.AsType[*edgecache.APIError](err)
				if !ok || apiErr.StatusCode != status {
					t.Fatalf("got %v, want an *APIError with status %d", err, status)
				}
				if n := utf8.RuneCountInString(apiErr.Message); n > edgecache.MaxExcerpt+1 {
					t.Errorf("the message is %d runes, want an excerpt of at most %d", n, edgecache.MaxExcerpt+1)
				}
			}
			if read := counter.total.Load(); read > edgecache.MaxErrorBody {
				t.Errorf("the client read %d bytes of a %d-byte body, want at most %d", read, size, edgecache.MaxErrorBody)
			}
			select {
			case <-s.done:
			case <-time.After(10 * time.Second):
				t.Fatalf("the server is still writing 10 s later (%d bytes): the client neither read on nor hung up", s.written.Load())
			}
			// What the server wrote beyond what was read sat in socket buffers when the client
			// hung up; it is nowhere near the whole body.
			if w := s.written.Load(); w >= size/2 {
				t.Errorf("the server wrote %d of %d bytes before the client hung up", w, size)
			}
		})
	}
}

// printed returns every way v could be printed or logged: the fmt verbs and JSON.
func printed(label string, values ...any) []string {
	var texts []string
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			texts = append(texts, label+" "+verb+": "+fmt.Sprintf(verb, v))
		}
		if data, err := json.Marshal(v); err == nil {
			texts = append(texts, label+" json: "+string(data))
		}
	}
	return texts
}

// printedError returns every printed form of err, of each error in its tree, and of the
// structs behind the package's error types.
func printedError(label string, err error) []string {
	texts := printed(label, err)
	if e, ok := err.(interface{ Unwrap() error }); ok && e.Unwrap() != nil {
		texts = append(texts, printedError(label+" unwrapped", e.Unwrap())...)
	}
	if e, ok := err.(interface{ Unwrap() []error }); ok {
		for _, inner := range e.Unwrap() {
			texts = append(texts, printedError(label+" unwrapped", inner)...)
		}
	}
	switch e := err.(type) {
	case *edgecache.APIError:
		texts = append(texts, printed(label+" struct", *e)...)
	case *edgecache.TransportError:
		texts = append(texts, printed(label+" struct", *e)...)
	case *edgecache.BulkError:
		texts = append(texts, printed(label+" struct", *e)...)
	}
	return texts
}

// checkNoToken fails when any text holds token or a fragment of it of 8 bytes or more,
// quoting the first such text and counting the others.
func checkNoToken(t *testing.T, token string, texts []string) {
	t.Helper()
	leaks, first := 0, ""
	for _, text := range texts {
		for i := 0; i+8 <= len(token); i++ {
			if j := strings.Index(text, token[i:i+8]); j >= 0 {
				if leaks++; leaks == 1 {
					first = fmt.Sprintf("bytes %d to %d of the token appear in %.200q", i, i+8, text[max(0, j-100):])
				}
				break
			}
		}
	}
	if leaks > 0 {
		t.Errorf("%d of %d printed forms hold the token; first: %s", leaks, len(texts), first)
	}
}

// excerptOf is the message an error keeps of a non-envelope body: its first 200 runes and an
// ellipsis when it is longer.
func excerptOf(s string) string {
	if r := []rune(s); len(r) > edgecache.MaxExcerpt {
		return string(r[:edgecache.MaxExcerpt]) + "…"
	}
	return s
}

// TestEchoedTokenIsRedacted: a server, a proxy or a login page that echoes the token (in an
// error body, in the request id, in a redirect's Location) gets no part of it into any error,
// result, bulk result or log line, for every operation, and what is redacted is exactly the
// token.
func TestEchoedTokenIsRedacted(t *testing.T) {
	t.Parallel()
	const tok = testToken
	type echoCase struct {
		name    string
		handler http.HandlerFunc
		// the caller's redirect policy, nil for net/http's default
		checkRedirect func(*http.Request, []*http.Request) error
		check         func(t *testing.T, res *edgecache.Result, err error)
	}
	apiError := func(t *testing.T, err error, status int) *edgecache.APIError {
		t.Helper()
		apiErr, ok := errors.AsType[*edgecache.APIError](err)
		if !ok || apiErr.StatusCode != status {
			t.Fatalf("error %T %v, want an *APIError with status %d", err, err, status)
		}
		return apiErr
	}
	redirectTo := func(location string, status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/v1/") {
				w.Header().Set("Location", location)
				w.WriteHeader(status)
				return
			}
			panic(http.ErrAbortHandler) // the redirect's target hangs up
		}
	}
	cases := []echoCase{
		{
			name: "envelope message",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, `{"error":{"code":"bad_request","message":"bad header %s"}}`, r.Header.Get("Authorization"))
			},
			check: func(t *testing.T, _ *edgecache.Result, err error) {
				if got := apiError(t, err, 400).Message; got != "bad header Bearer [redacted]" {
					t.Errorf("Message = %q, want the token replaced by [redacted] and nothing else changed", got)
				}
			},
		},
		{
			name: "request id of an error, retried and logged",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Vercel-Id", "fra1::"+tok+"-1700000000000")
				w.WriteHeader(http.StatusServiceUnavailable)
			},
			check: func(t *testing.T, _ *edgecache.Result, err error) {
				if got := apiError(t, err, 503).RequestID; got != "fra1::[redacted]-1700000000000" {
					t.Errorf("RequestID = %q, want the token replaced by [redacted]", got)
				}
			},
		},
		{
			name: "request id of a success",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Vercel-Id", tok)
			},
			check: func(t *testing.T, res *edgecache.Result, err error) {
				if err != nil || res.RequestID != "[redacted]" {
					t.Errorf("got (%+v, %v), want success with RequestID [redacted]", res, err)
				}
			},
		},
		{
			name:    "redirect Location refused",
			handler: redirectTo("/login?token="+tok, http.StatusFound),
			check: func(t *testing.T, _ *edgecache.Result, err error) {
				if got := apiError(t, err, 302).Message; !strings.Contains(got, "/login?token=[redacted]") {
					t.Errorf("Message = %q, want the redirect's target, redacted", got)
				}
			},
		},
		{
			name:    "redirect followed to a target that hangs up",
			handler: redirectTo("/moved?token="+tok, http.StatusTemporaryRedirect),
			check: func(t *testing.T, _ *edgecache.Result, err error) {
				tErr, ok := errors.AsType[*edgecache.TransportError](err)
				if !ok || !strings.Contains(tErr.Error(), "/moved?token=[redacted]") {
					t.Errorf("error %T %v, want a *TransportError naming the redacted URL", err, err)
				}
			},
		},
		{
			name:          "caller's redirect policy names the URL",
			handler:       redirectTo("/moved?token="+tok, http.StatusTemporaryRedirect),
			checkRedirect: func(req *http.Request, _ []*http.Request) error { return fmt.Errorf("caller refuses %s", req.URL) },
			check: func(t *testing.T, _ *edgecache.Result, err error) {
				if _, ok := errors.AsType[*edgecache.TransportError](err); !ok || !strings.Contains(err.Error(), "caller refuses") {
					t.Errorf("error %T %v, want a *TransportError with the caller's refusal", err, err)
				}
			},
		},
	}
	// A non-envelope body is cut at 200 runes: the token, wherever it stands, is redacted first.
	for _, before := range []int{0, 150, 177, 190, 199, 200, 220} {
		cases = append(cases, echoCase{
			name: fmt.Sprintf("body with the token after %d runes", before),
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadGateway)
				_, _ = io.WriteString(w, strings.Repeat("x", before)+tok+strings.Repeat("y", 100))
			},
			check: func(t *testing.T, _ *edgecache.Result, err error) {
				want := excerptOf(strings.Repeat("x", before) + "[redacted]" + strings.Repeat("y", 100))
				if got := apiError(t, err, 502).Message; got != want {
					t.Errorf("Message = %q\nwant      %q", got, want)
				}
			},
		})
	}
	for _, tc := range cases {
		for _, op := range everyOperation() {
			t.Run(tc.name+" "+op.id, func(t *testing.T) {
				t.Parallel()
				var logs logBuffer
				logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				c := clientOf(t, newHTTPServer(t, tc.handler), edgecache.WithHTTPClient(callerClient(t, tc.checkRedirect)),
					edgecache.WithLogger(logger), (&fakeClock{}).Option())

				res, err := op.call(t.Context(), c)
				tc.check(t, res, err)
				bulkRes, bulkErr := c.Bulk(t.Context(), op.req, edgecache.BulkOptions{})

				texts := append(printed("result", res, bulkRes), printedError("error", err)...)
				if bulkErr != nil {
					texts = append(texts, printedError("bulk error", bulkErr)...)
				}
				texts = append(texts, "log: "+logs.String())
				checkNoToken(t, tok, texts)
			})
		}
	}
}

// TestRedactionChangesOnlyTheToken: a token too short to be a real one (Vercel's are 24
// characters) is redacted only where it stands alone, so that the rest of the text, the code
// above all, comes back exactly and the gaps do not spell the token; a long token is redacted
// wherever it appears, even inside a word.
func TestRedactionChangesOnlyTheToken(t *testing.T) {
	t.Parallel()
	const body = `{"error":{"code":"forbidden","message":"Not authorized: Bearer %[1]s is not valid for team_engineering, %[1]s."}}`
	cases := []struct {
		token                         string
		body                          string
		wantCode, wantMessage, wantID string
	}{
		{"e", body, "forbidden", "Not authorized: Bearer [redacted] is not valid for team_engineering, [redacted].", "iad1::[redacted]::id-1"},
		{"d", body, "forbidden", "Not authorized: Bearer [redacted] is not valid for team_engineering, [redacted].", "iad1::[redacted]::id-1"},
		{"or", body, "forbidden", "Not authorized: Bearer [redacted] is not valid for team_engineering, [redacted].", "iad1::[redacted]::id-1"},
		{"in", body, "forbidden", "Not authorized: Bearer [redacted] is not valid for team_engineering, [redacted].", "iad1::[redacted]::id-1"},
		{testToken, `{"error":{"code":"forbidden","message":"bad token: x%[1]sy"}}`, "forbidden", "bad token: x[redacted]y", "iad1::[redacted]::id-1"},
	}
	for _, tc := range cases {
		for _, op := range everyOperation() {
			t.Run(tc.token+" "+op.id, func(t *testing.T) {
				t.Parallel()
				srv := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("X-Vercel-Id", "iad1::"+tc.token+"::id-1")
					w.WriteHeader(http.StatusForbidden)
					fmt.Fprintf(w, tc.body, tc.token)
				}))
				c, err := edgecache.New(tc.token, edgecache.WithBaseURL(srv.URL), edgecache.WithHTTPClient(callerClient(t, nil)))
				if err != nil {
					t.Fatal(err)
				}
				_, err = op.call(t.Context(), c)
				apiErr, ok := errors.AsType[*edgecache.APIError](err)
				if !ok {
					t.Fatalf("error %T %v, want an *APIError", err, err)
				}
				if apiErr.Code != tc.wantCode || apiErr.Message != tc.wantMessage || apiErr.RequestID != tc.wantID {
					t.Errorf("got  {Code: %q, Message: %q, RequestID: %q}\nwant {Code: %q, Message: %q, RequestID: %q}",
						apiErr.Code, apiErr.Message, apiErr.RequestID, tc.wantCode, tc.wantMessage, tc.wantID)
				}
			})
		}
	}
}

// TestTokenNeverLeaks drives the client through every failure path of the fake on real
// connections with logging at debug level, then searches the logs, every error and result in
// every printed form, and a dump of all goroutines taken while a request was in flight (what
// an unrecovered panic would print).
func TestTokenNeverLeaks(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := newFake(t)
	clock := &fakeClock{}
	c := newClient(t, s, edgecache.WithLogger(logger), clock.Option())
	type wrapper struct {
		Client *edgecache.Client
		Err    error
	}
	del := func(tags ...string) edgecache.DangerouslyDeleteByTagsRequest {
		return edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: testProject, Tags: edgecache.TagList(tags...)}
	}
	var texts []string
	var mu sync.Mutex
	call := func(label string, ctx context.Context, req edgecache.DangerouslyDeleteByTagsRequest) {
		res, err := c.DangerouslyDeleteByTags(ctx, req)
		mu.Lock()
		defer mu.Unlock()
		texts = append(texts, printed(label, res, wrapper{c, err})...)
		if err != nil {
			texts = append(texts, printedError(label, err)...)
		}
	}

	s.FailNext(2, edgecachetest.Fault{Status: http.StatusServiceUnavailable})
	call("retried then answered", t.Context(), del("a"))
	s.FailNext(1, edgecachetest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "3600"})
	call("long Retry-After", t.Context(), del("a"))
	s.FailNext(3, edgecachetest.Fault{DropConnection: true})
	call("dropped", t.Context(), del("a"))
	s.FailNext(1, edgecachetest.Fault{Status: http.StatusUnauthorized})
	call("unauthorized", t.Context(), del("a"))
	call("invalid", t.Context(), del("a,b"))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	s.FailNext(1, edgecachetest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "30"})
	call("past the deadline", ctx, del("a"))
	cancel()

	// A request in flight: dump every goroutine's stack, as an unrecovered panic would.
	before := s.Calls()
	s.FailNext(1, edgecachetest.Fault{Latency: 10 * time.Second})
	ctx, cancel = context.WithCancel(t.Context())
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		call("hanging", ctx, del("a"))
	}()
	for deadline := time.Now().Add(10 * time.Second); s.Calls() <= before && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	stacks := make([]byte, 8<<20)
	stacks = stacks[:runtime.Stack(stacks, true)]
	cancel()
	<-finished
	if !bytes.Contains(stacks, []byte("DangerouslyDeleteByTags")) {
		t.Errorf("the goroutine dump does not show the call in flight; the check below proves nothing")
	}
	texts = append(texts, "goroutine dump: "+string(stacks))

	// A bulk purge refused half-way, with its result and error.
	s.FailNext(1, edgecachetest.Fault{})
	s.FailNext(1, edgecachetest.Fault{Status: http.StatusForbidden})
	tags := make([]string, 40)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%d", i)
	}
	res, err := c.Bulk(t.Context(), del(tags...), edgecache.BulkOptions{Concurrency: 1})
	if err == nil {
		t.Fatal("the bulk purge succeeded; want a 403 half-way")
	}
	texts = append(texts, printed("bulk", res, *res, res.Failed)...)
	texts = append(texts, printedError("bulk", err)...)

	// Nothing listens here any more: a *url.Error, which names the URL.
	refused, err := edgecache.New(testToken, edgecache.WithBaseURL("http://127.0.0.1:1"),
		edgecache.WithHTTPClient(callerClient(t, nil)), edgecache.WithLogger(logger), clock.Option())
	if err != nil {
		t.Fatal(err)
	}
	_, err = refused.DangerouslyDeleteByTags(t.Context(), del("a"))
	texts = append(texts, printedError("refused", err)...)

	log := logs.String()
	for _, want := range []string{"retrying", "longer wait", "context deadline"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log has no line with %q; the check below would miss it:\n%s", want, log)
		}
	}
	texts = append(texts, "log: "+log)
	checkNoToken(t, testToken, texts)
}

// FuzzParseErrorBody: the error-body parser never panics; a non-blank body always yields a
// Code or a Message; the Message is valid UTF-8 and, unless it is an envelope's own, at most
// 200 runes plus an ellipsis taken from the start of the body; an envelope's code and message
// come back exactly.
func FuzzParseErrorBody(f *testing.F) {
	// Input sizes are capped: an execution in this package's large, instrumented test binary
	// is slow, and the engine's minimization of a long input would stall a short fuzzing run.
	// The body is repeated to reach lengths beyond the cap.
	const maxBody, maxString = 128, 64
	for _, seed := range []struct {
		body          string
		repeat        uint8
		code, message string
	}{
		{`{"error":{"code":"forbidden","message":"Not authorized"}}`, 0, "forbidden", "Not authorized"},
		{`{"error":{"code":"rate_limited","message":"Rate limit exceeded","limit":{"remaining":0,"reset":1,"resetMs":1000,"total":100}}}`, 0, "rate_limited", ""},
		{`{"error":{}}`, 0, "", "m"},
		{`{"error":null}`, 0, "c", ""},
		{`{"error":{"code":5}}`, 0, "", ""},
		{`{"error":{"code":"x","message":"y","limit":{"remaining":1.5}}}`, 0, "x", "y"},
		{`{"error":{"code":"forbidden","mess`, 3, "\xff", "\xfe"},
		{"<html><body>502 Bad Gateway</body></html>", 9, "bad_gateway", strings.Repeat("é", 30)},
		{"\xff\xfe\xfd binary", 40, "", "\u2028"},
		{"   \n\t", 7, "", ""},
		{"", 0, "", ""},
		{strings.Repeat("€", 40), 5, "€", strings.Repeat("x", 60)},
		{"a", 199, "", ""},
		{"ab", 100, "", ""},
		{`{"ERROR":{"CODE":"case","Message":"insensitive"}}`, 0, "a", "b"},
	} {
		f.Add([]byte(seed.body), seed.repeat, seed.code, seed.message)
	}
	// wire is s as it arrives after a JSON round trip: invalid UTF-8 becomes U+FFFD.
	wire := func(t *testing.T, s string) string {
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var out string
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	f.Fuzz(func(t *testing.T, body []byte, repeat uint8, code, message string) {
		if len(body) > maxBody || len(code) > maxString || len(message) > maxString {
			return
		}
		body = bytes.Repeat(body, 1+int(repeat))
		e := edgecache.ParseErrorBody(body)
		if len(bytes.TrimSpace(body)) > 0 && e.Code == "" && e.Message == "" {
			t.Fatalf("body %q yielded neither a Code nor a Message", body)
		}
		if !utf8.ValidString(e.Message) || !utf8.ValidString(e.Code) {
			t.Fatalf("body %q yielded Code %q, Message %q: not valid UTF-8", body, e.Code, e.Message)
		}
		var env struct {
			Error *struct {
				Code    string               `json:"code"`
				Message string               `json:"message"`
				Limit   *edgecache.RateLimit `json:"limit"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &env) == nil && env.Error != nil && (env.Error.Code != "" || env.Error.Message != "") {
			if e.Code != env.Error.Code || e.Message != env.Error.Message || !reflect.DeepEqual(e.RateLimit, env.Error.Limit) {
				t.Fatalf("envelope %q yielded {%q, %q, %+v}, want {%q, %q, %+v}", body, e.Code, e.Message, e.RateLimit, env.Error.Code, env.Error.Message, env.Error.Limit)
			}
		} else {
			if e.Code != "" {
				t.Fatalf("non-envelope %q yielded Code %q", body, e.Code)
			}
			n := utf8.RuneCountInString(e.Message)
			text := strings.TrimSuffix(e.Message, "…")
			if n > edgecache.MaxExcerpt+1 || (n == edgecache.MaxExcerpt+1 && text == e.Message) {
				t.Fatalf("non-envelope %q yielded a %d-rune Message, want at most %d plus an ellipsis", body, n, edgecache.MaxExcerpt)
			}
			if want := strings.ToValidUTF8(strings.TrimSpace(string(body)), "\uFFFD"); !strings.HasPrefix(want, text) {
				t.Fatalf("non-envelope %q yielded Message %q, not the start of the body", body, e.Message)
			}
		}

		// An envelope built from code and message gives them back as they arrive.
		data, err := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": message}})
		if err != nil {
			t.Fatal(err)
		}
		e = edgecache.ParseErrorBody(data)
		wantCode, wantMessage := wire(t, code), wire(t, message)
		if wantCode == "" && wantMessage == "" {
			if e.Message == "" {
				t.Fatalf("empty envelope %s yielded no Message", data)
			}
			return
		}
		if e.Code != wantCode || e.Message != wantMessage {
			t.Fatalf("envelope %s yielded {%q, %q}, want {%q, %q}", data, e.Code, e.Message, wantCode, wantMessage)
		}
	})
}
