package edgecache_test

// Tests of the coalescing purger (purger.go): merging, duplicates, keys, validation, the
// window, errors for each caller, a caller that stops waiting, Close, and the accounting
// invariant under random faults with a purger closed mid-burst.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/edgecachetest"
)

// invalidate is a one-call invalidation of tags in testProject.
func invalidate(tags ...string) edgecache.InvalidateByTagsRequest {
	return edgecache.InvalidateByTagsRequest{ProjectIDOrName: testProject, Tags: edgecache.TagList(tags...)}
}

// closePurger closes p at the end of the test, so that a failing test leaves no goroutine.
func closePurger(t *testing.T, p *edgecache.Purger) {
	t.Cleanup(func() { _ = p.Close(context.Background()) })
}

// purgeAll calls p.Purge for each request from its own goroutine, all at once, and returns
// each call's error in the order of reqs.
func purgeAll(ctx context.Context, p *edgecache.Purger, reqs []edgecache.Request) []error {
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i, req := range reqs {
		wg.Go(func() { errs[i] = p.Purge(ctx, req) })
	}
	wg.Wait()
	return errs
}

// sortedAccepted is every item of every request the fake accepted, sorted.
func sortedAccepted(fake interface {
	Requests() []edgecachetest.Request
}) []string {
	var all []string
	for _, items := range acceptedItems(fake) {
		all = append(all, items...)
	}
	slices.Sort(all)
	return all
}

// 1,024 goroutines each purging one distinct tag share 64 full requests: a request goes as
// soon as it holds 16 tags (the window here is an hour, so only fullness sends). Every caller
// is told nil and every tag was accepted exactly once.
func TestPurgerMergesConcurrentCalls(t *testing.T) {
	s := newFake(t)
	c := newClient(t, s)
	p := c.NewPurger(edgecache.PurgerOptions{Window: time.Hour})
	closePurger(t, p)
	tags := pacedTags(1024)
	reqs := make([]edgecache.Request, len(tags))
	for i, tag := range tags {
		reqs[i] = invalidate(tag)
	}
	for i, err := range purgeAll(t.Context(), p, reqs) {
		if err != nil {
			t.Errorf("Purge(%s) = %v", tags[i], err)
		}
	}
	if n := s.Calls(); n != 64 {
		t.Errorf("%d requests for 1,024 tags, want 64", n)
	}
	if got := sortedAccepted(s); !slices.Equal(got, tags) {
		t.Errorf("the fake accepted %d tags, want the 1,024, each once", len(got))
	}
	for i, r := range s.Requests() {
		if r.Operation != "invalidateByTags" || len(r.Tags) != 16 {
			t.Errorf("request %d: %s with %d tags, want invalidateByTags with 16", i, r.Operation, len(r.Tags))
		}
	}
}

// Items already waiting are not added twice, whoever asks; Close sends what waits.
func TestPurgerSendsDuplicatesOnce(t *testing.T) {
	s := newFake(t)
	c := newClient(t, s)
	p := c.NewPurger(edgecache.PurgerOptions{Window: time.Hour})
	closePurger(t, p)
	for _, req := range []edgecache.Request{
		invalidate("a", "b", " a "),
		edgecache.InvalidateByTagsRequest{ProjectIDOrName: testProject, Tags: edgecache.TagString("b,a")},
		invalidate("a"),
	} {
		if err := p.Enqueue(req); err != nil {
			t.Fatalf("Enqueue(%v) = %v", req, err)
		}
	}
	if err := p.Close(t.Context()); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if reqs := s.Requests(); len(reqs) != 1 || !slices.Equal(reqs[0].Tags, []string{"a", "b"}) {
		t.Errorf("requests %+v, want one with [a b]", reqs)
	}
}

