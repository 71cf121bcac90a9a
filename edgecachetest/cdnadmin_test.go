package edgecachetest_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vercelkit/edgecache/edgecachetest"
)

// site is an origin with a page of each kind the diagnosis must explain.
func site(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	switch r.URL.Path {
	case "/blog/1":
		h.Set("Cache-Control", "public, s-maxage=60")
		h.Set("Vercel-Cache-Tag", "blog,post-1")
	case "/cookie":
		h.Set("Cache-Control", "s-maxage=60")
		h.Set("Vercel-Cache-Tag", "account")
		h.Set("Set-Cookie", "session=1")
	case "/cloudflare":
		h.Set("Cache-Control", "s-maxage=60")
		h.Set("Cache-Tag", "blog")
	case "/browser-only":
		h.Set("Cache-Control", "max-age=60")
	}
}

func TestCDNAdminCacheListsEntries(t *testing.T) {
	fake, _ := newCDN(t, site)
	get(t, fake, "/blog/1")
	fake.AdvanceClock(10 * time.Second)
	st := adminCache(t, fake, "")
	if st.Environment != edgecachetest.EnvironmentProduction || st.Count != 1 || len(st.Entries) != 1 {
		t.Fatalf("%+v", st)
	}
	e := st.Entries[0]
	if e.Method != "GET" || e.URL != "/blog/1" || e.Status != 200 || strings.Join(e.Tags, ",") != "blog,post-1" ||
		e.State != edgecachetest.StateFresh || e.AgeSeconds != 10 || e.TTLSeconds != 60 ||
		e.DecidedBy != "Cache-Control: public, s-maxage=60" || !strings.HasPrefix(e.Key, "GET 127.0.0.1:") || e.Bytes == 0 {
		t.Errorf("entry: %+v", e)
	}
	if st.Limits.MaxEntries != edgecachetest.DefaultMaxEntries || st.Limits.MaxBytes != edgecachetest.DefaultMaxBytes ||
		st.Limits.MaxBodyBytes != edgecachetest.DefaultMaxBodyBytes {
		t.Errorf("limits: %+v", st.Limits)
	}
	purgeWith(t, fake, invalidate("post-1"))
	e = adminCache(t, fake, "").Entries[0]
	if e.State != edgecachetest.StateStale || e.Reason != `tag-based invalidation ("post-1")` {
		t.Errorf("after invalidating: %s %q", e.State, e.Reason)
	}
	// DELETE empties the cache.
	if status, _, _ := adminCall(t, fake, http.MethodDelete, "/__admin/cache", ""); status != http.StatusNoContent {
		t.Fatalf("DELETE: %d", status)
	}
	if st := adminCache(t, fake, ""); st.Count != 0 || len(st.Purges) != 0 {
		t.Errorf("after DELETE: %+v", st)
	}
}

