package edgecache_test

// Security of the transport: where the token goes (redirects), where it must never show
// (errors, logs, formatted values, a crash dump), plain http, and bounded reads of whatever a
// server sends back.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/edgecachetest"
)

const relEndpoint = "/v1/edge-cache/dangerously-delete-by-tags"

// TestRedirectAuthorization: a 307 or 308 on the same host keeps the token and re-sends the
// body; one to another host name (127.0.0.1 → localhost, a different host to net/http)
// re-sends the body but never the token.
func TestRedirectAuthorization(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		status    int
		crossHost bool
	}{
		{"307 same host", http.StatusTemporaryRedirect, false},
		{"308 same host", http.StatusPermanentRedirect, false},
		{"307 another host", http.StatusTemporaryRedirect, true},
		{"308 another host", http.StatusPermanentRedirect, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// B: the fake, behind a recorder. It refuses a request without the token (401).
			fakeB, recB, urlB := relFakeBehind(t, nil)
			target := urlB
			if tc.crossHost {
				target = strings.Replace(urlB, "://127.0.0.1:", "://localhost:", 1)
				if target == urlB {
					t.Fatalf("test setup: %s is not on 127.0.0.1", urlB)
				}
			}
			// A: redirects the endpoint to B, or to its own /moved/ path, which serves B.
			var aURL string
			mux := http.NewServeMux()
			mux.Handle("/moved/", http.StripPrefix("/moved", recB))
			mux.HandleFunc(relEndpoint, func(w http.ResponseWriter, r *http.Request) {
				dest := target + r.URL.RequestURI()
				if !tc.crossHost {
					dest = aURL + "/moved" + r.URL.RequestURI()
				}
				http.Redirect(w, r, dest, tc.status)
			})
			recA := &relRecorder{next: mux}
			aURL = relHTTPServer(t, recA).URL
			c := relClientFor(t, aURL, (&relClock{}).Option())

			res, err := c.DangerouslyDeleteByTags(context.Background(), relRequest("blog", "products"))

			seenA := recA.Seen()
			if len(seenA) == 0 || seenA[0].Header.Get("Authorization") != "Bearer "+relToken {
				t.Fatalf("server A did not get the token first; the test would prove nothing (saw %d requests)", len(seenA))
			}
			if !tc.crossHost {
				// recA also sees the /moved/ request, with the token.
				if len(seenA) != 2 || seenA[1].Path != "/moved"+relEndpoint || seenA[1].Header.Get("Authorization") != "Bearer "+relToken {
					t.Errorf("server A saw %d requests; want the original and the redirected one, both with the token", len(seenA))
				}
			}
			seenB := recB.Seen()
			if len(seenB) != 1 {
				t.Fatalf("the redirect target saw %d requests, want 1", len(seenB))
			}
			gotAuth := seenB[0].Header.Get("Authorization")
			if tc.crossHost {
				if gotAuth != "" {
					t.Errorf("the token reached another host (%s) through a redirect: Authorization %q", seenB[0].Host, strings.ReplaceAll(gotAuth, relToken, "<token>"))
				}
				// So the fake refuses it; the caller sees the 401 after one attempt.
				relAPIError(t, err, http.StatusUnauthorized, 1)
				if len(fakeB.Requests()) != 0 {
					t.Errorf("the other host accepted the purge")
				}
			} else {
				if gotAuth != "Bearer "+relToken {
					t.Errorf("a same-host redirect lost the token: Authorization %q", strings.ReplaceAll(gotAuth, relToken, "<token>"))
				}
				if err != nil || res.Attempts != 1 {
					t.Errorf("got (%+v, %v), want success after 1 attempt", res, err)
				}
				if got := fakeB.Requests(); len(got) != 1 || strings.Join(got[0].Tags, ",") != "blog,products" {
					t.Errorf("the fake accepted %+v, want one purge of blog and products", got)
				}
			}
			if !bytes.Equal(seenB[0].Body, seenA[0].Body) || len(seenA[0].Body) == 0 {
				t.Errorf("the redirected request carried body %q, want the original %q re-sent", seenB[0].Body, seenA[0].Body)
			}
		})
	}
}

