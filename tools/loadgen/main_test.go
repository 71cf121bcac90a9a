package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// seen is a test server that counts the requests it gets by method and URL, and answers
// with a header bench-cdn.sh counts.
type seen struct {
	mu    sync.Mutex
	urls  map[string]int
	first map[string]string // a request's body and Authorization, by method
}

func newSeen(t *testing.T) (*seen, *httptest.Server) {
	s := &seen{urls: map[string]int{}, first: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.urls[r.Method+" "+r.URL.RequestURI()]++
		s.first[r.Method] = string(body) + "|" + r.Header.Get("Authorization")
		n := len(s.urls)
		s.mu.Unlock()
		if n%2 == 0 {
			w.Header().Set("X-Cache", "HIT")
		} else {
			w.Header().Set("X-Cache", "MISS")
		}
		_, _ = io.WriteString(w, "page")
	}))
	t.Cleanup(srv.Close)
	return s, srv
}

func siteConfig(t *testing.T, base string, urls int, unique, netHTTP bool) config {
	t.Helper()
	variants, uniqueURL, err := siteURLs(base, urls, unique)
	if err != nil {
		t.Fatal(err)
	}
	return config{method: http.MethodGet, variants: variants, unique: uniqueURL, concurrency: 3, total: 30,
		timeout: 5 * time.Second, duration: time.Second, netHTTP: netHTTP, countHeader: "X-Cache"}
}

func TestGetCyclesThroughItsURLs(t *testing.T) {
	for _, netHTTP := range []bool{false, true} {
		s, srv := newSeen(t)
		rep, err := run(siteConfig(t, srv.URL+"/page?lang=en", 3, false, netHTTP))
		if err != nil {
			t.Fatal(err)
		}
		// The first request (before the run) is the 3rd URL, then 30 spread over all three.
		want := map[string]int{"GET /page?lang=en&n=0": 10, "GET /page?lang=en&n=1": 10, "GET /page?lang=en&n=2": 11}
		if rep.Requests != 30 || rep.Errors != 0 || len(s.urls) != 3 {
			t.Fatalf("nethttp %v: %d requests, %d errors, URLs %v; want 30, 0 and %v", netHTTP, rep.Requests, rep.Errors, s.urls, want)
		}
		for u, n := range want {
			if s.urls[u] != n {
				t.Errorf("nethttp %v: %s asked %d times, want %d (all: %v)", netHTTP, u, s.urls[u], n, s.urls)
			}
		}
		if got := rep.HeaderCounts["HIT"] + rep.HeaderCounts["MISS"]; got != 30 || rep.Header != "X-Cache" {
			t.Errorf("nethttp %v: header %q counted %v, want 30 answers", netHTTP, rep.Header, rep.HeaderCounts)
		}
		if s.first["GET"] != "|" {
			t.Errorf("nethttp %v: a GET sent body|Authorization %q, want none", netHTTP, s.first["GET"])
		}
	}
}

func TestGetUniqueNeverRepeatsAURL(t *testing.T) {
	for _, netHTTP := range []bool{false, true} {
		s, srv := newSeen(t)
		rep, err := run(siteConfig(t, srv.URL+"/page", 1, true, netHTTP))
		if err != nil {
			t.Fatal(err)
		}
		if rep.Requests != 30 || len(s.urls) != 31 {
			t.Errorf("nethttp %v: %d requests measured, %d distinct URLs; want 30 and 31 (with the first)", netHTTP, rep.Requests, len(s.urls))
		}
		for u, n := range s.urls {
			if n != 1 || !strings.HasPrefix(u, "GET /page?u=") {
				t.Errorf("nethttp %v: %s asked %d times", netHTTP, u, n)
			}
		}
	}
}

func TestPostSendsAValidPurge(t *testing.T) {
	s, srv := newSeen(t)
	target, err := requestURL(srv.URL, "prj", "")
	if err != nil {
		t.Fatal(err)
	}
	body, err := requestBody(2)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := run(config{method: http.MethodPost, variants: []string{target}, body: body, auth: "Bearer tok",
		concurrency: 2, total: 10, timeout: 5 * time.Second, duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 10 || s.urls["POST "+endpointPath+"?projectIdOrName=prj"] != 11 {
		t.Errorf("%d requests measured, URLs %v", rep.Requests, s.urls)
	}
	if want := `{"tags":["loadgen-0","loadgen-1"],"target":"production"}|Bearer tok`; s.first["POST"] != want {
		t.Errorf("sent %q, want %q", s.first["POST"], want)
	}
}
