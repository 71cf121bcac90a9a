package edgecache_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/api"
	"github.com/vercelkit/edgecache/edgecachetest"
)

// The one request every call benchmark sends: two tags, a target and a team id.
const (
	benchToken   = "bench-token"
	benchProject = "prj_bench"
	benchTeam    = "team_bench"
	benchPath    = "/v1/edge-cache/dangerously-delete-by-tags"
)

var benchTags = []string{"blog", "products"}

// benchRequest is that request as the wrapper takes it.
func benchRequest() edgecache.DeleteByTagsRequest {
	return edgecache.DeleteByTagsRequest{
		ProjectIDOrName: benchProject,
		Tags:            edgecache.TagList(benchTags...),
		Target:          edgecache.TargetProduction,
		TeamID:          benchTeam,
	}
}

// newDrainServer is the loopback server every call benchmark shares: it drains the body and
// answers 200 with nothing else, so that the client's cost is what differs.
func newDrainServer(b *testing.B) *httptest.Server {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// floorBody is the body a hand-written call marshals.
type floorBody struct {
	Tags   []string `json:"tags"`
	Target string   `json:"target,omitempty"`
}

// callers returns the three ways to make the benchmark's call, each against srv with hc.
func callers(b *testing.B, srv *httptest.Server, hc *http.Client) (floor, generated, wrapper func(context.Context) error) {
	b.Helper()
	floor = func(ctx context.Context) error {
		body, err := json.Marshal(floorBody{Tags: benchTags, Target: "production"})
		if err != nil {
			return err
		}
		u := srv.URL + benchPath + "?projectIdOrName=" + url.QueryEscape(benchProject) + "&teamId=" + url.QueryEscape(benchTeam)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+benchToken)
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

	raw, err := api.NewClient(srv.URL, api.WithHTTPClient(hc), api.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+benchToken)
		return nil
	}))
	if err != nil {
		b.Fatal(err)
	}
	generated = func(ctx context.Context) error {
		team := benchTeam
		target := api.DangerouslyDeleteByTagsJSONBodyTargetProduction
		params := api.DangerouslyDeleteByTagsParams{ProjectIdOrName: benchProject, TeamId: &team}
		body := api.DangerouslyDeleteByTagsJSONRequestBody{Target: &target}
		if err := body.Tags.FromDangerouslyDeleteByTagsJSONBodyTags0(benchTags); err != nil {
			return err
		}
		resp, err := raw.DangerouslyDeleteByTags(ctx, &params, body)
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

	c, err := edgecache.New(benchToken, edgecache.WithBaseURL(srv.URL), edgecache.WithHTTPClient(hc))
	if err != nil {
		b.Fatal(err)
	}
	req := benchRequest() // a request value is immutable: built once, as the floor's tags are
	wrapper = func(ctx context.Context) error {
		res, err := c.DangerouslyDeleteByTags(ctx, req)
		if err != nil {
			return err
		}
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", res.StatusCode)
		}
		return nil
	}
	return floor, generated, wrapper
}

