package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vercelkit/edgecache"
)

func TestProgressText(t *testing.T) {
	cases := []struct {
		name    string
		p       edgecache.BulkProgress
		elapsed time.Duration
		want    string
	}{
		{"estimate from the pace so far",
			edgecache.BulkProgress{Requests: 10, RequestsDone: 2, Items: 160, ItemsPurged: 32}, 4 * time.Second,
			"2/10 requests, 32/160 tags purged, about 16 s left"},
		{"failures are counted",
			edgecache.BulkProgress{Requests: 625, RequestsDone: 125, Items: 10000, ItemsPurged: 1984, ItemsFailed: 16}, 30 * time.Second,
			"125/625 requests, 1984/10000 tags purged, 16 failed, about 2 min 0 s left"},
		{"a rate-limit pause replaces the estimate",
			edgecache.BulkProgress{Requests: 10, RequestsDone: 5, Items: 160, ItemsPurged: 80, Pause: 11500 * time.Millisecond}, time.Second,
			"5/10 requests, 80/160 tags purged, waiting 12 s: rate limited"},
		{"no estimate before the first answer",
			edgecache.BulkProgress{Requests: 10, Items: 160}, time.Second,
			"0/10 requests, 0/160 tags purged"},
		{"no estimate at the end",
			edgecache.BulkProgress{Requests: 10, RequestsDone: 10, Items: 160, ItemsPurged: 160}, time.Second,
			"10/10 requests, 160/160 tags purged"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := progressText(tc.p, tagKind, tc.elapsed); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
	if got := progressText(edgecache.BulkProgress{Requests: 2, RequestsDone: 1, Items: 9, ItemsPurged: 8}, imageKind, 0); !strings.Contains(got, "8/9 source images purged") {
		t.Errorf("images: %q", got)
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                "0 s",
		300 * time.Millisecond:           "1 s",
		12 * time.Second:                 "12 s",
		61 * time.Second:                 "1 min 1 s",
		2*time.Hour + 10*time.Minute + 5: "2 h 10 min",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestFit(t *testing.T) {
	line := "125/625 requests, 1984/10000 tags purged, 16 failed, about 2 min 0 s left"
	for _, width := range []int{20, 40, 80} {
		got := fit(line, width)
		if n := utf8.RuneCountInString(got); n > width-1 {
			t.Errorf("width %d: %d characters: %q", width, n, got)
		}
		if !strings.HasPrefix(line, strings.TrimSuffix(got, "…")) {
			t.Errorf("width %d: %q is not the line's start", width, got)
		}
	}
	if got := fit(line, 0); got != line {
		t.Errorf("unknown width cut the line: %q", got)
	}
}

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTestDisplay(terminal bool, width int) (*progressDisplay, *bytes.Buffer, *fakeClock) {
	var out bytes.Buffer
	clock := &fakeClock{t: time.Unix(1000, 0)}
	e := env{stderr: &out, isTerminal: func(any) bool { return terminal }, width: func(any) int { return width }}
	d := newProgressDisplay(e, tagKind)
	d.now, d.start = clock.now, clock.t
	if !terminal {
		d.last = clock.t
	}
	return d, &out, clock
}

// Where standard error is not a terminal, a long run writes a short line every few seconds
// and a short one writes none; a rate-limit pause is written at once.
func TestProgressInLogs(t *testing.T) {
	d, out, clock := newTestDisplay(false, 0)
	p := edgecache.BulkProgress{Requests: 100, Items: 1600}
	for i := 1; i <= 100; i++ {
		clock.t = clock.t.Add(100 * time.Millisecond) // 10 s in all
		p.RequestsDone, p.ItemsPurged = i, 16*i
		d.update(p)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "edgecache: 50/100 requests") || strings.Contains(out.String(), "\r") {
		t.Errorf("want a line at 5 s and at 10 s, got:\n%s", out.String())
	}
	out.Reset()
	clock.t = clock.t.Add(time.Second)
	d.update(edgecache.BulkProgress{Requests: 100, RequestsDone: 100, Items: 1600, Pause: 30 * time.Second})
	if !strings.Contains(out.String(), "waiting 30 s: rate limited") {
		t.Errorf("a pause should be written at once, got %q", out.String())
	}

	short, shortOut, shortClock := newTestDisplay(false, 0)
	for i := 1; i <= 10; i++ {
		shortClock.t = shortClock.t.Add(100 * time.Millisecond)
		short.update(edgecache.BulkProgress{Requests: 10, RequestsDone: i, Items: 160, ItemsPurged: 16 * i})
	}
	short.finish()
	if shortOut.Len() != 0 {
		t.Errorf("a one-second run wrote progress to a log: %q", shortOut.String())
	}
}

// On a terminal, the line is redrawn in place, at most every redrawInterval, cut to the width,
// and cleared at the end.
func TestProgressOnATerminal(t *testing.T) {
	d, out, clock := newTestDisplay(true, 30)
	for i := 1; i <= 20; i++ {
		clock.t = clock.t.Add(25 * time.Millisecond) // 0.5 s in all
		d.update(edgecache.BulkProgress{Requests: 20, RequestsDone: i, Items: 320, ItemsPurged: 16 * i})
	}
	d.finish()
	draws := strings.Split(out.String(), "\r")[1:]
	if len(draws) < 4 || len(draws) > 7 {
		t.Errorf("%d draws in 0.5 s, want about one per %v:\n%q", len(draws), redrawInterval, out.String())
	}
	for _, draw := range draws {
		text := strings.TrimSuffix(draw, clearToEOL)
		if utf8.RuneCountInString(text) > 29 || strings.Contains(text, "\n") {
			t.Errorf("draw %q does not fit 30 columns on one line", text)
		}
	}
	if last := draws[len(draws)-1]; last != clearToEOL {
		t.Errorf("the last write should clear the line, got %q", last)
	}
}
