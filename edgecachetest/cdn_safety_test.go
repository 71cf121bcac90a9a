package edgecachetest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/edgecachetest"
)

// cacheState is GET /__admin/cache, as far as these tests read it.
type cacheState struct {
	Environment string
	Entries     []edgecachetest.CacheEntry
	Count       int
	Bytes       int64
	Evicted     int64
	Collapsed   int64
	Limits      struct{ MaxEntries, MaxBytes, MaxBodyBytes int64 }
	Purges      []edgecachetest.PurgeRecord
	Answers     []edgecachetest.CDNAnswer
}

func adminCache(t *testing.T, fake *edgecachetest.Server, query string) cacheState {
	t.Helper()
	status, _, body := adminCall(t, fake, http.MethodGet, "/__admin/cache"+query, "")
	if status != http.StatusOK {
		t.Fatalf("GET /__admin/cache%s: %d %s", query, status, body)
	}
	var st cacheState
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("GET /__admin/cache: %v in %s", err, body)
	}
	return st
}

// waitFor polls cond until it holds; the context bounds it, so that a broken CDN fails the
// test instead of hanging it. It yields between polls rather than sleeping a guessed time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for !cond() {
		if ctx.Err() != nil {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

// gate blocks an origin's answers until the test opens it.
type gate struct {
	arrived chan struct{} // one value per request that reached the gate
	open    chan struct{}
	once    sync.Once
}

func newGate(t *testing.T) *gate {
	g := &gate{arrived: make(chan struct{}, 100), open: make(chan struct{})}
	t.Cleanup(g.release)
	return g
}

func (g *gate) wait(r *http.Request) {
	g.arrived <- struct{}{}
	select {
	case <-g.open:
	case <-r.Context().Done():
	}
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

func TestCDNCollapsesConcurrentMisses(t *testing.T) {
	g := newGate(t)
	fake, o := newCDN(t, func(w http.ResponseWriter, r *http.Request) {
		g.wait(r)
		w.Header().Set("Cache-Control", "s-maxage=60")
	})
	const n = 8
	answers := make(chan cdnAnswer, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { answers <- get(t, fake, "/p") })
	}
	<-g.arrived
	// Every other request waits for the first one's fetch before the origin answers it.
	waitFor(t, "7 collapsed requests", func() bool { return adminCache(t, fake, "").Collapsed == n-1 })
	g.release()
	wg.Wait()
	close(answers)
	for a := range answers {
		if a.cache() != edgecachetest.CacheMiss || a.body != "v1" {
			t.Errorf("a collapsed request got %q %q, want MISS v1 (the held requests show MISS)", a.cache(), a.body)
		}
	}
	if got := o.fetched("GET /p"); got != 1 {
		t.Errorf("the origin was asked %d times for %d concurrent misses, want 1", got, n)
	}
}

func TestCDNCollapsedRequestsFetchForThemselvesWhenNothingWasStored(t *testing.T) {
	g := newGate(t)
	fake, o := newCDN(t, func(_ http.ResponseWriter, r *http.Request) { g.wait(r) }) // no cache header
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if a := get(t, fake, "/p"); a.cache() != edgecachetest.CacheMiss {
				t.Errorf("got %q, want MISS", a.cache())
			}
		})
	}
	<-g.arrived
	waitFor(t, "2 collapsed requests", func() bool { return adminCache(t, fake, "").Collapsed == 2 })
	g.release()
	wg.Wait()
	if got := o.fetched("GET /p"); got != 3 {
		t.Errorf("the origin was asked %d times, want 3: an uncacheable answer cannot be shared", got)
	}
}

