package edgecachetest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func header(pairs ...string) http.Header {
	h := make(http.Header)
	for i := 0; i+1 < len(pairs); i += 2 {
		h.Add(pairs[i], pairs[i+1])
	}
	return h
}

// TestDecide checks each rule's verdict and the reason the diagnosis gives for it.
func TestDecide(t *testing.T) {
	cases := []struct {
		name    string
		auth    bool
		status  int
		h       http.Header
		store   bool
		ttl     time.Duration
		swr     time.Duration
		sie     time.Duration
		by      string
		reason  string // a part of the reason
		varyKey []string
	}{
		{name: "s-maxage", h: header("Cache-Control", "s-maxage=60, stale-while-revalidate=30, stale-if-error=300"),
			store: true, ttl: time.Minute, swr: 30 * time.Second, sie: 5 * time.Minute, by: "Cache-Control: s-maxage=60, stale-while-revalidate=30, stale-if-error=300"},
		{name: "CDN max-age", h: header("CDN-Cache-Control", "max-age=10"), store: true, ttl: 10 * time.Second, by: "CDN-Cache-Control: max-age=10"},
		{name: "CDN s-maxage over max-age", h: header("CDN-Cache-Control", "max-age=10, s-maxage=20"), store: true, ttl: 20 * time.Second},
		{name: "Vercel CDN first", h: header("Cache-Control", "no-store", "CDN-Cache-Control", "no-store", "Vercel-CDN-Cache-Control", "max-age=5"),
			store: true, ttl: 5 * time.Second, by: "Vercel-CDN-Cache-Control: max-age=5"},
		{name: "one year at most", h: header("Cache-Control", "s-maxage=99999999999"), store: true, ttl: 365 * 24 * time.Hour},
		{name: "swr a year at most", h: header("Cache-Control", "s-maxage=1, stale-while-revalidate=99999999999"), store: true, ttl: time.Second, swr: 365 * 24 * time.Hour},
		{name: "Vary kept sorted, Accept dropped", h: header("Cache-Control", "s-maxage=1", "Vary", "X-B, accept", "Vary", "x-a, X-B"),
			store: true, ttl: time.Second, varyKey: []string{"X-A", "X-B"}},
		{name: "nothing", h: header(), reason: "nothing tells the CDN to cache"},
		{name: "max-age only", h: header("Cache-Control", "max-age=60"), reason: "Cache-Control has no s-maxage"},
		{name: "CDN header without max-age", h: header("CDN-Cache-Control", "public"), reason: "CDN-Cache-Control has no max-age or s-maxage"},
		{name: "zero", h: header("Cache-Control", "s-maxage=0"), reason: "gives a TTL of 0s: the CDN caches for at least 1 s"},
		{name: "private", h: header("Cache-Control", `private="Set-Cookie", s-maxage=60`), reason: "Cache-Control has private"},
		{name: "no-store", h: header("Vercel-CDN-Cache-Control", "no-store, max-age=60"), reason: "Vercel-CDN-Cache-Control has no-store"},
		{name: "no-cache", h: header("CDN-Cache-Control", "no-cache, max-age=60"), reason: "CDN-Cache-Control has no-cache"},
		{name: "unreadable", h: header("Cache-Control", "s-maxage=soon"), reason: "Cache-Control could not be read"},
		{name: "status", status: 206, h: header("Cache-Control", "s-maxage=60"), reason: "status 206: only 200, 301, 302, 307, 308, 404 and 410 are cached"},
		{name: "cookie", h: header("Cache-Control", "s-maxage=60", "Set-Cookie", "a=1"), reason: "sets a cookie"},
		{name: "vary cookie", h: header("Cache-Control", "s-maxage=60", "Vary", "Accept, cookie"), reason: "vary_key_denied"},
		{name: "vary star", h: header("Cache-Control", "s-maxage=60", "Vary", "*"), reason: "Vary: * counts as private"},
		{name: "opt out", h: header("Cache-Control", "s-maxage=60", "X-Vercel-Enable-Rewrite-Caching", "0"), reason: "x-vercel-enable-rewrite-caching: 0"},
		{name: "authorization", auth: true, h: header("CDN-Cache-Control", "max-age=60"), reason: "the request carried Authorization"},
		{name: "authorization, public", auth: true, h: header("CDN-Cache-Control", "public, max-age=60"), store: true, ttl: time.Minute},
		{name: "authorization, s-maxage", auth: true, h: header("Cache-Control", "s-maxage=60"), store: true, ttl: time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/p", nil)
			if tc.auth {
				r.Header.Set("Authorization", "Bearer x")
			}
			status := tc.status
			if status == 0 {
				status = 200
			}
			d := decide(r, status, tc.h)
			if d.store != tc.store || !strings.Contains(d.reason, tc.reason) || (tc.store && d.reason != "") {
				t.Fatalf("store %v reason %q, want %v with %q", d.store, d.reason, tc.store, tc.reason)
			}
			if tc.store && (d.ttl != tc.ttl || d.swr != tc.swr || d.sie != tc.sie) {
				t.Errorf("ttl %v swr %v sie %v, want %v %v %v", d.ttl, d.swr, d.sie, tc.ttl, tc.swr, tc.sie)
			}
			if tc.by != "" && d.decidedBy() != tc.by {
				t.Errorf("decided by %q, want %q", d.decidedBy(), tc.by)
			}
			if tc.varyKey != nil && !reflect.DeepEqual(d.vary, tc.varyKey) {
				t.Errorf("vary %q, want %q", d.vary, tc.varyKey)
			}
		})
	}
}

