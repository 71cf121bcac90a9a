package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/edgecachetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		if err := os.RemoveAll(builtDir); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	builtDir  string
	builtBin  string
	buildErr  error
)

// edgecacheBinary builds the command once per test run, for the tests that need a real
// process. EDGECACHE_TEST_BIN names a binary to test instead, such as an older build, to
// see such a test fail before a fix.
func edgecacheBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("EDGECACHE_TEST_BIN"); bin != "" {
		return bin
	}
	buildOnce.Do(func() {
		if builtDir, buildErr = os.MkdirTemp("", "edgecache-test-"); buildErr != nil {
			return
		}
		builtBin = filepath.Join(builtDir, "edgecache")
		// go test puts its own toolchain first in PATH, so "go" is the Go running the tests.
		out, err := exec.CommandContext(context.Background(), "go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// harness runs the command in-process, with its own streams, environment and directory.
type harness struct {
	env      map[string]string
	dir      string
	stdin    io.Reader // default: empty
	terminal bool
	ctx      context.Context // default: the test's
}

type outcome struct {
	code           int
	stdout, stderr string
}

func (h harness) run(t *testing.T, args ...string) outcome {
	t.Helper()
	var stdout, stderr bytes.Buffer
	dir := h.dir
	if dir == "" {
		dir = t.TempDir()
	}
	stdin := h.stdin
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	ctx := h.ctx
	if ctx == nil {
		ctx = t.Context()
	}
	code := run(ctx, args, env{
		stdin:      stdin,
		stdout:     &stdout,
		stderr:     &stderr,
		getenv:     func(k string) string { return h.env[k] },
		dir:        dir,
		isTerminal: func(any) bool { return h.terminal },
	})
	return outcome{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// against returns the flags that point the command at a server with the fake's token.
func against(s *edgecachetest.Server) []string {
	return []string{"--api-url", s.URL, "--token", s.Token()}
}

func deleteArgs(s *edgecachetest.Server, args ...string) []string {
	return append(append([]string{"dangerously-delete"}, against(s)...), args...)
}

// wireRequest is one HTTP request as it arrived, for comparisons at the wire.
type wireRequest struct {
	Method, Path               string
	Query                      url.Values
	Authorization, ContentType string
	Body                       []byte
}

// jsonBody decodes the body, failing the test when it is not JSON.
func (r wireRequest) jsonBody(t *testing.T) map[string]any {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.Body, err)
	}
	return body
}

// recorder is an HTTP server on 127.0.0.1 that keeps every request it gets and answers 200
// (or status) after delay. Unlike edgecachetest it judges nothing: it shows what was sent.
type recorder struct {
	*httptest.Server
	delay  time.Duration
	status int
	mu     sync.Mutex
	reqs   []wireRequest
}

func newRecorder(t *testing.T, delay time.Duration) *recorder {
	t.Helper()
	rec := &recorder{delay: delay, status: http.StatusOK}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, wireRequest{
			Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
			Authorization: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Body: body,
		})
		status := rec.status
		rec.mu.Unlock()
		select {
		case <-time.After(rec.delay):
		case <-r.Context().Done():
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (rec *recorder) requests() []wireRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.reqs)
}

// sentItems is every tag or source image the requests carried, in order.
func sentItems(t *testing.T, reqs []wireRequest) []string {
	t.Helper()
	var items []string
	for _, r := range reqs {
		body := r.jsonBody(t)
		list, _ := body["tags"].([]any)
		if images, ok := body["srcImages"].([]any); ok {
			list = images
		}
		for _, item := range list {
			items = append(items, item.(string))
		}
	}
	return items
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "items.txt")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func numbered(prefix string, n int) []string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf("%s%05d", prefix, i)
	}
	return items
}

// Each verb sends each kind of item to its own operation, with the flags' query and body.
func TestVerbsSendTheirOperation(t *testing.T) {
	cases := []struct {
		args []string
		path string
		body map[string]any
	}{
		{[]string{"invalidate", "--tag", "blog,products", "--tag", "blog", "--target", "production"},
			"/v1/edge-cache/invalidate-by-tags", map[string]any{"tags": []any{"blog", "products"}, "target": "production"}},
		{[]string{"dangerously-delete", "--tag", "blog", "--revalidation-deadline-seconds", "0"},
			"/v1/edge-cache/dangerously-delete-by-tags", map[string]any{"tags": []any{"blog"}, "revalidationDeadlineSeconds": 0.0}},
		{[]string{"invalidate", "--srcimg", "/img/a,b.png", "--srcimg", "/img/c.png"},
			"/v1/edge-cache/invalidate-by-src-images", map[string]any{"srcImages": []any{"/img/a,b.png", "/img/c.png"}}},
		{[]string{"dangerously-delete", "--srcimg", "/img/a.png", "--revalidation-deadline-seconds", "60"},
			"/v1/edge-cache/dangerously-delete-by-src-images", map[string]any{"srcImages": []any{"/img/a.png"}, "revalidationDeadlineSeconds": 60.0}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			rec := newRecorder(t, 0)
			out := harness{}.run(t, append(tc.args, "--project", "demo", "--api-url", rec.URL, "--token", "tok", "--yes")...)
			if out.code != exitOK {
				t.Fatalf("exit %d, stderr %q", out.code, out.stderr)
			}
			reqs := rec.requests()
			if len(reqs) != 1 || reqs[0].Path != tc.path || reqs[0].Query.Get("projectIdOrName") != "demo" {
				t.Fatalf("requests = %+v, want one to %s", reqs, tc.path)
			}
			if body := reqs[0].jsonBody(t); !reflect.DeepEqual(body, tc.body) {
				t.Errorf("body = %v, want %v", body, tc.body)
			}
		})
	}
}

