package edgecache_test

// Reliability of Bulk, the one bulk engine of every operation: normalisation, splitting, bounded concurrency,
// halting after refusals, cancellation, progress, and the exact accounting of every tag.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/edgecachetest"
)

// bulkDelete deletes tags in testProject with one Bulk call.
func bulkDelete(ctx context.Context, c *edgecache.Client, tags []string, opts edgecache.BulkOptions) (*edgecache.BulkResult, error) {
	return c.Bulk(ctx, edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: testProject, Tags: edgecache.TagList(tags...)}, opts)
}

// tagsN returns n distinct tags prefix00, prefix01, ….
func tagsN(prefix string, n int) []string {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("%s%02d", prefix, i)
	}
	return tags
}

// batchesOf splits tags as the bulk purge does: in order, 16 at a time.
func batchesOf(tags []string) [][]string {
	var out [][]string
	for len(tags) > 0 {
		n := min(len(tags), edgecache.MaxTagsPerRequest)
		out = append(out, tags[:n])
		tags = tags[n:]
	}
	return out
}

// acceptedItems returns the tags of every request the fake accepted (answered 200).
func acceptedItems(fake interface {
	Requests() []edgecachetest.Request
}) [][]string {
	var out [][]string
	for _, r := range fake.Requests() {
		out = append(out, append(r.Tags, r.SrcImages...))
	}
	return out
}

// checkAccounting asserts the bulk result's invariant: every distinct input tag is in
// exactly one of Purged, Failed, Interrupted and NotAttempted, nothing else is, and Purged is exactly the
// union of the tags of the requests the server accepted. Every failed batch and every
// accepted request holds at most 16 tags.
func checkAccounting(t *testing.T, distinct []string, res *edgecache.BulkResult, accepted [][]string) {
	t.Helper()
	if res == nil {
		t.Fatal("the bulk purge returned no result")
	}
	where := map[string][]string{}
	for _, tag := range res.Purged {
		where[tag] = append(where[tag], "purged")
	}
	for i, fb := range res.Failed {
		if len(fb.Items) == 0 || len(fb.Items) > edgecache.MaxTagsPerRequest {
			t.Errorf("failed batch %d holds %d tags, want 1 to 16", i, len(fb.Items))
		}
		for _, tag := range fb.Items {
			where[tag] = append(where[tag], fmt.Sprintf("failed[%d]", i))
		}
	}
	for _, tag := range res.Interrupted {
		where[tag] = append(where[tag], "interrupted")
	}
	for _, tag := range res.NotAttempted {
		where[tag] = append(where[tag], "notAttempted")
	}
	for _, tag := range distinct {
		if places := where[tag]; len(places) != 1 {
			t.Errorf("tag %q is accounted for in %v, want exactly one place", tag, places)
		}
		delete(where, tag)
	}
	for tag, places := range where {
		t.Errorf("the result holds %q (in %v), which was not among the input tags", tag, places)
	}

	var acceptedSet []string
	for i, tags := range accepted {
		if len(tags) > edgecache.MaxTagsPerRequest {
			t.Errorf("accepted request %d carried %d tags, more than 16", i, len(tags))
		}
		acceptedSet = append(acceptedSet, tags...)
	}
	slices.Sort(acceptedSet)
	purged := slices.Clone(res.Purged)
	slices.Sort(purged)
	if !slices.Equal(purged, acceptedSet) {
		t.Errorf("purged %q,\nwant exactly the tags of the requests the server accepted %q", purged, acceptedSet)
	}
}

// checkBulkError asserts err is a *BulkError with the counts, and returns it.
func checkBulkError(t *testing.T, err error, failed, notAttempted int) *edgecache.BulkError {
	t.Helper()
	var bErr *edgecache.BulkError
	if !errors.As(err, &bErr) {
		t.Fatalf("error %T (%v), want an *edgecache.BulkError", err, err)
	}
	if bErr.Failed != failed || bErr.NotAttempted != notAttempted {
		t.Errorf("BulkError{Failed: %d, NotAttempted: %d}, want {%d, %d}", bErr.Failed, bErr.NotAttempted, failed, notAttempted)
	}
	return bErr
}

