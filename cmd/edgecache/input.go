package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vercelkit/edgecache"
)

// The most a --tags-file or --srcimgs-file may hold. Without a bound, an endless stdin (yes |
// edgecache …) grows memory until the machine gives out. A million tags is 62,500 requests,
// far more than one run should send; 64 MiB holds half a million lines of 128 bytes.
const (
	maxInputLines = 1_000_000
	maxInputBytes = 64 << 20
	// maxLineBytes bounds one line; a tag is at most 256 characters (1 KiB of UTF-8).
	maxLineBytes = 1 << 20
)

// utf8BOM is the byte-order mark some editors put at the start of a UTF-8 file. It is not
// part of the first tag.
var utf8BOM = []byte("\uFEFF")

// itemKind is what a purge acts on: tags or source images, with the flags that give them.
type itemKind struct {
	one, many      string // "tag", "tags"
	flag, fileFlag string
	splitCommas    bool // --tag a,b is two tags; a source image may hold a comma
}

var (
	tagKind   = itemKind{one: "tag", many: "tags", flag: "--tag", fileFlag: "--tags-file", splitCommas: true}
	imageKind = itemKind{one: "source image", many: "source images", flag: "--srcimg", fileFlag: "--srcimgs-file"}
)

// count writes n items in words: "1 tag", "2 tags".
func (k itemKind) count(n int) string {
	if n == 1 {
		return "1 " + k.one
	}
	return fmt.Sprintf("%d %s", n, k.many)
}

// collectItems gathers the flag values (tags split on commas) and the lines of the file flag,
// "-" for standard input: items[fromFile:] are the file's lines, line 1 first, blank ones
// included. It returns when ctx ends, even while standard input is still open.
func collectItems(ctx context.Context, k itemKind, values []string, file string, stdin io.Reader) (items []string, fromFile int, err error) {
	for _, v := range values {
		if k.splitCommas {
			items = append(items, strings.Split(v, ",")...)
		} else {
			items = append(items, v)
		}
	}
	fromFile = len(items)
	if file == "" {
		return items, fromFile, nil
	}
	r := stdin
	if file != "-" {
		fh, err := os.Open(file)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", k.fileFlag, err)
		}
		// Only read: closing has nothing to report.
		defer func() { _ = fh.Close() }()
		r = fh
	}
	type read struct {
		lines []string
		err   error
	}
	done := make(chan read, 1)
	// Reading runs aside so that a signal can end the command while a read blocks on a
	// terminal or a pipe; the process then exits and takes the blocked read with it.
	go func() {
		lines, err := readLines(r)
		done <- read{lines, err}
	}()
	select {
	case <-ctx.Done():
		return nil, 0, fmt.Errorf("%w while reading %s %s; nothing was sent", context.Cause(ctx), k.fileFlag, file)
	case got := <-done:
		if got.err != nil {
			return nil, 0, fmt.Errorf("%s %s: %w", k.fileFlag, file, got.err)
		}
		return append(items, got.lines...), fromFile, nil
	}
}

// fileLineError turns the library's verdict on the whole purge into one on the file's line,
// when an item read from --tags-file or --srcimgs-file is at fault: the library indexes the
// items as de-duplicated ("tags[7]"), which a user cannot find in the file. It asks the
// library again, item by item in input order, so that the rules stay the library's; the first
// item refused alone is the one the whole purge was refused for, since de-duplication keeps
// the first of each. Any other error (a flag's value, a rule on the whole request) is err.
func fileLineError(err error, v verb, k itemKind, s scope, f purgeFlags, items []string, fromFile int, file string) error {
	if fromFile == len(items) {
		return err
	}
	for i, item := range items {
		_, itemErr := edgecache.Split(v.request(k, s, []string{item}, f))
		verdict, ok := errors.AsType[*edgecache.ValidationError](itemErr)
		if !ok || !strings.HasSuffix(verdict.Field, "[0]") {
			continue // valid alone, or dropped (a blank line)
		}
		if i < fromFile {
			return err // a flag's value: the library's message quotes it
		}
		name := file
		if file == "-" {
			name = "standard input"
		}
		return fmt.Errorf("%s %s:%d: %s %s (got %s); nothing was sent", k.fileFlag, name, i-fromFile+1, k.one, verdict.Rule, verdict.Value)
	}
	return err
}

// errInputTooLarge is returned for a file past maxInputLines or maxInputBytes.
var errInputTooLarge = errors.New("input too large")

// readLines reads r's lines, without a leading byte-order mark, refusing more than
// maxInputLines lines or maxInputBytes bytes.
func readLines(r io.Reader) ([]string, error) {
	counted := &countingReader{r: io.LimitReader(r, maxInputBytes+1)}
	sc := bufio.NewScanner(counted)
	sc.Buffer(make([]byte, 0, 64*1024), maxLineBytes)
	var lines []string
	for sc.Scan() {
		line := sc.Bytes()
		if len(lines) == 0 {
			line = bytes.TrimPrefix(line, utf8BOM)
		}
		if len(lines) == maxInputLines {
			return nil, fmt.Errorf("%w: more than %d lines; split it into runs of at most %d", errInputTooLarge, maxInputLines, maxInputLines)
		}
		lines = append(lines, string(line))
	}
	if counted.n > maxInputBytes {
		return nil, fmt.Errorf("%w: more than %d MiB; split it into runs of at most %d MiB", errInputTooLarge, maxInputBytes>>20, maxInputBytes>>20)
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return nil, fmt.Errorf("%w: line %d is longer than %d MiB", errInputTooLarge, len(lines)+1, maxLineBytes>>20)
	}
	return lines, sc.Err()
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
