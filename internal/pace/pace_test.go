package pace_test

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/vercelkit/edgecache/internal/pace"
)

// clock is a virtual clock: Sleep records the wait and moves now forward at once.
type clock struct {
	now   time.Time
	waits []time.Duration
}

func (c *clock) Now() time.Time { return c.now }

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	return nil
}

// The pace is what the server let through from the end of the first pause to the end of the
// second, answers that arrive during the second included, 5% under; MaxRate caps it.
func TestPacerLearnsTheRate(t *testing.T) {
	for _, tc := range []struct {
		maxRate, want float64
	}{{0, 0.95 * 7 / 1.1}, {2, 2}} {
		t.Run(fmt.Sprint("MaxRate=", tc.maxRate), func(t *testing.T) {
			clk := &clock{now: time.Unix(1_700_000_000, 0)}
			ctx := t.Context()
			p := pace.New(tc.maxRate, time.Minute, clk.Now, clk.Sleep, nil)
			wait := func() {
				t.Helper()
				if err := p.Wait(ctx); err != nil {
					t.Fatal(err)
				}
			}
			for range 5 { // the first window
				wait()
				p.Observe(true, false, 0)
			}
			if !p.Observe(false, true, time.Second) {
				t.Fatal("a 429 with Retry-After: 1 is not waited out")
			}
			wait() // until paceStart + 1 s
			for range 5 {
				p.Observe(true, false, 0)
			}
			_ = clk.Sleep(ctx, 100*time.Millisecond)
			p.Observe(false, true, time.Second) // until paceStart + 2.1 s: a span of 1.1 s
			p.Observe(true, false, 0)           // two answers still in flight
			p.Observe(true, false, 0)
			if got, want := p.Limit(), cmp.Or(tc.maxRate, math.MaxFloat64); got != want {
				t.Errorf("before the second pause ends: limit %v, want %v (MaxRate, or none)", got, want)
			}
			wait()
			if math.Abs(p.Limit()-tc.want) > 1e-9 {
				t.Fatalf("learned %v requests/s, want %v", p.Limit(), tc.want)
			}
			before := len(clk.waits)
			wait()
			waits := clk.waits[before:]
			if want := time.Duration(float64(time.Second) / tc.want); len(waits) != 1 || (waits[0]-want).Abs() > time.Microsecond {
				t.Errorf("waits at the pace: %v, want [%v]", waits, want)
			}
		})
	}
}

// TestObserve: only a 429 with a known wait within the cap is waited out; a pause begins once,
// told to onPause, and every worker waits for its end; a cancelled context ends the wait.
func TestObserve(t *testing.T) {
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	var pauses []time.Duration
	p := pace.New(0, time.Minute, clk.Now, clk.Sleep, func(d time.Duration) { pauses = append(pauses, d) })
	for _, tc := range []struct {
		ok, limited bool
		wait        time.Duration
		want        bool
	}{
		{true, false, 0, false},
		{false, false, 5 * time.Second, false}, // not a 429
		{false, true, 0, false},                // a 429 that gives no wait: the retry policy's
		{false, true, time.Hour, false},        // over the cap
		{false, true, 2 * time.Second, true},
		{false, true, time.Second, true}, // within the pause already begun
	} {
		if got := p.Observe(tc.ok, tc.limited, tc.wait); got != tc.want {
			t.Errorf("Observe(%v, %v, %v) = %v, want %v", tc.ok, tc.limited, tc.wait, got, tc.want)
		}
	}
	if len(pauses) != 1 || pauses[0] != 2*time.Second || p.Pause() != 2*time.Second {
		t.Errorf("pauses told %v, Pause() %v; want one of 2s, 2s left", pauses, p.Pause())
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := p.Wait(ctx); err == nil {
		t.Error("Wait returned nil with a cancelled context during a pause")
	}
	if err := p.Wait(t.Context()); err != nil || !clk.now.Equal(time.Unix(1_700_000_002, 0)) {
		t.Errorf("Wait = %v at %v, want nil at the end of the pause", err, clk.now)
	}
}
