package edgecachetest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/edgecachetest"
)

// The request every fake benchmark sends: valid, so each one runs the whole validation.
const (
	benchURL  = "/v1/edge-cache/dangerously-delete-by-tags?projectIdOrName=prj_1&teamId=team_1"
	benchBody = `{"tags":["blog","products"],"target":"production","revalidationDeadlineSeconds":0}`
)

// BenchmarkFake measures the cost of one validated request to the fake.
//
//   - handler: the Handler alone, one request at a time, with httptest.NewRecorder:
//     validation, recording and the answer, without a network. ns/op is the CPU cost of a
//     request; req/s is what one core could serve.
//   - handler-parallel: the same on every core (RunParallel).
//   - loopback: a Server on 127.0.0.1 driven over HTTP/1.1 keep-alive connections by 8
//     concurrent clients (RunParallel), the clients sharing the machine with the server, as
//     a load generator would. req/s is validated requests per second.
//   - client: as loopback, but through the edgecache client (validation, encoding and the
//     generated request builder on the client side too).
func BenchmarkFake(b *testing.B) {
	b.Run("handler", func(b *testing.B) {
		h := edgecachetest.NewHandler()
		b.ReportAllocs()
		for b.Loop() {
			if err := serveOne(h); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b)
	})

	b.Run("handler-parallel", func(b *testing.B) {
		h := edgecachetest.NewHandler()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := serveOne(h); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportRate(b)
	})

	b.Run("loopback", func(b *testing.B) {
		s := edgecachetest.NewServer()
		defer s.Close()
		hc := keepAliveClient(b)
		url := s.URL + benchURL
		auth := "Bearer " + s.Token()
		body := []byte(benchBody)
		b.ReportAllocs()
		b.SetParallelism(parallelism())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				req.Header.Set("Authorization", auth)
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
		reportRate(b)
	})

	b.Run("client", func(b *testing.B) {
		s := edgecachetest.NewServer()
		defer s.Close()
		c, err := s.NewClient(edgecache.WithHTTPClient(keepAliveClient(b)))
		if err != nil {
			b.Fatal(err)
		}
		req := edgecache.DeleteByTagsRequest{
			ProjectIDOrName:             "prj_1",
			Tags:                        edgecache.TagList("blog", "products"),
			Target:                      edgecache.TargetProduction,
			RevalidationDeadlineSeconds: edgecache.Ptr(0),
			TeamID:                      "team_1",
		}
		b.ReportAllocs()
		b.SetParallelism(parallelism())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.DangerouslyDeleteByTags(context.Background(), req); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportRate(b)
	})
}

// loadClients is how many clients the loopback benchmarks run at once, as the load
// generator's -c 8.
const loadClients = 8

// parallelism is the RunParallel multiplier that gives loadClients goroutines.
func parallelism() int {
	return max(1, loadClients/runtime.GOMAXPROCS(0))
}

// keepAliveClient keeps a connection per client alive between requests. The default
// transport keeps only 2 idle connections per host, so 8 clients would open and close
// connections all the time and measure TCP set-up rather than the fake.
func keepAliveClient(b *testing.B) *http.Client {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: loadClients * 2}}
	b.Cleanup(hc.CloseIdleConnections)
	return hc
}

// serveOne sends the benchmark request to h through a recorder and checks the answer.
func serveOne(h http.Handler) error {
	r := httptest.NewRequest(http.MethodPost, benchURL, strings.NewReader(benchBody))
	r.Header.Set("Authorization", "Bearer t")
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		return fmt.Errorf("status %d: %s", w.Code, w.Body)
	}
	return nil
}

// reportRate reports requests per second of wall time.
func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
