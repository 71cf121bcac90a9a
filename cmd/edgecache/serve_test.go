package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// servingCommand is `edgecache serve` running in-process on a free loopback port.
type servingCommand struct {
	base   string // http://127.0.0.1:port
	cdn    string // the CDN's base URL, with --origin
	stop   func() int
	logged func() string // stderr after the address lines, once stopped
}

// startServe runs `edgecache serve --addr 127.0.0.1:0 args…` and reads the address it prints,
// as a test in another language would.
func startServe(t *testing.T, args ...string) *servingCommand {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	stderrR, stderrW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), env{
			stdin: strings.NewReader(""), stdout: io.Discard, stderr: stderrW,
			getenv: func(string) string { return "" }, dir: t.TempDir(), isTerminal: func(any) bool { return false },
		})
		_ = stderrW.Close() // a pipe writer's Close never fails
	}()
	lines := bufio.NewScanner(stderrR)
	var base, cdn string
	wantCDN := slices.Contains(args, "--origin")
	for lines.Scan() {
		if _, after, ok := strings.Cut(lines.Text(), "serving the fake endpoint on "); ok {
			base, _, _ = strings.Cut(after, " ")
		}
		if _, after, ok := strings.Cut(lines.Text(), "serving the CDN on "); ok {
			cdn, _, _ = strings.Cut(after, " ")
		}
		if base != "" && (cdn != "" || !wantCDN) {
			break
		}
	}
	if base == "" || (wantCDN && cdn == "") {
		cancel()
		t.Fatal("serve did not print its addresses")
	}
	var (
		mu     sync.Mutex
		logged strings.Builder
	)
	logDone := make(chan struct{})
	go func() {
		for lines.Scan() {
			mu.Lock()
			logged.WriteString(lines.Text() + "\n")
			mu.Unlock()
		}
		close(logDone)
	}()
	sc := &servingCommand{base: base, cdn: cdn}
	var once sync.Once
	code := -1
	sc.stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(10 * time.Second):
				t.Error("serve did not stop after its context ended")
			}
			<-logDone
		})
		return code
	}
	sc.logged = func() string {
		mu.Lock()
		defer mu.Unlock()
		return logged.String()
	}
	t.Cleanup(func() { sc.stop() })
	return sc
}

// do sends a request and returns the status and body.
func (sc *servingCommand) do(t *testing.T, method, path, token, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, sc.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close() // read to the end: nothing left to report
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(data)
}

