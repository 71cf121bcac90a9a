package edgecachetest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/edgecachetest"
)

// The tests of this file follow a newcomer's first hour with the fake (issue 18).

// GET /__admin/, the URL serve prints, is an index of the admin API, not a 404.
func TestAdminIndexListsEveryPath(t *testing.T) {
	// With an origin, so that the CDN's paths (/__admin/cache) are served too.
	origin := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(origin.Close)
	s := newAdminServer(t, edgecachetest.WithOrigin(origin.URL))
	for _, target := range []string{"/__admin/", "/__admin"} {
		status, header, body := adminCall(t, s, http.MethodGet, target, "")
		if status != http.StatusOK || header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET %s: %d %q %s", target, status, header.Get("Content-Type"), body)
		}
		if !bytes.Contains(body, []byte("\n  ")) {
			t.Errorf("GET %s is not indented for reading:\n%s", target, body)
		}
		var index struct {
			Endpoints []struct{ Method, Path, Description string } `json:"endpoints"`
		}
		if err := json.Unmarshal(body, &index); err != nil {
			t.Fatalf("GET %s: %v in %s", target, err, body)
		}
		listed := map[string]bool{}
		for _, e := range index.Endpoints {
			if e.Description == "" {
				t.Errorf("%s %s has no description", e.Method, e.Path)
			}
			path, _, _ := strings.Cut(e.Path, "[")
			listed[e.Method+" "+path] = true
			// Every endpoint listed is one the admin API serves; on this fresh server, none of
			// their effects matters.
			var request string
			if e.Method == http.MethodPost && path == "/__admin/faults" {
				request = `{"status":503}`
			}
			if status, _, body := adminCall(t, s, e.Method, path, request); status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
				t.Errorf("the index lists %s %s, which answers %d %s", e.Method, path, status, body)
			}
		}
		for _, want := range []string{"GET /__admin/", "GET /__admin/requests", "DELETE /__admin/requests", "POST /__admin/faults",
			"GET /__admin/faults", "DELETE /__admin/faults", "POST /__admin/reset", "GET /__admin/spec",
			"GET /__admin/cache", "DELETE /__admin/cache", "GET /__admin/clock", "POST /__admin/clock"} {
			if !listed[want] {
				t.Errorf("GET %s does not list %s:\n%s", target, want, body)
			}
		}
	}
	// A wrong path points at the index.
	if status, _, body := adminCall(t, s, http.MethodGet, "/__admin/request", ""); status != http.StatusNotFound || !bytes.Contains(body, []byte("GET /__admin/ lists its paths")) {
		t.Errorf("GET /__admin/request: %d %s", status, body)
	}
}

// A fault can ask for a wait under a second with retry-after-ms, which the client prefers to
// Retry-After's whole seconds: a test of a 429 then waits milliseconds.
func TestFaultRetryAfterMs(t *testing.T) {
	const tags = pathDangerouslyDeleteByTags + "?projectIdOrName=p"
	const body = `{"tags":["a"]}`

	t.Run("in Go", func(t *testing.T) {
		s := newServer(t)
		s.FailNext(1, edgecachetest.Fault{Status: http.StatusTooManyRequests, RetryAfterMs: "20"})
		a := post2(t, s, tags, body)
		if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After-Ms") != "20" || a.header.Get("Retry-After") != "" {
			t.Fatalf("got %d %v", a.status, a.header)
		}
	})
	t.Run("through the admin API", func(t *testing.T) {
		s := newAdminServer(t)
		status, _, queued := adminCall(t, s, http.MethodPost, "/__admin/faults", `{"status":429,"retryAfterMs":"20"}`)
		if status != http.StatusCreated || !bytes.Contains(queued, []byte(`"retryAfterMs":"20"`)) {
			t.Fatalf("POST /__admin/faults: %d %s", status, queued)
		}
		if _, _, list := adminCall(t, s, http.MethodGet, "/__admin/faults", ""); !bytes.Contains(list, []byte(`"retryAfterMs":"20"`)) {
			t.Errorf("GET /__admin/faults = %s, want the fault's retryAfterMs", list)
		}
		if a := post2(t, s, tags, body); a.status != http.StatusTooManyRequests || a.header.Get("Retry-After-Ms") != "20" {
			t.Fatalf("got %d %v", a.status, a.header)
		}
	})
	t.Run("the client waits what it asks", func(t *testing.T) {
		s := newServer(t)
		var log bytes.Buffer
		c := newClient(t, s, edgecache.WithLogger(slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))))
		s.FailNext(1, edgecachetest.Fault{Status: http.StatusTooManyRequests, RetryAfterMs: "20"})
		res, err := c.InvalidateByTags(context.Background(), edgecache.InvalidateByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a")})
		if err != nil || res.Attempts != 2 {
			t.Fatalf("res %+v, err %v; want success on the second attempt", res, err)
		}
		if !strings.Contains(log.String(), "wait=20ms") {
			t.Errorf("the retry did not wait the 20 ms asked for:\n%s", log.String())
		}
	})
}

// A recorded request prints readably: its body as JSON text, not as a list of bytes.
func TestRecordedRequestPrintsItsBody(t *testing.T) {
	s := newServer(t)
	post2(t, s, pathInvalidateByTags+"?projectIdOrName=p", `{"tags":["blog"]}`)
	rec := s.Journal(edgecachetest.AllOperations).Requests[0]
	if got := fmt.Sprint(rec.Body); got != `{"tags":["blog"]}` {
		t.Errorf("fmt.Sprint(Body) = %s", got)
	}
	if got := fmt.Sprintf("%+v", rec); !strings.Contains(got, `Body:{"tags":["blog"]}`) {
		t.Errorf("%%+v of the request = %s", got)
	}
	// It is still the JSON value in JSON, and reads back.
	data, err := json.Marshal(rec)
	if err != nil || !bytes.Contains(data, []byte(`"body":{"tags":["blog"]}`)) {
		t.Fatalf("json.Marshal = %s, %v", data, err)
	}
	var back edgecachetest.RecordedRequest
	if err := json.Unmarshal(data, &back); err != nil || back.Body.String() != `{"tags":["blog"]}` {
		t.Errorf("read back: %q, %v", back.Body, err)
	}
	if none := (edgecachetest.RawJSON(nil)); fmt.Sprint(none) != "" {
		t.Errorf("an empty body prints %q", none)
	}
	if data, err := json.Marshal(edgecachetest.RecordedRequest{}); err != nil || !bytes.Contains(data, []byte(`"body":null`)) {
		t.Errorf("no body marshals as %s, %v; want null", data, err)
	}
}
