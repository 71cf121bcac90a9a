package edgecachetest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/edgecachetest"
)

const endpoint = "/v1/edge-cache/dangerously-delete-by-tags"

// answer is one raw HTTP answer of the fake.
type answer struct {
	status int
	header http.Header
	body   string
	code   string // the envelope's error.code, "" when the body is not an envelope
	msg    string // the envelope's error.message
}

// call sends a raw request to s: method, path with query, body ("" for none) and headers
// given as "Name: value" pairs. Unless faulted is set, it checks what every answer of the
// fake must satisfy: a status the spec declares, an x-vercel-id, and for errors a JSON
// envelope whose code is set.
func call(t *testing.T, s *edgecachetest.Server, method, target, body string, faulted bool, headers ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL+target, rd)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(name, strings.TrimSpace(value))
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	data, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close() // read to the end: nothing left to report
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, body: string(data)}
	var env struct {
		Error *struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(data, &env) == nil && env.Error != nil {
		a.code, a.msg = env.Error.Code, env.Error.Message
	}
	if !strings.HasPrefix(resp.Header.Get("X-Vercel-Id"), "fake1::") {
		t.Errorf("%s %s: x-vercel-id = %q, want fake1::…", method, target, resp.Header.Get("X-Vercel-Id"))
	}
	if faulted {
		return a
	}
	if !specDeclares(t, a.status) {
		t.Errorf("%s %s: answered %d, which the spec does not declare for the operation", method, target, a.status)
	}
	if a.status == http.StatusOK {
		if a.body != "" {
			t.Errorf("200 with body %q, want an empty body", a.body)
		}
		return a
	}
	if a.code == "" || a.msg == "" {
		t.Errorf("%s %s: %d body %q is not an envelope with code and message", method, target, a.status, a.body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, target, ct)
	}
	return a
}

// post is call with a valid token and a JSON content type.
func post(t *testing.T, s *edgecachetest.Server, query, body string, headers ...string) answer {
	t.Helper()
	headers = append([]string{"Authorization: Bearer " + s.Token(), "Content-Type: application/json"}, headers...)
	return call(t, s, http.MethodPost, endpoint+query, body, false, headers...)
}

var (
	specOnce      sync.Once
	specResponses *openapi3.Responses
)

// specDeclares reports whether the vendored spec lists status among the operation's
// responses. It reads the document independently of the fake.
func specDeclares(t *testing.T, status int) bool {
	t.Helper()
	specOnce.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(edgecache.OpenAPISpec)
		if err != nil {
			panic(err)
		}
		specResponses = doc.Paths.Value(endpoint).Post.Responses
	})
	return specResponses.Status(status) != nil
}

func newServer(t *testing.T, opts ...edgecachetest.Option) *edgecachetest.Server {
	t.Helper()
	s := edgecachetest.NewServer(opts...)
	t.Cleanup(s.Close)
	return s
}

// fastRetry keeps fault tests quick while still retrying.
var fastRetry = edgecache.WithRetry(edgecache.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond})

