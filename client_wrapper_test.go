package edgecache_test

// Tests of client_wrapper.go: New, the token on the wire and nowhere else, the redirect policy
// every client gets, and the printing of a Client.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vercelkit/edgecache"
)

// callerClient is a caller's own *http.Client with the given redirect policy, on a transport
// closed at the end of the test.
func callerClient(t testing.TB, checkRedirect func(*http.Request, []*http.Request) error) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, CheckRedirect: checkRedirect}
}

// defaultClient is the client New uses by default, its transport closed at the end of the
// test.
func defaultClient(t testing.TB) *http.Client {
	t.Helper()
	hc := edgecache.NewDefaultHTTPClient()
	t.Cleanup(hc.CloseIdleConnections)
	return hc
}

// followEverything is a caller's redirect policy that follows any redirect, without limit.
func followEverything(*http.Request, []*http.Request) error { return nil }

func TestNew(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		token   string
		opts    []edgecache.Option
		wantErr string // a substring of the error; "" means success
		wantURL string // the base URL the client reports, on success
	}{
		{name: "defaults", token: testToken, wantURL: edgecache.DefaultBaseURL},
		{name: "empty token", token: "", wantErr: "token"},
		{name: "token with a newline", token: testToken + "\n", wantErr: "token"},
		{name: "token with a tab", token: "vcp\tTEST", wantErr: "token holds U+0009"},
		{name: "token with every printable ASCII character", token: "!\"#$%&'()*+,-./0123456789:;<=>?@AZ[\\]^_`az{|}~", wantURL: edgecache.DefaultBaseURL},
		{name: "malformed base URL", token: testToken, opts: []edgecache.Option{edgecache.WithBaseURL("::")}, wantErr: "WithBaseURL"},
		{name: "ftp base URL", token: testToken, opts: []edgecache.Option{edgecache.WithBaseURL("ftp://x")}, wantErr: "http(s)"},
		{name: "base URL without scheme", token: testToken, opts: []edgecache.Option{edgecache.WithBaseURL("api.vercel.com")}, wantErr: "http(s)"},
		{name: "base URL with a query", token: testToken, opts: []edgecache.Option{edgecache.WithBaseURL("https://api.vercel.com?teamId=x")}, wantErr: "query"},
		{name: "base URL with a fragment", token: testToken, opts: []edgecache.Option{edgecache.WithBaseURL("https://api.vercel.com#x")}, wantErr: "fragment"},
		{name: "plain http to a remote host", token: testToken, opts: []edgecache.Option{edgecache.WithBaseURL("http://example.com")}, wantErr: "WithInsecureHTTP"},
		{name: "plain http with WithInsecureHTTP", token: testToken, opts: []edgecache.Option{edgecache.WithBaseURL("http://example.com"), edgecache.WithInsecureHTTP()}, wantURL: "http://example.com"},
		{name: "WithInsecureHTTP before the base URL", token: testToken, opts: []edgecache.Option{edgecache.WithInsecureHTTP(), edgecache.WithBaseURL("http://example.com")}, wantURL: "http://example.com"},
		{name: "plain http to 127.0.0.1", token: testToken, opts: []edgecache.Option{edgecache.WithBaseURL("http://127.0.0.1:8080")}, wantURL: "http://127.0.0.1:8080"},
		{name: "plain http to localhost", token: testToken, opts: []edgecache.Option{edgecache.WithBaseURL("http://localhost:3000")}, wantURL: "http://localhost:3000"},
		{name: "plain http to [::1]", token: testToken, opts: []edgecache.Option{edgecache.WithBaseURL("http://[::1]:8080")}, wantURL: "http://[::1]:8080"},
		{name: "https with a path prefix", token: testToken, opts: []edgecache.Option{edgecache.WithBaseURL("https://proxy.example/vercel/")}, wantURL: "https://proxy.example/vercel"},
		{name: "nil HTTP client", token: testToken, opts: []edgecache.Option{edgecache.WithHTTPClient(nil)}, wantErr: "nil"},
		{name: "an HTTP client", token: testToken, opts: []edgecache.Option{edgecache.WithHTTPClient(&http.Client{})}, wantURL: edgecache.DefaultBaseURL},
		{name: "empty user agent", token: testToken, opts: []edgecache.Option{edgecache.WithUserAgent("")}, wantErr: "user agent"},
		{name: "nil logger", token: testToken, opts: []edgecache.Option{edgecache.WithLogger(nil)}, wantErr: "logger"},
		{name: "negative retry policy", token: testToken, opts: []edgecache.Option{edgecache.WithRetry(edgecache.RetryPolicy{MaxAttempts: -1})}, wantErr: "negative"},
		{name: "nil option", token: testToken, opts: []edgecache.Option{nil}, wantURL: edgecache.DefaultBaseURL},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := edgecache.New(tc.token, tc.opts...)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("New succeeded (%v), want an error mentioning %q", c, tc.wantErr)
				}
				if c != nil {
					t.Errorf("New returned a client with its error")
				}
				if !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "edgecache: New: ") {
					t.Errorf("error %q, want an \"edgecache: New: \" error mentioning %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), testToken) {
					t.Errorf("the error holds the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if want := fmt.Sprintf("baseURL: %q", tc.wantURL); !strings.Contains(c.String(), want) {
				t.Errorf("client %v, want %s", c, want)
			}
		})
	}
}

