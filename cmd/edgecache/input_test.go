package main

import (
	"context"
	"io"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// endless is an input that never ends, as `yes` gives: line repeated forever.
type endless struct {
	line string
	off  int
}

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.line[e.off]
		e.off = (e.off + 1) % len(e.line)
	}
	return len(p), nil
}

// An endless or huge --tags-file - is refused at a bound, with exit 2 and nothing sent,
// instead of growing memory until the machine gives out.
func TestEndlessInputIsCapped(t *testing.T) {
	cases := []struct {
		name, line, flag, want string
	}{
		{"many short lines", "y\n", "--tags-file", "more than 1000000 lines"},
		{"many long lines", strings.Repeat("x", 200) + "\n", "--tags-file", "more than 64 MiB"},
		{"one endless line", "x", "--srcimgs-file", "line 1 is longer than 1 MiB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, 0)
			out := harness{stdin: &endless{line: tc.line}}.run(t, "invalidate", "--api-url", rec.URL, "--token", "tok", "--project", "demo", tc.flag, "-", "--yes")
			if out.code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr %q", out.code, exitUsage, out.stderr)
			}
			if !strings.Contains(out.stderr, tc.flag+" -: input too large: "+tc.want) {
				t.Errorf("stderr %q should name the flag and the limit (%s)", out.stderr, tc.want)
			}
			if n := len(rec.requests()); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}

// Input at the limits is accepted whole.
func TestInputAtTheLimitIsRead(t *testing.T) {
	lines, err := readLines(io.LimitReader(&endless{line: "y\n"}, 2*maxInputLines))
	if err != nil || len(lines) != maxInputLines {
		t.Fatalf("read %d lines, %v; want %d", len(lines), err, maxInputLines)
	}
	// 64 MiB exactly, in lines of 128 bytes.
	lines, err = readLines(io.LimitReader(&endless{line: strings.Repeat("z", 127) + "\n"}, maxInputBytes))
	if err != nil || len(lines) != maxInputBytes/128 {
		t.Fatalf("read %d lines, %v; want %d", len(lines), err, maxInputBytes/128)
	}
}

// A file that starts with a UTF-8 byte-order mark purges its first tag, not "\ufeffblog".
func TestByteOrderMarkIsStripped(t *testing.T) {
	for _, flag := range []string{"--tags-file", "--srcimgs-file"} {
		t.Run(flag, func(t *testing.T) {
			rec := newRecorder(t, 0)
			file := writeFile(t, "\ufeffblog\r\nnews\n")
			out := harness{}.run(t, "dangerously-delete", "--api-url", rec.URL, "--token", "tok", "--project", "demo", flag, file, "--yes")
			if out.code != exitOK {
				t.Fatalf("exit %d, stderr %q", out.code, out.stderr)
			}
			if got := sentItems(t, rec.requests()); !slices.Equal(got, []string{"blog", "news"}) {
				t.Errorf("sent %q, want [blog news]", got)
			}
		})
	}
}

// A tag or image holding an invisible format character is refused, naming it, wherever it
// comes from; a byte-order mark is one too when it is not the file's first character.
func TestInvisibleCharactersAreRefused(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"zero-width space in --tag", []string{"--tag", "blog,new\u200bs"}, `tags[1] must not contain control or invisible format characters (got "new\u200bs")`},
		{"byte-order mark inside a file", []string{"--tags-file", writeFile(t, "blog\n\ufeffnews\n")}, `items.txt:2: tag must not contain control or invisible format characters (got "\ufeffnews")`},
		{"direction mark in --srcimg", []string{"--srcimg", "/a\u200e.png"}, `srcImages[0] must not contain control or invisible format characters (got "/a\u200e.png")`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, 0)
			out := harness{}.run(t, append([]string{"invalidate", "--api-url", rec.URL, "--token", "tok", "--project", "demo", "--yes"}, tc.args...)...)
			if out.code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr %q", out.code, exitUsage, out.stderr)
			}
			if !strings.Contains(out.stderr, tc.want) {
				t.Errorf("stderr %q lacks %q", out.stderr, tc.want)
			}
			if n := len(rec.requests()); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}

// A signal while standard input is still open ends the command at once, with the shell's
// code for that signal and nothing sent. (binary_test.go checks the same on the real process.)
func TestSignalWhileReadingStdin(t *testing.T) {
	rec := newRecorder(t, 0)
	stdin, feed := io.Pipe()
	defer func() { _ = feed.Close() }()
	ctx, cancel := context.WithCancelCause(t.Context())
	done := make(chan outcome, 1)
	go func() {
		done <- harness{stdin: stdin, ctx: ctx}.run(t, "dangerously-delete", "--api-url", rec.URL, "--token", "tok", "--project", "demo", "--tags-file", "-", "--yes")
	}()
	if _, err := feed.Write([]byte("blog\nnews\n")); err != nil {
		t.Fatal(err)
	}
	cancel(interrupted{sig: syscall.SIGTERM})
	select {
	case out := <-done:
		if out.code != exitSignal+int(syscall.SIGTERM) {
			t.Errorf("exit %d, want 143", out.code)
		}
		if !strings.Contains(out.stderr, "interrupted by SIGTERM while reading --tags-file -; nothing was sent") {
			t.Errorf("stderr %q", out.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the command went on reading after its context ended")
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}
