//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/creack/pty"
)

// These tests run the built binary, where the real process matters: signals, and a terminal
// (a pty) for the prompt and the progress line.

// waitExit waits for the process to end, at most limit, and returns its exit code and how long
// it took. A process still running then is killed and fails the test: a hang.
func waitExit(t *testing.T, cmd *exec.Cmd, limit time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exitErr *exec.ExitError
		if err != nil && !errors.As(err, &exitErr) {
			t.Fatal(err)
		}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("the process was killed by %v instead of exiting (was it signalled before it started?)", ws.Signal())
		}
		return cmd.ProcessState.ExitCode(), time.Since(start)
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		t.Fatalf("the process did not exit within %v (then killed: %v)", limit, <-done)
	}
	return 0, 0
}

// startupGrace lets a started process reach the point under test (it starts in about 10 ms)
// before a signal is sent; a signal that came earlier would find no handler installed.
const startupGrace = 300 * time.Millisecond

// SIGINT or SIGTERM while the tags are still being read from stdin ends the process at
// once, with 130 or 143 and nothing sent.
func TestBinarySignalWhileReadingStdin(t *testing.T) {
	bin := edgecacheBinary(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(signalName(sig), func(t *testing.T) {
			rec := newRecorder(t, 0)
			cmd := exec.CommandContext(t.Context(), bin, "dangerously-delete", "--api-url", rec.URL, "--token", "tok", "--project", "demo", "--tags-file", "-", "--yes")
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = stdin.Close() }()
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(stdin, "blog\nnews\n"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(startupGrace)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			code, took := waitExit(t, cmd, 10*time.Second)
			t.Logf("%v to exit after %v", took.Round(time.Microsecond), sig)
			if code != 128+int(sig) {
				t.Errorf("exit %d, want %d; stderr %q", code, 128+int(sig), stderr.String())
			}
			if !strings.Contains(stderr.String(), "nothing was sent") {
				t.Errorf("stderr %q", stderr.String())
			}
			if n := len(rec.requests()); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}

// terminal is a process run on a pty, with everything it writes to the terminal.
type terminal struct {
	cmd  *exec.Cmd
	pty  *os.File
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

// onTerminal starts the binary with a pty of the given width as its standard streams (those
// cmd does not already set).
func onTerminal(t *testing.T, cmd *exec.Cmd, cols int) *terminal {
	t.Helper()
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: uint16(cols)})
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	term := &terminal{cmd: cmd, pty: f, done: make(chan struct{})}
	go func() {
		defer close(term.done)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			term.mu.Lock()
			term.out.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				return // EIO once the process is gone
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = f.Close()
		<-term.done
	})
	return term
}

func (term *terminal) screen() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.out.String()
}

// waitFor waits until the terminal shows s.
func (term *terminal) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(term.screen(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("the terminal never showed %q; it shows:\n%s", s, term.screen())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// finish waits for the process to exit and for the terminal to have shown all it wrote.
func (term *terminal) finish(t *testing.T) int {
	t.Helper()
	code, _ := waitExit(t, term.cmd, 10*time.Second)
	<-term.done
	return code
}

func TestBinaryPromptOnATerminal(t *testing.T) {
	bin := edgecacheBinary(t)
	cases := []struct {
		name    string
		keys    string
		code    int
		sent    int
		message string
	}{
		{"yes", "y\r", exitOK, 1, "Invalidated 2 tags in project demo"},
		{"no", "n\r", exitOK, 0, "Canceled: nothing was sent."},
		{"Ctrl-C", "\x03", exitSignal + int(syscall.SIGINT), 0, "interrupted by SIGINT at the confirmation; nothing was sent"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, 0)
			term := onTerminal(t, exec.CommandContext(t.Context(), bin, "invalidate", "--api-url", rec.URL, "--token", "tok", "--project", "demo", "--tag", "blog,news,blog"), 80)
			term.waitFor(t, "Invalidate 2 tags? [y/N] ")
			if _, err := term.pty.WriteString(tc.keys); err != nil {
				t.Fatal(err)
			}
			if code := term.finish(t); code != tc.code {
				t.Errorf("exit %d, want %d; the terminal shows:\n%s", code, tc.code, term.screen())
			}
			if !strings.Contains(term.screen(), tc.message) {
				t.Errorf("the terminal lacks %q:\n%s", tc.message, term.screen())
			}
			if n := len(rec.requests()); n != tc.sent {
				t.Errorf("%d requests sent, want %d", n, tc.sent)
			}
		})
	}
}