func newClient(t *testing.T, s *edgecachetest.Server, opts ...edgecache.Option) *edgecache.Client {
	t.Helper()
	c, err := s.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSpecViolationsAnswer400NamingTheField(t *testing.T) {
	s := newServer(t)
	const q = "?projectIdOrName=prj_1"
	many := `["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]`
	tests := []struct {
		name, query, body string
		headers           []string
		wantPrefix        string // the message starts with the field
		wantRule          string // and states the rule
	}{
		{"missing projectIdOrName", "", `{"tags":["a"]}`, nil, "projectIdOrName: ", "required"},
		{"empty projectIdOrName", "?projectIdOrName=", `{"tags":["a"]}`, nil, "projectIdOrName: ", "empty"},
		{"empty body", q, "", nil, "tags: ", "required"},
		{"malformed JSON", q, `{"tags":`, nil, "body: ", "JSON"},
		{"body not an object", q, `["a"]`, nil, "body: ", "object"},
		{"missing tags", q, `{}`, nil, "tags: ", "required"},
		{"17 tags", q, `{"tags":` + many + `}`, nil, "tags: ", "at most 16 items (got 17)"},
		{"no tags", q, `{"tags":[]}`, nil, "tags: ", "at least 1 item"},
		{"257-char tag", q, `{"tags":["ok","` + strings.Repeat("x", 257) + `"]}`, nil, "tags[1]: ", "at most 256 characters (got 257)"},
		{"8197-char string", q, `{"tags":"` + strings.Repeat("y", 8197) + `"}`, nil, "tags: ", "at most 8196 characters (got 8197)"},
		{"tag not a string", q, `{"tags":[1]}`, nil, "tags[0]: ", "must be a string"},
		{"tags null", q, `{"tags":null}`, nil, "tags: ", "an array of strings or a string (got null)"},
		{"tags number", q, `{"tags":5}`, nil, "tags: ", "an array of strings or a string (got number)"},
		{"target staging", q, `{"tags":["a"],"target":"staging"}`, nil, "target: ", `"production", "preview" (got "staging")`},
		{"deadline -1", q, `{"tags":["a"],"revalidationDeadlineSeconds":-1}`, nil, "revalidationDeadlineSeconds: ", "at least 0 (got -1)"},
		{"deadline string", q, `{"tags":["a"],"revalidationDeadlineSeconds":"1"}`, nil, "revalidationDeadlineSeconds: ", "must be an integer (got string)"},
		{"deadline fraction", q, `{"tags":["a"],"revalidationDeadlineSeconds":2.5}`, nil, "revalidationDeadlineSeconds: ", "must be an integer (got number)"},
		{"deadline over a year", q, `{"tags":["a"],"revalidationDeadlineSeconds":31536001}`, nil, "revalidationDeadlineSeconds: ", "at most 31536000 (got 31536001)"},
		{"unknown property", q, `{"tags":["a"],"tag":"b"}`, nil, "tag: ", "unknown property"},
		{"wrong content type", q, `{"tags":["a"]}`, []string{"Content-Type: text/plain"}, "Content-Type: ", "application/json"},
		{"repeated projectIdOrName", q + "&projectIdOrName=prj_2", `{"tags":["a"]}`, nil, "projectIdOrName: ", "once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := post(t, s, tt.query, tt.body, tt.headers...)
			if a.status != http.StatusBadRequest || a.code != "bad_request" {
				t.Fatalf("got %d %q, want 400 bad_request", a.status, a.body)
			}
			if !strings.HasPrefix(a.msg, tt.wantPrefix) || !strings.Contains(a.msg, tt.wantRule) {
				t.Errorf("message %q, want %q…%q", a.msg, tt.wantPrefix, tt.wantRule)
			}
			if strings.Contains(a.msg, "\n") || len(a.msg) > 200 {
				t.Errorf("message is not short and on one line: %q", a.msg)
			}
		})
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d refused requests were recorded", n)
	}
	if got, want := s.Calls(), len(tests); got != want {
		t.Errorf("Calls() = %d, want %d", got, want)
	}
}