func TestSummaryCountsDistinctItemsInWords(t *testing.T) {
	s := edgecachetest.NewServer()
	defer s.Close()
	// Three values, two distinct tags after trimming: the summary says 2, never 3.
	out := harness{}.run(t, deleteArgs(s, "--project", "demo", "--tag", "blog, products", "--tag", " blog", "--target", "production", "--yes")...)
	if out.code != exitOK {
		t.Fatalf("exit %d, stderr %q", out.code, out.stderr)
	}
	if !strings.Contains(out.stdout, "Deleted 2 tags in project demo (production).") {
		t.Errorf("stdout %q lacks the summary", out.stdout)
	}
	one := harness{}.run(t, append([]string{"invalidate"}, append(against(s), "--project", "demo", "--tag", "blog", "--yes")...)...)
	if !strings.Contains(one.stdout, "Invalidated 1 tag in project demo") {
		t.Errorf("stdout %q: want the singular", one.stdout)
	}
}

func TestUsageErrorsSendNothing(t *testing.T) {
	long := strings.Repeat("x", 257)
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string // in stderr
	}{
		{"no project", []string{"dangerously-delete", "--tag", "blog"}, nil, "no project"},
		{"neither tag nor image", []string{"invalidate", "--project", "demo"}, nil, "--tag or --srcimg option is required"},
		{"tag and image", []string{"invalidate", "--project", "demo", "--tag", "a", "--srcimg", "/a.png"}, nil, "cannot use both"},
		{"tags file and image", []string{"dangerously-delete", "--project", "demo", "--tags-file", "x", "--srcimg", "/a.png"}, nil, "cannot use both"},
		{"deadline on invalidate", []string{"invalidate", "--project", "demo", "--tag", "a", "--revalidation-deadline-seconds", "60"}, nil, "applies to dangerously-delete only"},
		{"target with images", []string{"dangerously-delete", "--project", "demo", "--srcimg", "/a.png", "--target", "production"}, nil, "--target applies to tags only"},
		{"only blank tags", []string{"invalidate", "--project", "demo", "--tag", " , "}, nil, "tags"},
		{"bad target", []string{"invalidate", "--project", "demo", "--tag", "a", "--target", "staging"}, nil, "target"},
		{"tag too long", []string{"dangerously-delete", "--project", "demo", "--tag", long}, nil, "must be at most 256 characters"},
		{"image with a newline", []string{"invalidate", "--project", "demo", "--srcimg", "/a\n.png"}, nil, "srcImages[0]"},
		{"negative deadline", []string{"dangerously-delete", "--project", "demo", "--tag", "a", "--revalidation-deadline-seconds", "-1"}, nil, "revalidationDeadlineSeconds"},
		{"deadline past a year", []string{"dangerously-delete", "--project", "demo", "--srcimg", "/a.png", "--revalidation-deadline-seconds", "31536001"}, nil, "revalidationDeadlineSeconds"},
		{"deadline not a number", []string{"dangerously-delete", "--project", "demo", "--tag", "a", "--revalidation-deadline-seconds", "soon"}, nil, "revalidation-deadline-seconds"},
		{"unknown flag", []string{"invalidate", "--project", "demo", "--tag", "a", "--purge-everything"}, nil, "unknown flag"},
		{"zero concurrency", []string{"invalidate", "--project", "demo", "--tag", "a", "--concurrency", "0"}, nil, "--concurrency"},
		{"missing tags file", []string{"invalidate", "--project", "demo", "--tags-file", "/nonexistent/tags.txt"}, nil, "--tags-file"},
		{"remaining file in no directory", []string{"invalidate", "--project", "demo", "--tag", "a", "--remaining-file", "/nonexistent/left.txt"}, nil, "--remaining-file /nonexistent/left.txt: no such directory"},
		{"missing images file", []string{"invalidate", "--project", "demo", "--srcimgs-file", "/nonexistent/images.txt"}, nil, "--srcimgs-file"},
		{"stray argument", []string{"invalidate", "--project", "demo", "--tag", "a", "extra"}, nil, "did you mean --tag extra?"},
		{"team id and slug", []string{"invalidate", "--project", "demo", "--tag", "a", "--team-id", "team_1", "--scope", "acme"}, nil, "both name the team"},
		{"team id and --slug", []string{"dangerously-delete", "--project", "demo", "--tag", "a", "--team-id", "team_1", "--slug", "acme"}, nil, "both name the team"},
		{"org id without project id", []string{"invalidate", "--tag", "a"}, map[string]string{"VERCEL_ORG_ID": "team_x"}, "set both"},
		{"project id without org id", []string{"invalidate", "--tag", "a"}, map[string]string{"VERCEL_PROJECT_ID": "prj_x"}, "set both"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, 0)
			out := harness{env: tc.env}.run(t, append(tc.args, "--api-url", rec.URL, "--token", "tok", "--yes")...)
			if out.code != exitUsage {
				t.Errorf("exit %d, want %d; stderr %q", out.code, exitUsage, out.stderr)
			}
			if !strings.Contains(out.stderr, tc.want) {
				t.Errorf("stderr %q does not mention %q", out.stderr, tc.want)
			}
			if lines := strings.Count(strings.TrimSpace(out.stderr), "\n"); lines != 0 {
				t.Errorf("error should be one line, got %d:\n%s", lines+1, out.stderr)
			}
			if n := len(rec.requests()); n != 0 {
				t.Errorf("%d requests sent; a usage error must send nothing", n)
			}
		})
	}
}