// TestBulkSecondRequestForbidden is the acceptance test: 40 tags go out as 16, 16 and 8, the
// second request is refused with 403, and every tag is reported exactly once.
func TestBulkSecondRequestForbidden(t *testing.T) {
	t.Parallel()
	tags := tagsN("product-", 40)
	batches := batchesOf(tags)
	if len(batches) != 3 || len(batches[0]) != 16 || len(batches[1]) != 16 || len(batches[2]) != 8 {
		t.Fatalf("test setup: batches of %d, %d, %d", len(batches[0]), len(batches[1]), len(batches[2]))
	}

	t.Run("concurrency 1", func(t *testing.T) {
		t.Parallel()
		s := newFake(t)
		clock := &fakeClock{}
		c := newClient(t, s, clock.Option())
		s.FailNext(1, edgecachetest.Fault{})                             // the first request is answered as usual
		s.FailNext(1, edgecachetest.Fault{Status: http.StatusForbidden}) // the second is refused
		res, err := bulkDelete(context.Background(), c, tags, edgecache.BulkOptions{Concurrency: 1})
		checkAccounting(t, tags, res, acceptedItems(s))
		if !slices.Equal(res.Purged, batches[0]) {
			t.Errorf("Purged = %q, want the first 16 tags", res.Purged)
		}
		if len(res.Failed) != 1 {
			t.Fatalf("Failed = %+v, want one batch", res.Failed)
		}
		fb := res.Failed[0]
		if !slices.Equal(fb.Items, batches[1]) || fb.Status != http.StatusForbidden || fb.Code != "forbidden" || fb.Message != "Injected fault: Forbidden" {
			t.Errorf("Failed[0] = {Items: %q, Status: %d, Code: %q, Message: %q},\nwant the second 16 tags, 403, forbidden, %q",
				fb.Items, fb.Status, fb.Code, fb.Message, "Injected fault: Forbidden")
		}
		if !errors.Is(fb.Err, edgecache.ErrForbidden) {
			t.Errorf("Failed[0].Err = %v, want an error matching ErrForbidden", fb.Err)
		}
		if !slices.Equal(res.NotAttempted, batches[2]) {
			t.Errorf("NotAttempted = %q, want the last 8 tags", res.NotAttempted)
		}
		_ = checkBulkError(t, err, 16, 8)
		if !errors.Is(err, edgecache.ErrForbidden) {
			t.Errorf("errors.Is(err, ErrForbidden) = false for %v", err)
		}
		_ = checkAPIError(t, err, http.StatusForbidden, 1)
		if s.Calls() != 2 {
			t.Errorf("the server saw %d requests, want 2: none may start after the 403", s.Calls())
		}
		if len(clock.Waits()) != 0 {
			t.Errorf("the client waited %v; a 403 is not retried", clock.Waits())
		}
	})

	t.Run("concurrency 4", func(t *testing.T) {
		t.Parallel()
		// The order in which the requests reach the server varies from run to run, and with
		// it which batch is refused and whether the third starts; the invariant must hold in
		// every interleaving.
		s := newFake(t)
		c := newClient(t, s, (&fakeClock{}).Option())
		const rounds = 20
		notAttemptedRuns := 0
		for round := range rounds {
			s.Reset()
			s.FailNext(1, edgecachetest.Fault{})
			s.FailNext(1, edgecachetest.Fault{Status: http.StatusForbidden})
			res, err := bulkDelete(context.Background(), c, tags, edgecache.BulkOptions{Concurrency: 4})
			accepted := acceptedItems(s)
			checkAccounting(t, tags, res, accepted)
			if len(res.Failed) != 1 || res.Failed[0].Status != http.StatusForbidden || res.Failed[0].Code != "forbidden" {
				t.Fatalf("round %d: Failed = %+v, want exactly one batch refused with 403 forbidden", round, res.Failed)
			}
			// Whole batches only: each accepted request, the failed one and the not attempted
			// tags are batches of the split.
			isBatch := func(tags []string) bool {
				return slices.ContainsFunc(batches, func(b []string) bool { return slices.Equal(b, tags) })
			}
			for _, a := range accepted {
				if !isBatch(a) {
					t.Errorf("round %d: an accepted request carried %q, not one of the batches", round, a)
				}
			}
			if !isBatch(res.Failed[0].Items) {
				t.Errorf("round %d: the failed batch %q is not one of the batches", round, res.Failed[0].Items)
			}
			if n := len(res.NotAttempted); n > 0 {
				notAttemptedRuns++
				if !isBatch(res.NotAttempted) {
					t.Errorf("round %d: NotAttempted %q is not one batch", round, res.NotAttempted)
				}
			}
			if want := 1 + len(accepted); s.Calls() != want {
				t.Errorf("round %d: the server saw %d requests, want %d (the refused one and the accepted ones)", round, s.Calls(), want)
			}
			_ = checkBulkError(t, err, len(res.Failed[0].Items), len(res.NotAttempted))
			if !errors.Is(err, edgecache.ErrForbidden) {
				t.Errorf("round %d: errors.Is(err, ErrForbidden) = false for %v", round, err)
			}
		}
		t.Logf("%d of %d rounds stopped before the third request", notAttemptedRuns, rounds)
	})
}

