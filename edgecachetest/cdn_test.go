package edgecachetest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/edgecachetest"
)

// t0 is where the CDN tests' clock stands until a test moves it.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// origin is an httptest origin that answers every request with the headers its test gives,
// and a body that says which fetch of that method and URL produced it ("v1", "v2", …), so a
// test sees whether an answer came from the cache or from a new fetch.
type origin struct {
	*httptest.Server
	mu      sync.Mutex
	fetches map[string]int
	failing atomic.Bool // answer 503 from now on
}

func newOrigin(t *testing.T, respond func(w http.ResponseWriter, r *http.Request)) *origin {
	t.Helper()
	o := &origin{fetches: make(map[string]int)}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.fetches[r.Method+" "+r.URL.RequestURI()]++
		n := o.fetches[r.Method+" "+r.URL.RequestURI()]
		o.mu.Unlock()
		if o.failing.Load() {
			http.Error(w, "origin down", http.StatusServiceUnavailable)
			return
		}
		respond(w, r)
		_, _ = fmt.Fprintf(w, "v%d", n)
	}))
	t.Cleanup(o.Close)
	return o
}

// fetched returns how many requests for method and URL reached the origin.
func (o *origin) fetched(methodAndURL string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.fetches[methodAndURL]
}

// headersOrigin answers status with the header pairs for every request.
func headersOrigin(status int, pairs ...string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(pairs); i += 2 {
			w.Header().Add(pairs[i], pairs[i+1])
		}
		w.WriteHeader(status)
	}
}

// newCDN starts an origin and a fake with a CDN in front of it, on a frozen clock.
func newCDN(t *testing.T, respond func(w http.ResponseWriter, r *http.Request), opts ...edgecachetest.Option) (*edgecachetest.Server, *origin) {
	t.Helper()
	o := newOrigin(t, respond)
	opts = append([]edgecachetest.Option{
		edgecachetest.WithOrigin(o.URL),
		edgecachetest.WithClock(func() time.Time { return t0 }),
		edgecachetest.WithAdminAPI(),
	}, opts...)
	fake := edgecachetest.NewServer(opts...)
	t.Cleanup(fake.Close)
	return fake, o
}

// cdnAnswer is what a client got from the CDN.
type cdnAnswer struct {
	status int
	header http.Header
	body   string
}

func (a cdnAnswer) cache() string { return a.header.Get("X-Vercel-Cache") }

// noRedirects shows a redirect as it came, as a cache test must.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// get sends method and target ("/p", or "POST /p") to the CDN with the header pairs.
func get(t *testing.T, fake *edgecachetest.Server, target string, pairs ...string) cdnAnswer {
	t.Helper()
	method := http.MethodGet
	if m, path, ok := strings.Cut(target, " "); ok {
		method, target = m, path
	}
	req, err := http.NewRequestWithContext(t.Context(), method, fake.CDNURL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		req.Header.Add(pairs[i], pairs[i+1])
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, target, err)
	}
	return cdnAnswer{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// purge sends req through the library's client to the fake's API, and settles nothing.
func purgeWith(t *testing.T, fake *edgecachetest.Server, req edgecache.Request) {
	t.Helper()
	client, err := fake.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var res *edgecache.Result
	switch r := req.(type) {
	case edgecache.InvalidateByTagsRequest:
		res, err = client.InvalidateByTags(ctx, r)
	case edgecache.DangerouslyDeleteByTagsRequest:
		res, err = client.DangerouslyDeleteByTags(ctx, r)
	case edgecache.InvalidateBySrcImagesRequest:
		res, err = client.InvalidateBySrcImages(ctx, r)
	case edgecache.DangerouslyDeleteBySrcImagesRequest:
		res, err = client.DangerouslyDeleteBySrcImages(ctx, r)
	default:
		t.Fatalf("purge: unknown request %T", req)
	}
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("purge %+v: %v %+v", req, err, res)
	}
}

