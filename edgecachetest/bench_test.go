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
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
				req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
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
		req := edgecache.DangerouslyDeleteByTagsRequest{
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
	r := httptest.NewRequestWithContext(context.Background(), http.MethodPost, benchURL, strings.NewReader(benchBody))
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

// BenchmarkRecording compares a Server that records (the default: the newest 10,000 requests)
// with one that records nothing (WithoutRecording), both on loopback under loadClients
// concurrent clients as in BenchmarkFake/loopback. The two are measured in the same run, in
// alternating blocks of recordingBlock requests, so that both see the same machine: a
// machine shared with other work slows both alike. It reports each one's requests per
// second and their ratio (on/off: 1 means recording is free; the target is ≥ 0.85).
//
//	go test -run '^$' -bench Recording -benchtime 200000x ./edgecachetest
func BenchmarkRecording(b *testing.B) {
	on := edgecachetest.NewServer()
	defer on.Close()
	off := edgecachetest.NewServer(edgecachetest.WithoutRecording())
	defer off.Close()
	hc := keepAliveClient(b)
	body := []byte(benchBody)

	// drive sends n requests to s from loadClients clients and returns how long they took.
	drive := func(s *edgecachetest.Server, n int) time.Duration {
		url, auth := s.URL+benchURL, "Bearer "+s.Token()
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range loadClients {
			wg.Go(func() {
				for next.Add(1) <= int64(n) {
					if err := postOnce(hc, url, auth, body); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}

	var onTime, offTime time.Duration
	var onN, offN int
	b.ReportAllocs()
	for i := 0; i < b.N; {
		n := min(recordingBlock, b.N-i)
		// Half of each block to each server, in alternating order, so that neither always
		// runs first.
		half := max(1, n/2)
		if (i/recordingBlock)%2 == 0 {
			onTime += drive(on, half)
			offTime += drive(off, n-half)
		} else {
			offTime += drive(off, n-half)
			onTime += drive(on, half)
		}
		onN += half
		offN += n - half
		i += n
	}
	if len(on.Requests()) == 0 || len(off.Requests()) != 0 {
		b.Fatalf("the recording server kept %d requests, the other %d", len(on.Requests()), len(off.Requests()))
	}
	onRate := float64(onN) / onTime.Seconds()
	offRate := float64(offN) / max(offTime, 1).Seconds()
	b.ReportMetric(onRate, "on-req/s")
	b.ReportMetric(offRate, "off-req/s")
	b.ReportMetric(onRate/offRate, "on/off")
}

// recordingBlock is how many requests BenchmarkRecording sends in one block (half to each
// server): long enough to fill the connections' pipelines, short enough to alternate often.
const recordingBlock = 4000

// postOnce sends the benchmark request and checks for a 200.
func postOnce(hc *http.Client, url, auth string, body []byte) error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}
