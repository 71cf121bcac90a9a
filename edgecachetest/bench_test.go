package edgecachetest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/edgecachetest"
)

// BenchmarkHandler measures the fake alone: validation, recording and the answer.
func BenchmarkHandler(b *testing.B) {
	h := edgecachetest.NewHandler()
	const body = `{"tags":["blog","products"],"target":"production","revalidationDeadlineSeconds":0}`
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest(http.MethodPost, "/v1/edge-cache/dangerously-delete-by-tags?projectIdOrName=prj_1&teamId=team_1", strings.NewReader(body))
			r.Header.Set("Authorization", "Bearer t")
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkServer measures validated requests per second end to end, through the
// edgecache client over loopback.
func BenchmarkServer(b *testing.B) {
	s := edgecachetest.NewServer()
	defer s.Close()
	c, err := s.NewClient()
	if err != nil {
		b.Fatal(err)
	}
	req := edgecache.DeleteByTagsRequest{
		ProjectIDOrName:             "prj_1",
		Tags:                        edgecache.TagList("blog", "products"),
		Target:                      edgecache.TargetProduction,
		RevalidationDeadlineSeconds: edgecache.Ptr(0),
	}
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.DangerouslyDeleteByTags(context.Background(), req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