// settle waits for the CDN's background revalidations.
func settle(t *testing.T, fake *edgecachetest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := fake.CDN().Settle(ctx); err != nil {
		t.Fatalf("Settle: %v", err)
	}
}

// The purge requests the behaviour table uses.
func invalidate(tags ...string) edgecache.Request {
	return edgecache.InvalidateByTagsRequest{ProjectIDOrName: "site", Tags: edgecache.TagList(tags...)}
}

func deleteTags(deadline *int, tags ...string) edgecache.Request {
	return edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "site", Tags: edgecache.TagList(tags...), RevalidationDeadlineSeconds: deadline}
}

// step is one line of a behaviour: a request and what it must get, or an action between
// requests. Exactly one of get, advance, purge, settle and fail is set.
type step struct {
	get     string   // a request: "/p", or "METHOD /p"
	with    []string // request header pairs
	cache   string   // the x-vercel-cache it must get
	body    string   // the body it must get, "v1" for the origin's first fetch; "" skips
	status  int      // the status it must get; 0 means 200
	age     string   // the Age it must get; "" skips, "none" wants no Age
	sees    []string // response header pairs it must get; a value of "none" wants the header absent
	advance time.Duration
	purge   edgecache.Request
	settle  bool // wait for background revalidations
	fail    bool // the origin answers 503 from here on
}

