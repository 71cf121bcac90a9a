package main

import (
	"fmt"
	"io"
	"time"

	"github.com/vercelkit/edgecache"
)

// progressDisplay shows a bulk purge's progress on standard error, whatever standard output
// carries (text or --json): on a terminal, one line redrawn in place and cut to the terminal's
// width, so that it never wraps into a line per request; elsewhere, as in CI logs, a short line
// every logInterval, so that a long run shows it is alive without flooding the log.
//
// It is a few lines of our own rather than schollz/progressbar or vbauerster/mpb: the line is
// counters and a wait, not a bar; neither library has the plain periodic-line mode for logs,
// and both would bring their own refresh timing and several dependencies for what is one
// fmt.Fprint.
type progressDisplay struct {
	w        io.Writer
	terminal bool
	width    func() int
	now      func() time.Time
	kind     itemKind
	start    time.Time
	last     time.Time // when a line was last drawn
	drawn    bool
}

const (
	// redrawInterval bounds a terminal's redraws: often enough to look live.
	redrawInterval = 100 * time.Millisecond
	// logInterval spaces the lines written where standard error is not a terminal; a run
	// shorter than this writes none.
	logInterval = 5 * time.Second
)

func newProgressDisplay(e env, k itemKind) *progressDisplay {
	now := time.Now()
	d := &progressDisplay{
		w:        e.stderr,
		terminal: e.isTerminal(e.stderr),
		width:    func() int { return e.width(e.stderr) },
		now:      time.Now,
		kind:     k,
		start:    now,
	}
	if !d.terminal {
		d.last = now
	}
	return d
}

// update is the bulk purge's Progress callback. A rate-limit pause is shown at once.
func (d *progressDisplay) update(p edgecache.BulkProgress) {
	now := d.now()
	interval := logInterval
	if d.terminal {
		interval = redrawInterval
	}
	if p.Pause == 0 && now.Sub(d.last) < interval {
		return
	}
	d.last = now
	text := progressText(p, d.kind, now.Sub(d.start))
	if d.terminal {
		// The width is read at each redraw, so a resized terminal is followed.
		fmt.Fprint(d.w, "\r"+fit(text, d.width())+clearToEOL)
		d.drawn = true
		return
	}
	fmt.Fprintln(d.w, "edgecache: "+text)
}

// finish clears the terminal's progress line, which the summary replaces.
func (d *progressDisplay) finish() {
	if d.drawn {
		fmt.Fprint(d.w, "\r"+clearToEOL)
	}
}

// clearToEOL is the ANSI sequence that erases the rest of a terminal's line.
const clearToEOL = "\x1b[K"

// progressText is one progress line: counts, failures, and either the rate-limit wait or an
// estimate of the time left.
func progressText(p edgecache.BulkProgress, k itemKind, elapsed time.Duration) string {
	text := fmt.Sprintf("%d/%d requests, %d/%d %s purged", p.RequestsDone, p.Requests, p.ItemsPurged, p.Items, k.many)
	if p.ItemsFailed > 0 {
		text += fmt.Sprintf(", %d failed", p.ItemsFailed)
	}
	switch {
	case p.Pause > 0:
		text += fmt.Sprintf(", waiting %s: rate limited", humanDuration(p.Pause))
	case p.RequestsDone > 0 && p.RequestsDone < p.Requests:
		left := time.Duration(float64(elapsed) * float64(p.Requests-p.RequestsDone) / float64(p.RequestsDone))
		text += fmt.Sprintf(", about %s left", humanDuration(left))
	}
	return text
}

// humanDuration rounds d up to whole seconds: "12 s", "3 min 5 s", "2 h 10 min".
func humanDuration(d time.Duration) string {
	s := int((d + time.Second - 1) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%d s", s)
	case s < 3600:
		return fmt.Sprintf("%d min %d s", s/60, s%60)
	}
	return fmt.Sprintf("%d h %d min", s/3600, s%3600/60)
}

// fit cuts s to fit a terminal line of width columns, keeping the last column free so that
// the terminal does not wrap; width 0 (unknown) leaves s whole.
func fit(s string, width int) string {
	r := []rune(s)
	if width <= 1 || len(r) < width {
		return s
	}
	return string(r[:width-2]) + "…"
}