func TestBulkNormalisesTags(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		in        []string
		want      []string // the distinct tags, in first-seen order
		wantSizes []int    // tags per request
	}{
		{
			name:      "blank, whitespace and duplicates",
			in:        []string{"  blog ", "products", "", "   ", "blog", "products ", "\thome\n", "Home", "blog", "\u00a0news\u3000"},
			want:      []string{"blog", "products", "home", "Home", "news"},
			wantSizes: []int{5},
		},
		{
			name: "60 entries, 20 distinct",
			in: func() []string {
				var in []string
				for round := range 3 {
					for _, tag := range tagsN("t", 20) {
						in = append(in, strings.Repeat(" ", round)+tag+strings.Repeat("\t", round))
					}
				}
				return in
			}(),
			want:      tagsN("t", 20),
			wantSizes: []int{16, 4},
		},
		{name: "exactly 16", in: tagsN("x", 16), want: tagsN("x", 16), wantSizes: []int{16}},
		{name: "17", in: tagsN("x", 17), want: tagsN("x", 17), wantSizes: []int{16, 1}},
		{name: "one tag among blanks", in: []string{"", " ", "only", "\n"}, want: []string{"only"}, wantSizes: []int{1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newFake(t)
			c := newClient(t, s)
			var progress []edgecache.BulkProgress
			res, err := bulkDelete(context.Background(), c, tc.in, edgecache.BulkOptions{Concurrency: 1, Progress: func(p edgecache.BulkProgress) { progress = append(progress, p) }})
			if err != nil {
				t.Fatalf("Bulk: %v", err)
			}
			if !slices.Equal(res.Purged, tc.want) {
				t.Errorf("Purged = %q, want %q", res.Purged, tc.want)
			}
			if len(res.Failed) != 0 || len(res.NotAttempted) != 0 {
				t.Errorf("Failed %+v, NotAttempted %q; want none", res.Failed, res.NotAttempted)
			}
			accepted := acceptedItems(s)
			checkAccounting(t, tc.want, res, accepted)
			var sizes []int
			var sent []string
			for _, a := range accepted {
				sizes = append(sizes, len(a))
				sent = append(sent, a...)
			}
			if !slices.Equal(sizes, tc.wantSizes) || !slices.Equal(sent, tc.want) {
				t.Errorf("the server got requests of %v tags carrying %q; want %v carrying %q", sizes, sent, tc.wantSizes, tc.want)
			}
			if last := progress[len(progress)-1]; last.Items != len(tc.want) || last.ItemsPurged != len(tc.want) || last.Requests != len(tc.wantSizes) {
				t.Errorf("last progress %+v, want %d distinct tags in %d requests", last, len(tc.want), len(tc.wantSizes))
			}
		})
	}
}