// TestCDNBehaviourTable is the package documentation's behaviour table, case by case: each
// line of the table is one case, and each request in it states the x-vercel-cache it must
// get and which origin fetch its body must come from.
func TestCDNBehaviourTable(t *testing.T) {
	const (
		miss, hit, stale, revalidated, bypass = edgecachetest.CacheMiss, edgecachetest.CacheHit,
			edgecachetest.CacheStale, edgecachetest.CacheRevalidated, edgecachetest.CacheBypass
	)
	smaxage := []string{"Cache-Control", "s-maxage=60", "Vercel-Cache-Tag", "blog"}
	cases := []struct {
		name    string
		status  int      // the origin's status; 0 means 200
		headers []string // the origin's headers
		respond func(w http.ResponseWriter, r *http.Request)
		opts    []edgecachetest.Option
		steps   []step
	}{
		// Which responses are cached.
		{name: "no cache header: MISS, never stored", steps: []step{
			{get: "/p", cache: miss, body: "v1", age: "none"}, {get: "/p", cache: miss, body: "v2"}}},
		{name: "Cache-Control max-age alone is for browsers: MISS", headers: []string{"Cache-Control", "public, max-age=60"}, steps: []step{
			{get: "/p", cache: miss, body: "v1"}, {get: "/p", cache: miss, body: "v2"}}},
		{name: "s-maxage: MISS, then HIT within the TTL, with its Age", headers: smaxage, steps: []step{
			{get: "/p", cache: miss, body: "v1", age: "0"}, {advance: 59 * time.Second}, {get: "/p", cache: hit, body: "v1", age: "59"}}},
		{name: "s-maxage without stale-while-revalidate: MISS after the TTL", headers: smaxage, steps: []step{
			{get: "/p", cache: miss, body: "v1"}, {advance: 60 * time.Second}, {get: "/p", cache: miss, body: "v2", age: "0"}}},
		{name: "stale-while-revalidate: STALE once after the TTL, then the revalidated HIT",
			headers: []string{"Cache-Control", "s-maxage=60, stale-while-revalidate=30"}, steps: []step{
				{get: "/p", cache: miss, body: "v1"}, {advance: 61 * time.Second}, {get: "/p", cache: stale, body: "v1", age: "61"},
				{settle: true}, {get: "/p", cache: hit, body: "v2", age: "0"}}},
		{name: "past s-maxage plus stale-while-revalidate: MISS",
			headers: []string{"Cache-Control", "s-maxage=60, stale-while-revalidate=30"}, steps: []step{
				{get: "/p", cache: miss, body: "v1"}, {advance: 90 * time.Second}, {get: "/p", cache: miss, body: "v2"}}},
		{name: "CDN-Cache-Control max-age caches, and is passed on", headers: []string{"CDN-Cache-Control", "max-age=60"}, steps: []step{
			{get: "/p", cache: miss, body: "v1", sees: []string{"CDN-Cache-Control", "max-age=60"}}, {get: "/p", cache: hit, body: "v1"}}},
		{name: "Vercel-CDN-Cache-Control decides over Cache-Control's private, and is consumed",
			headers: []string{"Vercel-CDN-Cache-Control", "max-age=60", "Cache-Control", "private, max-age=0"}, steps: []step{
				{get: "/p", cache: miss, body: "v1", sees: []string{"Vercel-CDN-Cache-Control", "none", "Cache-Control", "private, max-age=0"}},
				{get: "/p", cache: hit, body: "v1"}}},
		{name: "Vercel-CDN-Cache-Control decides over CDN-Cache-Control",
			headers: []string{"Vercel-CDN-Cache-Control", "no-store", "CDN-Cache-Control", "max-age=60"}, steps: []step{
				{get: "/p", cache: miss, body: "v1"}, {get: "/p", cache: miss, body: "v2"}}},
		{name: "CDN-Cache-Control decides over Cache-Control",
			headers: []string{"CDN-Cache-Control", "max-age=60", "Cache-Control", "s-maxage=1"}, steps: []step{
				{get: "/p", cache: miss, body: "v1"}, {advance: 30 * time.Second}, {get: "/p", cache: hit, body: "v1"}}},
		{name: "Cache-Control's s-maxage and stale-while-revalidate are consumed, the rest passed on",
			headers: []string{"Cache-Control", "public, s-maxage=60, stale-while-revalidate=30, max-age=5"}, steps: []step{
				{get: "/p", cache: miss, sees: []string{"Cache-Control", "public, max-age=5"}}, {get: "/p", cache: hit, sees: []string{"Cache-Control", "public, max-age=5"}}}},
		{name: "private: not stored", headers: []string{"Cache-Control", "private, s-maxage=60"}, steps: []step{
			{get: "/p", cache: miss, body: "v1"}, {get: "/p", cache: miss, body: "v2"}}},
		{name: "no-store: not stored", headers: []string{"Cache-Control", "no-store, s-maxage=60"}, steps: []step{
			{get: "/p", cache: miss, body: "v1"}, {get: "/p", cache: miss, body: "v2"}}},
		{name: "no-cache: not stored", headers: []string{"Cache-Control", "no-cache, s-maxage=60"}, steps: []step{
			{get: "/p", cache: miss, body: "v1"}, {get: "/p", cache: miss, body: "v2"}}},
		{name: "s-maxage=0: below the 1 s minimum, not stored", headers: []string{"Cache-Control", "s-maxage=0"}, steps: []step{
			{get: "/p", cache: miss, body: "v1"}, {get: "/p", cache: miss, body: "v2"}}},
		{name: "s-maxage over a year: cached for one year", headers: []string{"Cache-Control", "s-maxage=999999999"}, steps: []step{
			{get: "/p", cache: miss, body: "v1"}, {advance: 365*24*time.Hour - time.Second}, {get: "/p", cache: hit, body: "v1"},
			{advance: time.Second}, {get: "/p", cache: miss, body: "v2"}}},
		{name: "Set-Cookie: not stored, and the cookie reaches the client",
			headers: []string{"Cache-Control", "s-maxage=60", "Set-Cookie", "session=1"}, steps: []step{
				{get: "/p", cache: miss, body: "v1", sees: []string{"Set-Cookie", "session=1"}}, {get: "/p", cache: miss, body: "v2"}}},
		{name: "Vary: Cookie: not stored (vary_key_denied)", headers: []string{"Cache-Control", "s-maxage=60", "Vary", "Cookie"}, steps: []step{
			{get: "/p", cache: miss, body: "v1"}, {get: "/p", cache: miss, body: "v2"}}},
		{name: "Vary: * counts as private", headers: []string{"Cache-Control", "s-maxage=60", "Vary", "*"}, steps: []step{
			{get: "/p", cache: miss, body: "v1"}, {get: "/p", cache: miss, body: "v2"}}},
		{name: "Vary: a request header is in the key", headers: []string{"Cache-Control", "s-maxage=60", "Vary", "X-Country"}, steps: []step{
			{get: "/p", with: []string{"X-Country", "fr"}, cache: miss, body: "v1"},
			{get: "/p", with: []string{"X-Country", "de"}, cache: miss, body: "v2"},
			{get: "/p", with: []string{"X-Country", "fr"}, cache: hit, body: "v1"}}},
		{name: "Accept is in the key", headers: smaxage, steps: []step{
			{get: "/p", with: []string{"Accept", "text/html"}, cache: miss, body: "v1"},
			{get: "/p", with: []string{"Accept", "application/json"}, cache: miss, body: "v2"},
			{get: "/p", with: []string{"Accept", "text/html"}, cache: hit, body: "v1"}}},
		{name: "the query is in the key", headers: smaxage, steps: []step{
			{get: "/p?a=1", cache: miss, body: "v1"}, {get: "/p?a=2", cache: miss, body: "v1"}, {get: "/p?a=1", cache: hit, body: "v1"}}},
		{name: "status 404 is cached", status: 404, headers: smaxage, steps: []step{
			{get: "/p", status: 404, cache: miss, body: "v1"}, {get: "/p", status: 404, cache: hit, body: "v1"}}},
		{name: "status 308 is cached", status: 308, headers: []string{"Cache-Control", "s-maxage=60", "Location", "/q"}, steps: []step{
			{get: "/p", status: 308, cache: miss}, {get: "/p", status: 308, cache: hit, sees: []string{"Location", "/q"}}}},
		{name: "status 500 is never cached", status: 500, headers: smaxage, steps: []step{
			{get: "/p", status: 500, cache: miss, body: "v1"}, {get: "/p", status: 500, cache: miss, body: "v2"}}},
		{name: "status 203 is not in the list", status: 203, headers: smaxage, steps: []step{
			{get: "/p", status: 203, cache: miss, body: "v1"}, {get: "/p", status: 203, cache: miss, body: "v2"}}},
		{name: "x-vercel-enable-rewrite-caching: 0 opts out", headers: []string{"Cache-Control", "s-maxage=60", "X-Vercel-Enable-Rewrite-Caching", "0"}, steps: []step{
			{get: "/p", cache: miss, body: "v1", sees: []string{"X-Vercel-Enable-Rewrite-Caching", "none"}}, {get: "/p", cache: miss, body: "v2"}}},
		{name: "HEAD is its own entry", headers: smaxage, steps: []step{
			{get: "HEAD /p", cache: miss}, {get: "/p", cache: miss, body: "v1"}, {get: "HEAD /p", cache: hit}, {get: "/p", cache: hit, body: "v1"}}},

		// Requests that skip the cache.
		{name: "POST: BYPASS, never stored", headers: smaxage, steps: []step{
			{get: "POST /p", cache: bypass, body: "v1"}, {get: "POST /p", cache: bypass, body: "v2"}}},
		{name: "Range: BYPASS", headers: smaxage, steps: []step{
			{get: "/p", with: []string{"Range", "bytes=0-1"}, cache: bypass, body: "v1"},
			{get: "/p", with: []string{"Range", "bytes=0-1"}, cache: bypass, body: "v2"}}},
		{name: "Authorization with a CDN max-age but no public: not stored",
			headers: []string{"CDN-Cache-Control", "max-age=60"}, steps: []step{
				{get: "/p", with: []string{"Authorization", "Bearer u1"}, cache: miss, body: "v1"},
				{get: "/p", with: []string{"Authorization", "Bearer u1"}, cache: miss, body: "v2"}}},
		{name: "Authorization with s-maxage: stored (RFC 9111: explicitly shared)", headers: smaxage, steps: []step{
			{get: "/p", with: []string{"Authorization", "Bearer u1"}, cache: miss, body: "v1"},
			{get: "/p", with: []string{"Authorization", "Bearer u1"}, cache: hit, body: "v1"}}},
		{name: "Authorization with CDN max-age and public: stored",
			headers: []string{"CDN-Cache-Control", "public, max-age=60"}, steps: []step{
				{get: "/p", with: []string{"Authorization", "Bearer u1"}, cache: miss, body: "v1"},
				{get: "/p", with: []string{"Authorization", "Bearer u1"}, cache: hit, body: "v1"}}},
		{name: "Pragma: no-cache revalidates in the foreground: REVALIDATED", headers: smaxage, steps: []step{
			{get: "/p", cache: miss, body: "v1"}, {get: "/p", cache: hit, body: "v1"},
			{get: "/p", with: []string{"Pragma", "no-cache"}, cache: revalidated, body: "v2"}, {get: "/p", cache: hit, body: "v2"}}},
		{name: "Pragma: no-cache with nothing cached: MISS", headers: smaxage, steps: []step{
			{get: "/p", with: []string{"Pragma", "no-cache"}, cache: miss, body: "v1"}, {get: "/p", cache: hit, body: "v1"}}},

		// The origin fails.
		{name: "stale-if-error: the stale copy stands in for a 5xx", headers: []string{"Cache-Control", "s-maxage=60, stale-if-error=300"}, steps: []step{
			{get: "/p", cache: miss, body: "v1"}, {fail: true}, {advance: 120 * time.Second},
			{get: "/p", cache: stale, body: "v1", age: "120"}}},
		{name: "stale-if-error window over: the 5xx reaches the client, not cached", headers: []string{"Cache-Control", "s-maxage=60, stale-if-error=30"}, steps: []step{
			{get: "/p", cache: miss, body: "v1"}, {fail: true}, {advance: 91 * time.Second},
			{get: "/p", status: 503, cache: miss}, {get: "/p", status: 503, cache: miss}}},
		{name: "no stale-if-error: the 5xx reaches the client", headers: smaxage, steps: []step{
			{get: "/p", cache: miss, body: "v1"}, {fail: true}, {advance: 61 * time.Second}, {get: "/p", status: 503, cache: miss}}},
		{name: "a failed background revalidation keeps the stale copy",
			headers: []string{"Cache-Control", "s-maxage=60, stale-while-revalidate=60"}, steps: []step{
				{get: "/p", cache: miss, body: "v1"}, {fail: true}, {advance: 61 * time.Second},
				{get: "/p", cache: stale, body: "v1"}, {settle: true}, {get: "/p", cache: stale, body: "v1"}}},

		// Tags and purges, through the library's client and the fake's API.
		{name: "Vercel-Cache-Tag is stripped", headers: smaxage, steps: []step{
			{get: "/p", cache: miss, sees: []string{"Vercel-Cache-Tag", "none"}}, {get: "/p", cache: hit, sees: []string{"Vercel-Cache-Tag", "none"}}}},
		{name: "invalidate: STALE at once, one background revalidation, then fresh", headers: smaxage, steps: []step{
			{get: "/p", cache: miss, body: "v1"}, {purge: invalidate("blog")}, {get: "/p", cache: stale, body: "v1"},
			{settle: true}, {get: "/p", cache: hit, body: "v2"}}},
		{name: "invalidate another tag: untouched", headers: smaxage, steps: []step{
			{get: "/p", cache: miss, body: "v1"}, {purge: invalidate("news")}, {get: "/p", cache: hit, body: "v1"}}},
		{name: "invalidate reads tags trimmed, case kept",
			headers: []string{"Cache-Control", "s-maxage=60", "Vercel-Cache-Tag", " Blog ,news"}, steps: []step{
				{get: "/p", cache: miss, body: "v1"}, {purge: invalidate("blog")}, {get: "/p", cache: hit, body: "v1"},
				{purge: invalidate("Blog")}, {get: "/p", cache: stale, body: "v1"}}},
		{name: "invalidate with target preview: a production CDN is untouched", headers: smaxage, steps: []step{
			{get: "/p", cache: miss, body: "v1"},
			{purge: edgecache.InvalidateByTagsRequest{ProjectIDOrName: "site", Tags: edgecache.TagList("blog"), Target: edgecache.TargetPreview}},
			{get: "/p", cache: hit, body: "v1"},
			{purge: edgecache.InvalidateByTagsRequest{ProjectIDOrName: "site", Tags: edgecache.TagList("blog"), Target: edgecache.TargetProduction}},
			{get: "/p", cache: stale, body: "v1"}}},
		{name: "invalidate with target preview on a preview CDN", headers: smaxage, opts: []edgecachetest.Option{edgecachetest.WithEnvironment(edgecachetest.EnvironmentPreview)},
			steps: []step{
				{get: "/p", cache: miss, body: "v1"},
				{purge: edgecache.InvalidateByTagsRequest{ProjectIDOrName: "site", Tags: edgecache.TagList("blog"), Target: edgecache.TargetProduction}},
				{get: "/p", cache: hit, body: "v1"},
				{purge: edgecache.InvalidateByTagsRequest{ProjectIDOrName: "site", Tags: edgecache.TagList("blog"), Target: edgecache.TargetPreview}},
				{get: "/p", cache: stale, body: "v1"}}},
		{name: "dangerously delete: the next request is fetched in the foreground, REVALIDATED", headers: smaxage, steps: []step{
			{get: "/p", cache: miss, body: "v1"}, {purge: deleteTags(nil, "blog")}, {get: "/p", cache: revalidated, body: "v2", age: "0"},
			{get: "/p", cache: hit, body: "v2"}}},
		{name: "dangerously delete, deadline 0: deleted at once", headers: smaxage, steps: []step{
			{get: "/p", cache: miss, body: "v1"}, {purge: deleteTags(edgecache.Ptr(0), "blog")}, {get: "/p", cache: revalidated, body: "v2"}}},
		{name: "dangerously delete with a deadline: STALE before it, revalidated in the background", headers: smaxage, steps: []step{
			{get: "/p", cache: miss, body: "v1"}, {purge: deleteTags(edgecache.Ptr(30), "blog")}, {advance: 29 * time.Second},
			{get: "/p", cache: stale, body: "v1"}, {settle: true}, {get: "/p", cache: hit, body: "v2"}}},
		{name: "dangerously delete with a deadline: REVALIDATED after it", headers: smaxage, steps: []step{
			{get: "/p", cache: miss, body: "v1"}, {purge: deleteTags(edgecache.Ptr(30), "blog")}, {advance: 30 * time.Second},
			{get: "/p", cache: revalidated, body: "v2"}}},
		{name: "a deleted page whose origin now refuses caching: MISS",
			respond: func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("X-Second") == "" {
					w.Header().Set("Cache-Control", "s-maxage=60")
					w.Header().Set("Vercel-Cache-Tag", "blog")
				}
			}, steps: []step{
				{get: "/p", cache: miss, body: "v1"}, {purge: deleteTags(nil, "blog")},
				{get: "/p", with: []string{"X-Second", "1"}, cache: miss, body: "v2"}}},
		{name: "the wrong tag header (Cache-Tag): a purge does nothing, the header reaches the client",
			headers: []string{"Cache-Control", "s-maxage=60", "Cache-Tag", "blog"}, steps: []step{
				{get: "/p", cache: miss, body: "v1", sees: []string{"Cache-Tag", "blog"}}, {purge: invalidate("blog")}, {get: "/p", cache: hit, body: "v1"}}},
		{name: "invalidate by source image: the derived /_next/image and /_vercel/image entries and the image's own",
			headers: smaxage, steps: []step{
				{get: "/_next/image?url=%2Fimg%2Fa.png&w=64&q=75", cache: miss}, {get: "/_vercel/image?url=%2Fimg%2Fa.png&w=32&q=75", cache: miss},
				{get: "/img/a.png", cache: miss}, {get: "/_next/image?url=%2Fimg%2Fb.png&w=64&q=75", cache: miss},
				{purge: edgecache.InvalidateBySrcImagesRequest{ProjectIDOrName: "site", SrcImages: []string{"/img/a.png"}}},
				{get: "/_next/image?url=%2Fimg%2Fa.png&w=64&q=75", cache: stale}, {get: "/_vercel/image?url=%2Fimg%2Fa.png&w=32&q=75", cache: stale},
				{get: "/img/a.png", cache: stale}, {get: "/_next/image?url=%2Fimg%2Fb.png&w=64&q=75", cache: hit}}},
		{name: "dangerously delete by source image: REVALIDATED", headers: smaxage, steps: []step{
			{get: "/_next/image?url=%2Fapi%2Favatar%2F1&w=64", cache: miss, body: "v1"},
			{purge: edgecache.DangerouslyDeleteBySrcImagesRequest{ProjectIDOrName: "site", SrcImages: []string{"/api/avatar/1"}}},
			{get: "/_next/image?url=%2Fapi%2Favatar%2F1&w=64", cache: revalidated, body: "v2"}}},
		{name: "a remote source image matches the decoded url parameter exactly", headers: smaxage, steps: []step{
			{get: "/_next/image?url=https%3A%2F%2Fcdn.example%2Fa.png&w=64", cache: miss},
			{purge: edgecache.InvalidateBySrcImagesRequest{ProjectIDOrName: "site", SrcImages: []string{"https://cdn.example/a.png?x"}}},
			{get: "/_next/image?url=https%3A%2F%2Fcdn.example%2Fa.png&w=64", cache: hit},
			{purge: edgecache.InvalidateBySrcImagesRequest{ProjectIDOrName: "site", SrcImages: []string{"https://cdn.example/a.png"}}},
			{get: "/_next/image?url=https%3A%2F%2Fcdn.example%2Fa.png&w=64", cache: stale}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			respond := tc.respond
			if respond == nil {
				status := tc.status
				if status == 0 {
					status = http.StatusOK
				}
				respond = headersOrigin(status, tc.headers...)
			}
			fake, o := newCDN(t, respond, tc.opts...)
			for i, s := range tc.steps {
				switch {
				case s.advance > 0:
					fake.AdvanceClock(s.advance)
				case s.purge != nil:
					purgeWith(t, fake, s.purge)
				case s.settle:
					settle(t, fake)
				case s.fail:
					o.failing.Store(true)
				default:
					checkStep(t, i, s, get(t, fake, s.get, s.with...))
				}
			}
		})
	}
}