// TestMalformedTokenIsRefused: a token that no HTTP header can carry (a newline read with it
// from a file, a control character), or one that holds what no bearer token does (a space, a
// byte-order mark, a quote pasted with it), is refused by New, which names the offending
// character without printing the token, and nothing is sent. Before, New accepted it and
// every attempt failed in the transport, so the call was retried as if the network were at
// fault.
func TestMalformedTokenIsRefused(t *testing.T) {
	t.Parallel()
	for name, token := range map[string]string{
		"trailing newline":   "vcp_SECRETPART_1234\n",
		"CRLF and a header":  "vcp_SECRETPART_1234\r\nX-Injected: 1",
		"NUL":                "vcp_SECRETPART\x001234",
		"DEL":                "vcp_SECRETPART\x7f1234",
		"escape sequence":    "\x1b[31mvcp_SECRETPART_1234",
		"leading line break": "\nvcp_SECRETPART_1234",
		"trailing space":     "vcp_SECRETPART_1234 ",
		"byte-order mark":    "\ufeffvcp_SECRETPART_1234",
		"smart quotes":       "\u201cvcp_SECRETPART_1234\u201d",
		"invalid UTF-8":      "vcp_SECRETPART_1234\xff",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var seen atomic.Int32
			srv := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen.Add(1) }))
			clock := &fakeClock{}
			c, err := edgecache.New(token, edgecache.WithBaseURL(srv.URL), edgecache.WithHTTPClient(callerClient(t, nil)), clock.Option())
			if err == nil {
				for _, op := range everyOperation() {
					_, err = op.call(t.Context(), c)
				}
				t.Fatalf("New accepted a token that cannot be a header value; the server then saw %d requests and the last call ended with %v", seen.Load(), err)
			}
			if msg := err.Error(); strings.Contains(msg, "SECRETPART") || !strings.Contains(msg, "token holds U+") {
				t.Errorf("error %q, want one that names the token's problem without printing it", msg)
			}
			if seen.Load() != 0 {
				t.Errorf("the server saw %d requests", seen.Load())
			}
		})
	}
}