func TestBypassAndRevalidation(t *testing.T) {
	for _, tc := range []struct {
		method string
		h      http.Header
		bypass string
		pragma bool
	}{
		{method: "GET"},
		{method: "HEAD"},
		{method: "POST", bypass: "method POST"},
		{method: "DELETE", bypass: "method DELETE"},
		{method: "GET", h: header("Range", "bytes=0-"), bypass: "Range request"},
		{method: "GET", h: header("Pragma", "No-Cache"), pragma: true},
		{method: "GET", h: header("Cache-Control", "no-cache")}, // only Pragma is documented
	} {
		r := httptest.NewRequestWithContext(context.Background(), tc.method, "/p", nil)
		for k, v := range tc.h {
			r.Header[k] = v
		}
		if got := bypassReason(r); !strings.HasPrefix(got, tc.bypass) || (tc.bypass == "") != (got == "") {
			t.Errorf("%s %v: bypass %q, want %q", tc.method, tc.h, got, tc.bypass)
		}
		if got := wantsRevalidation(r); got != tc.pragma {
			t.Errorf("%s %v: revalidation %v", tc.method, tc.h, got)
		}
	}
}

func TestForClient(t *testing.T) {
	for _, tc := range []struct {
		in      http.Header
		by      string
		wantCC  []string
		wantCDN string
	}{
		{in: header("Cache-Control", "public, s-maxage=60, stale-while-revalidate=5, max-age=10", "Vercel-Cache-Tag", "a"),
			by: "Cache-Control", wantCC: []string{"public, max-age=10"}},
		{in: header("Cache-Control", "S-MaxAge=60"), by: "Cache-Control", wantCC: nil},
		{in: header("Cache-Control", `private="X-A, X-B", s-maxage=60`), by: "Cache-Control", wantCC: []string{`private="X-A, X-B"`}},
		{in: header("Cache-Control", "s-maxage=60", "CDN-Cache-Control", "max-age=60"), by: "CDN-Cache-Control",
			wantCC: []string{"s-maxage=60"}, wantCDN: "max-age=60"},
		{in: header("Cache-Control", "s-maxage=60", "Vercel-CDN-Cache-Control", "max-age=60"), by: "Vercel-CDN-Cache-Control",
			wantCC: []string{"s-maxage=60"}},
	} {
		h := tc.in.Clone()
		forClient(h, tc.by)
		if !reflect.DeepEqual(h.Values("Cache-Control"), tc.wantCC) || h.Get("CDN-Cache-Control") != tc.wantCDN ||
			h.Get("Vercel-CDN-Cache-Control") != "" || h.Get("Vercel-Cache-Tag") != "" {
			t.Errorf("%v: got %v", tc.in, h)
		}
	}
}

func TestReadTags(t *testing.T) {
	tags, warnings := readTags(header("Vercel-Cache-Tag", " A , b,, a ,A", "Vercel-Cache-Tag", "c"))
	if !reflect.DeepEqual(tags, []string{"A", "b", "a", "c"}) {
		t.Errorf("tags %q: want trimmed, case kept, duplicates once, both header lines", tags)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "1 empty tag") {
		t.Errorf("warnings %q", warnings)
	}
	_, warnings = readTags(header("Surrogate-Key", "a b", "X-Cache-Tag", "c"))
	if len(warnings) != 2 || !strings.Contains(warnings[0], "Fastly's") || !strings.Contains(warnings[1], "X-Cache-Tag") {
		t.Errorf("warnings %q", warnings)
	}
	exact := strings.Repeat("é", MaxTagLength) // characters, not bytes
	if tags, warnings := readTags(header("Vercel-Cache-Tag", exact)); len(tags) != 1 || len(warnings) != 0 {
		t.Errorf("a tag of exactly %d characters: %d tags, %q", MaxTagLength, len(tags), warnings)
	}
}