// SIGTERM at the prompt ends the process at once, as Ctrl-C does.
func TestBinarySIGTERMAtThePrompt(t *testing.T) {
	rec := newRecorder(t, 0)
	term := onTerminal(t, exec.CommandContext(t.Context(), edgecacheBinary(t), "dangerously-delete", "--api-url", rec.URL, "--token", "tok", "--project", "demo", "--tag", "blog"), 80)
	term.waitFor(t, "[y/N] ")
	start := time.Now()
	if err := term.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := term.finish(t)
	t.Logf("%v to exit after SIGTERM at the prompt", time.Since(start).Round(time.Microsecond))
	if code != exitSignal+int(syscall.SIGTERM) || len(rec.requests()) != 0 {
		t.Errorf("exit %d, %d requests; want 143 and none. The terminal shows:\n%s", code, len(rec.requests()), term.screen())
	}
}

// ansi matches the escape sequences the progress line uses.
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

// progressDraws returns each progress line drawn on the terminal, escapes removed.
func progressDraws(screen string) []string {
	var draws []string
	for _, seg := range strings.FieldsFunc(screen, func(r rune) bool { return r == '\r' || r == '\n' }) {
		if seg = ansi.ReplaceAllString(seg, ""); strings.Contains(seg, " requests, ") {
			draws = append(draws, seg)
		}
	}
	return draws
}

// On a narrow terminal the progress line is redrawn in place and never wider than the
// terminal, so it never wraps into a line per request.
func TestBinaryProgressFitsTheTerminal(t *testing.T) {
	const cols = 40
	rec := newRecorder(t, 40*time.Millisecond)
	file := writeFile(t, strings.Join(numbered("tag-", 320), "\n"))
	term := onTerminal(t, exec.CommandContext(t.Context(), edgecacheBinary(t), "dangerously-delete", "--api-url", rec.URL, "--token", "tok",
		"--project", "demo", "--tags-file", file, "--concurrency", "1", "--yes"), cols)
	if code := term.finish(t); code != exitOK {
		t.Fatalf("exit %d:\n%s", code, term.screen())
	}
	draws := progressDraws(term.screen())
	if len(draws) < 2 {
		t.Fatalf("%d progress lines drawn in a 20-request run; the terminal shows:\n%q", len(draws), term.screen())
	}
	for _, d := range draws {
		if n := utf8.RuneCountInString(d); n >= cols {
			t.Errorf("a progress line of %d characters on a %d-column terminal: %q", n, cols, d)
		}
	}
	if !strings.Contains(term.screen(), "Deleted 320 tags") {
		t.Errorf("no summary:\n%s", term.screen())
	}
}

// Under --json the progress goes to stderr when it is a terminal, and stdout stays JSON.
func TestBinaryProgressUnderJSON(t *testing.T) {
	rec := newRecorder(t, 40*time.Millisecond)
	file := writeFile(t, strings.Join(numbered("/img-", 80), "\n"))
	cmd := exec.CommandContext(t.Context(), edgecacheBinary(t), "invalidate", "--api-url", rec.URL, "--token", "tok",
		"--project", "demo", "--srcimgs-file", file, "--concurrency", "1", "--json", "--yes")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	term := onTerminal(t, cmd, 80)
	if code := term.finish(t); code != exitOK {
		t.Fatalf("exit %d:\n%s", code, term.screen())
	}
	if len(progressDraws(term.screen())) < 2 {
		t.Errorf("no progress on the terminal under --json:\n%q", term.screen())
	}
	var res struct {
		Purged []string `json:"purged"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || len(res.Purged) != 80 {
		t.Errorf("stdout is not the JSON result (%v):\n%s", err, stdout.String())
	}
}