func TestCDNOneBackgroundRevalidationPerEntry(t *testing.T) {
	g := newGate(t)
	var first sync.Once
	fake, o := newCDN(t, func(w http.ResponseWriter, r *http.Request) {
		opened := false
		first.Do(func() { opened = true })
		if !opened {
			g.wait(r) // the revalidation waits until every concurrent request was answered
		}
		w.Header().Set("Cache-Control", "s-maxage=60")
		w.Header().Set("Vercel-Cache-Tag", "blog")
	})
	if a := get(t, fake, "/p"); a.cache() != edgecachetest.CacheMiss {
		t.Fatalf("first request: %q", a.cache())
	}
	purgeWith(t, fake, invalidate("blog"))
	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if a := get(t, fake, "/p"); a.cache() != edgecachetest.CacheStale || a.body != "v1" {
				t.Errorf("after the invalidation: %q %q, want STALE v1", a.cache(), a.body)
			}
		})
	}
	wg.Wait()
	g.release()
	settle(t, fake)
	if got := o.fetched("GET /p"); got != 2 {
		t.Errorf("the origin was asked %d times, want 2: one fetch and one revalidation for %d concurrent STALE answers", got, n)
	}
	if a := get(t, fake, "/p"); a.cache() != edgecachetest.CacheHit || a.body != "v2" {
		t.Errorf("after the revalidation: %q %q, want HIT v2", a.cache(), a.body)
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// checkVercelError checks a CDN's answer for a failed origin.
func checkVercelError(t *testing.T, a cdnAnswer, status int, code string) {
	t.Helper()
	if a.status != status || a.header.Get("X-Vercel-Error") != code || a.cache() != edgecachetest.CacheMiss {
		t.Fatalf("got %d x-vercel-error %q x-vercel-cache %q, want %d %q MISS", a.status, a.header.Get("X-Vercel-Error"), a.cache(), status, code)
	}
	want := fmt.Sprintf("%d: %s\nCode: %s\nID: cdn1::", status, strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_")), code)
	if !strings.HasPrefix(a.body, want) {
		t.Fatalf("body %q, want Vercel's error page starting %q", a.body, want)
	}
}

// apiStillWorks checks that the API fake answers while the CDN has trouble.
func apiStillWorks(t *testing.T, fake *edgecachetest.Server) {
	t.Helper()
	purgeWith(t, fake, invalidate("anything"))
	if status, _, _ := adminCall(t, fake, http.MethodGet, "/__admin/cache", ""); status != http.StatusOK {
		t.Fatalf("GET /__admin/cache: %d", status)
	}
}

func TestCDNOriginDown(t *testing.T) {
	fake := edgecachetest.NewServer(edgecachetest.WithOrigin("http://"+closedAddr(t)), edgecachetest.WithAdminAPI())
	t.Cleanup(fake.Close)
	for range 2 {
		checkVercelError(t, get(t, fake, "/p"), http.StatusBadGateway, "ROUTER_EXTERNAL_TARGET_CONNECTION_ERROR")
	}
	if st := adminCache(t, fake, ""); st.Count != 0 {
		t.Errorf("an error was cached: %+v", st.Entries)
	}
	apiStillWorks(t, fake)
}

func TestCDNOriginTimeout(t *testing.T) {
	g := newGate(t)
	fake, _ := newCDN(t, func(_ http.ResponseWriter, r *http.Request) { g.wait(r) },
		edgecachetest.WithOriginTimeout(50*time.Millisecond))
	checkVercelError(t, get(t, fake, "/p"), http.StatusGatewayTimeout, "ROUTER_EXTERNAL_TARGET_ERROR")
	apiStillWorks(t, fake)
}

// rawOrigin is an origin that writes raw bytes for each connection.
func rawOrigin(t *testing.T, answer func(c net.Conn)) string {
	t.Helper()
	l, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer func() { _ = c.Close() }()
				// Read the request's head before answering.
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				answer(c)
			})
		}
	})
	return "http://" + l.Addr().String()
}

func TestCDNOriginSendsInvalidHeaders(t *testing.T) {
	url := rawOrigin(t, func(c net.Conn) {
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nCache-Control: s-maxage=60\r\nthis is not a header\r\n\r\nbody")
	})
	fake := edgecachetest.NewServer(edgecachetest.WithOrigin(url), edgecachetest.WithAdminAPI())
	t.Cleanup(fake.Close)
	checkVercelError(t, get(t, fake, "/p"), http.StatusBadGateway, "ROUTER_EXTERNAL_TARGET_ERROR")
	apiStillWorks(t, fake)
}