// TestTokenIsSentAndNeverPrinted: every operation sends the token in exactly one
// Authorization header, on every attempt, and no printed form of the client, its results or
// its errors, nor its log, holds it.
func TestTokenIsSentAndNeverPrinted(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// The calls are made one at a time; mode says how the server answers the next one.
	var (
		mu    sync.Mutex
		mode  string
		calls int
		auth  [][]string
	)
	srv := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Values("Authorization"))
		calls++
		m, n := mode, calls
		mu.Unlock()
		switch {
		case m == "retry-then-ok" && n == 1:
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"error":{"code":"internal","message":"try again"}}`)
		case m == "unauthorized":
			w.Header().Set("X-Vercel-Id", "id-1")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":{"code":"forbidden","message":"Not authorized"}}`)
		case m == "no-answer":
			panic(http.ErrAbortHandler) // closes the connection without an answer
		default:
			w.Header().Set("X-Vercel-Id", "id-2")
			_, _ = io.WriteString(w, "{}")
		}
	}))
	c := clientOf(t, srv, edgecache.WithLogger(logger), (&fakeClock{}).Option(),
		edgecache.WithRetry(edgecache.RetryPolicy{MaxAttempts: 2}))

	var texts []string
	add := func(label string, v any) {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			texts = append(texts, label+" "+verb+": "+fmt.Sprintf(verb, v))
		}
	}
	add("client", c)
	add("*client", *c) // a dereferenced copy must not reveal the token either
	sent := 0
	for _, op := range everyOperation() {
		for _, m := range []string{"retry-then-ok", "unauthorized", "no-answer"} {
			mu.Lock()
			mode, calls = m, 0
			mu.Unlock()
			res, err := op.call(t.Context(), c)
			switch m {
			case "retry-then-ok":
				if err != nil || res.Attempts != 2 {
					t.Fatalf("%s %s: (%+v, %v), want success after 2 attempts", op.id, m, res, err)
				}
				add("result", res)
				add("*result", *res)
				sent += 2
			case "unauthorized":
				apiErr, ok := errors.AsType[*edgecache.APIError](err)
				if !ok {
					t.Fatalf("%s %s: error %v is not an *APIError", op.id, m, err)
				}
				add("APIError", apiErr)
				add("*APIError", *apiErr)
				sent++
			case "no-answer":
				tErr, ok := errors.AsType[*edgecache.TransportError](err)
				if !ok {
					t.Fatalf("%s %s: error %T (%v) is not a *TransportError", op.id, m, err, err)
				}
				add("TransportError", tErr)
				add("*TransportError", *tErr)
				sent += 2
			}
		}
	}
	if _, err := edgecache.New(testToken, edgecache.WithBaseURL("http://example.com")); err == nil {
		t.Error("New accepted a plain-http base URL")
	} else {
		add("New error", err)
	}
	if !strings.Contains(logs.String(), "retrying") {
		t.Errorf("the retry was not logged; the log check below would prove nothing:\n%s", logs.String())
	}
	texts = append(texts, "logs: "+logs.String())
	for _, text := range texts {
		if strings.Contains(text, testToken) {
			t.Errorf("the token appears in %s", text)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(auth) != sent {
		t.Errorf("the server saw %d requests, want %d", len(auth), sent)
	}
	for i, got := range auth {
		if len(got) != 1 || got[0] != "Bearer "+testToken {
			t.Errorf("request %d: Authorization has %d values, want exactly %q", i, len(got), "Bearer <testToken>")
		}
	}
}

// logBuffer is a bytes.Buffer safe for concurrent writers, for logs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// answerOK answers 200 {} to anything: a login page, or an endpoint that took the purge.
var answerOK = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "{}") })

// TestRedirectAuthorization: a 307 or 308 to the same origin re-sends the method, the body and
// the token, for every operation and with the default client as with a caller's.
func TestRedirectAuthorization(t *testing.T) {
	t.Parallel()
	for _, op := range everyOperation() {
		for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
			for clientName, hc := range map[string]func(testing.TB) *http.Client{
				"default client":  defaultClient,
				"caller's client": func(t testing.TB) *http.Client { return callerClient(t, nil) },
			} {
				t.Run(fmt.Sprintf("%s %d %s", op.id, status, clientName), func(t *testing.T) {
					t.Parallel()
					mux := http.NewServeMux()
					mux.Handle("/moved/", answerOK)
					mux.HandleFunc(op.path, func(w http.ResponseWriter, r *http.Request) {
						http.Redirect(w, r, "/moved"+r.URL.RequestURI(), status)
					})
					rec := &rawRecorder{next: mux}
					c := clientOf(t, newHTTPServer(t, rec), edgecache.WithHTTPClient(hc(t)), noRetry)

					res, err := op.call(t.Context(), c)

					if err != nil || res.StatusCode != 200 || res.Attempts != 1 {
						t.Fatalf("got (%+v, %v), want success after 1 attempt", res, err)
					}
					seen := rec.Seen()
					if len(seen) != 2 || seen[1].Path != "/moved"+op.path {
						t.Fatalf("the server saw %+v, want the request and its redirect", seen)
					}
					for i, s := range seen {
						if s.Method != http.MethodPost || s.Header.Get("Authorization") != "Bearer "+testToken || !bytes.Equal(s.Body, seen[0].Body) || len(s.Body) == 0 {
							t.Errorf("request %d: %s with Authorization %t and body %q; want POST, the token and the original body",
								i, s.Method, s.Header.Get("Authorization") == "Bearer "+testToken, s.Body)
						}
					}
				})
			}
		}
	}
}