func TestBulkRefusesInvalidInputBeforeSending(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	c := newClient(t, s)
	tags := func(t ...string) edgecache.DangerouslyDeleteByTagsRequest {
		return edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: testProject, Tags: edgecache.TagList(t...)}
	}
	cases := []struct {
		name  string
		req   edgecache.Request
		opts  edgecache.BulkOptions
		field string
		items []string // NotAttempted: every distinct item
	}{
		{"no tags", tags(), edgecache.BulkOptions{}, "tags", nil},
		{"only blank tags", tags("", " ", "\t"), edgecache.BulkOptions{}, "tags", nil},
		{"a comma in the 41st tag", tags(append(tagsN("t", 40), "a,b")...), edgecache.BulkOptions{}, "tags[40]", append(tagsN("t", 40), "a,b")},
		{"a 257-character tag", tags("ok", strings.Repeat("x", 257)), edgecache.BulkOptions{}, "tags[1]", []string{"ok", strings.Repeat("x", 257)}},
		{"an invisible character in the 20th tag, after duplicates", tags(append(append(tagsN("t", 19), "t00", "t01"), "\u200bblog")...), edgecache.BulkOptions{}, "tags[19]", append(tagsN("t", 19), "\u200bblog")},
		{"no project", edgecache.DangerouslyDeleteByTagsRequest{Tags: edgecache.TagList("a")}, edgecache.BulkOptions{}, "projectIdOrName", []string{"a"}},
		{"negative concurrency", tags("a"), edgecache.BulkOptions{Concurrency: -1}, "Concurrency", []string{"a"}},
		{"bad target", edgecache.InvalidateByTagsRequest{ProjectIDOrName: testProject, Tags: edgecache.TagList(tagsN("t", 20)...), Target: "staging"}, edgecache.BulkOptions{}, "target", tagsN("t", 20)},
		{"deadline over a year", edgecache.DangerouslyDeleteBySrcImagesRequest{ProjectIDOrName: testProject, SrcImages: []string{"/a.png"}, RevalidationDeadlineSeconds: edgecache.Ptr(31536001)}, edgecache.BulkOptions{}, "revalidationDeadlineSeconds", []string{"/a.png"}},
		{"an empty image is dropped, a bad one is not", edgecache.InvalidateBySrcImagesRequest{ProjectIDOrName: testProject, SrcImages: append(tagsN("/i", 9), "", "/\xff.png")}, edgecache.BulkOptions{}, "srcImages[9]", append(tagsN("/i", 9), "/\xff.png")},
	}
	for _, tc := range cases {
		res, err := c.Bulk(context.Background(), tc.req, tc.opts)
		var ve *edgecache.ValidationError
		if !errors.As(err, &ve) || !errors.Is(err, edgecache.ErrInvalidRequest) || ve.Field != tc.field {
			t.Errorf("%s: error %v, want a *ValidationError for %s", tc.name, err, tc.field)
		}
		// The result is never nil: every distinct item is accounted for as not attempted.
		if res == nil || len(res.Purged) != 0 || len(res.Failed) != 0 || !slices.Equal(res.NotAttempted, tc.items) {
			t.Errorf("%s: result %+v, want every distinct item not attempted: %q", tc.name, res, tc.items)
		}
		if _, splitErr := edgecache.Split(tc.req); tc.opts.Concurrency == 0 && (splitErr == nil || splitErr.Error() != err.Error()) {
			t.Errorf("%s: Split error %v, want Bulk's %v", tc.name, splitErr, err)
		}
	}
	if s.Calls() != 0 {
		t.Errorf("the server saw %d requests, want none", s.Calls())
	}
}