func TestCDNOriginClosesEarly(t *testing.T) {
	url := rawOrigin(t, func(c net.Conn) {
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nCache-Control: s-maxage=60\r\nContent-Length: 100\r\n\r\nonly ten b")
	})
	fake := edgecachetest.NewServer(edgecachetest.WithOrigin(url), edgecachetest.WithAdminAPI())
	t.Cleanup(fake.Close)
	for range 2 {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, fake.CDNURL+"/p", nil)
		if err != nil {
			t.Fatal(err)
		}
		// The CDN cuts the client's connection as the origin cut its own: the client sees
		// an error, before or after the headers.
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			var body []byte
			body, err = io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err == nil {
				t.Fatalf("the client read %q whole, want the connection cut as the origin's was", body)
			}
		}
	}
	st := adminCache(t, fake, "")
	if st.Count != 0 {
		t.Errorf("a cut body was stored: %+v", st.Entries)
	}
	// Both requests went to the origin, and the diagnosis says why nothing was stored.
	if len(st.Answers) != 2 || !strings.Contains(st.Answers[0].NotStored, "the origin's body broke off") {
		t.Errorf("answers: %+v", st.Answers)
	}
	apiStillWorks(t, fake)
}

func TestCDNHugeBodiesStreamThroughUnstored(t *testing.T) {
	const limit = 1000
	chunk := strings.Repeat("x", 700)
	fake, o := newCDN(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "s-maxage=60")
		if r.URL.Path == "/declared" {
			w.Header().Set("Content-Length", fmt.Sprint(5*len(chunk)+2))
		}
		for range 5 { // 3,500 bytes: over the limit even when streamed (twice the limit)
			_, _ = io.WriteString(w, chunk)
			_ = http.NewResponseController(w).Flush()
		}
	}, edgecachetest.WithCacheLimits(edgecachetest.CacheLimits{MaxBodyBytes: limit}))
	for _, path := range []string{"/streamed", "/declared"} {
		for i := range 2 {
			a := get(t, fake, path)
			if a.cache() != edgecachetest.CacheMiss || len(a.body) != 5*len(chunk)+2 {
				t.Fatalf("%s #%d: %q with %d bytes, want MISS with the whole body", path, i+1, a.cache(), len(a.body))
			}
		}
		if got := o.fetched("GET " + path); got != 2 {
			t.Errorf("%s: fetched %d times, want 2 (never stored)", path, got)
		}
	}
	st := adminCache(t, fake, "")
	if st.Count != 0 || st.Bytes != 0 {
		t.Errorf("an oversized body was stored: %d entries, %d bytes", st.Count, st.Bytes)
	}
	x := adminCache(t, fake, "?url=/streamed")
	if len(x.Answers) == 0 || !strings.Contains(x.Answers[0].NotStored, "over the 2000-byte limit") {
		t.Errorf("the diagnosis does not say why: %+v", x.Answers)
	}
}

func TestCDNSlowOriginWedgesNothing(t *testing.T) {
	g := newGate(t)
	fake, _ := newCDN(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "s-maxage=60")
		if r.URL.Path == "/slow" {
			_, _ = io.WriteString(w, "first part")
			_ = http.NewResponseController(w).Flush()
			g.wait(r) // the rest of the body never comes until the test ends
		}
	})
	slowDone := make(chan error, 1)
	go func() {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, fake.CDNURL+"/slow", nil)
		if err != nil {
			slowDone <- err
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			_ = resp.Body.Close()
		}
		slowDone <- err
	}()
	<-g.arrived
	// The slow body holds its own request only: other pages, the API and the admin API answer.
	if a := get(t, fake, "/fast"); a.cache() != edgecachetest.CacheMiss {
		t.Fatalf("/fast: %q", a.cache())
	}
	if a := get(t, fake, "/fast"); a.cache() != edgecachetest.CacheHit {
		t.Fatalf("/fast again: %q", a.cache())
	}
	apiStillWorks(t, fake)
	// Closing the fake ends the stalled fetch rather than waiting for it.
	fake.Close()
	if err := <-slowDone; err == nil {
		t.Error("the stalled body was read whole after Close")
	}
}