// BenchmarkCall compares one call three ways against the same loopback server, with the same
// *http.Client (so the same transport and connection pool):
//
//   - floor: a hand-written net/http call: marshal the body, build the URL and its query, set
//     Authorization and Content-Type, Do, drain, close;
//   - generated: the generated api.Client, the body built from the generated types;
//   - wrapper: edgecache.Client.DangerouslyDeleteByTags, validation and retry loop included.
//
// The server runs in the same process, so allocs/op counts its allocations too, equally for
// all three.
//
// interleaved makes the three calls in turn in one loop (rotating which goes first) and
// reports each one's mean time per call, and the wrapper's and the generated client's over the
// floor's. On a machine shared with other work, separate sub-benchmarks run minutes apart
// under different loads; interleaving gives all three the same load, so the ratios hold.
func BenchmarkCall(b *testing.B) {
	srv := newDrainServer(b)
	floor, generated, wrapper := callers(b, srv, srv.Client())
	ctx := context.Background()

	for _, bc := range []struct {
		name string
		call func(context.Context) error
	}{{"floor", floor}, {"generated", generated}, {"wrapper", wrapper}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.call(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}

	b.Run("interleaved", func(b *testing.B) {
		calls := [...]func(context.Context) error{floor, generated, wrapper}
		var spent [len(calls)]time.Duration
		i := 0
		for b.Loop() {
			for k := range calls {
				j := (i + k) % len(calls)
				start := time.Now()
				if err := calls[j](ctx); err != nil {
					b.Fatal(err)
				}
				spent[j] += time.Since(start)
			}
			i++
		}
		n := float64(b.N)
		b.ReportMetric(float64(spent[0])/n, "floor-ns/call")
		b.ReportMetric(float64(spent[1])/n, "generated-ns/call")
		b.ReportMetric(float64(spent[2])/n, "wrapper-ns/call")
		b.ReportMetric(float64(spent[1])/float64(spent[0]), "generated/floor")
		b.ReportMetric(float64(spent[2])/float64(spent[0]), "wrapper/floor")
	})
}

// BenchmarkValidate compares the wrapper's validation with kin-openapi's validation of the
// same request against the spec (the route found once, outside the loop).
func BenchmarkValidate(b *testing.B) {
	b.Run("wrapper", func(b *testing.B) {
		req := benchRequest()
		b.ReportAllocs()
		for b.Loop() {
			if err := req.Validate(); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("kin-openapi", func(b *testing.B) {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(edgecache.OpenAPISpec)
		if err != nil {
			b.Fatal(err)
		}
		if err := doc.Validate(loader.Context); err != nil {
			b.Fatal(err)
		}
		router, err := gorillamux.NewRouter(doc)
		if err != nil {
			b.Fatal(err)
		}
		body, err := json.Marshal(floorBody{Tags: benchTags, Target: "production"})
		if err != nil {
			b.Fatal(err)
		}
		u := edgecache.DefaultBaseURL + benchPath + "?projectIdOrName=" + benchProject + "&teamId=" + benchTeam
		httpReq, err := http.NewRequest(http.MethodPost, u, nil)
		if err != nil {
			b.Fatal(err)
		}
		httpReq.Header.Set("Authorization", "Bearer "+benchToken)
		httpReq.Header.Set("Content-Type", "application/json")
		route, pathParams, err := router.FindRoute(httpReq)
		if err != nil {
			b.Fatal(err)
		}
		input := &openapi3filter.RequestValidationInput{
			Request:    httpReq,
			PathParams: pathParams,
			Route:      route,
			Options: &openapi3filter.Options{
				AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
					if !strings.HasPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ") {
						return fmt.Errorf("no bearer token")
					}
					return nil
				},
			},
		}
		ctx := context.Background()
		var rb rewindBody
		b.ReportAllocs()
		for b.Loop() {
			// ValidateRequest reads the body and replaces it; give it the same bytes each time
			// without allocating a reader.
			rb.Reset(body)
			httpReq.Body = &rb
			input.QueryParams = nil
			if err := openapi3filter.ValidateRequest(ctx, input); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// rewindBody is a request body that can be refilled without allocating.
type rewindBody struct{ bytes.Reader }

func (*rewindBody) Close() error { return nil }

// Bulk benchmarks.
const (
	bulkConcurrency = 8
	bulkLatency     = 20 * time.Millisecond
)

// bulkTags returns n distinct valid tags.
func bulkTags(n int) []string {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("tag-%06d", i)
	}
	return tags
}

// bulkFloor is the least time n tags can take at concurrency c when each request waits
// latency: ceil(requests / c) rounds of one latency each.
func bulkFloor(n, c int, latency time.Duration) time.Duration {
	requests := (n + edgecache.MaxTagsPerRequest - 1) / edgecache.MaxTagsPerRequest
	rounds := (requests + c - 1) / c
	return time.Duration(rounds) * latency
}

// skipLargeN keeps a benchmark whose one op lasts long out of runs that fix a large b.N,
// such as `-benchtime 100x` in CI's bench-short. The first op (b.N = 1) has already run by
// then, so CI still exercises the code; only the long repetition is skipped. Under a
// -benchtime duration (the default, and `make bench`) nothing is skipped: testing picks a
// b.N that fits the duration.
func skipLargeN(b *testing.B, max int, opCost string) {
	b.Helper()
	if b.N > max && fixedBenchtime() {
		b.Skipf("-benchtime %s: one op is %s; the first op ran, the rest are skipped (use a -benchtime duration)", flag.Lookup("test.benchtime").Value, opCost)
	}
}

// fixedBenchtime reports whether -benchtime gives an iteration count ("100x").
func fixedBenchtime() bool {
	f := flag.Lookup("test.benchtime")
	return f != nil && strings.HasSuffix(f.Value.String(), "x")
}

// BenchmarkBulk measures DangerouslyDeleteByTagsBulk.
//
// fake-20ms: 10,000 tags (625 requests) against edgecachetest answering after 20 ms, at
// concurrency 8. One op is one whole purge. x-floor is the op's time over the floor
// ceil(625/8) × 20 ms = 1.58 s. Under a fixed large b.N (CI's -benchtime 100x) it runs once
// (~1.6 s) and skips the rest.
//
// memory: 10,000 and 100,000 tags against the drain server (no latency), to show the
// client's memory per tag staying flat as the purge grows. The server runs in-process, so its
// net/http allocations are counted too (one request per 16 tags).
func BenchmarkBulk(b *testing.B) {
	ctx := context.Background()

	b.Run("fake-20ms/tags=10000", func(b *testing.B) {
		skipLargeN(b, 1, "a 10,000-tag purge of about 1.6 s")
		fake := edgecachetest.NewServer(edgecachetest.WithLatency(bulkLatency))
		defer fake.Close()
		c, err := fake.NewClient()
		if err != nil {
			b.Fatal(err)
		}
		const n = 10000
		req := edgecache.BulkDeleteRequest{ProjectIDOrName: benchProject, Tags: bulkTags(n), Concurrency: bulkConcurrency}
		b.ReportAllocs()
		b.ResetTimer()
		allocs := startAllocs()
		for range b.N {
			fake.Reset() // the fake records every request; keep that out of later ops
			res, err := c.DangerouslyDeleteByTagsBulk(ctx, req)
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Purged) != n {
				b.Fatalf("purged %d tags, want %d", len(res.Purged), n)
			}
		}
		b.StopTimer()
		perOp := b.Elapsed() / time.Duration(b.N)
		b.ReportMetric(float64(perOp)/float64(bulkFloor(n, bulkConcurrency, bulkLatency)), "x-floor")
		allocs.reportPerTag(b, n)
	})

	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("memory/tags=%d", n), func(b *testing.B) {
			skipLargeN(b, 200_000/n, fmt.Sprintf("a %d-tag purge", n))
			srv := newDrainServer(b)
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: bulkConcurrency}}
			b.Cleanup(hc.CloseIdleConnections)
			c, err := edgecache.New(benchToken, edgecache.WithBaseURL(srv.URL), edgecache.WithHTTPClient(hc))
			if err != nil {
				b.Fatal(err)
			}
			req := edgecache.BulkDeleteRequest{ProjectIDOrName: benchProject, Tags: bulkTags(n), Concurrency: bulkConcurrency}
			before := liveHeap()
			b.ReportAllocs()
			b.ResetTimer()
			allocs := startAllocs()
			var res *edgecache.BulkResult
			for range b.N {
				res, err = c.DangerouslyDeleteByTagsBulk(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Purged) != n {
					b.Fatalf("purged %d tags, want %d", len(res.Purged), n)
				}
			}
			b.StopTimer()
			allocs.reportPerTag(b, n)
			// What one purge leaves live: the result, which lists every tag (the strings
			// themselves are the caller's), and anything the client kept.
			b.ReportMetric(float64(liveHeap()-before)/float64(n), "live-B/tag")
			runtime.KeepAlive(res)
			runtime.KeepAlive(req.Tags) // live in both measurements, so not counted
		})
	}
}

