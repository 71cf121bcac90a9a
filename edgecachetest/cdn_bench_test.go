package edgecachetest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vercelkit/edgecache/edgecachetest"
)

// benchPage is the origin's page in the CDN benchmarks: 4 KB, cacheable, tagged.
var benchPage = strings.Repeat("<p>cached page</p>\n", 4096/19)

func benchOrigin(b *testing.B) *httptest.Server {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "public, s-maxage=3600")
		w.Header().Set("Vercel-Cache-Tag", "bench,page")
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, benchPage)
	}))
	b.Cleanup(o.Close)
	return o
}

// getOnce GETs url with hc, reads the body, and checks the status and x-vercel-cache.
func getOnce(hc *http.Client, url, wantCache string) error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Vercel-Cache") != wantCache {
		return fmt.Errorf("status %d, x-vercel-cache %q, want 200 %q", resp.StatusCode, resp.Header.Get("X-Vercel-Cache"), wantCache)
	}
	return nil
}

// BenchmarkCDN measures the CDN in front of an httptest origin on loopback, for comparison
// with another cache (Varnish) on the same origin.
//
//   - hit: a cached 4 KB page, GET by loadClients concurrent keep-alive clients
//     (RunParallel); req/s is HIT throughput.
//   - hit-handler: the same HIT through CDN.ServeHTTP and a recorder, without a network:
//     the CPU cost of a HIT.
//   - miss: one client; each iteration GETs a new URL through the CDN (a MISS, fetched
//     and stored) and, in the same loop, the same kind of URL from the origin directly, so
//     both see the same machine. miss-ns/op and origin-ns/op are the two latencies,
//     added-ns/op what the CDN adds to a MISS. The cache's default limits evict the oldest
//     entries once it holds 10,000.
func BenchmarkCDN(b *testing.B) {
	b.Run("hit", func(b *testing.B) {
		o := benchOrigin(b)
		fake := edgecachetest.NewServer(edgecachetest.WithOrigin(o.URL))
		b.Cleanup(fake.Close)
		hc := keepAliveClient(b)
		url := fake.CDNURL + "/blog/hello"
		if err := getOnce(hc, url, edgecachetest.CacheMiss); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetParallelism(parallelism())
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := getOnce(hc, url, edgecachetest.CacheHit); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportRate(b)
	})

	b.Run("hit-handler", func(b *testing.B) {
		o := benchOrigin(b)
		h := edgecachetest.NewHandler(edgecachetest.WithOrigin(o.URL))
		cdn := h.CDN()
		b.Cleanup(cdn.Close)
		serve := func(want string) error {
			w := httptest.NewRecorder()
			cdn.ServeHTTP(w, httptest.NewRequestWithContext(b.Context(), http.MethodGet, "/blog/hello", nil))
			if got := w.Header().Get("X-Vercel-Cache"); w.Code != http.StatusOK || got != want {
				return fmt.Errorf("%d %q, want 200 %q", w.Code, got, want)
			}
			return nil
		}
		if err := serve(edgecachetest.CacheMiss); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := serve(edgecachetest.CacheHit); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b)
	})

	b.Run("miss", func(b *testing.B) {
		o := benchOrigin(b)
		fake := edgecachetest.NewServer(edgecachetest.WithOrigin(o.URL))
		b.Cleanup(fake.Close)
		hc := keepAliveClient(b)
		direct := keepAliveClient(b)
		var viaCDN, toOrigin time.Duration
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			i++
			start := time.Now()
			if err := getOnce(direct, fmt.Sprintf("%s/page?i=%d", o.URL, i), ""); err != nil {
				b.Fatal(err)
			}
			mid := time.Now()
			if err := getOnce(hc, fmt.Sprintf("%s/page?i=%d", fake.CDNURL, i), edgecachetest.CacheMiss); err != nil {
				b.Fatal(err)
			}
			toOrigin += mid.Sub(start)
			viaCDN += time.Since(mid)
		}
		n := float64(i)
		b.ReportMetric(float64(viaCDN.Nanoseconds())/n, "miss-ns/op")
		b.ReportMetric(float64(toOrigin.Nanoseconds())/n, "origin-ns/op")
		b.ReportMetric(float64((viaCDN-toOrigin).Nanoseconds())/n, "added-ns/op")
	})
}