func TestCDNExplainsWhyAResponseWasNotCached(t *testing.T) {
	logs := &syncBuffer{}
	fake, _ := newCDN(t, site, edgecachetest.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	for _, p := range []string{"/cookie", "/browser-only", "/blog/1", "/cloudflare"} {
		get(t, fake, p)
	}
	cases := []struct{ url, want string }{
		{"/cookie", "GET /cookie was not cached: the response sets a cookie (Set-Cookie): it is never cached."},
		{"/cookie", "Vercel-Cache-Tag is set but the response is not cached"},
		{"/browser-only", "Cache-Control has no s-maxage (max-age alone is for browsers; the CDN needs s-maxage)"},
		{"/blog/1", `GET /blog/1 is cached (fresh), decided by Cache-Control: public, s-maxage=60: fresh for 60 more s, answered HIT; tags "blog", "post-1".`},
		{"/cloudflare", `Cache-Tag: "blog" is Cloudflare's tag header; Vercel reads tags only from Vercel-Cache-Tag`},
		{"/cloudflare", "no Vercel-Cache-Tag, so no purge by tag can reach it"},
		{"/never", "Nothing is cached for /never"},
	}
	for _, tc := range cases {
		var x edgecachetest.CacheExplanation
		status, _, body := adminCall(t, fake, http.MethodGet, "/__admin/cache?url="+tc.url, "")
		if err := json.Unmarshal(body, &x); status != 200 || err != nil {
			t.Fatalf("?url=%s: %d %v", tc.url, status, err)
		}
		if !strings.Contains(strings.Join(x.Explanation, "\n"), tc.want) {
			t.Errorf("?url=%s: explanation %q lacks %q", tc.url, x.Explanation, tc.want)
		}
	}
	// The same diagnosis goes to the log: the answer, and the warnings.
	for _, want := range []string{
		`msg="edgecachetest: cdn" method=GET url=/cookie status=200 cache=MISS reason="cold: not in the cache" not_stored="the response sets a cookie`,
		`level=WARN msg="edgecachetest: cdn: Cache-Tag: \"blog\" is Cloudflare's tag header`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
	// Go callers get the same.
	if x := fake.CDN().Explain("/cookie"); len(x.Answers) != 1 || x.Answers[0].NotStored == "" {
		t.Errorf("Explain: %+v", x)
	}
}

// A HIT is logged at debug level: it has nothing to explain, and a line per HIT floods a
// log under load. Every other answer is logged at info level.
func TestCDNLogsHitsAtDebugLevel(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		logs := &syncBuffer{}
		fake, _ := newCDN(t, site, edgecachetest.WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level}))))
		for range 2 {
			get(t, fake, "/blog/1")
		}
		miss := strings.Contains(logs.String(), `level=INFO msg="edgecachetest: cdn" method=GET url=/blog/1 status=200 cache=MISS`)
		hit := strings.Contains(logs.String(), `level=DEBUG msg="edgecachetest: cdn" method=GET url=/blog/1 status=200 cache=HIT`)
		if !miss || hit != (level == slog.LevelDebug) {
			t.Errorf("logger at %v: MISS logged %v, HIT logged %v; want true, %v:\n%s", level, miss, hit, level == slog.LevelDebug, logs)
		}
	}
}

func TestCDNPurgeReportsMatchesButAnswersLikeVercel(t *testing.T) {
	logs := &syncBuffer{}
	fake, _ := newCDN(t, site, edgecachetest.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	get(t, fake, "/blog/1")
	for _, body := range []string{`{"tags":["blog"]}`, `{"tags":["nothing-has-it"]}`, `{"tags":"blog","target":"preview"}`} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, fake.URL+"/v1/edge-cache/invalidate-by-tags?projectIdOrName=site", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+fake.Token())
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(answer) != 0 {
			t.Errorf("%s: %d %q, want Vercel's 200 with an empty body whatever matched", body, resp.StatusCode, answer)
		}
	}
	purges := adminCache(t, fake, "").Purges
	if len(purges) != 3 {
		t.Fatalf("purges: %+v", purges)
	}
	if p := purges[0]; !p.Applied || p.Matched != 1 || p.Note != "" {
		t.Errorf("blog: %+v", p)
	}
	if p := purges[1]; !p.Applied || p.Matched != 0 || !strings.HasPrefix(p.Note, `0 entries matched: no cached response carries "nothing-has-it"`) {
		t.Errorf("unknown tag: %+v", p)
	}
	if p := purges[2]; p.Applied || p.Matched != 0 || p.Note != "target preview: this CDN emulates production, so nothing here was purged" {
		t.Errorf("preview: %+v", p)
	}
	for _, want := range []string{
		`level=INFO msg="edgecachetest: purge" operation=invalidateByTags purged="\"blog\"" target="" matched=1`,
		`level=WARN msg="edgecachetest: purge" operation=invalidateByTags purged="\"nothing-has-it\"" target="" matched=0 note="0 entries matched`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
	if got := fake.CDN().Purges(); len(got) != 3 {
		t.Errorf("Purges: %d", len(got))
	}
}