func TestPlainHTTPRefusedForRemoteHosts(t *testing.T) {
	t.Parallel()
	// The common cases (example.com, 127.0.0.1, localhost, [::1], WithInsecureHTTP) are in
	// TestNew; these are the look-alikes.
	cases := []struct {
		url     string
		allowed bool
	}{
		{"http://localhost.example.com", false},
		{"http://127.0.0.1.nip.io:8080", false},
		{"http://0.0.0.0:8080", false},
		{"http://10.0.0.1", false},
		{"http://[fe80::1]:80", false},
		{"HTTP://example.com", false},
		{"http://127.0.0.2:8080", true}, // 127/8 is loopback
		{"http://[::ffff:127.0.0.1]:8080", true},
		{"https://10.0.0.1", true},
	}
	for _, tc := range cases {
		_, err := edgecache.New(relToken, edgecache.WithBaseURL(tc.url))
		if (err == nil) != tc.allowed {
			t.Errorf("New with base URL %s: error %v, want allowed=%v", tc.url, err, tc.allowed)
		}
		if err != nil && strings.Contains(err.Error(), relToken) {
			t.Errorf("the error holds the token: %v", err)
		}
		if _, err := edgecache.New(relToken, edgecache.WithBaseURL(tc.url), edgecache.WithInsecureHTTP()); err != nil {
			t.Errorf("New with base URL %s and WithInsecureHTTP: %v", tc.url, err)
		}
	}
}

// relStreamer answers with status and a body of size bytes (a JSON-looking prefix, then
// filler), counting the bytes the server managed to write before the client hung up.
type relStreamer struct {
	status  int
	size    int64
	written atomic.Int64
	done    chan struct{}
	once    sync.Once
}

func (s *relStreamer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer s.once.Do(func() { close(s.done) })
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(s.status)
	chunk := bytes.Repeat([]byte("a"), 32<<10)
	prefix := []byte(`{"error":{"code":"huge","message":"`)
	n, err := w.Write(prefix)
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
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			streamer := &relStreamer{status: status, size: size, done: make(chan struct{})}
			srv := relHTTPServer(t, streamer)
			counter := &relCountingTransport{base: relTransport(t)}
			c, err := edgecache.New(relToken, edgecache.WithBaseURL(srv.URL), edgecache.WithHTTPClient(&http.Client{Transport: counter}),
				edgecache.WithRetry(edgecache.RetryPolicy{MaxAttempts: 1}))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			res, err := c.DangerouslyDeleteByTags(context.Background(), relRequest("a"))
			elapsed := time.Since(start)
			if status == http.StatusOK {
				if err != nil || res.StatusCode != 200 {
					t.Fatalf("got (%+v, %v), want success", res, err)
				}
			} else {
				apiErr := relAPIError(t, err, status, 1)
				if n := utf8.RuneCountInString(apiErr.Message); n > edgecache.MaxExcerpt+1 {
					t.Errorf("the message is %d runes, want an excerpt of at most %d", n, edgecache.MaxExcerpt+1)
				}
			}
			if read := counter.total.Load(); read > edgecache.MaxErrorBody {
				t.Errorf("the client read %d bytes of a %d-byte body, want at most %d", read, size, edgecache.MaxErrorBody)
			}
			select {
			case <-streamer.done:
			case <-time.After(10 * time.Second):
				t.Fatalf("the server is still writing 10 s later (%d bytes): the client neither read on nor hung up", streamer.written.Load())
			}
			// What the server wrote beyond what was read sat in socket buffers when the client
			// hung up; it is nowhere near the whole body.
			if w := streamer.written.Load(); w >= size/2 {
				t.Errorf("the server wrote %d of %d bytes before the client hung up", w, size)
			}
			if elapsed > 10*time.Second {
				t.Errorf("the call took %s", elapsed)
			}
			t.Logf("client read %d bytes, server wrote %d, in %s", counter.total.Load(), streamer.written.Load(), elapsed)
		})
	}
}