// TestBulkConcurrencyIsBounded counts the requests in flight at the server, each held for
// 30 ms so that the workers overlap.
func TestBulkConcurrencyIsBounded(t *testing.T) {
	t.Parallel()
	if edgecache.DefaultBulkConcurrency != 4 {
		t.Errorf("DefaultBulkConcurrency = %d, want 4", edgecache.DefaultBulkConcurrency)
	}
	tags := tagsN("k", 160) // 10 requests
	for _, tc := range []struct {
		concurrency, limit int
	}{{0, 4}, {1, 1}, {2, 2}, {4, 4}, {32, 10}} {
		t.Run(fmt.Sprintf("Concurrency %d", tc.concurrency), func(t *testing.T) {
			t.Parallel()
			var inFlight, most atomic.Int32
			hold := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					n := inFlight.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					time.Sleep(30 * time.Millisecond)
					inFlight.Add(-1)
					next.ServeHTTP(w, r)
				})
			}
			fake, rec, url := fakeBehind(t, hold)
			c := clientFor(t, url)
			res, err := bulkDelete(context.Background(), c, tags, edgecache.BulkOptions{Concurrency: tc.concurrency})
			if err != nil {
				t.Fatalf("Bulk: %v", err)
			}
			var accepted [][]string
			for _, r := range fake.Requests() {
				accepted = append(accepted, r.Tags)
			}
			checkAccounting(t, tags, res, accepted)
			if len(rec.Seen()) != 10 {
				t.Errorf("the server saw %d requests, want 10", len(rec.Seen()))
			}
			got := int(most.Load())
			t.Logf("at most %d requests in flight (limit %d)", got, tc.limit)
			if got > tc.limit {
				t.Errorf("%d requests were in flight at once, want at most %d", got, tc.limit)
			}
			if tc.limit > 1 && got < 2 {
				t.Errorf("never more than %d request in flight: the requests did not run concurrently", got)
			}
		})
	}
}

// TestBulkProgress checks that the callback runs once per request and never concurrently.
// calls is deliberately unsynchronised: under -race, two overlapping callbacks are a
// reported data race; without it, inside catches them.
func TestBulkProgress(t *testing.T) {
	t.Parallel()
	s := newFake(t, edgecachetest.WithLatency(20*time.Millisecond)) // keep 4 requests in flight together
	c := newClient(t, s, edgecache.WithRetry(edgecache.RetryPolicy{MaxAttempts: 1}))
	s.FailNext(1, edgecachetest.Fault{Status: http.StatusInternalServerError}) // whichever request arrives first
	tags := tagsN("p", 100)                                                    // 7 requests: 6 × 16 + 4
	var (
		calls   int
		seen    []edgecache.BulkProgress
		inside  atomic.Int32
		overlap atomic.Bool
	)
	res, err := bulkDelete(context.Background(), c, tags, edgecache.BulkOptions{Concurrency: 4, Progress: func(p edgecache.BulkProgress) {
		if inside.Add(1) != 1 {
			overlap.Store(true)
		}
		calls++
		seen = append(seen, p)
		time.Sleep(2 * time.Millisecond) // widen the window in which an overlap would show
		inside.Add(-1)
	}})
	if overlap.Load() {
		t.Error("two Progress calls overlapped")
	}
	if calls != 7 {
		t.Fatalf("Progress was called %d times, want 7 (once per request)", calls)
	}
	checkAccounting(t, tags, res, acceptedItems(s))
	if len(res.Failed) != 1 {
		t.Fatalf("Failed = %+v, want one batch (the first to arrive got a 500)", res.Failed)
	}
	_ = checkBulkError(t, err, len(res.Failed[0].Items), 0)
	for i, p := range seen {
		if p.Requests != 7 || p.Items != 100 || p.RequestsDone != i+1 {
			t.Errorf("progress %d = %+v, want Requests 7, Items 100, RequestsDone %d", i, p, i+1)
		}
		if i > 0 && (p.ItemsPurged < seen[i-1].ItemsPurged || p.ItemsFailed < seen[i-1].ItemsFailed) {
			t.Errorf("progress went backwards: %+v after %+v", p, seen[i-1])
		}
	}
	last := seen[len(seen)-1]
	if last.ItemsPurged != len(res.Purged) || last.ItemsFailed != len(res.Failed[0].Items) {
		t.Errorf("last progress %+v, want ItemsPurged %d and ItemsFailed %d as in the result", last, len(res.Purged), len(res.Failed[0].Items))
	}
}