func TestCDNStaleIfErrorWhenTheOriginIsDown(t *testing.T) {
	fake, o := newCDN(t, headersOrigin(http.StatusOK, "Cache-Control", "s-maxage=60, stale-if-error=600"))
	if a := get(t, fake, "/p"); a.cache() != edgecachetest.CacheMiss {
		t.Fatalf("first: %q", a.cache())
	}
	o.Close()
	fake.AdvanceClock(5 * time.Minute)
	a := get(t, fake, "/p")
	if a.cache() != edgecachetest.CacheStale || a.body != "v1" || a.header.Get("Age") != "300" {
		t.Fatalf("with the origin down: %d %q %q age %q, want STALE v1 age 300", a.status, a.cache(), a.body, a.header.Get("Age"))
	}
	fake.AdvanceClock(6 * time.Minute) // past s-maxage + stale-if-error
	checkVercelError(t, get(t, fake, "/p"), http.StatusBadGateway, "ROUTER_EXTERNAL_TARGET_CONNECTION_ERROR")
}

func TestCDNEvictsTheLeastRecentlyUsed(t *testing.T) {
	t.Run("entries", func(t *testing.T) {
		fake, o := newCDN(t, headersOrigin(http.StatusOK, "Cache-Control", "s-maxage=60"),
			edgecachetest.WithCacheLimits(edgecachetest.CacheLimits{MaxEntries: 3}))
		for _, p := range []string{"/a", "/b", "/c", "/a", "/d"} { // /a used again: /b is the oldest
			get(t, fake, p)
		}
		st := adminCache(t, fake, "")
		if st.Count != 3 || st.Evicted != 1 {
			t.Fatalf("%d entries, %d evicted; want 3 and 1", st.Count, st.Evicted)
		}
		if a := get(t, fake, "/b"); a.cache() != edgecachetest.CacheMiss || o.fetched("GET /b") != 2 {
			t.Errorf("/b: %q, want a MISS: it was the least recently used", a.cache())
		}
		if a := get(t, fake, "/a"); a.cache() != edgecachetest.CacheHit {
			t.Errorf("/a: %q, want a HIT: it was used after /b", a.cache())
		}
	})
	t.Run("bytes", func(t *testing.T) {
		body := strings.Repeat("b", 2000)
		fake, _ := newCDN(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Cache-Control", "s-maxage=60")
			_, _ = io.WriteString(w, body)
		}, edgecachetest.WithCacheLimits(edgecachetest.CacheLimits{MaxBytes: 8000}))
		for i := range 10 {
			get(t, fake, fmt.Sprintf("/%d", i))
			if st := adminCache(t, fake, ""); st.Bytes > 8000 {
				t.Fatalf("after %d pages the cache holds %d bytes, over its 8000", i+1, st.Bytes)
			}
		}
		st := adminCache(t, fake, "")
		if st.Count != 2 || st.Evicted != 8 {
			t.Errorf("%d entries (%d evicted), want 2 of about 3.6 KB each and 8 evicted", st.Count, st.Evicted)
		}
	})
}

func TestCDNTagLimits(t *testing.T) {
	var tags []string
	for i := range 130 {
		tags = append(tags, fmt.Sprintf("t%d", i))
	}
	long := strings.Repeat("L", 257)
	fake, _ := newCDN(t, headersOrigin(http.StatusOK, "Cache-Control", "s-maxage=60",
		"Vercel-Cache-Tag", strings.Join(tags, ",")+","+long+",with space,,t0"))
	get(t, fake, "/p")
	st := adminCache(t, fake, "")
	if len(st.Entries) != 1 {
		t.Fatalf("entries: %+v", st.Entries)
	}
	e := st.Entries[0]
	if len(e.Tags) != 128 || e.Tags[0] != "t0" || e.Tags[127] != "t127" {
		t.Fatalf("kept %d tags (%v…), want the first 128", len(e.Tags), e.Tags[:3])
	}
	for _, want := range []string{`tag "LLLLLLLL`, "has 257 characters, over the limit of 256", "3 tags past the first 128 are ignored: \"t128\", \"t129\", \"with space\"", "empty tag"} {
		if !strings.Contains(strings.Join(e.Warnings, "\n"), want) {
			t.Errorf("no warning with %q in %q", want, e.Warnings)
		}
	}
	purgeWith(t, fake, invalidate("t129"))
	if a := get(t, fake, "/p"); a.cache() != edgecachetest.CacheHit {
		t.Errorf("after purging the 130th tag: %q, want HIT (not indexed)", a.cache())
	}
	purgeWith(t, fake, invalidate("t127"))
	if a := get(t, fake, "/p"); a.cache() != edgecachetest.CacheStale {
		t.Errorf("after purging the 128th tag: %q, want STALE", a.cache())
	}
}