func TestServeRecordsAndMountsTheAdminAPI(t *testing.T) {
	const token = "serve-admin-token-1"
	sc := startServe(t, "--token", token, "--max-recorded", "3")

	sends := []struct{ path, body string }{
		{"/v1/edge-cache/invalidate-by-tags?projectIdOrName=demo", `{"tags":["blog"]}`},
		{"/v1/edge-cache/dangerously-delete-by-tags?projectIdOrName=demo&teamId=team_1", `{"tags":"a,b","revalidationDeadlineSeconds":30}`},
		{"/v1/edge-cache/invalidate-by-src-images?projectIdOrName=demo", `{"srcImages":["/hero.png"]}`},
		{"/v1/edge-cache/dangerously-delete-by-src-images?projectIdOrName=demo", `{"srcImages":["/` + token + `.png"]}`},
	}
	for _, s := range sends {
		if status, body := sc.do(t, http.MethodPost, s.path, token, s.body); status != http.StatusOK {
			t.Fatalf("POST %s: %d %s", s.path, status, body)
		}
	}

	status, body := sc.do(t, http.MethodGet, "/__admin/requests", "", "")
	var j struct {
		Requests []struct {
			Operation string          `json:"operation"`
			Query     map[string]any  `json:"query"`
			Body      json.RawMessage `json:"body"`
			Status    int             `json:"status"`
		} `json:"requests"`
		Dropped int `json:"dropped"`
	}
	if err := json.Unmarshal([]byte(body), &j); status != 200 || err != nil {
		t.Fatalf("GET /__admin/requests: %d %v %s", status, err, body)
	}
	if len(j.Requests) != 3 || j.Dropped != 1 {
		t.Fatalf("--max-recorded 3 kept %d and dropped %d of 4 requests", len(j.Requests), j.Dropped)
	}
	first := j.Requests[0]
	if first.Operation != "dangerouslyDeleteByTags" || string(first.Body) != sends[1].body || first.Query["teamId"] != "team_1" || first.Status != 200 {
		t.Errorf("the oldest kept request is %+v, want the second one sent, as sent", first)
	}
	if strings.Contains(body, token) || !strings.Contains(body, "[redacted].png") {
		t.Errorf("the admin answer shows the token, or did not redact it where sent:\n%s", body)
	}

	// A fault queued over HTTP reaches only its operation.
	if status, body := sc.do(t, http.MethodPost, "/__admin/faults", "", `{"operation":"invalidateByTags","status":429,"retryAfter":"1"}`); status != http.StatusCreated {
		t.Fatalf("POST /__admin/faults: %d %s", status, body)
	}
	if status, _ := sc.do(t, http.MethodPost, sends[1].path, token, sends[1].body); status != 200 {
		t.Errorf("another operation got %d, want 200", status)
	}
	if status, body := sc.do(t, http.MethodPost, sends[0].path, token, sends[0].body); status != 429 || !strings.Contains(body, "rate_limited") {
		t.Errorf("the faulted operation got %d %s, want 429 rate_limited", status, body)
	}

	if status, body := sc.do(t, http.MethodGet, "/__admin/spec", "", ""); status != 200 || !strings.Contains(body, `"invalidateBySrcImages"`) {
		t.Errorf("GET /__admin/spec: %d, %d bytes", status, len(body))
	}
	if status, _ := sc.do(t, http.MethodPost, "/__admin/reset", "", ""); status != http.StatusNoContent {
		t.Errorf("POST /__admin/reset: %d", status)
	}
	if _, body := sc.do(t, http.MethodGet, "/__admin/requests", "", ""); body != `{"requests":[],"dropped":0}`+"\n" {
		t.Errorf("after reset: %s", body)
	}

	if code := sc.stop(); code != exitOK {
		t.Errorf("serve exited %d", code)
	}
	logged := sc.logged()
	if strings.Contains(logged, token) {
		t.Errorf("serve logged the token:\n%s", logged)
	}
	if !strings.Contains(logged, "operation=invalidateBySrcImages") || strings.Contains(logged, "path=/__admin") {
		t.Errorf("serve's log should name each API request's operation and leave out admin requests:\n%s", logged)
	}
}

func TestServeRecordsByDefaultAndZeroTurnsItOff(t *testing.T) {
	on := startServe(t)
	off := startServe(t, "--max-recorded", "0")
	for _, sc := range []*servingCommand{on, off} {
		sc.do(t, http.MethodPost, "/v1/edge-cache/invalidate-by-tags?projectIdOrName=demo", "any-token", `{"tags":["blog"]}`)
	}
	if _, body := on.do(t, http.MethodGet, "/__admin/requests", "", ""); !strings.Contains(body, `"operation":"invalidateByTags"`) || !strings.HasSuffix(body, `"dropped":0}`+"\n") {
		t.Errorf("by default serve should record: %s", body)
	}
	if _, body := off.do(t, http.MethodGet, "/__admin/requests", "", ""); body != `{"requests":[],"dropped":1}`+"\n" {
		t.Errorf("--max-recorded 0 should keep nothing and count the request: %s", body)
	}
}

func TestServeRefusesANegativeMaxRecorded(t *testing.T) {
	out := harness{}.run(t, "serve", "--addr", "127.0.0.1:0", "--max-recorded", "-1")
	if out.code != exitUsage || !strings.Contains(out.stderr, "--max-recorded: must be 0 or more (got -1)") {
		t.Errorf("exit %d, stderr %q; want 2 naming the flag", out.code, out.stderr)
	}
}

const validRequest = "POST /v1/edge-cache/dangerously-delete-by-tags?projectIdOrName=demo HTTP/1.1\r\n" +
	"Host: fake\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n" +
	`{"tags":["a"]}`

// hangGuard bounds how long a test waits for the server to act, so that a server that
// never does fails the test instead of hanging it.
const hangGuard = 10 * time.Second

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := new(net.Dialer).DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// roundTrip sends a request on conn and reads its answer, leaving the connection open. It
// returns the answer's status and whether the server means to close the connection.
func roundTrip(t *testing.T, conn net.Conn, br *bufio.Reader) (status int, closing bool) {
	t.Helper()
	if _, err := io.WriteString(conn, validRequest); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(hangGuard))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, resp.Close
}