// Command users get messages in the command's terms: no Go option names, no doubled prefix.
func TestMessagesForCommandUsers(t *testing.T) {
	cases := []struct {
		name, apiURL string
		want         []string
	}{
		{"http to another machine", "http://api.example.com", []string{"--api-url http://api.example.com is refused", "use https"}},
		{"not a URL", "api.vercel.com", []string{`--api-url "api.vercel.com" is not an absolute http(s) URL`}},
		{"a query", "https://api.vercel.com/?x=1", []string{"is not an absolute http(s) URL without a query"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := harness{}.run(t, "invalidate", "--project", "demo", "--tag", "a", "--token", "tok", "--api-url", tc.apiURL, "--yes")
			if out.code != exitUsage {
				t.Errorf("exit %d, want %d", out.code, exitUsage)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.stderr, w) {
					t.Errorf("stderr %q lacks %q", out.stderr, w)
				}
			}
			for _, bad := range []string{"WithInsecureHTTP", "WithBaseURL", "New:", "edgecache: edgecache:"} {
				if strings.Contains(out.stderr, bad) {
					t.Errorf("stderr %q holds %q", out.stderr, bad)
				}
			}
		})
	}
}

func TestWithoutTokenIsUsageError(t *testing.T) {
	out := harness{}.run(t, "invalidate", "--api-url", "http://127.0.0.1:1", "--project", "demo", "--tag", "a", "--yes")
	if out.code != exitUsage || !strings.Contains(out.stderr, "VERCEL_TOKEN") {
		t.Fatalf("exit %d, stderr %q; want exit 2 naming VERCEL_TOKEN", out.code, out.stderr)
	}
}

func TestSplitsLargeSetsAndSendsDuplicatesOnce(t *testing.T) {
	for _, tc := range []struct {
		verb, fileFlag string
		perRequest     int
	}{
		{"dangerously-delete", "--tags-file", edgecache.MaxTagsPerRequest},
		{"invalidate", "--srcimgs-file", edgecache.MaxSrcImagesPerRequest},
	} {
		t.Run(tc.fileFlag, func(t *testing.T) {
			rec := newRecorder(t, 0)
			items := numbered("/item-", 40)
			// Duplicates and blank lines must not produce extra items.
			file := writeFile(t, strings.Join(items, "\n")+"\n\n"+items[0]+"\n  "+items[1]+"  \n")
			out := harness{}.run(t, tc.verb, "--api-url", rec.URL, "--token", "tok", "--project", "demo", tc.fileFlag, file, "--concurrency", "2", "--yes")
			if out.code != exitOK {
				t.Fatalf("exit %d, stderr %q", out.code, out.stderr)
			}
			reqs := rec.requests()
			if want := (40 + tc.perRequest - 1) / tc.perRequest; len(reqs) != want {
				t.Fatalf("%d requests, want %d", len(reqs), want)
			}
			sent := sentItems(t, reqs)
			slices.Sort(sent)
			if !slices.Equal(sent, items) {
				t.Errorf("sent = %v, want each of the 40 once", sent)
			}
			if !strings.Contains(out.stdout, "40 ") {
				t.Errorf("summary %q does not count 40", out.stdout)
			}
		})
	}
}

func TestReadsItemsFromStdin(t *testing.T) {
	rec := newRecorder(t, 0)
	out := harness{stdin: strings.NewReader("/a.png\n/b,c.png\n")}.run(t, "invalidate", "--api-url", rec.URL, "--token", "tok", "--project", "demo", "--srcimgs-file", "-", "--yes")
	if out.code != exitOK {
		t.Fatalf("exit %d, stderr %q", out.code, out.stderr)
	}
	if got := sentItems(t, rec.requests()); !slices.Equal(got, []string{"/a.png", "/b,c.png"}) {
		t.Fatalf("sent %v", got)
	}
}

func TestDryRunPrintsRequestsAndSendsNothing(t *testing.T) {
	s := edgecachetest.NewServer()
	defer s.Close()
	tags := numbered("t", 20)
	out := harness{}.run(t, deleteArgs(s, "--project", "demo", "--team-id", "team_x", "--tag", strings.Join(tags, ","), "--dry-run")...)
	if out.code != exitOK {
		t.Fatalf("exit %d, stderr %q", out.code, out.stderr)
	}
	if s.Calls() != 0 {
		t.Fatalf("dry run sent %d requests", s.Calls())
	}
	if got := strings.Count(out.stdout, "POST "+s.URL+"/v1/edge-cache/dangerously-delete-by-tags?projectIdOrName=demo&teamId=team_x"); got != 2 {
		t.Errorf("dry run printed %d requests, want 2:\n%s", got, out.stdout)
	}
	if strings.Contains(out.stdout+out.stderr, s.Token()) {
		t.Error("dry run output holds the token")
	}

	asJSON := harness{}.run(t, "invalidate", "--api-url", s.URL, "--token", s.Token(), "--project", "demo", "--srcimg", "/a,b.png", "--dry-run", "--json")
	var doc struct {
		DryRun   bool                        `json:"dryRun"`
		Requests []edgecache.PreparedRequest `json:"requests"`
	}
	if err := json.Unmarshal([]byte(asJSON.stdout), &doc); err != nil {
		t.Fatalf("--dry-run --json is not JSON: %v\n%s", err, asJSON.stdout)
	}
	if !doc.DryRun || len(doc.Requests) != 1 || !strings.Contains(doc.Requests[0].URL, "/v1/edge-cache/invalidate-by-src-images?") {
		t.Fatalf("dry run JSON = %+v", doc)
	}
	var body map[string]any
	if err := json.Unmarshal(doc.Requests[0].Body, &body); err != nil || !reflect.DeepEqual(body, map[string]any{"srcImages": []any{"/a,b.png"}}) {
		t.Errorf("dry run body = %s (%v)", doc.Requests[0].Body, err)
	}
}

