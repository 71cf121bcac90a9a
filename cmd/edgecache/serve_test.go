package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// startServe runs `edgecache serve --addr 127.0.0.1:0 args…` in-process until the test ends,
// and returns the address it listens on.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	stderrR, stderrW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), env{
			stdin: strings.NewReader(""), stdout: io.Discard, stderr: stderrW,
			getenv: func(string) string { return "" }, dir: t.TempDir(), isTerminal: func(any) bool { return false },
		})
		stderrW.Close()
	}()
	lines := bufio.NewScanner(stderrR)
	var addr string
	var head strings.Builder
	for addr == "" && lines.Scan() {
		head.WriteString(lines.Text() + "\n")
		if _, after, ok := strings.Cut(lines.Text(), "serving the fake endpoint on http://"); ok {
			addr, _, _ = strings.Cut(after, " ")
		}
	}
	if addr == "" {
		cancel()
		t.Fatalf("serve %v did not print its address (exit %d):\n%s", args, <-done, head.String())
	}
	go func() { _, _ = io.Copy(io.Discard, stderrR) }() // the request log
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != exitOK {
				t.Errorf("serve exited %d after its context ended", code)
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop after its context ended")
		}
	})
	return addr
}

const validRequest = "POST /v1/edge-cache/dangerously-delete-by-tags?projectIdOrName=demo HTTP/1.1\r\n" +
	"Host: fake\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n" +
	`{"tags":["a"]}`

// hangGuard bounds how long a test waits for the server to act, so that a server that
// never does fails the test instead of hanging it.
const hangGuard = 10 * time.Second

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// roundTrip sends a request on conn and reads its answer, leaving the connection open.
func roundTrip(t *testing.T, conn net.Conn, br *bufio.Reader) *http.Response {
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
	resp.Body.Close()
	return resp
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
	addr := startServe(t, "--read-timeout", "300ms")
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
	addr := startServe(t, "--idle-timeout", "300ms")
	conn := dial(t, addr)
	br := bufio.NewReader(conn)
	if resp := roundTrip(t, conn, br); resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("status %d, close %v: want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
	}
	if rest := closedByServer(t, conn, br); rest != "" {
		t.Errorf("the server sent %q on an idle connection", rest)
	}
}

func TestServeMaxConnsMakesTheRestWait(t *testing.T) {
	addr := startServe(t, "--max-conns", "2")
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
	first.Close()
	_ = third.SetReadDeadline(time.Now().Add(hangGuard))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the waiting connection was not served once a place was free: %v", err)
	}
	resp.Body.Close()
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
	} {
		out := harness{}.run(t, append([]string{"serve", "--addr", "127.0.0.1:0"}, tt.args...)...)
		if out.code != exitUsage || !strings.Contains(out.stderr, tt.want) {
			t.Errorf("serve %v: exit %d, stderr %q; want exit %d with %q", tt.args, out.code, out.stderr, exitUsage, tt.want)
		}
	}
}