func TestEntryState(t *testing.T) {
	base := time.Unix(1_000_000, 0)
	e := func(mod func(*entry)) *entry {
		x := &entry{storedAt: base, ttl: 60 * time.Second, swr: 30 * time.Second}
		if mod != nil {
			mod(x)
		}
		return x
	}
	for _, tc := range []struct {
		e     *entry
		at    time.Duration
		state string
	}{
		{e(nil), 59 * time.Second, StateFresh},
		{e(nil), 60 * time.Second, StateStale},
		{e(nil), 90 * time.Second, StateExpired},
		{e(func(x *entry) { x.invalidated = true }), 0, StateStale},
		{e(func(x *entry) { x.invalidated = true }), 90 * time.Second, StateExpired},
		{e(func(x *entry) { x.deleteAt = base.Add(10 * time.Second) }), 9 * time.Second, StateStale},
		{e(func(x *entry) { x.deleteAt = base.Add(10 * time.Second) }), 10 * time.Second, StateDeleted},
		{e(func(x *entry) { x.deleted = true }), 0, StateDeleted},
		{e(func(x *entry) { x.deleted = true }), time.Hour, StateDeleted},
	} {
		if got, _ := entryState(tc.e, base.Add(tc.at)); got != tc.state {
			t.Errorf("%+v at %v: %s, want %s", tc.e, tc.at, got, tc.state)
		}
	}
}

func TestSourceImageAndDecodedURI(t *testing.T) {
	for _, tc := range []struct{ raw, src, uri string }{
		{"/_next/image?url=%2Fa.png&w=64", "/a.png", "/_next/image?url=/a.png&w=64"},
		{"/_vercel/image?url=https%3A%2F%2Fx.example%2Fa%20b.png&w=1", "https://x.example/a b.png", "/_vercel/image?url=https://x.example/a b.png&w=1"},
		{"/_next/imagex?url=%2Fa.png", "", "/_next/imagex?url=/a.png"},
		{"/api/avatar/1", "", "/api/avatar/1"},
	} {
		u, err := url.Parse(tc.raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := sourceImage(u); got != tc.src {
			t.Errorf("sourceImage(%s) = %q, want %q", tc.raw, got, tc.src)
		}
		if got := decodedURI(u); got != tc.uri {
			t.Errorf("decodedURI(%s) = %q, want %q", tc.raw, got, tc.uri)
		}
	}
}

func TestStoreIndexesStayConsistent(t *testing.T) {
	s := newStore(CacheLimits{MaxEntries: 2})
	put := func(path string, tags ...string) {
		r := httptest.NewRequestWithContext(context.Background(), http.MethodGet, path, nil)
		u, _ := url.Parse(path)
		s.put(&entry{key: cacheKey(r, nil), primary: primaryKey(r), uri: decodedURI(u), image: sourceImage(u), tags: tags, ttl: time.Minute})
	}
	put("/a", "x", "y")
	put("/_next/image?url=%2Fa&w=1", "x")
	put("/a", "z") // replaces: x and y no longer point at /a
	put("/b", "x") // evicts the image entry
	if got := fmt.Sprint(len(s.entries), len(s.byTag["x"]), len(s.byTag["y"]), len(s.byTag["z"]), len(s.byImage), len(s.byURI), len(s.variants)); got != "2 1 0 1 0 2 2" {
		t.Errorf("entries, x, y, z, images, uris, variants = %s, want 2 1 0 1 0 2 2", got)
	}
	if _, ok := s.byTag["y"]; ok {
		t.Error("an empty tag set stays in the index")
	}
	n, bytes, evicted := s.usage()
	if sum := accountedBytes(s); n != 2 || bytes != sum || evicted != 1 {
		t.Errorf("usage %d %d %d, want 2 %d 1", n, bytes, evicted, sum)
	}
	// A deletion frees the body's bytes at once.
	s.put(&entry{key: "big", primary: "big", uri: "/big", tags: []string{"big"}, body: make([]byte, 10_000), ttl: time.Minute})
	before := s.bytes
	if s.apply(purgeAction{tags: []string{"big"}, delete: true}, time.Now()) != 1 || s.bytes > before-10_000 {
		t.Errorf("bytes %d after deleting a 10 KB body, had %d", s.bytes, before)
	}
}

// accountedBytes is what the store's bytes should be: its entries' sizes and its index sets.
func accountedBytes(s *store) int64 {
	var sum int64
	for _, e := range s.entries {
		sum += e.size
	}
	sets := len(s.variants) + len(s.byTag) + len(s.byImage) + len(s.byURI)
	return sum + int64(sets)*indexSetOverhead
}
