package edgecachetest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The cache's limits are only as good as its account of memory: MaxBytes counts an estimate
// (cdnstore.go's overheads), and these tests hold the estimate to the heap the entries
// really take, and the store to its limits under 100,000 distinct URLs.

// entryShape is one kind of cached response, for the memory tests.
type entryShape struct {
	name       string
	body       int  // bytes
	headers    int  // header fields the client sees, at least 3
	tags       int  // Vercel-Cache-Tag tags
	uniqueTags bool // each entry its own tags (post-N), rather than tags all entries share
	pathLen    int  // digits in the path
}

// shapedEntry builds the i-th entry of shape sh as the CDN builds one from an origin's
// response (decide, readTags, forClient, newEntry), with strings of its own, as read from
// the wire.
func shapedEntry(sh entryShape, i int, now time.Time) *entry {
	r := httptest.NewRequestWithContext(context.Background(), http.MethodGet, fmt.Sprintf("http://127.0.0.1:8788/p%0*d", sh.pathLen, i), nil)
	r.Header.Set("Accept-Encoding", "gzip")
	h := make(http.Header)
	h.Set("Cache-Control", strings.Clone("public, s-maxage=3600"))
	h.Set("Content-Type", strings.Clone("text/html; charset=utf-8"))
	h.Set("Date", strings.Clone("Sun, 06 Dec 2026 16:30:17 GMT"))
	for j := range sh.headers - 3 {
		h.Set(fmt.Sprintf("X-Extra-%d", j), fmt.Sprintf("value-%d-%d", j, i))
	}
	tags := make([]string, sh.tags)
	for j := range tags {
		if sh.uniqueTags {
			tags[j] = fmt.Sprintf("post-%d-%d", i, j)
		} else {
			tags[j] = fmt.Sprintf("tag-%d", j)
		}
	}
	if len(tags) > 0 {
		h.Set("Vercel-Cache-Tag", strings.Join(tags, ","))
	}
	read, warnings := readTags(h)
	d := decide(r, http.StatusOK, h)
	forClient(h, d.by)
	e := newEntry(r, &http.Response{StatusCode: http.StatusOK, Header: h}, d, read, warnings, now)
	e.body = make([]byte, sh.body) // as capture keeps it: a buffer the size of Content-Length
	return e
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func TestCDNMemoryMatchesItsAccount(t *testing.T) {
	now := time.Now()
	for _, sh := range []entryShape{
		{name: "1 KB page, 2 shared tags", body: 1000, headers: 3, tags: 2, pathLen: 8},
		{name: "10-byte body, no tag", body: 10, headers: 3, pathLen: 4},
		{name: "long path", body: 10, headers: 3, pathLen: 200},
		{name: "13 headers", body: 100, headers: 13, pathLen: 8},
		{name: "20 shared tags", body: 100, headers: 3, tags: 20, pathLen: 8},
		{name: "20 tags of its own", body: 100, headers: 3, tags: 20, uniqueTags: true, pathLen: 8},
		{name: "64 KB page", body: 64 << 10, headers: 3, tags: 2, pathLen: 8},
	} {
		t.Run(sh.name, func(t *testing.T) {
			n := 2000
			if sh.body > 10_000 {
				n = 200
			}
			s := newStore(CacheLimits{MaxEntries: n, MaxBytes: 1 << 40})
			before := liveHeap()
			for i := range n {
				if !s.put(shapedEntry(sh, i, now)) {
					t.Fatalf("entry %d was not stored", i)
				}
			}
			heap := float64(liveHeap()) - float64(before)
			_, accounted, _ := s.usage()
			ratio := heap / float64(accounted)
			t.Logf("%d entries: heap %.0f B per entry, accounted %.0f: heap/accounted %.2f", n, heap/float64(n), float64(accounted)/float64(n), ratio)
			// The account leans high, so that MaxBytes bounds the heap; it follows the size
			// classes and the maps' loads only roughly, hence the 5% above and 15% below.
			if ratio < 0.85 || ratio > 1.05 {
				t.Errorf("the entries take %.0f B of heap each but count %.0f against MaxBytes (heap/accounted %.2f, want 0.85 to 1.05): update the overheads in cdnstore.go",
					heap/float64(n), float64(accounted)/float64(n), ratio)
			}
			runtime.KeepAlive(s)
		})
	}
}

func TestCDNStoreStaysWithinItsCapsUnder100kURLs(t *testing.T) {
	const urls = 100_000
	limits := CacheLimits{MaxEntries: 5_000, MaxBytes: 16 << 20}
	now := time.Now()
	s := newStore(limits)
	before := liveHeap()
	// A site's pages, tagged blog and post-N: every tenth an image derived from a source,
	// every seventh asked for in a second encoding (a variant). The first half are small
	// (5,000 take about 10 MiB: the entry limit binds), the second half 4 KB and more
	// (the byte limit binds).
	for i := range urls {
		path := fmt.Sprintf("/blog/post-%d", i)
		if i%10 == 0 {
			path = fmt.Sprintf("/_next/image?url=%%2Fimg%%2F%d.png&w=640", i)
		}
		body := 100 + i%100
		if i >= urls/2 {
			body = 4000 + i%2000
		}
		for v, encoding := range []string{"gzip", "br"} {
			if v == 1 && i%7 != 0 {
				break
			}
			u, err := url.Parse(path)
			if err != nil {
				t.Fatal(err)
			}
			r := &http.Request{Method: http.MethodGet, Host: "127.0.0.1:8788", URL: u, Header: http.Header{"Accept-Encoding": {encoding}}}
			e := &entry{key: cacheKey(r, nil), primary: primaryKey(r), method: r.Method, uri: decodedURI(r.URL),
				image: sourceImage(r.URL), status: http.StatusOK, storedAt: now, ttl: time.Hour,
				header:    http.Header{"Content-Type": {"text/html"}, "Cache-Control": {"public"}, "Date": {"Sun, 06 Dec 2026 16:30:17 GMT"}},
				tags:      []string{"blog", fmt.Sprintf("post-%d", i)},
				decidedBy: "Cache-Control: public, s-maxage=3600",
				body:      make([]byte, body),
			}
			if !s.put(e) {
				t.Fatalf("URL %d: a %d-byte entry was not stored", i, e.size)
			}
			if n, bytes, _ := s.usage(); n > limits.MaxEntries || bytes > limits.MaxBytes {
				t.Fatalf("after URL %d the cache holds %d entries and %d bytes, over its limits %d and %d", i, n, bytes, limits.MaxEntries, limits.MaxBytes)
			}
		}
		if i == urls/2-1 {
			if n, bytes, _ := s.usage(); n != limits.MaxEntries {
				t.Errorf("after the small pages the cache holds %d entries (%d bytes), want the entry limit, %d", n, bytes, limits.MaxEntries)
			}
		}
	}
	n, bytes, evicted := s.usage()
	if n >= limits.MaxEntries || bytes < limits.MaxBytes*9/10 {
		t.Errorf("after the large pages the cache holds %d entries and %d bytes, want fewer than %d entries and about %d bytes", n, bytes, limits.MaxEntries, limits.MaxBytes)
	}
	if want := accountedBytes(s); bytes != want {
		t.Errorf("the store counts %d bytes, its entries and index sets %d", bytes, want)
	}
	// The indexes hold nothing of the evicted entries: each URL's sets, and the tags blog
	// (all) and post-N (one URL's).
	inURIs, inImages, images := 0, 0, 0
	for _, keys := range s.byURI {
		inURIs += len(keys)
	}
	for _, keys := range s.byImage {
		inImages += len(keys)
	}
	for _, e := range s.entries {
		if e.image != "" {
			images++
		}
	}
	got := fmt.Sprint(s.lru.Len(), inURIs, len(s.byTag["blog"]), len(s.variants), len(s.byTag)-1, inImages)
	want := fmt.Sprint(n, n, n, len(s.byURI), len(s.byURI), images)
	if got != want {
		t.Errorf("LRU list, URL index, tag blog, variants, post-N tags, image index = %s, want %s", got, want)
	}
	heap := float64(liveHeap()) - float64(before)
	t.Logf("%d URLs: %d entries, %d bytes accounted, %d evicted; heap %.1f MiB (%.2f of the account, %.2f of MaxBytes)",
		urls, n, bytes, evicted, heap/(1<<20), heap/float64(bytes), heap/float64(limits.MaxBytes))
	// The store's maps keep the room they grew to for the small pages: 10% above.
	if heap > 1.10*float64(bytes) {
		t.Errorf("the cache takes %.1f MiB of heap for %.1f MiB accounted (limit %.1f MiB): the account is too low",
			heap/(1<<20), float64(bytes)/(1<<20), float64(limits.MaxBytes)/(1<<20))
	}
	runtime.KeepAlive(s)
}