// allocCounter reads the same counters testing uses for B/op and allocs/op, so that they
// can be reported per tag as well.
type allocCounter struct{ mallocs, bytes uint64 }

func startAllocs() allocCounter {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return allocCounter{ms.Mallocs, ms.TotalAlloc}
}

// liveHeap returns the bytes of live heap objects after a full collection. It collects
// twice, so that sync.Pool caches emptied by the first collection are gone too.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// reportPerTag reports the bytes and allocations since start, per tag of one op.
func (start allocCounter) reportPerTag(b *testing.B, tags int) {
	b.Helper()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	perTag := float64(b.N) * float64(tags)
	b.ReportMetric(float64(ms.TotalAlloc-start.bytes)/perTag, "B/tag")
	b.ReportMetric(float64(ms.Mallocs-start.mallocs)/perTag, "allocs/tag")
}

// TestPreparedBodyIsJSONMarshal guards the lean body encoder the call benchmarks led to: the
// body the client sends (Prepare shows it) must be, byte for byte, what json.Marshal makes of
// the generated request body, as the generated client would have sent.
func TestPreparedBodyIsJSONMarshal(t *testing.T) {
	c, err := edgecache.New("t")
	if err != nil {
		t.Fatal(err)
	}
	tricky := []string{"blog", `a"b`, `back\slash`, "<script>&amp;", "tab\there", "nl\nx", "\x01\x1f\x7f", "é", "日本語", "line\u2028sep\u2029x", "emoji 😀", " spaced "}
	deadlines := []*int{nil, edgecache.Ptr(0), edgecache.Ptr(1), edgecache.Ptr(86400), edgecache.Ptr(1<<53 + 1), edgecache.Ptr(math.MaxInt)}
	var reqs []edgecache.DeleteByTagsRequest
	for i, d := range deadlines {
		for _, target := range []edgecache.Target{"", edgecache.TargetProduction, edgecache.TargetPreview} {
			reqs = append(reqs,
				edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList(tricky[i:]...), Target: target, RevalidationDeadlineSeconds: d},
				edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagString(strings.Join(tricky[:i+1], ",")), Target: target, RevalidationDeadlineSeconds: d})
		}
	}
	for _, tag := range tricky {
		reqs = append(reqs, edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList(tag)})
	}
	for _, req := range reqs {
		p, err := c.Prepare(req)
		if err != nil {
			t.Fatalf("Prepare(%+v): %v", req, err)
		}
		var body api.DangerouslyDeleteByTagsJSONRequestBody
		if req.Tags.IsList() {
			err = body.Tags.FromDangerouslyDeleteByTagsJSONBodyTags0(req.Tags.Values())
		} else {
			err = body.Tags.FromDangerouslyDeleteByTagsJSONBodyTags1(req.Tags.String())
		}
		if err != nil {
			t.Fatal(err)
		}
		if req.Target != "" {
			target := api.DangerouslyDeleteByTagsJSONBodyTarget(req.Target)
			body.Target = &target
		}
		if d := req.RevalidationDeadlineSeconds; d != nil {
			seconds := float64(*d)
			body.RevalidationDeadlineSeconds = &seconds
		}
		want, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p.Body, want) {
			t.Errorf("body of %+v:\n got %s\nwant %s", req, p.Body, want)
		}
	}
}