// Requests are merged per operation, project, team, target and deadline, and never across.
func TestPurgerMergesOnlyAlikeRequests(t *testing.T) {
	s := newFake(t)
	c := newClient(t, s, edgecache.WithTeamID("team_client"))
	p := c.NewPurger(edgecache.PurgerOptions{Window: time.Hour})
	closePurger(t, p)
	del := func(tag string, mod func(*edgecache.DangerouslyDeleteByTagsRequest)) edgecache.Request {
		r := deleteRequest(tag)
		if mod != nil {
			mod(&r)
		}
		return r
	}
	reqs := []edgecache.Request{
		invalidate("a"), invalidate("b"), // one request
		del("c", nil), del("d", nil), // one
		del("e", func(r *edgecache.DangerouslyDeleteByTagsRequest) { r.Target = edgecache.TargetPreview }),
		del("f", func(r *edgecache.DangerouslyDeleteByTagsRequest) { r.RevalidationDeadlineSeconds = edgecache.Ptr(0) }),
		del("g", func(r *edgecache.DangerouslyDeleteByTagsRequest) { r.RevalidationDeadlineSeconds = edgecache.Ptr(60) }),
		del("h", func(r *edgecache.DangerouslyDeleteByTagsRequest) { r.ProjectIDOrName = "prj_other" }),
		del("i", func(r *edgecache.DangerouslyDeleteByTagsRequest) { r.TeamID = "team_other" }),
		del("j", func(r *edgecache.DangerouslyDeleteByTagsRequest) { r.TeamSlug = "other" }),
		edgecache.InvalidateBySrcImagesRequest{ProjectIDOrName: testProject, SrcImages: []string{"/a.png"}},
		edgecache.InvalidateBySrcImagesRequest{ProjectIDOrName: testProject, SrcImages: []string{"/b.png"}},
		edgecache.DangerouslyDeleteBySrcImagesRequest{ProjectIDOrName: testProject, SrcImages: []string{"/c.png"}},
	}
	for _, req := range reqs {
		if err := p.Enqueue(req); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(t.Context()); err != nil {
		t.Fatalf("Close = %v", err)
	}
	var got []string
	for _, r := range s.Requests() {
		deadline := "nil"
		if r.RevalidationDeadlineSeconds != nil {
			deadline = fmt.Sprint(*r.RevalidationDeadlineSeconds)
		}
		got = append(got, fmt.Sprintf("%s %s team=%s/%s target=%s deadline=%s %v", r.Operation, r.ProjectIDOrName, r.TeamID, r.Slug,
			r.Target, deadline, append(r.Tags, r.SrcImages...)))
	}
	sort.Strings(got)
	want := []string{
		"dangerouslyDeleteBySrcImages prj_test team=team_client/ target= deadline=nil [/c.png]",
		"dangerouslyDeleteByTags prj_other team=team_client/ target= deadline=nil [h]",
		"dangerouslyDeleteByTags prj_test team=team_client/ target= deadline=0 [f]",
		"dangerouslyDeleteByTags prj_test team=team_client/ target= deadline=60 [g]",
		"dangerouslyDeleteByTags prj_test team=team_client/ target= deadline=nil [c d]",
		"dangerouslyDeleteByTags prj_test team=team_client/ target=preview deadline=nil [e]",
		"dangerouslyDeleteByTags prj_test team=team_client/other target= deadline=nil [j]",
		"dangerouslyDeleteByTags prj_test team=team_other/ target= deadline=nil [i]",
		"invalidateBySrcImages prj_test team=team_client/ target= deadline=nil [/a.png /b.png]",
		"invalidateByTags prj_test team=team_client/ target= deadline=nil [a b]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A request is validated before anything is queued, as Bulk validates it: any number of items;
// bad input is a *ValidationError naming the field, and nothing is sent. Bad options are
// reported the same way by every call; a closed purger refuses with ErrPurgerClosed.
func TestPurgerRefusals(t *testing.T) {
	s := newFake(t)
	c := newClient(t, s)
	p := c.NewPurger(edgecache.PurgerOptions{Window: time.Millisecond})
	for _, tc := range []struct {
		req   edgecache.Request
		field string
	}{
		{invalidate("ok", "bad\u200b"), "tags[1]"},
		{edgecache.InvalidateByTagsRequest{ProjectIDOrName: testProject}, "tags"},
		{invalidate("  "), "tags"},
		{edgecache.InvalidateByTagsRequest{Tags: edgecache.TagList("a")}, "projectIdOrName"},
		{edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: testProject, Tags: edgecache.TagList("a"), Target: "staging"}, "target"},
		{edgecache.InvalidateBySrcImagesRequest{ProjectIDOrName: testProject, SrcImages: []string{"/a.png", "\x00"}}, "srcImages[1]"},
	} {
		for name, call := range map[string]func() error{
			"Purge":   func() error { return p.Purge(t.Context(), tc.req) },
			"Enqueue": func() error { return p.Enqueue(tc.req) },
		} {
			var vErr *edgecache.ValidationError
			if err := call(); !errors.As(err, &vErr) || vErr.Field != tc.field || !errors.Is(err, edgecache.ErrInvalidRequest) {
				t.Errorf("%s(%+v) = %v, want a *ValidationError naming %s", name, tc.req, err, tc.field)
			}
		}
	}
	if err := p.Purge(t.Context(), invalidate(pacedTags(40)...)); err != nil {
		t.Errorf("Purge of 40 tags = %v, want nil: any number is taken, as Bulk takes them", err)
	}
	if err := p.Close(t.Context()); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if n := s.Calls(); n != 3 {
		t.Errorf("%d requests, want 3: the 40 valid tags only", n)
	}
	for _, call := range []func() error{
		func() error { return p.Purge(t.Context(), invalidate("late")) },
		func() error { return p.Enqueue(invalidate("late")) },
	} {
		if err := call(); !errors.Is(err, edgecache.ErrPurgerClosed) {
			t.Errorf("after Close: %v, want ErrPurgerClosed", err)
		}
	}
	if err := p.Close(t.Context()); err != nil {
		t.Errorf("a second Close = %v, want nil", err)
	}

	for _, tc := range []struct {
		opts  edgecache.PurgerOptions
		field string
	}{
		{edgecache.PurgerOptions{Window: -time.Millisecond}, "Window"},
		{edgecache.PurgerOptions{Concurrency: -1}, "Concurrency"},
		{edgecache.PurgerOptions{MaxRate: -1}, "MaxRate"},
	} {
		bad := c.NewPurger(tc.opts)
		var vErr *edgecache.ValidationError
		if err := bad.Purge(t.Context(), invalidate("a")); !errors.As(err, &vErr) || vErr.Field != tc.field {
			t.Errorf("options %+v: Purge = %v, want a *ValidationError naming %s", tc.opts, err, tc.field)
		}
		if err := bad.Close(t.Context()); err != nil {
			t.Errorf("Close of an unused purger = %v", err)
		}
	}
	if n := s.Calls(); n != 3 {
		t.Errorf("%d requests after the refusals, want still 3", n)
	}
}

// A request that is not full goes when its first item has waited the window, not before.
func TestPurgerSendsAfterTheWindow(t *testing.T) {
	s := newFake(t)
	clock := newManualClock(paceStart)
	c := newClient(t, s, edgecache.WithClock(clock.Now, clock.Sleep))
	p := c.NewPurger(edgecache.PurgerOptions{Window: 50 * time.Millisecond})
	closePurger(t, p)
	done := make(chan error, 1)
	go func() { done <- p.Purge(t.Context(), invalidate("a")) }()
	clock.awaitSleepers(t, 1, nil) // the dispatcher waits for the window
	clock.Advance(49 * time.Millisecond)
	clock.awaitSleepers(t, 1, nil)
	if n := s.Calls(); n != 0 {
		t.Fatalf("%d requests before the window ended, want 0", n)
	}
	if err := p.Enqueue(invalidate("b")); err != nil { // joins the waiting request
		t.Fatal(err)
	}
	clock.Advance(time.Millisecond)
	if err := <-done; err != nil {
		t.Fatalf("Purge = %v", err)
	}
	if reqs := s.Requests(); len(reqs) != 1 || !slices.Equal(reqs[0].Tags, []string{"a", "b"}) {
		t.Errorf("requests %+v, want one with [a b]", reqs)
	}
}

// Each caller is told the outcome of the requests that carried its items, as the error of a
// single call; a caller whose items went in two requests, one refused, gets that refusal.
func TestPurgerTellsEachCallerItsOutcome(t *testing.T) {
	s := newFake(t)
	c := newClient(t, s, noRetry)
	p := c.NewPurger(edgecache.PurgerOptions{Window: time.Hour, Concurrency: 1})
	closePurger(t, p)
	s.FailNext(1, edgecachetest.Fault{Status: http.StatusForbidden})
	first := make([]edgecache.Request, 16)
	for i := range first {
		first[i] = invalidate(fmt.Sprint("first-", i))
	}
	for i, err := range purgeAll(t.Context(), p, first) {
		var apiErr *edgecache.APIError
		if !errors.Is(err, edgecache.ErrForbidden) || !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden {
			t.Errorf("caller %d: %v, want the 403 of its request", i, err)
		}
	}
	s.FailNext(1, edgecachetest.Fault{Status: http.StatusServiceUnavailable})
	err := p.Purge(t.Context(), invalidate(pacedTags(32)...))
	if !errors.Is(err, edgecache.ErrServer) {
		t.Errorf("Purge of two requests, one answered 503: %v, want ErrServer", err)
	}
	if got := len(s.Requests()); got != 1 {
		t.Errorf("the fake accepted %d requests, want 1 (the other got its 503)", got)
	}
}

// When a caller's context ends first, Purge returns at once, and the items are still sent;
// one that then fails is reported by Close, and logged.
func TestPurgerCallerThatStopsWaiting(t *testing.T) {
	var gate atomic.Bool
	released := make(chan struct{})
	fake, rec, url := fakeBehind(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if gate.CompareAndSwap(false, true) {
				<-released
				w.WriteHeader(http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	var logs logBuffer
	c := clientFor(t, url, noRetry, logs.option())
	p := c.NewPurger(edgecache.PurgerOptions{Window: time.Millisecond})
	closePurger(t, p)
	ctx, cancel := context.WithCancel(t.Context())
	returned := make(chan error, 1)
	go func() { returned <- p.Purge(ctx, invalidate("held")) }()
	for len(rec.Seen()) == 0 { // the request is at the server, held
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-returned; !errors.Is(err, context.Canceled) {
		t.Fatalf("Purge = %v, want context.Canceled at once", err)
	}
	if err := p.Purge(ctx, invalidate("never")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Purge with an ended context = %v, want context.Canceled", err)
	}
	close(released)
	err := p.Close(t.Context())
	var closeErr *edgecache.CloseError
	if !errors.As(err, &closeErr) || len(closeErr.Failures) != 1 || !errors.Is(err, edgecache.ErrForbidden) {
		t.Fatalf("Close = %v, want a *CloseError with the 403", err)
	}
	if r, ok := closeErr.Failures[0].Request.(edgecache.InvalidateByTagsRequest); !ok || !slices.Equal(r.Tags.Values(), []string{"held"}) || r.ProjectIDOrName != testProject {
		t.Errorf("failure's request %+v, want invalidateByTags of [held] in %s", closeErr.Failures[0].Request, testProject)
	}
	if !strings.Contains(logs.String(), "no caller was waiting") {
		t.Errorf("the failure was not logged: %q", logs.String())
	}
	if n := len(fake.Requests()) + len(rec.Seen()); n != 1 {
		t.Errorf("%d requests reached the server, want 1 (the ended context queued nothing)", n)
	}
}

// When Close's context ends first, the request in flight is cancelled (its outcome unknown),
// what waits is never sent, and every item is reported: to the caller still waiting, or by
// Close. Nothing is left running (goleak, in TestMain).
func TestPurgerCloseGivesUp(t *testing.T) {
	released := make(chan struct{})
	defer close(released)
	var calls atomic.Int64
	_, _, url := fakeBehind(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			select {
			case <-released:
			case <-r.Context().Done():
			}
		})
	})
	c := clientFor(t, url, noRetry)
	p := c.NewPurger(edgecache.PurgerOptions{Window: time.Hour, Concurrency: 1})
	waiting := make(chan error, 1)
	go func() { waiting <- p.Purge(t.Context(), invalidate(pacedTags(16)...)) }() // full: sent at once, held
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := p.Enqueue(invalidate("queued-1", "queued-2")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := p.Close(ctx)
	var closeErr *edgecache.CloseError
	if !errors.As(err, &closeErr) || !errors.Is(err, edgecache.ErrPurgerClosed) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v, want a *CloseError matching ErrPurgerClosed and context.Canceled", err)
	}
	if len(closeErr.Failures) != 1 || !slices.Equal(closeErr.Failures[0].Request.(edgecache.InvalidateByTagsRequest).Tags.Values(), []string{"queued-1", "queued-2"}) {
		t.Errorf("Close reported %+v, want the two queued tags, never sent", closeErr.Failures)
	}
	werr := <-waiting
	var tErr *edgecache.TransportError
	if !errors.Is(werr, edgecache.ErrPurgerClosed) || !errors.As(werr, &tErr) {
		t.Errorf("the waiting caller got %v, want a *TransportError matching ErrPurgerClosed (sent, outcome unknown)", werr)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d requests reached the server, want 1", n)
	}
}

// A request waiting out a 429 when Close gives up is not sent again; its caller is told so,
// with an error that matches ErrPurgerClosed and the 429's ErrRateLimited.
func TestPurgerClosedDuringAPause(t *testing.T) {
	_, rec, url := fakeBehind(t, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "30")
			write429(w, nil)
		})
	})
	clock := newManualClock(paceStart)
	c := clientFor(t, url, edgecache.WithClock(clock.Now, clock.Sleep))
	p := c.NewPurger(edgecache.PurgerOptions{Window: time.Hour})
	waiting := make(chan error, 1)
	go func() { waiting <- p.Purge(t.Context(), invalidate(pacedTags(16)...)) }()
	clock.awaitSleepers(t, 1, nil) // the request waits out the pause
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := p.Close(ctx); err != nil {
		t.Errorf("Close = %v, want nil: the caller was told", err)
	}
	if err := <-waiting; !errors.Is(err, edgecache.ErrPurgerClosed) || !errors.Is(err, edgecache.ErrRateLimited) {
		t.Errorf("the waiting caller got %v, want an error matching ErrPurgerClosed and ErrRateLimited", err)
	}
	if n := len(rec.Seen()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// TestPurgerAccountingUnderFaults: goroutines purge distinct tags while the server answers
// 429s (most with a wait, some without), 503s and 200s at random; some callers stop waiting;
// Close is called mid-burst, sometimes with a context that ends. Every tag ends in exactly
// one place: purged (the server accepted it once, and its caller, if waiting, got nil), failed
// or interrupted (told to its waiting caller, or reported by Close), or not sent (the same).
// Run with -race.
func TestPurgerAccountingUnderFaults(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			random := lockedRandom(seed, 17)
			closeCtx, giveUp := context.WithCancel(t.Context())
			defer giveUp()
			var calls atomic.Int64
			g := &gatedFake{fake: edgecachetest.NewHandler(edgecachetest.WithTokens(testToken)),
				signal: func(w http.ResponseWriter, r *http.Request) bool {
					if calls.Add(1) == 12 && seed%2 == 1 {
						giveUp() // Close gives up partway
					}
					return randomFaults{random: random, retryAfterMs: "2", waited: 0.2, bare: 0.03, unavailable: 0.07}.answer(w, r)
				}}
			clock := &fakeClock{}
			c := clientOf(t, newHTTPServer(t, g), clock.Option())
			p := c.NewPurger(edgecache.PurgerOptions{Window: time.Millisecond, Concurrency: 8})

			const callers = 200
			type outcome struct {
				tags    []string
				err     error
				waiting bool
			}
			outcomes := make([]outcome, callers)
			var wg sync.WaitGroup
			for i := range callers {
				tags := []string{fmt.Sprintf("t%03d-a", i), fmt.Sprintf("t%03d-b", i)}
				outcomes[i].tags = tags
				wg.Go(func() {
					ctx := t.Context()
					switch i % 10 {
					case 0: // a caller that stops waiting
						var cancel context.CancelFunc
						ctx, cancel = context.WithCancel(ctx)
						time.AfterFunc(time.Duration(random()*float64(5*time.Millisecond)), cancel)
					case 1: // one that does not wait at all
						outcomes[i].err = p.Enqueue(invalidate(tags...))
						return
					}
					outcomes[i].waiting = true
					outcomes[i].err = p.Purge(ctx, invalidate(tags...))
				})
			}
			for deadline := time.Now().Add(20 * time.Second); calls.Load() < 4 && time.Now().Before(deadline); {
				time.Sleep(100 * time.Microsecond) // until the burst is under way
			}
			closeErr := p.Close(closeCtx)
			wg.Wait()

			accepted := map[string]int{}
			for _, items := range acceptedItems(g.fake) {
				for _, tag := range items {
					accepted[tag]++
				}
			}
			reported := map[string]error{}
			var ce *edgecache.CloseError
			if closeErr != nil && !errors.As(closeErr, &ce) {
				t.Fatalf("Close = %v (%T), want nil or a *CloseError", closeErr, closeErr)
			}
			if ce != nil {
				for _, f := range ce.Failures {
					for _, tag := range f.Request.(edgecache.InvalidateByTagsRequest).Tags.Values() {
						if _, dup := reported[tag]; dup {
							t.Errorf("Close reported %s twice", tag)
						}
						reported[tag] = f.Err
					}
				}
			}
			var purged, failed, interrupted, notSent, refused int
			for i, o := range outcomes {
				// A caller whose context had ended, or who came after Close, queued nothing.
				queued := o.err == nil || (o.err.Error() != context.Canceled.Error() && o.err.Error() != edgecache.ErrPurgerClosed.Error())
				// A caller whose own context ended first was told nothing.
				stoppedWaiting := o.err != nil && strings.Contains(o.err.Error(), "stay queued")
				told := o.waiting && o.err != nil && !stoppedWaiting
				for _, tag := range o.tags {
					n, rep := accepted[tag], reported[tag]
					err := o.err
					if !told {
						err = rep
					} else if rep != nil {
						t.Errorf("caller %d was told %v and Close reported %s too", i, o.err, tag)
					}
					switch {
					case !queued:
						refused++
						if n != 0 || rep != nil {
							t.Errorf("%s: refused, yet accepted %d times, reported %v", tag, n, rep)
						}
					case err == nil:
						purged++
						if n != 1 {
							t.Errorf("%s: purged (caller %d: %v), yet accepted %d times", tag, i, o.err, n)
						}
					case errors.As(err, new(*edgecache.TransportError)) && errors.Is(err, edgecache.ErrPurgerClosed):
						interrupted++ // sent, outcome unknown: accepted once at most
						if n > 1 {
							t.Errorf("%s: interrupted, yet accepted %d times", tag, n)
						}
					case errors.Is(err, edgecache.ErrPurgerClosed):
						notSent++
						if n != 0 {
							t.Errorf("%s: never sent (%v), yet accepted %d times", tag, err, n)
						}
					default:
						failed++
						if n != 0 {
							t.Errorf("%s: failed (%v), yet accepted %d times", tag, err, n)
						}
					}
				}
			}
			t.Logf("%d requests: %d tags purged, %d failed, %d interrupted, %d never sent, %d not queued (after Close, or with an ended context)",
				g.calls.Load(), purged, failed, interrupted, notSent, refused)
			if purged+failed+interrupted+notSent+refused != 2*callers {
				t.Errorf("%d tags accounted for, want %d", purged+failed+interrupted+notSent+refused, 2*callers)
			}
		})
	}
}