func TestDryRunNeedsNoToken(t *testing.T) {
	out := harness{}.run(t, "dangerously-delete", "--project", "demo", "--tag", "a", "--dry-run")
	if out.code != exitOK || !strings.Contains(out.stdout, "https://api.vercel.com/v1/edge-cache/dangerously-delete-by-tags?projectIdOrName=demo") {
		t.Fatalf("exit %d, stdout %q, stderr %q", out.code, out.stdout, out.stderr)
	}
}

// partialFailure runs 40 tags against a fake that purges the first request, refuses the
// second and so halts the rest: 16 purged, 16 failed, 8 never sent.
func partialFailure(t *testing.T, extra ...string) (outcome, []string) {
	t.Helper()
	s := edgecachetest.NewServer()
	t.Cleanup(s.Close)
	s.FailNext(1, edgecachetest.Fault{})
	s.FailNext(1, edgecachetest.Fault{Status: http.StatusForbidden})
	tags := numbered("t", 40)
	args := append(deleteArgs(s, "--project", "demo", "--tag", strings.Join(tags, ","), "--concurrency", "1", "--yes"), extra...)
	return harness{}.run(t, args...), tags
}

func TestJSONOutputAccountsForEveryItem(t *testing.T) {
	out, tags := partialFailure(t, "--json")
	if out.code != exitFailure {
		t.Fatalf("exit %d, want %d (partial failure); stderr %q", out.code, exitFailure, out.stderr)
	}
	var res struct {
		Purged []string `json:"purged"`
		Failed []struct {
			Items   []string `json:"items"`
			Status  int      `json:"status"`
			Code    string   `json:"code"`
			Message string   `json:"message"`
		} `json:"failed"`
		NotAttempted []string `json:"notAttempted"`
	}
	if err := json.Unmarshal([]byte(out.stdout), &res); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out.stdout)
	}
	if !slices.Equal(res.Purged, tags[:16]) {
		t.Errorf("purged = %v", res.Purged)
	}
	if len(res.Failed) != 1 || !slices.Equal(res.Failed[0].Items, tags[16:32]) || res.Failed[0].Status != 403 || res.Failed[0].Code != "forbidden" || res.Failed[0].Message == "" {
		t.Errorf("failed = %+v", res.Failed)
	}
	if !slices.Equal(res.NotAttempted, tags[32:]) {
		t.Errorf("notAttempted = %v", res.NotAttempted)
	}
}

func TestPartialFailureTextAndRemainingFile(t *testing.T) {
	remaining := filepath.Join(t.TempDir(), "left.txt")
	out, tags := partialFailure(t, "--remaining-file", remaining)
	if out.code != exitFailure {
		t.Fatalf("exit %d, want %d; stderr %q", out.code, exitFailure, out.stderr)
	}
	for _, want := range []string{
		"Deleted 16 of 40 tags in project demo",
		"Failed: 16 tags (403 forbidden: ",
		"e.g. t00016, t00017, t00018, and 13 more",
		"Not attempted: 8 tags, e.g. t00032, t00033, t00034, and 5 more",
	} {
		if !strings.Contains(out.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out.stdout)
		}
	}
	if strings.Contains(out.stdout, tags[39]) {
		t.Errorf("the text output lists every tag; it should give a few examples:\n%s", out.stdout)
	}
	data, err := os.ReadFile(remaining)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(data)); !slices.Equal(got, tags[16:]) {
		t.Errorf("remaining file = %v, want the 24 tags not purged", got)
	}
	lines := strings.Split(strings.TrimSpace(out.stderr), "\n")
	last := lines[len(lines)-1]
	// A 403 meets every rerun: the way to finish is for once the scope is fixed.
	if !strings.HasPrefix(last, "Once that is fixed, finish with") || !strings.Contains(last, "--tags-file "+remaining) || !strings.Contains(last, "--remaining-file "+remaining) {
		t.Errorf("the last line should say how to finish with the remaining file once the cause is fixed: %q", last)
	}
	if !strings.Contains(out.stderr, "24 of 40 tags not purged") || !strings.Contains(out.stderr, "check the token's scope") {
		t.Errorf("stderr %q should count what was not purged and say what to do", out.stderr)
	}
}

