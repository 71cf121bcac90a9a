package edgecache_test

// Tests of options.go. The errors of every option are in TestNew (client_wrapper_test.go).

import (
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vercelkit/edgecache"
)

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
		_, err := edgecache.New(testToken, edgecache.WithBaseURL(tc.url))
		if (err == nil) != tc.allowed {
			t.Errorf("New with base URL %s: error %v, want allowed=%v", tc.url, err, tc.allowed)
		}
		if err != nil && strings.Contains(err.Error(), testToken) {
			t.Errorf("the error holds the token: %v", err)
		}
		if _, err := edgecache.New(testToken, edgecache.WithBaseURL(tc.url), edgecache.WithInsecureHTTP()); err != nil {
			t.Errorf("New with base URL %s and WithInsecureHTTP: %v", tc.url, err)
		}
	}
}

// TestWithHTTPClientRedirectPolicy: the client's own redirect policy still runs, after the
// wrapper's, on every redirect the wrapper would follow; and New leaves the caller's
// *http.Client as it was, so the caller's other uses of it keep their redirect policy.
func TestWithHTTPClientRedirectPolicy(t *testing.T) {
	t.Parallel()
	var consulted atomic.Int32
	callerSays := errors.New("the caller's policy refuses")
	hc := callerClient(t, func(req *http.Request, via []*http.Request) error {
		consulted.Add(1)
		if strings.HasPrefix(req.URL.Path, "/moved/") {
			return callerSays
		}
		return nil
	})
	mux := http.NewServeMux()
	mux.Handle("/page", answerOK)
	mux.HandleFunc("/old-page", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/page", http.StatusFound) })
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/moved"+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	})
	srv := newHTTPServer(t, mux)
	c := clientOf(t, srv, edgecache.WithHTTPClient(hc), noRetry)

	for _, op := range everyOperation() {
		_, err := op.call(t.Context(), c)
		if _, ok := errors.AsType[*edgecache.TransportError](err); !ok || !errors.Is(err, callerSays) {
			t.Errorf("%s: error %T %v, want a *TransportError carrying the caller's refusal", op.id, err, err)
		}
	}
	if n := consulted.Load(); n != int32(len(everyOperation())) {
		t.Errorf("the caller's policy was consulted %d times, want once per operation", n)
	}

	// The caller's own client, used directly, still follows a 302 as its policy allows.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/old-page", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("the caller's client: %v", err)
	}
	_ = resp.Body.Close()
	if resp.Request.URL.Path != "/page" || resp.StatusCode != http.StatusOK {
		t.Errorf("the caller's client ended at %s with %d; want /page with 200: New changed its redirect policy", resp.Request.URL.Path, resp.StatusCode)
	}
}