// TestBulkStopsAfterRefusal: after a 401, 402, 403, 404 or a 429 over the wait cap no new request starts (the rest would
// fail the same way); after other failures the purge carries on.
func TestBulkStopsAfterRefusal(t *testing.T) {
	t.Parallel()
	tags := tagsN("t", 80) // 5 requests of 16
	batches := batchesOf(tags)
	cases := []struct {
		name     string
		fault    edgecachetest.Fault
		faults   int // answers that get the fault: the attempts of the first request
		opts     []edgecachetest.Option
		sentinel error
		halts    bool
	}{
		{name: "401", fault: edgecachetest.Fault{Status: 401}, faults: 1, sentinel: edgecache.ErrUnauthorized, halts: true},
		{name: "403", fault: edgecachetest.Fault{Status: 403}, faults: 1, sentinel: edgecache.ErrForbidden, halts: true},
		{name: "404", fault: edgecachetest.Fault{Status: 404}, faults: 1, sentinel: edgecache.ErrNotFound, halts: true},
		{name: "unknown project", opts: []edgecachetest.Option{edgecachetest.WithProjects("another")}, sentinel: edgecache.ErrNotFound, halts: true},
		{name: "400", fault: edgecachetest.Fault{Status: 400}, faults: 1, sentinel: edgecache.ErrBadRequest},
		{name: "410", fault: edgecachetest.Fault{Status: 410}, faults: 1, sentinel: edgecache.ErrGone},
		{name: "500 three times", fault: edgecachetest.Fault{Status: 500}, faults: 3, sentinel: edgecache.ErrServer},
		{name: "429 for an hour", fault: edgecachetest.Fault{Status: 429, RetryAfter: "3600"}, faults: 1, sentinel: edgecache.ErrRateLimited, halts: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newFake(t, tc.opts...)
			c := newClient(t, s, (&fakeClock{}).Option())
			s.FailNext(tc.faults, tc.fault)
			res, err := bulkDelete(context.Background(), c, tags, edgecache.BulkOptions{Concurrency: 1})
			checkAccounting(t, tags, res, acceptedItems(s))
			if !errors.Is(err, tc.sentinel) {
				t.Errorf("errors.Is(err, %v) = false for %v", tc.sentinel, err)
			}
			if tc.halts {
				if len(res.Failed) != 1 || !slices.Equal(res.Failed[0].Items, batches[0]) || len(res.Purged) != 0 || !slices.Equal(res.NotAttempted, tags[16:]) {
					t.Errorf("result %+v, want the first batch failed and the other 64 tags not attempted", res)
				}
				if s.Calls() != 1 {
					t.Errorf("the server saw %d requests, want 1: no request may start after a %s", s.Calls(), tc.name)
				}
				_ = checkBulkError(t, err, 16, 64)
				return
			}
			if len(res.Failed) != 1 || !slices.Equal(res.Failed[0].Items, batches[0]) || !slices.Equal(res.Purged, tags[16:]) || len(res.NotAttempted) != 0 {
				t.Errorf("result %+v, want the first batch failed and the other 64 tags purged", res)
			}
			if want := tc.faults + 4; s.Calls() != want {
				t.Errorf("the server saw %d requests, want %d", s.Calls(), want)
			}
			_ = checkBulkError(t, err, 16, 0)
		})
	}
}