func TestRemainingFileIsEmptyWhenEverythingWasPurged(t *testing.T) {
	s := edgecachetest.NewServer()
	defer s.Close()
	remaining := filepath.Join(t.TempDir(), "left.txt")
	if err := os.WriteFile(remaining, []byte("stale\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := harness{}.run(t, deleteArgs(s, "--project", "demo", "--tag", "a", "--remaining-file", remaining, "--yes")...)
	if out.code != exitOK {
		t.Fatalf("exit %d, stderr %q", out.code, out.stderr)
	}
	if data, err := os.ReadFile(remaining); err != nil || len(data) != 0 {
		t.Errorf("remaining file = %q, %v; want empty", data, err)
	}
}

func TestExitCodeOnAPIFailure(t *testing.T) {
	s := edgecachetest.NewServer(edgecachetest.WithTokens("the-right-token"))
	defer s.Close()
	out := harness{}.run(t, "invalidate", "--api-url", s.URL, "--token", "a-wrong-token", "--project", "demo", "--tag", "a", "--yes")
	if out.code != exitFailure {
		t.Fatalf("exit %d, want %d; stderr %q", out.code, exitFailure, out.stderr)
	}
	if !strings.Contains(out.stdout+out.stderr, "403") || strings.Contains(out.stdout+out.stderr, "a-wrong-token") {
		t.Errorf("output should name the 403 and never the token:\n%s%s", out.stdout, out.stderr)
	}
	if !strings.Contains(out.stderr, "1 of 1 tag not purged") {
		t.Errorf("stderr %q should count what was not purged", out.stderr)
	}
}

// A 404 from a server other than Vercel's API says to check --api-url, not that the project
// does not exist.
func TestNotFoundFromAnotherAPIURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	out := harness{}.run(t, "invalidate", "--api-url", srv.URL+"/wrong", "--token", "tok", "--project", "demo", "--tag", "a", "--yes")
	if out.code != exitFailure {
		t.Fatalf("exit %d, stderr %q", out.code, out.stderr)
	}
	if strings.Contains(out.stderr, "no such project") || !strings.Contains(out.stderr, "--api-url "+srv.URL+"/wrong") {
		t.Errorf("stderr %q should point at --api-url, not claim no such project", out.stderr)
	}
}

func TestExitCodeOnNetworkFailure(t *testing.T) {
	s := httptest.NewServer(http.NotFoundHandler())
	url := s.URL
	s.Close() // nothing listens there any more
	out := harness{}.run(t, "dangerously-delete", "--api-url", url, "--token", "t", "--project", "demo", "--tag", "a", "--yes")
	if out.code != exitFailure {
		t.Fatalf("exit %d, want %d; stderr %q", out.code, exitFailure, out.stderr)
	}
}

// An https --api-url pointed at a plain-http server says so.
func TestHTTPSURLAtAPlainHTTPServer(t *testing.T) {
	rec := newRecorder(t, 0)
	httpsURL := strings.Replace(rec.URL, "http://", "https://", 1)
	out := harness{}.run(t, "invalidate", "--api-url", httpsURL, "--token", "tok", "--project", "demo", "--tag", "a", "--yes")
	if out.code != exitFailure {
		t.Fatalf("exit %d, stderr %q", out.code, out.stderr)
	}
	if !strings.Contains(out.stderr, "the server answered in plain http; use an http:// URL") {
		t.Errorf("stderr %q should explain the scheme mismatch", out.stderr)
	}
}

func linkedDir(t *testing.T, projectJSON string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".vercel"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".vercel", "project.json"), []byte(projectJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestProjectAndTeamDiscovery(t *testing.T) {
	linked := linkedDir(t, `{"projectId":"prj_linked","orgId":"team_linked"}`)
	personal := linkedDir(t, `{"projectId":"prj_mine","orgId":"user_me"}`)
	both := map[string]string{"VERCEL_PROJECT_ID": "prj_env", "VERCEL_ORG_ID": "team_env"}
	cases := []struct {
		name                  string
		dir                   string
		env                   map[string]string
		flags                 []string
		project, teamID, slug string
	}{
		{"project.json", linked, nil, nil, "prj_linked", "team_linked", ""},
		{"personal account in project.json sends no team", personal, nil, nil, "prj_mine", "", ""},
		{"personal account in the environment sends no team", linked, map[string]string{"VERCEL_PROJECT_ID": "prj_env", "VERCEL_ORG_ID": "user_env"}, nil, "prj_env", "", ""},
		{"the environment, set whole, replaces the link", linked, both, nil, "prj_env", "team_env", ""},
		{"flags override both", linked, both, []string{"--project", "flag-app", "--team-id", "team_flag"}, "flag-app", "team_flag", ""},
		{"--scope names the team instead of the org id", linked, nil, []string{"--scope", "my-team"}, "prj_linked", "", "my-team"},
		{"--slug is --scope", linked, nil, []string{"--slug", "my-team"}, "prj_linked", "", "my-team"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, 0)
			out := harness{dir: tc.dir, env: tc.env}.run(t, append(tc.flags, "invalidate", "--api-url", rec.URL, "-t", "tok", "--tag", "a", "--yes")...)
			if out.code != exitOK {
				t.Fatalf("exit %d, stderr %q", out.code, out.stderr)
			}
			reqs := rec.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			q := reqs[0].Query
			if q.Get("projectIdOrName") != tc.project || q.Get("teamId") != tc.teamID || q.Get("slug") != tc.slug {
				t.Errorf("query = %v, want project %q team %q slug %q", q, tc.project, tc.teamID, tc.slug)
			}
			if reqs[0].Authorization != "Bearer tok" {
				t.Errorf("-t: Authorization %q", reqs[0].Authorization)
			}
		})
	}
}

func TestTokenFromEnvironment(t *testing.T) {
	s := edgecachetest.NewServer(edgecachetest.WithTokens("env-token"))
	defer s.Close()
	out := harness{env: map[string]string{"VERCEL_TOKEN": "env-token"}}.run(t, "invalidate", "--api-url", s.URL, "--project", "demo", "--tag", "a", "--yes")
	if out.code != exitOK || len(s.Requests()) != 1 {
		t.Fatalf("exit %d, stderr %q, requests %d", out.code, out.stderr, len(s.Requests()))
	}
}