func TestAuthentication(t *testing.T) {
	s := newServer(t, edgecachetest.WithTokens("good-token", "other-token"))
	if s.Token() != "good-token" {
		t.Errorf("Token() = %q, want the first listed token", s.Token())
	}
	const q, body = "?projectIdOrName=prj_1", `{"tags":["a"]}`
	tests := []struct {
		name     string
		headers  []string
		body     string
		status   int
		wantCode string
	}{
		{"no header", nil, body, 401, "unauthorized"},
		{"empty bearer", []string{"Authorization: Bearer "}, body, 401, "unauthorized"},
		{"basic scheme", []string{"Authorization: Basic Z29vZC10b2tlbg=="}, body, 401, "unauthorized"},
		{"unknown token", []string{"Authorization: Bearer bad-token"}, body, 403, "forbidden"},
		{"auth before validation", nil, `{"tags":`, 401, "unauthorized"},
		{"token refused before validation", []string{"Authorization: Bearer bad-token"}, `{"tags":`, 403, "forbidden"},
		{"listed token", []string{"Authorization: Bearer other-token"}, body, 200, ""},
		{"scheme is case-insensitive", []string{"Authorization: bearer good-token"}, body, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := append([]string{"Content-Type: application/json"}, tt.headers...)
			a := call(t, s, http.MethodPost, endpoint+q, tt.body, false, h...)
			if a.status != tt.status || a.code != tt.wantCode {
				t.Fatalf("got %d %q, want %d %s", a.status, a.body, tt.status, tt.wantCode)
			}
			if strings.Contains(a.body, "bad-token") || strings.Contains(a.body, "good-token") {
				t.Errorf("the answer repeats a token: %s", a.body)
			}
		})
	}

	t.Run("client sees ErrForbidden", func(t *testing.T) {
		c, err := edgecache.New("bad-token", edgecache.WithBaseURL(s.URL), edgecache.WithHTTPClient(s.Client()))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.DangerouslyDeleteByTags(t.Context(), edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a")})
		apiErr, ok := errors.AsType[*edgecache.APIError](err)
		if !ok || !errors.Is(err, edgecache.ErrForbidden) || apiErr.Code != "forbidden" || !strings.HasPrefix(apiErr.RequestID, "fake1::") {
			t.Fatalf("err = %v, want a 403 forbidden *APIError with a request id", err)
		}
	})

	t.Run("WithTokens() accepts none", func(t *testing.T) {
		s := newServer(t, edgecachetest.WithTokens())
		if a := post(t, s, q, body); a.status != http.StatusForbidden {
			t.Fatalf("got %d %q, want 403", a.status, a.body)
		}
	})

	t.Run("default accepts any token", func(t *testing.T) {
		s := newServer(t)
		a := call(t, s, http.MethodPost, endpoint+q, body, false, "Authorization: Bearer whatever", "Content-Type: application/json")
		if a.status != http.StatusOK {
			t.Fatalf("got %d %q, want 200", a.status, a.body)
		}
	})
}

func TestRoutingAnswers404(t *testing.T) {
	s := newServer(t)
	tests := []struct{ method, target string }{
		{http.MethodGet, endpoint + "?projectIdOrName=p"},
		{http.MethodPut, endpoint + "?projectIdOrName=p"},
		{http.MethodDelete, endpoint},
		{http.MethodPost, "/v1/edge-cache/dangerously-delete-by-tag"},
		{http.MethodPost, endpoint + "/"},
		{http.MethodPost, "/"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			// No token: routing comes before authentication.
			a := call(t, s, tt.method, tt.target, `{"tags":["a"]}`, false, "Content-Type: application/json")
			if a.status != http.StatusNotFound || a.code != "not_found" {
				t.Fatalf("got %d %q, want 404 not_found (405 is not in the spec)", a.status, a.body)
			}
		})
	}
}

func TestProjectsAndTeams(t *testing.T) {
	s := newServer(t, edgecachetest.WithProjects("prj_1", "my-site"), edgecachetest.WithTeams("team_ok", "ok-slug"))
	const body = `{"tags":["a"]}`
	tests := []struct {
		name, query, body string
		status            int
		code              string
	}{
		{"known project by id", "?projectIdOrName=prj_1", body, 200, ""},
		{"known project by name", "?projectIdOrName=my-site", body, 200, ""},
		{"unknown project", "?projectIdOrName=prj_2", body, 404, "not_found"},
		{"validation before project", "?projectIdOrName=prj_2", `{"tags":5}`, 400, "bad_request"},
		{"allowed teamId", "?projectIdOrName=prj_1&teamId=team_ok", body, 200, ""},
		{"allowed slug", "?projectIdOrName=prj_1&slug=ok-slug", body, 200, ""},
		{"unknown teamId", "?projectIdOrName=prj_1&teamId=team_other", body, 403, "forbidden"},
		{"unknown slug", "?projectIdOrName=prj_1&teamId=team_ok&slug=other", body, 403, "forbidden"},
		{"project before team", "?projectIdOrName=prj_2&teamId=team_other", body, 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := post(t, s, tt.query, tt.body)
			if a.status != tt.status || a.code != tt.code {
				t.Fatalf("got %d %q, want %d %s", a.status, a.body, tt.status, tt.code)
			}
		})
	}
	if got := len(s.Requests()); got != 4 {
		t.Errorf("recorded %d requests, want the 4 accepted", got)
	}

	t.Run("client sees ErrNotFound", func(t *testing.T) {
		c := newClient(t, s)
		_, err := c.DangerouslyDeleteByTags(t.Context(), edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "nope", Tags: edgecache.TagList("a")})
		if !errors.Is(err, edgecache.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})
}