func TestAdminClock(t *testing.T) {
	fake, _ := newCDN(t, site)
	get(t, fake, "/blog/1")
	status, _, body := adminCall(t, fake, http.MethodPost, "/__admin/clock", `{"advance":"61s"}`)
	var c struct{ Now time.Time }
	if err := json.Unmarshal(body, &c); status != 200 || err != nil || !c.Now.Equal(t0.Add(61*time.Second)) {
		t.Fatalf("POST /__admin/clock: %d %s", status, body)
	}
	if !fake.Now().Equal(t0.Add(61 * time.Second)) {
		t.Errorf("Now: %v", fake.Now())
	}
	if a := get(t, fake, "/blog/1"); a.cache() != edgecachetest.CacheMiss || a.body != "v2" {
		t.Errorf("past s-maxage: %q %q, want MISS v2", a.cache(), a.body)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"advance":"-1s"}`, `advance: must be a duration of 0 or more, such as \"30s\" or \"1h\" (got \"-1s\")`},
		{`{"advance":"soon"}`, `(got \"soon\")`},
		{`{}`, `(got none)`},
		{`{"by":"1s"}`, `by: is not a field of a clock move`},
	} {
		status, _, body := adminCall(t, fake, http.MethodPost, "/__admin/clock", tc.body)
		if status != http.StatusBadRequest || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s: %d %s, want 400 with %s", tc.body, status, body, tc.want)
		}
	}
	status, _, body = adminCall(t, fake, http.MethodGet, "/__admin/clock", "")
	if status != 200 || !strings.Contains(string(body), "2026-03-01T12:01:01Z") {
		t.Errorf("GET /__admin/clock: %d %s", status, body)
	}
}

func TestAdminCacheWithoutACDN(t *testing.T) {
	fake := newAdminServer(t)
	if fake.CDN() != nil || fake.CDNURL != "" {
		t.Fatal("a CDN without WithOrigin")
	}
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		status, _, body := adminCall(t, fake, method, "/__admin/cache", "")
		if status != http.StatusNotFound || !strings.Contains(string(body), "give it an origin") {
			t.Errorf("%s /__admin/cache: %d %s", method, status, body)
		}
	}
	// The clock is there all the same.
	if status, _, _ := adminCall(t, fake, http.MethodPost, "/__admin/clock", `{"advance":"1s"}`); status != 200 {
		t.Errorf("POST /__admin/clock: %d", status)
	}
}

func TestAdminResetEmptiesTheCache(t *testing.T) {
	fake, _ := newCDN(t, site)
	get(t, fake, "/blog/1")
	if status, _, _ := adminCall(t, fake, http.MethodPost, "/__admin/reset", ""); status != http.StatusNoContent {
		t.Fatalf("reset: %d", status)
	}
	if a := get(t, fake, "/blog/1"); a.cache() != edgecachetest.CacheMiss {
		t.Errorf("after reset: %q, want MISS", a.cache())
	}
}

func TestAdminCacheWaitSettles(t *testing.T) {
	g := newGate(t)
	var n sync.Map
	fake, _ := newCDN(t, func(w http.ResponseWriter, r *http.Request) {
		if _, again := n.LoadOrStore(r.URL.Path, true); again {
			g.wait(r)
		}
		w.Header().Set("Cache-Control", "s-maxage=60")
		w.Header().Set("Vercel-Cache-Tag", "blog")
	})
	get(t, fake, "/p")
	purgeWith(t, fake, invalidate("blog"))
	get(t, fake, "/p") // STALE, starts the revalidation, which waits at the gate
	<-g.arrived
	if e := adminCache(t, fake, "").Entries[0]; !e.Revalidating {
		t.Fatalf("no revalidation in flight: %+v", e)
	}
	g.release()
	st := adminCache(t, fake, "?wait=1")
	if e := st.Entries[0]; e.Revalidating || e.State != edgecachetest.StateFresh {
		t.Errorf("after ?wait=1: %+v", e)
	}
	if status, _, _ := adminCall(t, fake, http.MethodGet, "/__admin/cache?wait=later", ""); status != http.StatusBadRequest {
		t.Errorf("?wait=later: %d, want 400", status)
	}
}