func TestConfirmation(t *testing.T) {
	t.Run("non-interactive without --yes refuses and shows the rerun command", func(t *testing.T) {
		s := edgecachetest.NewServer()
		defer s.Close()
		out := harness{}.run(t, deleteArgs(s, "--project", "demo", "--tag", "a")...)
		if out.code != exitUsage || s.Calls() != 0 {
			t.Fatalf("exit %d, calls %d; want 2 and none", out.code, s.Calls())
		}
		if !strings.Contains(out.stderr, "edgecache dangerously-delete --project demo --tag a") || !strings.Contains(out.stderr, "--yes") {
			t.Errorf("stderr %q lacks the command to rerun", out.stderr)
		}
		if strings.Contains(out.stderr, s.Token()) {
			t.Error("the rerun command holds the token")
		}
	})
	t.Run("items on stdin need --yes", func(t *testing.T) {
		out := harness{terminal: true, stdin: strings.NewReader("a\n")}.run(t, "invalidate", "--project", "demo", "--tags-file", "-", "--token", "tok")
		if out.code != exitUsage || !strings.Contains(out.stderr, "pass --yes") {
			t.Fatalf("exit %d, stderr %q", out.code, out.stderr)
		}
	})
	cases := []struct {
		name         string
		args         []string
		want, unwant []string
	}{
		{"delete warns of the stampede, counting distinct tags",
			[]string{"dangerously-delete", "--tag", "a,b", "--tag", "a "},
			[]string{"Project:  demo", "Tags:     2 (a, b)", "stampede", "Delete 2 tags? [y/N]"}, []string{"Deadline"}},
		{"a deadline is shown, and then no stampede warning",
			[]string{"dangerously-delete", "--tag", "a", "--revalidation-deadline-seconds", "60"},
			[]string{"Deadline: 60 seconds", "Delete 1 tag? [y/N]"}, []string{"stampede"}},
		{"invalidate does not warn",
			[]string{"invalidate", "--srcimg", "/a.png"},
			[]string{"Source images: 1 (/a.png)", "served stale", "Invalidate 1 source image? [y/N]"}, []string{"stampede", "Target"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, 0)
			out := harness{terminal: true, stdin: strings.NewReader("y\n")}.run(t, append(tc.args, "--project", "demo", "--api-url", rec.URL, "--token", "tok")...)
			if out.code != exitOK || len(rec.requests()) != 1 {
				t.Fatalf("exit %d, requests %d, stderr %q", out.code, len(rec.requests()), out.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.stderr, w) {
					t.Errorf("prompt lacks %q:\n%s", w, out.stderr)
				}
			}
			for _, w := range tc.unwant {
				if strings.Contains(out.stderr, w) {
					t.Errorf("prompt holds %q:\n%s", w, out.stderr)
				}
			}
		})
	}
	// No is a cancel, as with vercel: exit 0, nothing sent, and said so; not a usage error.
	for _, answer := range []string{"n\n", "\n", "maybe\n", ""} {
		t.Run("answered "+strconv.Quote(answer), func(t *testing.T) {
			rec := newRecorder(t, 0)
			out := harness{terminal: true, stdin: strings.NewReader(answer)}.run(t, "invalidate", "--project", "demo", "--tag", "a", "--api-url", rec.URL, "--token", "tok")
			if out.code != exitOK || len(rec.requests()) != 0 {
				t.Fatalf("exit %d, requests %d; want 0 and none", out.code, len(rec.requests()))
			}
			if !strings.HasSuffix(out.stderr, "[y/N] Canceled: nothing was sent.\n") || out.stdout != "" {
				t.Errorf("stderr %q, stdout %q; want the prompt, then the cancel on stderr only", out.stderr, out.stdout)
			}
		})
	}
}

func TestMockNeedsNoTokenNorNetwork(t *testing.T) {
	out := harness{}.run(t, "invalidate", "--mock", "--project", "demo", "--tag", "blog", "--yes")
	if out.code != exitOK || !strings.Contains(out.stdout, "Invalidated 1 tag in project demo") || !strings.Contains(out.stdout, "mock") {
		t.Fatalf("exit %d, stdout %q, stderr %q", out.code, out.stdout, out.stderr)
	}
}

func TestHelp(t *testing.T) {
	for verb, wants := range map[string][]string{
		"dangerously-delete": {"Examples:", "--mock", "stampede", "--revalidation-deadline-seconds", "--srcimg", "--remaining-file", "use invalidate"},
		"invalidate":         {"Examples:", "--srcimg", "--scope", "use by default", "dangerously-delete instead"},
	} {
		out := harness{}.run(t, verb, "--help")
		if out.code != exitOK {
			t.Fatalf("%s --help: exit %d", verb, out.code)
		}
		for _, want := range wants {
			if !strings.Contains(out.stdout, want) {
				t.Errorf("%s --help lacks %q", verb, want)
			}
		}
	}
	if out := (harness{}).run(t, "invalidate", "--help"); strings.Contains(out.stdout, "revalidation-deadline") {
		t.Error("invalidate --help offers the deadline, which only dangerously-delete takes")
	}
}