// BenchmarkPurger: 1,000 goroutines each invalidate one distinct tag, starting one a
// millisecond (all within one second), through one Purger with its defaults. Every caller must
// be told nil and the fake must accept every tag once. Without a limit (20 ms latency) it
// reports the requests sent; against a fake limited to 5 requests a second in fixed one-second
// windows (EDGECACHE_BENCH_RATELIMIT=1; scripts/bench-ratelimit.sh), each way of signalling the
// limit, also the wall time over the floor, ceil(1000/16) requests / 5 per second = 12.6 s,
// and the 429s (targets: at most 70 requests, 1.15x the floor).
func BenchmarkPurger(b *testing.B) {
	const goroutines = 1000
	minRequests := (goroutines + edgecache.MaxTagsPerRequest - 1) / edgecache.MaxTagsPerRequest
	run := func(b *testing.B, c *edgecache.Client, calls func() int) (time.Duration, int) {
		tags := pacedTags(goroutines)
		p := c.NewPurger(edgecache.PurgerOptions{})
		errs := make([]error, goroutines)
		var wg sync.WaitGroup
		start := time.Now()
		for i, tag := range tags {
			wg.Go(func() {
				time.Sleep(time.Until(start.Add(time.Duration(i) * time.Millisecond)))
				errs[i] = p.Purge(b.Context(), invalidate(tag))
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		if err := p.Close(b.Context()); err != nil {
			b.Fatalf("Close: %v", err)
		}
		for i, err := range errs {
			if err != nil {
				b.Fatalf("caller %d: %v", i, err)
			}
		}
		return elapsed, calls()
	}

	b.Run("unlimited/latency=20ms", func(b *testing.B) {
		if f := flag.Lookup("test.benchtime"); b.N > 1 && f != nil && strings.HasSuffix(f.Value.String(), "x") {
			b.Skip("one op takes a second; the first ran (use a -benchtime duration)")
		}
		var requests int
		for range b.N {
			s := edgecachetest.NewServer(edgecachetest.WithLatency(20 * time.Millisecond))
			c, err := s.NewClient()
			if err != nil {
				b.Fatal(err)
			}
			_, n := run(b, c, s.Calls)
			if got := sortedAccepted(s); !slices.Equal(got, pacedTags(goroutines)) {
				b.Fatalf("the fake accepted %d tags, want the %d, each once", len(got), goroutines)
			}
			requests += n
			s.Close()
		}
		b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
	})

	for _, signal := range rateLimitSignals {
		b.Run("limit=5-per-s/signal="+signal, func(b *testing.B) {
			if os.Getenv("EDGECACHE_BENCH_RATELIMIT") == "" {
				b.Skip("a run at 5 requests/s takes 13 s: set EDGECACHE_BENCH_RATELIMIT=1")
			}
			var requests, limited int
			var elapsed time.Duration
			for range b.N {
				fake, url := rateLimitedFake(b, 5, signal)
				d, n := run(b, clientFor(b, url), func() int { return int(fake.calls.Load()) })
				elapsed += d
				requests += n
				limited += int(fake.limited.Load())
			}
			floor := time.Duration(minRequests) * time.Second / 5
			b.ReportMetric(float64(elapsed)/float64(b.N)/float64(floor), "x-floor")
			b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
			b.ReportMetric(float64(limited)/float64(b.N), "429s/op")
		})
	}
}