// TestRedirectsThatCouldLoseThePurgeAreRefused: on a 301, 302 or 303 net/http re-sends the POST
// as a GET without its body, and a login page's 200 then looked like a purge; a 307 or 308 to
// another origin hands the purge to a server that was never chosen. Both are refused, for every
// operation, whatever the caller's own redirect policy: nothing is counted as purged, the
// target sees nothing, and the refusal is not retried.
func TestRedirectsThatCouldLoseThePurgeAreRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		status int
		target func(self, other string) string // the redirect's target, from the two servers' URLs
	}{
		{"301 to a login page", http.StatusMovedPermanently, func(self, _ string) string { return self + "/login" }},
		{"302 to a login page", http.StatusFound, func(self, _ string) string { return self + "/login" }},
		{"303 to a login page", http.StatusSeeOther, func(self, _ string) string { return self + "/login" }},
		{"307 to another host name", http.StatusTemporaryRedirect, func(self, _ string) string {
			return strings.Replace(self, "://127.0.0.1:", "://localhost:", 1) + "/login"
		}},
		{"308 to another port", http.StatusPermanentRedirect, func(_, other string) string { return other + "/login" }},
	}
	for _, op := range everyOperation() {
		for _, tc := range cases {
			for clientName, hc := range map[string]func(testing.TB) *http.Client{
				"default client":                defaultClient,
				"caller's client following all": func(t testing.TB) *http.Client { return callerClient(t, followEverything) },
			} {
				t.Run(fmt.Sprintf("%s %s %s", op.id, tc.name, clientName), func(t *testing.T) {
					t.Parallel()
					target := &rawRecorder{next: answerOK}
					other := newHTTPServer(t, target)
					var selfURL string
					mux := http.NewServeMux()
					mux.Handle("/login", target)
					mux.HandleFunc(op.path, func(w http.ResponseWriter, r *http.Request) {
						http.Redirect(w, r, tc.target(selfURL, other.URL), tc.status)
					})
					origin := &rawRecorder{next: mux}
					srv := newHTTPServer(t, origin)
					selfURL = srv.URL
					c := clientOf(t, srv, edgecache.WithHTTPClient(hc(t)), (&fakeClock{}).Option())

					res, err := op.call(t.Context(), c)

					if res != nil || err == nil {
						t.Fatalf("got (%+v, %v); want the redirect refused", res, err)
					}
					apiErr, ok := errors.AsType[*edgecache.APIError](err)
					if !ok || apiErr.StatusCode != tc.status || apiErr.Attempts != 1 || !strings.Contains(err.Error(), "redirect") {
						t.Errorf("error %T %v; want an *APIError with status %d after 1 attempt, naming the redirect", err, err, tc.status)
					}
					if seen := target.Seen(); len(seen) != 0 {
						t.Errorf("the redirect was followed: the target saw %s %s", seen[0].Method, seen[0].Path)
					}
					if n := len(origin.Seen()); n != 1 {
						t.Errorf("the origin saw %d requests, want 1: a refused redirect is not retried", n)
					}
				})
			}
		}
	}
	t.Run("bulk", func(t *testing.T) {
		t.Parallel()
		login := &rawRecorder{next: answerOK}
		mux := http.NewServeMux()
		mux.Handle("/login", login)
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/login", http.StatusFound) })
		c := clientOf(t, newHTTPServer(t, mux))
		tags := make([]string, 40)
		for i := range tags {
			tags[i] = fmt.Sprintf("t%d", i)
		}
		res, err := c.Bulk(t.Context(), edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: testProject, Tags: edgecache.TagList(tags...)}, edgecache.BulkOptions{})
		failed := 0
		for _, f := range res.Failed {
			failed += len(f.Items)
			if f.Status != http.StatusFound {
				t.Errorf("a failed batch has status %d, want 302", f.Status)
			}
		}
		if _, ok := errors.AsType[*edgecache.BulkError](err); !ok || len(res.Purged) != 0 || failed+len(res.NotAttempted) != len(tags) {
			t.Errorf("purged %d, failed %d, not attempted %d, error %v; want nothing purged", len(res.Purged), failed, len(res.NotAttempted), err)
		}
		if n := len(login.Seen()); n != 0 {
			t.Errorf("the login page saw %d requests", n)
		}
	})
}