func TestVersion(t *testing.T) {
	out := harness{}.run(t, "--version")
	if out.code != exitOK {
		t.Fatalf("exit %d, stderr %q", out.code, out.stderr)
	}
	// The document's info.version, read here independently of the command.
	var specVersion string
	for line := range strings.Lines(string(edgecache.OpenAPISpec)) {
		if v, ok := strings.CutPrefix(line, "  version: "); ok {
			specVersion = strings.TrimSpace(v)
			break
		}
	}
	want := fmt.Sprintf("edgecache %s (OpenAPI document %s)\n", edgecache.Version(), specVersion)
	if specVersion == "" || out.stdout != want {
		t.Errorf("--version printed %q, want %q", out.stdout, want)
	}
}

func TestServeAnswersAnyClient(t *testing.T) {
	sc := startServe(t, "--token", "serve-token")
	const path = "/v1/edge-cache/dangerously-delete-by-tags?projectIdOrName=demo"
	if got, body := sc.do(t, http.MethodPost, path, "serve-token", `{"tags":["blog"]}`); got != http.StatusOK {
		t.Errorf("valid request: status %d %s", got, body)
	}
	if got, _ := sc.do(t, http.MethodPost, path, "serve-token", `{"tags":[]}`); got != http.StatusBadRequest {
		t.Errorf("empty tags: status %d, want 400", got)
	}
	if got, _ := sc.do(t, http.MethodPost, path, "other-token", `{"tags":["blog"]}`); got != http.StatusForbidden {
		t.Errorf("wrong token: status %d, want 403", got)
	}
	if code := sc.stop(); code != exitOK {
		t.Errorf("serve exited %d after cancel", code)
	}
	logged := sc.logged()
	if n := strings.Count(logged, "\n"); n < 3 {
		t.Errorf("serve logged %d lines for 3 requests:\n%s", n, logged)
	}
	if strings.Contains(logged, "serve-token") {
		t.Error("serve logged the token")
	}
}

// A purge cut short by a signal accounts for every tag: the purged ones in the result, every
// other one in --remaining-file, and the last line is the command that finishes the job.
func TestInterruptedPurgeLeavesTheRestInTheRemainingFile(t *testing.T) {
	rec := newRecorder(t, 20*time.Millisecond)
	tags := numbered("tag-", 800) // 50 requests, 1 s at this pace
	file := writeFile(t, strings.Join(tags, "\n"))
	remaining := filepath.Join(t.TempDir(), "left.txt")
	ctx, cancel := context.WithCancelCause(t.Context())
	time.AfterFunc(300*time.Millisecond, func() { cancel(interrupted{sig: os.Interrupt}) })
	out := harness{ctx: ctx}.run(t, "invalidate", "--api-url", rec.URL, "--token", "tok", "--project", "demo",
		"--tags-file", file, "--concurrency", "1", "--remaining-file", remaining, "--json", "--yes")
	if out.code != 130 {
		t.Fatalf("exit %d, want 130; stderr %q", out.code, out.stderr)
	}
	var res edgecache.BulkResult
	if err := json.Unmarshal([]byte(out.stdout), &res); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(remaining)
	if err != nil {
		t.Fatal(err)
	}
	left := strings.Fields(string(data))
	if len(res.Purged) == 0 || len(left) == 0 {
		t.Fatalf("%d purged, %d left: the interruption did not fall mid-run", len(res.Purged), len(left))
	}
	all := append(slices.Clone(res.Purged), left...)
	slices.Sort(all)
	if !slices.Equal(all, tags) {
		t.Errorf("purged (%d) and left (%d) do not add up to the 800 tags, each once", len(res.Purged), len(left))
	}
	lines := strings.Split(strings.TrimSpace(out.stderr), "\n")
	if want := fmt.Sprintf("%d of 800 tags not purged: interrupted by SIGINT.", len(left)); !strings.Contains(out.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, out.stderr)
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "edgecache invalidate --project demo --tags-file "+remaining) {
		t.Errorf("last line %q is not the command that finishes", last)
	}
}

// --debug shows the library's retries, which are otherwise silent.
func TestDebugLogsRetries(t *testing.T) {
	s := edgecachetest.NewServer()
	defer s.Close()
	s.FailNext(1, edgecachetest.Fault{Status: http.StatusServiceUnavailable})
	quiet := harness{}.run(t, deleteArgs(s, "--project", "demo", "--tag", "a", "--yes")...)
	s.FailNext(1, edgecachetest.Fault{Status: http.StatusServiceUnavailable})
	loud := harness{}.run(t, deleteArgs(s, "--project", "demo", "--tag", "a", "--yes", "--debug")...)
	if quiet.code != exitOK || loud.code != exitOK {
		t.Fatalf("exit %d and %d; stderr %q %q", quiet.code, loud.code, quiet.stderr, loud.stderr)
	}
	if quiet.stderr != "" {
		t.Errorf("without --debug, stderr %q", quiet.stderr)
	}
	if !strings.Contains(loud.stderr, "retrying") || !strings.Contains(loud.stderr, "503") {
		t.Errorf("with --debug, stderr %q should log the retry", loud.stderr)
	}
}

// A --remaining-file that cannot be written is reported, and the run is not a success.
func TestRemainingFileWriteFailure(t *testing.T) {
	s := edgecachetest.NewServer()
	defer s.Close()
	dir := filepath.Join(t.TempDir(), "left.txt")
	if err := os.Mkdir(dir, 0o755); err != nil { // a directory where the file should go
		t.Fatal(err)
	}
	out := harness{}.run(t, deleteArgs(s, "--project", "demo", "--tag", "a", "--remaining-file", dir, "--yes")...)
	if out.code != exitFailure || !strings.Contains(out.stderr, "--remaining-file: ") {
		t.Errorf("exit %d, stderr %q; want 1 and the write error", out.code, out.stderr)
	}
	if !strings.Contains(out.stdout, "Deleted 1 tag") {
		t.Errorf("the summary should still be printed: %q", out.stdout)
	}
}

