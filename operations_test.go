package edgecache_test

// The four operations' methods: each goes through the one shared core (validation, the
// generated client, the retry loop, the response check), shown against the spec-validating
// fake; and what a call costs against a hand-written net/http call.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/api"
	"github.com/vercelkit/edgecache/edgecachetest"
)

func TestEveryOperationAgainstTheFake(t *testing.T) {
	t.Parallel()
	for _, op := range everyOperation() {
		t.Run(op.id, func(t *testing.T) {
			t.Parallel()
			s := newFake(t)
			clock := &fakeClock{}
			c := newClient(t, s, clock.Option())
			ctx := context.Background()

			res, err := op.call(ctx, c)
			if err != nil || res.StatusCode != http.StatusOK || res.Attempts != 1 || !strings.HasPrefix(res.RequestID, "fake1::") {
				t.Fatalf("got (%+v, %v), want a 200 Result after 1 attempt with the fake's request id", res, err)
			}

			// A server fault is retried by the shared core, whatever the operation.
			s.FailNext(1, edgecachetest.Fault{Status: http.StatusServiceUnavailable})
			if res, err := op.call(ctx, c); err != nil || res.Attempts != 2 {
				t.Errorf("after one 503: got (%+v, %v), want success after 2 attempts", res, err)
			}

			// Refusals map to their sentinels, and are not retried.
			for status, sentinel := range map[int]error{
				http.StatusForbidden: edgecache.ErrForbidden, http.StatusPaymentRequired: edgecache.ErrPaymentRequired,
				http.StatusGone: edgecache.ErrGone, http.StatusNotFound: edgecache.ErrNotFound,
			} {
				before := s.Calls()
				s.FailNext(1, edgecachetest.Fault{Status: status})
				_, err := op.call(ctx, c)
				if !errors.Is(err, sentinel) || s.Calls() != before+1 {
					t.Errorf("%d: error %v after %d requests, want %v after 1", status, err, s.Calls()-before, sentinel)
				}
			}
			if n := len(s.Requests()); n != 2 {
				t.Errorf("the fake accepted %d requests, want 2", n)
			}
		})
	}
}

// benchRequest is the one request every call benchmark sends: two tags, a target, a team.
func benchRequest() edgecache.DangerouslyDeleteByTagsRequest {
	return edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: testProject, Tags: edgecache.TagList("blog", "products"),
		Target: edgecache.TargetProduction, TeamID: "team_bench"}
}

// callers returns three ways to make the same call against srv with hc: a hand-written
// net/http call (the floor), the generated api.Client, and the wrapper.
func callers(b *testing.B, srv *httptest.Server, hc *http.Client) (floor, generated, wrapper func(context.Context) error) {
	b.Helper()
	const path = "/v1/edge-cache/dangerously-delete-by-tags"
	floor = func(ctx context.Context) error {
		body, err := json.Marshal(struct {
			Tags   []string `json:"tags"`
			Target string   `json:"target,omitempty"`
		}{[]string{"blog", "products"}, "production"})
		if err != nil {
			return err
		}
		u := srv.URL + path + "?projectIdOrName=" + url.QueryEscape(testProject) + "&teamId=" + url.QueryEscape("team_bench")
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		return drainOK(resp, err)
	}
	raw, err := api.NewClient(srv.URL, api.WithHTTPClient(hc), api.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+testToken)
		return nil
	}))
	if err != nil {
		b.Fatal(err)
	}
	generated = func(ctx context.Context) error {
		team, target := "team_bench", api.DangerouslyDeleteByTagsJSONBodyTargetProduction
		body := api.DangerouslyDeleteByTagsJSONRequestBody{Target: &target}
		if err := body.Tags.FromDangerouslyDeleteByTagsJSONBodyTags0([]string{"blog", "products"}); err != nil {
			return err
		}
		resp, err := raw.DangerouslyDeleteByTags(ctx, &api.DangerouslyDeleteByTagsParams{ProjectIdOrName: testProject, TeamId: &team}, body)
		return drainOK(resp, err)
	}
	c, err := edgecache.New(testToken, edgecache.WithBaseURL(srv.URL), edgecache.WithHTTPClient(hc))
	if err != nil {
		b.Fatal(err)
	}
	req := benchRequest()
	wrapper = func(ctx context.Context) error {
		_, err := c.DangerouslyDeleteByTags(ctx, req)
		return err
	}
	return floor, generated, wrapper
}

// BenchmarkCall compares one call three ways against the same loopback server (which drains the
// body and answers 200) with the same *http.Client, so the same connection pool: the floor, a
// hand-written net/http call; the generated api.Client; and the wrapper, validation and retry
// loop included. The server runs in-process, so allocs/op counts its allocations too.
//
// interleaved makes the three calls in turn in one loop, rotating which goes first, and reports
// each one's mean time per call and the ratios to the floor: on a machine shared with other work,
// separate sub-benchmarks run under different loads, while interleaving gives all three the
// same. The target is wrapper/floor ≤ 1.30.
func BenchmarkCall(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
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

// drainOK reads and closes the body of a call's answer and wants it to be a 200.
func drainOK(resp *http.Response, err error) error {
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