func TestRecorder(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s, edgecache.WithUserAgent("my-app/1.0"), edgecache.WithTeamID("team_1"))
	ctx := t.Context()

	res1, err := c.DangerouslyDeleteByTags(ctx, edgecache.DangerouslyDeleteByTagsRequest{
		ProjectIDOrName:             "prj_1",
		Tags:                        edgecache.TagList("blog", "products"),
		Target:                      edgecache.TargetPreview,
		RevalidationDeadlineSeconds: edgecache.Ptr(0),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DangerouslyDeleteByTags(ctx, edgecache.DangerouslyDeleteByTagsRequest{
		ProjectIDOrName: "prj_1",
		Tags:            edgecache.TagString("a,b,c"),
		TeamSlug:        "my-team",
	}); err != nil {
		t.Fatal(err)
	}
	// The array form with a comma in a tag: Vercel splits it, and so does the record.
	if a := post(t, s, "?projectIdOrName=prj_2", `{"tags":["x,y","z"],"revalidationDeadlineSeconds":31536000}`); a.status != 200 {
		t.Fatalf("got %d %q", a.status, a.body)
	}

	reqs := s.Requests()
	if len(reqs) != 3 {
		t.Fatalf("recorded %d requests, want 3", len(reqs))
	}
	r0, r1, r2 := reqs[0], reqs[1], reqs[2]
	if r0.ProjectIDOrName != "prj_1" || r0.TeamID != "team_1" || r0.Slug != "" || r0.TagsForm != edgecachetest.FormArray ||
		!equal(r0.Tags, "blog", "products") || r0.Target != "preview" || r0.UserAgent != "my-app/1.0" {
		t.Errorf("first request recorded as %+v", r0)
	}
	if r0.RevalidationDeadlineSeconds == nil || *r0.RevalidationDeadlineSeconds != 0 {
		t.Errorf("deadline 0 recorded as %v, want a pointer to 0", r0.RevalidationDeadlineSeconds)
	}
	if r0.RequestID != res1.RequestID || r0.Time.IsZero() {
		t.Errorf("request id %q (client saw %q), time %v", r0.RequestID, res1.RequestID, r0.Time)
	}
	if r1.TagsForm != edgecachetest.FormString || !equal(r1.Tags, "a", "b", "c") || r1.Slug != "my-team" ||
		r1.Target != "" || r1.RevalidationDeadlineSeconds != nil {
		t.Errorf("second request recorded as %+v", r1)
	}
	if r2.TagsForm != edgecachetest.FormArray || !equal(r2.Tags, "x", "y", "z") || r2.TeamID != "" ||
		r2.RevalidationDeadlineSeconds == nil || *r2.RevalidationDeadlineSeconds != 31536000 {
		t.Errorf("third request recorded as %+v", r2)
	}

	// Requests returns a copy.
	reqs[0].Tags[0] = "changed"
	*reqs[0].RevalidationDeadlineSeconds = 99
	again := s.Requests()
	if again[0].Tags[0] != "blog" || *again[0].RevalidationDeadlineSeconds != 0 {
		t.Errorf("changing the result of Requests changed the record: %+v", again[0])
	}

	s.Reset()
	if len(s.Requests()) != 0 || s.Calls() != 0 {
		t.Errorf("after Reset: %d requests, %d calls", len(s.Requests()), s.Calls())
	}
}

func TestWithoutRecording(t *testing.T) {
	s := newServer(t, edgecachetest.WithoutRecording())
	c := newClient(t, s)
	if _, err := c.DangerouslyDeleteByTags(t.Context(), edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a")}); err != nil {
		t.Fatal(err)
	}
	if s.Calls() != 1 {
		t.Errorf("Calls = %d, want 1: requests are still counted", s.Calls())
	}
	if reqs := s.Requests(); len(reqs) != 0 {
		t.Errorf("Requests = %v, want none without recording", reqs)
	}
}

func TestBulkThroughTheFake(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	tags := make([]string, 40)
	for i := range tags {
		tags[i] = fmt.Sprintf("tag-%02d", i)
	}
	res, err := c.Bulk(t.Context(), edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "prj_1", Tags: edgecache.TagList(tags...)}, edgecache.BulkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Purged) != 40 {
		t.Fatalf("purged %d tags, want 40", len(res.Purged))
	}
	seen := map[string]bool{}
	for _, r := range s.Requests() {
		if len(r.Tags) > edgecache.MaxTagsPerRequest {
			t.Errorf("a request carried %d tags", len(r.Tags))
		}
		for _, tag := range r.Tags {
			seen[tag] = true
		}
	}
	if len(s.Requests()) != 3 || len(seen) != 40 {
		t.Errorf("%d requests carrying %d distinct tags, want 3 and 40", len(s.Requests()), len(seen))
	}
}