// After a refusal that every rerun would meet (401, 402, 403), the command does not suggest
// rerunning it; after a transient failure (503s, a rate limit) it does.
func TestRerunHintOnlyForTransientFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fault  edgecachetest.Fault
		images bool
		rerun  bool
	}{
		{"401", edgecachetest.Fault{Status: http.StatusUnauthorized}, false, false},
		{"403", edgecachetest.Fault{Status: http.StatusForbidden}, false, false},
		{"402", edgecachetest.Fault{Status: http.StatusPaymentRequired}, true, false},
		{"503", edgecachetest.Fault{Status: http.StatusServiceUnavailable}, false, true},
		{"429 for two minutes", edgecachetest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "120"}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := edgecachetest.NewServer()
			defer s.Close()
			s.FailNext(10, tc.fault)
			items := []string{"--tag", "a"}
			if tc.images {
				items = []string{"--srcimg", "/a.png"}
			}
			out := harness{}.run(t, deleteArgs(s, append(items, "--project", "demo", "--yes")...)...)
			if out.code != exitFailure {
				t.Fatalf("exit %d, want 1; stderr %q", out.code, out.stderr)
			}
			if got := strings.Contains(out.stderr, "rerun the same command"); got != tc.rerun {
				t.Errorf("stderr suggests a rerun: %v, want %v:\n%s", got, tc.rerun, out.stderr)
			}
		})
	}
}

// The rate-limit hint names the wait the server asked for, and its limit when it gave one.
func TestRateLimitHintNamesTheWindow(t *testing.T) {
	s := edgecachetest.NewServer()
	defer s.Close()
	s.FailNext(1, edgecachetest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "150",
		Body: `{"error":{"code":"rate_limited","message":"slow down","limit":{"remaining":0,"total":100}}}`})
	out := harness{}.run(t, deleteArgs(s, "--project", "demo", "--tag", "a", "--yes")...)
	if out.code != exitFailure {
		t.Fatalf("exit %d, want 1; stderr %q", out.code, out.stderr)
	}
	if !strings.Contains(out.stderr, "rate limited (100 requests a window); the limit resets in 2 min 30 s, at ") {
		t.Errorf("stderr does not name the window:\n%s", out.stderr)
	}
}

// Items on their way when a signal ends the run are reported as interrupted, their outcome
// unknown, not as failed with the transport's error; they stay in --remaining-file with the
// items never sent.
func TestInterruptedItemsAreNotFailures(t *testing.T) {
	ctx, cancel := context.WithCancelCause(t.Context())
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if calls.Add(1) == 3 { // the signal comes while the third request is on its way
			cancel(interrupted{sig: os.Interrupt})
			<-r.Context().Done()
			return
		}
		_, _ = io.WriteString(w, "{}")
	}))
	defer srv.Close()
	tags := numbered("tag-", 100) // 7 requests
	remaining := filepath.Join(t.TempDir(), "left.txt")
	out := harness{ctx: ctx}.run(t, "invalidate", "--api-url", srv.URL, "--token", "tok", "--project", "demo",
		"--tags-file", writeFile(t, strings.Join(tags, "\n")), "--concurrency", "1", "--remaining-file", remaining, "--yes")
	if out.code != 130 {
		t.Fatalf("exit %d, want 130; stderr %q", out.code, out.stderr)
	}
	for _, want := range []string{
		"Invalidated 32 of 100 tags",
		"Interrupted: 16 tags (on their way when the run ended: outcome unknown), e.g. tag-00032, tag-00033, tag-00034, and 13 more",
		"Not attempted: 52 tags",
	} {
		if !strings.Contains(out.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out.stdout)
		}
	}
	if strings.Contains(out.stdout, "Failed") || strings.Contains(out.stdout, "Post ") {
		t.Errorf("the interrupted request is reported as a failure:\n%s", out.stdout)
	}
	data, err := os.ReadFile(remaining)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(data)); !slices.Equal(got, tags[32:]) {
		t.Errorf("remaining file holds %d tags, want the 68 not purged", len(got))
	}
	if !strings.Contains(out.stderr, "68 of 100 tags not purged: interrupted by SIGINT.") || !strings.Contains(out.stderr, "To finish (the 68 tags left") {
		t.Errorf("stderr %q", out.stderr)
	}
}

// --debug shows each rate-limit wait, which is otherwise silent.
func TestDebugLogsRateLimitWaits(t *testing.T) {
	s := edgecachetest.NewServer()
	defer s.Close()
	s.FailNext(1, edgecachetest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"})
	out := harness{}.run(t, deleteArgs(s, "--project", "demo", "--tags-file", writeFile(t, strings.Join(numbered("t", 40), "\n")), "--yes", "--debug")...)
	if out.code != exitOK {
		t.Fatalf("exit %d, stderr %q", out.code, out.stderr)
	}
	if !strings.Contains(out.stderr, "rate limited (429); every request waits") || !strings.Contains(out.stderr, "wait=1s") {
		t.Errorf("with --debug, stderr %q should log the rate-limit wait", out.stderr)
	}
}