// TestRedirectLoopEnds: same-origin 307s are followed as net/http follows redirects, at most
// 10 requests in all; the last redirect is then the answer, not retried.
func TestRedirectLoopEnds(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	srv := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Redirect(w, r, r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	c := clientOf(t, srv, (&fakeClock{}).Option())
	_, err := everyOperation()[0].call(t.Context(), c)
	if apiErr, ok := errors.AsType[*edgecache.APIError](err); !ok || apiErr.StatusCode != http.StatusTemporaryRedirect || apiErr.Attempts != 1 {
		t.Errorf("error %T %v; want an *APIError with status 307 after 1 attempt", err, err)
	}
	if n := requests.Load(); n != 10 {
		t.Errorf("the server saw %d requests, want 10", n)
	}
}

// TestHTTPSDowngradeIsRefused: net/http keeps Authorization on a redirect to the same host
// even from https to plain http, so such a redirect would send the token in clear. It is
// refused with the default client and with a caller's, for every operation.
func TestHTTPSDowngradeIsRefused(t *testing.T) {
	t.Parallel()
	plain := &rawRecorder{next: answerOK}
	plainURL := newHTTPServer(t, plain).URL
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The same host, in clear: net/http would keep the Authorization header.
		http.Redirect(w, r, plainURL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(secure.Close)
	trust := secure.Client().Transport.(*http.Transport).TLSClientConfig
	clients := map[string]func(t *testing.T) *http.Client{
		"default client": func(t *testing.T) *http.Client {
			hc := defaultClient(t)
			hc.Transport.(*http.Transport).TLSClientConfig = trust.Clone()
			return hc
		},
		"caller's client": func(t *testing.T) *http.Client {
			hc := callerClient(t, nil)
			hc.Transport.(*http.Transport).TLSClientConfig = trust.Clone()
			return hc
		},
	}
	for name, newClient := range clients {
		for _, op := range everyOperation() {
			c, err := edgecache.New(testToken, edgecache.WithBaseURL(secure.URL), edgecache.WithHTTPClient(newClient(t)), noRetry)
			if err != nil {
				t.Fatal(err)
			}
			res, err := op.call(t.Context(), c)
			if apiErr, ok := errors.AsType[*edgecache.APIError](err); !ok || apiErr.StatusCode != http.StatusTemporaryRedirect {
				t.Errorf("%s, %s: got (%+v, %v); want the downgrade refused", name, op.id, res, err)
			}
		}
	}
	if seen := plain.Seen(); len(seen) != 0 {
		t.Errorf("the plain-http server was reached %d times; the first carried the token: %t", len(seen), seen[0].Header.Get("Authorization") == "Bearer "+testToken)
	}
}

// TestClientPrinting: every printed form of a Client, and of a copy of it, names the base URL
// and not the token.
func TestClientPrinting(t *testing.T) {
	t.Parallel()
	c, err := edgecache.New(testToken, edgecache.WithBaseURL("https://proxy.example/vercel"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{c, *c} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			got := fmt.Sprintf(verb, v)
			if strings.Contains(got, testToken) || !strings.Contains(got, "proxy.example/vercel") {
				t.Errorf("%s of %T = %s; want the base URL and no token", verb, v, got)
			}
		}
	}
}