// relLockedBuffer is a bytes.Buffer safe for concurrent writers.
type relLockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *relLockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *relLockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestTokenNeverLeaks drives the client through every failure path on real connections (the
// conformance tests cover the in-memory ones) with logging at debug level, then searches the
// logs, every error and result in every fmt form, and a dump of all goroutines taken while a
// request was in flight (what an unrecovered panic would print).
func TestTokenNeverLeaks(t *testing.T) {
	t.Parallel()
	var logs relLockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := relServer(t)
	clock := &relClock{}
	c := relClient(t, s, edgecache.WithLogger(logger), clock.Option())
	type wrapper struct {
		Client *edgecache.Client
		Err    error
	}

	var texts []string
	record := func(label string, values ...any) {
		for _, v := range values {
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
				texts = append(texts, label+" "+verb+": "+fmt.Sprintf(verb, v))
			}
			if data, err := json.Marshal(v); err == nil {
				texts = append(texts, label+" json: "+string(data))
			}
		}
	}
	call := func(label string, ctx context.Context, req edgecache.DeleteByTagsRequest) {
		res, err := c.DangerouslyDeleteByTags(ctx, req)
		record(label, res, err, wrapper{c, err})
		if res != nil {
			record(label, *res)
		}
		for e := err; e != nil; e = errors.Unwrap(e) {
			record(label+" chain", e)
		}
		var apiErr *edgecache.APIError
		if errors.As(err, &apiErr) {
			record(label, *apiErr)
		}
		var tErr *edgecache.TransportError
		if errors.As(err, &tErr) {
			record(label, *tErr, tErr.Err)
		}
	}

	s.FailNext(2, edgecachetest.Fault{Status: http.StatusServiceUnavailable})
	call("retried then answered", context.Background(), relRequest("a"))
	s.FailNext(1, edgecachetest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "3600"})
	call("long Retry-After", context.Background(), relRequest("a"))
	s.FailNext(3, edgecachetest.Fault{DropConnection: true})
	call("dropped", context.Background(), relRequest("a"))
	s.FailNext(1, edgecachetest.Fault{Status: http.StatusUnauthorized})
	call("unauthorized", context.Background(), relRequest("a"))
	call("invalid", context.Background(), relRequest("a,b"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	s.FailNext(1, edgecachetest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "30"})
	call("past the deadline", ctx, relRequest("a"))
	cancel()

	// A request in flight: dump every goroutine's stack, as an unrecovered panic would.
	before := s.Calls()
	s.FailNext(1, edgecachetest.Fault{Latency: 10 * time.Second})
	ctx, cancel = context.WithCancel(context.Background())
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		call("hanging", ctx, relRequest("a"))
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
	res, err := c.DangerouslyDeleteByTagsBulk(context.Background(), edgecache.BulkDeleteRequest{
		ProjectIDOrName: relProject, Tags: relTags("t", 40), Concurrency: 1,
	})
	if err == nil {
		t.Fatal("the bulk purge succeeded; want a 403 half-way")
	}
	record("bulk", res, *res, err, res.Failed)

	// Nothing listens here any more: a *url.Error, which names the URL.
	refused := relClientFor(t, "http://127.0.0.1:1", edgecache.WithLogger(logger), clock.Option())
	_, err = refused.DangerouslyDeleteByTags(context.Background(), relRequest("a"))
	record("refused", err)

	log := logs.String()
	for _, want := range []string{"retrying", "longer wait", "context deadline"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log has no line with %q; the check below would miss it:\n%s", want, log)
		}
	}
	texts = append(texts, "log: "+log)
	for _, text := range texts {
		if i := strings.Index(text, relToken); i >= 0 {
			t.Errorf("the token appears in %.300s", text[max(0, i-200):])
		}
		// Also no long fragment of it.
		if strings.Contains(text, relToken[:16]) || strings.Contains(text, relToken[len(relToken)-16:]) {
			t.Errorf("a fragment of the token appears in %.200s", text)
		}
	}
}

// TestDefaultClientRefusesHTTPSDowngrade: net/http keeps Authorization on a same-host
// redirect, even from https to plain http, so the default client refuses such a redirect.
func TestDefaultClientRefusesHTTPSDowngrade(t *testing.T) {
	t.Parallel()
	var plainSawToken atomic.Bool
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plainSawToken.Store(r.Header.Get("Authorization") != "")
	}))
	defer plain.Close()
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	defer secure.Close()

	hc := edgecache.NewDefaultHTTPClient()
	transport := hc.Transport.(*http.Transport)
	transport.TLSClientConfig = secure.Client().Transport.(*http.Transport).TLSClientConfig
	defer transport.CloseIdleConnections()
	c, err := edgecache.New("downgrade-token", edgecache.WithBaseURL(secure.URL), edgecache.WithHTTPClient(hc),
		edgecache.WithRetry(edgecache.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.DangerouslyDeleteByTags(context.Background(), edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a")})
	if err == nil || !strings.Contains(err.Error(), "refusing a redirect from https to http") {
		t.Fatalf("err = %v; want the downgrade refused", err)
	}
	if plainSawToken.Load() {
		t.Fatal("the token reached the plain-http server")
	}
}

// TestEchoedTokenIsRedacted: a server that echoes the request into its error body must not
// put the token into the error text.
func TestEchoedTokenIsRedacted(t *testing.T) {
	t.Parallel()
	const token = "echoed-secret-token"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":{"code":"bad_request","message":"bad header %s"}}`, r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	c, err := edgecache.New(token, edgecache.WithBaseURL(srv.URL), edgecache.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.DangerouslyDeleteByTags(context.Background(), edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a")})
	apiErr, ok := errors.AsType[*edgecache.APIError](err)
	if !ok {
		t.Fatalf("err = %v; want an *APIError", err)
	}
	if strings.Contains(err.Error(), token) || strings.Contains(apiErr.Message, token) {
		t.Fatalf("the echoed token survived: %q", apiErr.Message)
	}
	if !strings.Contains(apiErr.Message, "Bearer [redacted]") {
		t.Errorf("message = %q; want the token replaced by [redacted]", apiErr.Message)
	}
}