// closedByServer reads conn until the server closes it and returns what it read; it fails
// the test if the server keeps the connection open past hangGuard.
func closedByServer(t *testing.T, conn net.Conn, r io.Reader) string {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(hangGuard))
	data, err := io.ReadAll(r)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server still holds the connection after %v (read so far: %q)", hangGuard, data)
	}
	return string(data)
}

func TestServeReadTimeoutClosesAnUnfinishedBody(t *testing.T) {
	addr := strings.TrimPrefix(startServe(t, "--read-timeout", "300ms").base, "http://")
	conn := dial(t, addr)
	// Headers announce 100 bytes; only the start of the body ever comes.
	if _, err := io.WriteString(conn, "POST /v1/edge-cache/dangerously-delete-by-tags?projectIdOrName=demo HTTP/1.1\r\n"+
		"Host: fake\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"+`{"tags":[`); err != nil {
		t.Fatal(err)
	}
	got := closedByServer(t, conn, conn)
	if !strings.HasPrefix(got, "HTTP/1.1 400 ") || !strings.Contains(got, "body: could not be read") {
		t.Errorf("answer to an unfinished body: %q, want a 400 saying the body could not be read", got)
	}
}

func TestServeIdleTimeoutClosesKeepAlive(t *testing.T) {
	addr := strings.TrimPrefix(startServe(t, "--idle-timeout", "300ms").base, "http://")
	conn := dial(t, addr)
	br := bufio.NewReader(conn)
	if status, closing := roundTrip(t, conn, br); status != http.StatusOK || closing {
		t.Fatalf("status %d, close %v: want 200 on a kept-alive connection", status, closing)
	}
	if rest := closedByServer(t, conn, br); rest != "" {
		t.Errorf("the server sent %q on an idle connection", rest)
	}
}

func TestServeMaxConnsMakesTheRestWait(t *testing.T) {
	addr := strings.TrimPrefix(startServe(t, "--max-conns", "2").base, "http://")
	// Two kept-alive connections take both places.
	first := dial(t, addr)
	roundTrip(t, first, bufio.NewReader(first))
	second := dial(t, addr)
	roundTrip(t, second, bufio.NewReader(second))

	// A third connects (the kernel queues it) but is not accepted, so not answered...
	third := dial(t, addr)
	if _, err := io.WriteString(third, validRequest); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(third)
	_ = third.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := br.Peek(1); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the third connection was served while two were open (err %v), want it to wait", err)
	}
	// ...until a place is free.
	_ = first.Close()
	_ = third.SetReadDeadline(time.Now().Add(hangGuard))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the waiting connection was not served once a place was free: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the waiting connection got %d, want 200", resp.StatusCode)
	}
}