func TestCDNTagWithSpaceWarns(t *testing.T) {
	fake, _ := newCDN(t, headersOrigin(http.StatusOK, "Cache-Control", "s-maxage=60", "Vercel-Cache-Tag", "blog post"))
	get(t, fake, "/p")
	e := adminCache(t, fake, "").Entries[0]
	if len(e.Tags) != 1 || e.Tags[0] != "blog post" || len(e.Warnings) != 1 || !strings.Contains(e.Warnings[0], `"blog post" contains a space`) {
		t.Fatalf("tags %q, warnings %q", e.Tags, e.Warnings)
	}
	purgeWith(t, fake, invalidate("blog post"))
	if a := get(t, fake, "/p"); a.cache() != edgecachetest.CacheStale {
		t.Errorf("after purging %q: %q, want STALE", "blog post", a.cache())
	}
}

func TestCDNConcurrentTrafficAndPurgesAreRaceFree(t *testing.T) {
	fake, _ := newCDN(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "s-maxage=60, stale-while-revalidate=60")
		w.Header().Set("Vercel-Cache-Tag", "all,"+strings.TrimPrefix(r.URL.Path, "/"))
	}, edgecachetest.WithCacheLimits(edgecachetest.CacheLimits{MaxEntries: 5}))
	client, err := fake.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 30 {
				a := get(t, fake, fmt.Sprintf("/p%d", (w+i)%8))
				if a.status != http.StatusOK {
					t.Errorf("status %d", a.status)
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 10 {
			req := edgecache.Request(edgecache.InvalidateByTagsRequest{ProjectIDOrName: "site", Tags: edgecache.TagList("all")})
			if i%2 == 1 {
				req = edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "site", Tags: edgecache.TagList(fmt.Sprintf("p%d", i))}
			}
			if _, err := client.Bulk(t.Context(), req, edgecache.BulkOptions{}); err != nil {
				t.Error(err)
			}
			fake.AdvanceClock(10 * time.Second)
			if status, _, _ := adminCall(t, fake, http.MethodGet, "/__admin/cache", ""); status != 200 {
				t.Errorf("admin: %d", status)
			}
		}
	})
	wg.Wait()
	settle(t, fake)
	if st := adminCache(t, fake, ""); st.Count > 5 {
		t.Errorf("%d entries, over the cap of 5", st.Count)
	}
}

func TestCDNCloseCancelsBackgroundRevalidations(t *testing.T) {
	g := newGate(t)
	var calls sync.Map
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if _, again := calls.LoadOrStore(r.URL.Path, true); again {
			g.wait(r) // the revalidation hangs
		}
		w.Header().Set("Cache-Control", "s-maxage=1, stale-while-revalidate=60")
	})
	fake := edgecachetest.NewServer(edgecachetest.WithOrigin(o.URL), edgecachetest.WithClock(func() time.Time { return t0 }))
	get(t, fake, "/p")
	fake.AdvanceClock(2 * time.Second)
	if a := get(t, fake, "/p"); a.cache() != edgecachetest.CacheStale {
		t.Fatalf("%q", a.cache())
	}
	<-g.arrived
	fake.Close() // returns although the origin never answers the revalidation; goleak checks the rest
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := fake.CDN().Settle(ctx); err != nil {
		t.Fatalf("a background revalidation outlived Close: %v", err)
	}
}