// TestBulkMiddleRequestFails: the second of three requests fails for good; the others are
// purged, and the failure says why.
func TestBulkMiddleRequestFails(t *testing.T) {
	t.Parallel()
	tags := tagsN("m", 40)
	batches := batchesOf(tags)
	cases := []struct {
		name  string
		fault edgecachetest.Fault
		check func(t *testing.T, fb edgecache.FailedBatch)
	}{
		{
			name:  "503 on every attempt",
			fault: edgecachetest.Fault{Status: http.StatusServiceUnavailable},
			check: func(t *testing.T, fb edgecache.FailedBatch) {
				if fb.Status != 503 || fb.Code != "internal_server_error" || fb.Message != "Injected fault: Service Unavailable" {
					t.Errorf("failed batch {Status: %d, Code: %q, Message: %q}, want 503 internal_server_error", fb.Status, fb.Code, fb.Message)
				}
				_ = checkAPIError(t, fb.Err, 503, 3)
			},
		},
		{
			name:  "connection dropped on every attempt",
			fault: edgecachetest.Fault{DropConnection: true},
			check: func(t *testing.T, fb edgecache.FailedBatch) {
				var tErr *edgecache.TransportError
				if fb.Status != 0 || fb.Code != "" || !errors.As(fb.Err, &tErr) || tErr.Attempts != 3 || !strings.Contains(fb.Message, "no answer after 3 attempts") {
					t.Errorf("failed batch {Status: %d, Code: %q, Message: %q, Err: %T}, want status 0 and a *TransportError after 3 attempts",
						fb.Status, fb.Code, fb.Message, fb.Err)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newFake(t)
			c := newClient(t, s, (&fakeClock{}).Option())
			s.FailNext(1, edgecachetest.Fault{})
			s.FailNext(3, tc.fault)
			res, err := bulkDelete(context.Background(), c, tags, edgecache.BulkOptions{Concurrency: 1})
			checkAccounting(t, tags, res, acceptedItems(s))
			if want := append(slices.Clone(batches[0]), batches[2]...); !slices.Equal(res.Purged, want) {
				t.Errorf("Purged = %q, want the first and third batches", res.Purged)
			}
			if len(res.Failed) != 1 || !slices.Equal(res.Failed[0].Items, batches[1]) {
				t.Fatalf("Failed = %+v, want the second batch", res.Failed)
			}
			tc.check(t, res.Failed[0])
			_ = checkBulkError(t, err, 16, 0)
			if s.Calls() != 5 {
				t.Errorf("the server saw %d requests, want 5 (1 + 3 attempts + 1)", s.Calls())
			}
		})
	}
}

// TestBulkContextCancelled cancels the context while the second of three requests hangs: that
// request is interrupted (its outcome unknown), the third is never sent, and no goroutine is
// left.
// Not parallel, so that the leak check sees only this test's goroutines.
func TestBulkContextCancelled(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	s := edgecachetest.NewServer(edgecachetest.WithTokens(testToken))
	c, err := s.NewClient()
	if err != nil {
		s.Close()
		t.Fatal(err)
	}
	tags := tagsN("c", 40)
	batches := batchesOf(tags)
	s.FailNext(1, edgecachetest.Fault{})
	s.FailNext(1, edgecachetest.Fault{Latency: 10 * time.Second})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelled := make(chan time.Time, 1)
	go func() {
		deadline := time.Now().Add(10 * time.Second)
		for s.Calls() < 2 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
		cancelled <- time.Now()
		cancel()
	}()
	var progressCalls int
	res, err := bulkDelete(ctx, c, tags, edgecache.BulkOptions{Concurrency: 1, Progress: func(edgecache.BulkProgress) { progressCalls++ }})
	returned := time.Now()
	cancelAt := <-cancelled
	accepted := acceptedItems(s)
	calls := s.Calls()
	s.Close()

	t.Logf("returned %s after the cancel", returned.Sub(cancelAt))
	if d := returned.Sub(cancelAt); d > time.Second {
		t.Errorf("returned %s after the cancel, want promptly", d)
	}
	checkAccounting(t, tags, res, accepted)
	if !slices.Equal(res.Purged, batches[0]) || !slices.Equal(res.NotAttempted, batches[2]) {
		t.Errorf("Purged %q, NotAttempted %q; want the first batch purged and the third not attempted", res.Purged, res.NotAttempted)
	}
	if len(res.Failed) != 0 || !slices.Equal(res.Interrupted, batches[1]) {
		t.Errorf("Failed = %+v, Interrupted = %q; want the second batch interrupted", res.Failed, res.Interrupted)
	}
	if bErr := checkBulkError(t, err, 0, 8); bErr.Interrupted != 16 {
		t.Errorf("BulkError.Interrupted = %d, want 16", bErr.Interrupted)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(err, context.Canceled) = false for %v", err)
	}
	if calls != 2 || progressCalls != 2 {
		t.Errorf("the server saw %d requests and Progress ran %d times; want 2 and 2", calls, progressCalls)
	}
	goleak.VerifyNone(t, ignore)
}

func TestBulkContextCancelledBeforeStart(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	c := newClient(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tags := tagsN("b", 40)
	res, err := bulkDelete(ctx, c, tags, edgecache.BulkOptions{})
	checkAccounting(t, tags, res, nil)
	if !slices.Equal(res.NotAttempted, tags) {
		t.Errorf("NotAttempted = %q, want every tag", res.NotAttempted)
	}
	_ = checkBulkError(t, err, 0, 40)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(err, context.Canceled) = false for %v", err)
	}
	if s.Calls() != 0 {
		t.Errorf("the server saw %d requests, want none", s.Calls())
	}
}

// TestSplit: the requests Bulk would send, for each kind of item, without sending; the items are
// trimmed and de-duplicated, and an error names an item by its index among the distinct items.
func TestSplit(t *testing.T) {
	t.Parallel()
	images := append(tagsN("/img/", 20), " /img/00 ", "/img/01", "")
	reqs, err := edgecache.Split(edgecache.DangerouslyDeleteBySrcImagesRequest{ProjectIDOrName: testProject, SrcImages: images, RevalidationDeadlineSeconds: edgecache.Ptr(5)})
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	var all []string
	for _, r := range reqs {
		d, ok := r.(edgecache.DangerouslyDeleteBySrcImagesRequest)
		if !ok || d.ProjectIDOrName != testProject || d.RevalidationDeadlineSeconds == nil || *d.RevalidationDeadlineSeconds != 5 {
			t.Fatalf("request %#v, want a DangerouslyDeleteBySrcImagesRequest with the project and deadline", r)
		}
		sizes = append(sizes, len(d.SrcImages))
		all = append(all, d.SrcImages...)
	}
	if !slices.Equal(sizes, []int{8, 8, 4}) || !slices.Equal(all, tagsN("/img/", 20)) {
		t.Errorf("split into %v carrying %q, want 8, 8, 4 carrying each image once", sizes, all)
	}

	reqs, err = edgecache.Split(edgecache.InvalidateByTagsRequest{ProjectIDOrName: testProject, Tags: edgecache.TagString("a, b,,a,c "), Target: edgecache.TargetPreview})
	if err != nil || len(reqs) != 1 {
		t.Fatalf("Split = %v, %v; want one request", reqs, err)
	}
	if r := reqs[0].(edgecache.InvalidateByTagsRequest); !r.Tags.IsList() || !slices.Equal(r.Tags.Values(), []string{"a", "b", "c"}) || r.Target != edgecache.TargetPreview {
		t.Errorf("request %+v, want the list form of a, b, c for preview", r)
	}

	_, err = edgecache.Split(edgecache.InvalidateByTagsRequest{ProjectIDOrName: testProject, Tags: edgecache.TagList(append(tagsN("t", 33), strings.Repeat("x", 300))...)})
	checkValidationError(t, err, "tags[33]", "at most 256 characters", "300 characters")
}