func TestFaults(t *testing.T) {
	const q, body = "?projectIdOrName=prj_1", `{"tags":["a"]}`
	auth := []string{"Authorization: Bearer t", "Content-Type: application/json"}

	t.Run("status and Retry-After for N requests, then normal", func(t *testing.T) {
		s := newServer(t)
		s.FailNext(2, edgecachetest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "7"})
		for i := range 2 {
			// Faults come before validation: even a body that breaks the spec gets the fault.
			a := call(t, s, http.MethodPost, endpoint+q, `{"tags":`, true, auth...)
			if a.status != 429 || a.code != "rate_limited" || a.header.Get("Retry-After") != "7" {
				t.Fatalf("request %d: got %d %v %q, want 429 rate_limited with Retry-After 7", i, a.status, a.header, a.body)
			}
		}
		if a := call(t, s, http.MethodPost, endpoint+q, body, false, auth...); a.status != 200 || a.header.Get("Retry-After") != "" {
			t.Fatalf("after the faults: got %d %v", a.status, a.header)
		}
		if s.Calls() != 3 || len(s.Requests()) != 1 {
			t.Errorf("Calls() = %d, recorded %d; want 3 and 1", s.Calls(), len(s.Requests()))
		}
	})

	t.Run("faults queue in order", func(t *testing.T) {
		s := newServer(t)
		s.FailNext(1, edgecachetest.Fault{Status: http.StatusServiceUnavailable})
		s.FailNext(1, edgecachetest.Fault{Status: http.StatusGone})
		s.FailNext(1, edgecachetest.Fault{Status: http.StatusBadGateway, Body: "<html>upstream down</html>"})
		want := []struct {
			status int
			code   string
		}{{503, "internal_server_error"}, {410, "gone"}, {502, ""}, {200, ""}}
		for i, w := range want {
			a := call(t, s, http.MethodPost, endpoint+q, body, w.status != 200, auth...)
			if a.status != w.status || a.code != w.code {
				t.Fatalf("request %d: got %d %q, want %d %s", i, a.status, a.body, w.status, w.code)
			}
		}
	})

	t.Run("body override is verbatim", func(t *testing.T) {
		s := newServer(t)
		const custom = `{"error":{"code":"rate_limited","message":"slow down","limit":{"remaining":0,"reset":1,"resetMs":1000,"total":10}}}`
		s.FailNext(1, edgecachetest.Fault{Status: 429, Body: custom})
		c := newClient(t, s, edgecache.WithRetry(edgecache.RetryPolicy{MaxAttempts: 1}))
		_, err := c.DangerouslyDeleteByTags(t.Context(), edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a")})
		apiErr, ok := errors.AsType[*edgecache.APIError](err)
		if !ok || apiErr.Message != "slow down" || apiErr.RateLimit == nil || apiErr.RateLimit.Total != 10 {
			t.Fatalf("err = %#v, want the custom envelope", err)
		}
	})

	t.Run("client retries through faults", func(t *testing.T) {
		s := newServer(t)
		s.FailNext(2, edgecachetest.Fault{Status: http.StatusServiceUnavailable})
		c := newClient(t, s, fastRetry)
		res, err := c.DangerouslyDeleteByTags(t.Context(), edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a")})
		if err != nil || res.Attempts != 3 || res.RequestID != "fake1::3" {
			t.Fatalf("res %+v, err %v; want success on attempt 3 with request id fake1::3", res, err)
		}
		if s.Calls() != 3 || len(s.Requests()) != 1 {
			t.Errorf("Calls() = %d, recorded %d", s.Calls(), len(s.Requests()))
		}
	})

	t.Run("Retry-After reaches the client", func(t *testing.T) {
		s := newServer(t)
		s.FailNext(1, edgecachetest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "3"})
		c := newClient(t, s, edgecache.WithRetry(edgecache.RetryPolicy{MaxAttempts: 1}))
		_, err := c.DangerouslyDeleteByTags(t.Context(), edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a")})
		apiErr, ok := errors.AsType[*edgecache.APIError](err)
		if !ok || !errors.Is(err, edgecache.ErrRateLimited) || apiErr.RetryAfter != 3*time.Second || apiErr.Code != "rate_limited" {
			t.Fatalf("err = %v, want 429 rate_limited with RetryAfter 3s", err)
		}
	})

	t.Run("dropped connection", func(t *testing.T) {
		s := newServer(t)
		s.FailNext(1, edgecachetest.Fault{DropConnection: true})
		c := newClient(t, s, edgecache.WithRetry(edgecache.RetryPolicy{MaxAttempts: 1}))
		req := edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a")}
		_, err := c.DangerouslyDeleteByTags(t.Context(), req)
		if _, ok := errors.AsType[*edgecache.TransportError](err); !ok {
			t.Fatalf("err = %v, want a *TransportError", err)
		}
		if res, err := c.DangerouslyDeleteByTags(t.Context(), req); err != nil || res.StatusCode != 200 {
			t.Fatalf("after the drop: %v", err)
		}
		if s.Calls() != 2 || len(s.Requests()) != 1 {
			t.Errorf("Calls() = %d, recorded %d", s.Calls(), len(s.Requests()))
		}
	})

	t.Run("latency only", func(t *testing.T) {
		s := newServer(t)
		const latency = 300 * time.Millisecond
		s.FailNext(1, edgecachetest.Fault{Latency: latency})
		start := time.Now()
		a := call(t, s, http.MethodPost, endpoint+q, body, false, auth...)
		if elapsed := time.Since(start); a.status != 200 || elapsed < latency {
			t.Fatalf("got %d after %v, want 200 after at least %v", a.status, elapsed, latency)
		}
		start = time.Now()
		if a := call(t, s, http.MethodPost, endpoint+q, body, false, auth...); a.status != 200 || time.Since(start) >= latency {
			t.Errorf("the second request was delayed too: %v", time.Since(start))
		}
	})

	t.Run("latency then status", func(t *testing.T) {
		s := newServer(t, edgecachetest.WithLatency(30*time.Millisecond))
		s.FailNext(1, edgecachetest.Fault{Status: 500, Latency: 30 * time.Millisecond})
		start := time.Now()
		a := call(t, s, http.MethodPost, endpoint+q, body, true, auth...)
		if elapsed := time.Since(start); a.status != 500 || a.code != "internal_server_error" || elapsed < 60*time.Millisecond {
			t.Fatalf("got %d %q after %v, want 500 after at least 60ms", a.status, a.body, elapsed)
		}
	})

	t.Run("invalid status panics", func(t *testing.T) {
		s := newServer(t)
		defer func() {
			if recover() == nil {
				t.Error("FailNext(1, Fault{Status: 42}) did not panic")
			}
		}()
		s.FailNext(1, edgecachetest.Fault{Status: 42})
	})

	t.Run("Reset drops pending faults", func(t *testing.T) {
		s := newServer(t)
		s.FailNext(5, edgecachetest.Fault{Status: 503})
		s.Reset()
		if a := call(t, s, http.MethodPost, endpoint+q, body, false, auth...); a.status != 200 {
			t.Fatalf("got %d after Reset", a.status)
		}
	})
}

// syncBuffer is a bytes.Buffer safe for the logger and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLatencyHonoursCancellation(t *testing.T) {
	var logs syncBuffer
	s := newServer(t, edgecachetest.WithLatency(time.Hour), edgecachetest.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	c := newClient(t, s, edgecache.WithRetry(edgecache.RetryPolicy{MaxAttempts: 1}))

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.DangerouslyDeleteByTags(ctx, edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	// The handler must notice the client left and stop sleeping, long before the hour.
	for !strings.Contains(logs.String(), "client gone") {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("the handler is still sleeping after the client left; log: %s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(s.Requests()) != 0 {
		t.Errorf("a request the client abandoned was recorded")
	}
}

func TestCloseEndsPendingLatency(t *testing.T) {
	s := edgecachetest.NewServer(edgecachetest.WithLatency(time.Hour))
	c, err := s.NewClient(edgecache.WithRetry(edgecache.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.DangerouslyDeleteByTags(context.Background(), edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a")})
		errc <- err
	}()
	for s.Calls() == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with a request waiting", d)
	}
	if err := <-errc; err == nil {
		t.Error("the waiting request got a success, want a transport error")
	}
}

func TestLogger(t *testing.T) {
	var logs syncBuffer
	s := newServer(t, edgecachetest.WithTokens("secret-token-value"), edgecachetest.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	post(t, s, "?projectIdOrName=prj_log", `{"tags":["a"]}`)
	post(t, s, "?projectIdOrName=prj_log", `{"tags":["a"],"target":"staging"}`)
	call(t, s, http.MethodPost, endpoint+"?projectIdOrName=prj_log", `{"tags":["a"]}`, false, "Authorization: Bearer wrong-token-value", "Content-Type: application/json")

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d log lines, want one per request:\n%s", len(lines), logs.String())
	}
	wants := []struct {
		status float64
		code   string
	}{{200, ""}, {400, "bad_request"}, {403, "forbidden"}}
	for i, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["method"] != "POST" || rec["path"] != endpoint || rec["project"] != "prj_log" ||
			rec["status"] != wants[i].status || wants[i].code != "" && rec["code"] != wants[i].code || rec["duration"] == nil {
			t.Errorf("line %d = %s", i, line)
		}
	}
	if strings.Contains(logs.String(), "secret-token-value") || strings.Contains(logs.String(), "wrong-token-value") {
		t.Errorf("the log holds a token:\n%s", logs.String())
	}
}

func TestConcurrentUse(t *testing.T) {
	s := newServer(t)
	const workers, each, faults = 8, 25, 10
	// More attempts than faults, so that every call succeeds however the faults fall.
	c := newClient(t, s, edgecache.WithRetry(edgecache.RetryPolicy{MaxAttempts: faults + 1, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	s.FailNext(faults, edgecachetest.Fault{Status: http.StatusServiceUnavailable})

	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				_, err := c.DangerouslyDeleteByTags(t.Context(), edgecache.DangerouslyDeleteByTagsRequest{
					ProjectIDOrName: fmt.Sprintf("prj_%d", w),
					Tags:            edgecache.TagList(fmt.Sprintf("w%d-%d", w, i)),
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				_ = s.Requests()
				_ = s.Calls()
			}
		}
	})
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	reqs := s.Requests()
	if len(reqs) != workers*each || s.Calls() != workers*each+faults {
		t.Fatalf("recorded %d, Calls() = %d; want %d and %d", len(reqs), s.Calls(), workers*each, workers*each+faults)
	}
	ids := map[string]bool{}
	tags := map[string]bool{}
	for _, r := range reqs {
		ids[r.RequestID] = true
		tags[r.Tags[0]] = true
	}
	if len(ids) != len(reqs) || len(tags) != len(reqs) {
		t.Errorf("%d distinct request ids and %d distinct tags for %d requests", len(ids), len(tags), len(reqs))
	}
}

func equal(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}