func TestServeLimitFlags(t *testing.T) {
	help := harness{}.run(t, "serve", "--help")
	for _, want := range []string{
		"--read-header-timeout duration", "--read-timeout duration", "--write-timeout duration",
		"--idle-timeout duration", "--max-conns int",
	} {
		if !strings.Contains(help.stdout, want) {
			t.Errorf("serve --help does not document %s:\n%s", want, help.stdout)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--read-timeout", "0s"}, "--read-timeout: must be greater than 0 (got 0s)"},
		{[]string{"--idle-timeout", "-1s"}, "--idle-timeout: must be greater than 0 (got -1s)"},
		{[]string{"--read-header-timeout", "0s"}, "--read-header-timeout: must be greater than 0 (got 0s)"},
		{[]string{"--max-conns", "0"}, "--max-conns: must be at least 1 (got 0)"},
		{[]string{"--latency", "2s", "--write-timeout", "2s"}, "--write-timeout: must be longer than --latency (got 2s, latency 2s)"},
		{[]string{"--rate-limit-retry-after-only"}, "--rate-limit-retry-after-only: needs --rate-limit"},
	} {
		out := harness{}.run(t, append([]string{"serve", "--addr", "127.0.0.1:0"}, tt.args...)...)
		if out.code != exitUsage || !strings.Contains(out.stderr, tt.want) {
			t.Errorf("serve %v: exit %d, stderr %q; want exit %d with %q", tt.args, out.code, out.stderr, exitUsage, tt.want)
		}
	}
}

// The README's session, in-process: an origin, serve --origin, the CDN, the command's
// invalidate and delete, and the admin API's explanation.
func TestServeCDNShowsWhatAPurgeDoes(t *testing.T) {
	var version atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "s-maxage=60")
		w.Header().Set("Vercel-Cache-Tag", "blog")
		_, _ = fmt.Fprintf(w, "%s v%d", r.URL.Path, version.Add(1))
	}))
	t.Cleanup(origin.Close)
	const token = "cdn-session-token"
	sc := startServe(t, "--token", token, "--origin", origin.URL, "--cdn-addr", "127.0.0.1:0", "--frozen-clock")
	page := func() (string, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, sc.cdn+"/blog/hello", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		return resp.Header.Get("X-Vercel-Cache"), string(body)
	}
	purge := func(verb string) {
		t.Helper()
		out := harness{}.run(t, verb, "--api-url", sc.base, "--token", token, "--project", "demo", "--tag", "blog", "--yes")
		if out.code != 0 {
			t.Fatalf("%s: exit %d\n%s", verb, out.code, out.stderr)
		}
	}
	steps := []struct {
		do         func()
		cache, got string
	}{
		{cache: "MISS", got: "/blog/hello v1"},
		{cache: "HIT", got: "/blog/hello v1"},
		{do: func() { purge("invalidate") }, cache: "STALE", got: "/blog/hello v1"},
		{do: func() {
			// wait=1 returns once the background revalidation is done.
			if status, body := sc.do(t, http.MethodGet, "/__admin/cache?wait=1", "", ""); status != 200 || !strings.Contains(body, `"state":"fresh"`) {
				t.Fatalf("GET /__admin/cache?wait=1: %d %s", status, body)
			}
		}, cache: "HIT", got: "/blog/hello v2"},
		{do: func() { purge("dangerously-delete") }, cache: "REVALIDATED", got: "/blog/hello v3"},
		{do: func() {
			if status, body := sc.do(t, http.MethodPost, "/__admin/clock", "", `{"advance":"61s"}`); status != 200 {
				t.Fatalf("POST /__admin/clock: %d %s", status, body)
			}
		}, cache: "MISS", got: "/blog/hello v4"},
	}
	for i, s := range steps {
		if s.do != nil {
			s.do()
		}
		if cache, body := page(); cache != s.cache || body != s.got {
			t.Fatalf("step %d: %s %q, want %s %q", i+1, cache, body, s.cache, s.got)
		}
	}
	status, body := sc.do(t, http.MethodGet, "/__admin/cache?url=/blog/hello", "", "")
	if status != 200 || !strings.Contains(body, `is cached (fresh), decided by Cache-Control: s-maxage=60`) {
		t.Errorf("GET /__admin/cache?url=: %d %s", status, body)
	}
	if code := sc.stop(); code != 0 {
		t.Errorf("serve exited %d", code)
	}
	for _, want := range []string{
		`msg="edgecachetest: purge" operation=invalidateByTags purged="\"blog\"" target="" matched=1`,
		`msg="edgecachetest: cdn" method=GET url=/blog/hello status=200 cache=STALE reason="tag-based invalidation (\"blog\")"`,
	} {
		if !strings.Contains(sc.logged(), want) {
			t.Errorf("the log lacks %s:\n%s", want, sc.logged())
		}
	}
}

func TestServeCDNFlagsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--origin", "127.0.0.1:3000"}, "--origin: must be an http:// or https:// URL"},
		{[]string{"--origin", "http://127.0.0.1:1", "--environment", "staging"}, `--environment: must be production or preview (got "staging")`},
		{[]string{"--origin", "http://127.0.0.1:1", "--cache-max-entries", "0"}, "--cache-max-entries: must be at least 1 (got 0)"},
		{[]string{"--origin", "http://127.0.0.1:1", "--origin-timeout", "0s"}, "--origin-timeout: must be greater than 0"},
		{[]string{"--origin", "http://127.0.0.1:1", "--cdn-addr", "127.0.0.1:99999"}, "--cdn-addr: listen tcp: address 99999: invalid port"},
		{[]string{"--origin", "http://127.0.0.1:1", "--cdn-addr", "0.0.0.0:0"}, "--cdn-addr 0.0.0.0:0: other machines could reach"},
	} {
		out := harness{}.run(t, append([]string{"serve", "--addr", "127.0.0.1:0"}, tc.args...)...)
		if out.code == 0 || !strings.Contains(out.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, out.code, out.stderr, tc.want)
		}
	}
}