// checkStep compares an answer with what the step wants.
func checkStep(t *testing.T, i int, s step, got cdnAnswer) {
	t.Helper()
	status := s.status
	if status == 0 {
		status = http.StatusOK
	}
	where := fmt.Sprintf("step %d, %s %v", i+1, s.get, s.with)
	if got.status != status || got.cache() != s.cache {
		t.Fatalf("%s: got %d x-vercel-cache %q (body %q), want %d %q", where, got.status, got.cache(), got.body, status, s.cache)
	}
	if s.body != "" && got.body != s.body {
		t.Fatalf("%s: got body %q, want %q (the origin's fetch number)", where, got.body, s.body)
	}
	switch age, ok := got.header["Age"]; {
	case s.age == "none" && ok:
		t.Fatalf("%s: got Age %q, want none (the answer is not a cache entry)", where, age)
	case s.age != "" && s.age != "none" && got.header.Get("Age") != s.age:
		t.Fatalf("%s: got Age %q, want %q", where, got.header.Get("Age"), s.age)
	}
	for j := 0; j+1 < len(s.sees); j += 2 {
		name, want := s.sees[j], s.sees[j+1]
		values, present := got.header[http.CanonicalHeaderKey(name)]
		switch {
		case want == "none" && present:
			t.Fatalf("%s: the client saw %s: %q, want it consumed by the CDN", where, name, values)
		case want != "none" && strings.Join(values, ", ") != want:
			t.Fatalf("%s: the client saw %s: %q, want %q", where, name, values, want)
		}
	}
}
