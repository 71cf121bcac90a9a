package edgecachetest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/edgecachetest"
)

// A site tags its pages with Vercel-Cache-Tag; the fake's CDN caches them by their
// Cache-Control, and the library's purges, sent to the fake's API, change what it answers.
func ExampleWithOrigin() {
	var version atomic.Int64
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "s-maxage=60")
		w.Header().Set("Vercel-Cache-Tag", "blog")
		fmt.Fprintf(w, "post, version %d", version.Add(1))
	}))
	defer site.Close()

	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fake := edgecachetest.NewServer(
		edgecachetest.WithOrigin(site.URL),
		edgecachetest.WithClock(func() time.Time { return start }), // time moves only when told
	)
	defer fake.Close()
	client, err := fake.NewClient()
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	show := func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fake.CDNURL+"/blog/hello", nil)
		if err != nil {
			panic(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("%-11s age %-2s %s\n", resp.Header.Get("X-Vercel-Cache"), resp.Header.Get("Age"), body)
	}

	show() // the first request goes to the origin
	fake.AdvanceClock(30 * time.Second)
	show() // cached

	// Invalidate: the stale page is served at once while it revalidates in the background.
	_, err = client.InvalidateByTags(ctx, edgecache.InvalidateByTagsRequest{ProjectIDOrName: "my-site", Tags: edgecache.TagList("blog")})
	if err != nil {
		panic(err)
	}
	show()
	_ = fake.CDN().Settle(ctx) // wait for the background revalidation
	show()

	// Dangerously delete: the next request waits for the origin.
	_, err = client.DangerouslyDeleteByTags(ctx, edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "my-site", Tags: edgecache.TagList("blog")})
	if err != nil {
		panic(err)
	}
	show()
	// Output:
	// MISS        age 0  post, version 1
	// HIT         age 30 post, version 1
	// STALE       age 30 post, version 1
	// HIT         age 0  post, version 2
	// REVALIDATED age 0  post, version 3
}
