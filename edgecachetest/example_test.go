package edgecachetest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/edgecachetest"
)

// A test of your own code starts the fake, points a client at it, and checks what the fake
// received.
func Example() {
	s := edgecachetest.NewServer()
	defer s.Close()

	client, err := s.NewClient()
	if err != nil {
		panic(err)
	}
	res, err := client.DangerouslyDeleteByTags(context.Background(), edgecache.DangerouslyDeleteByTagsRequest{
		ProjectIDOrName: "my-project",
		Tags:            edgecache.TagList("blog", "products"),
		Target:          edgecache.TargetProduction,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.StatusCode, res.RequestID)
	for _, r := range s.Requests() {
		fmt.Println(r.ProjectIDOrName, r.Tags, r.TagsForm, r.Target)
	}
	// Output:
	// 200 fake1::1
	// my-project [blog products] array production
}

// FailNext scripts faults: here a rate limit the client waits out once, then success. The
// 429 asks for a 10 ms wait with retry-after-ms, which the client honours, so the test does
// not sleep the second a Retry-After would cost.
func ExampleHandler_FailNext() {
	s := edgecachetest.NewServer()
	defer s.Close()
	s.FailNext(1, edgecachetest.Fault{Status: http.StatusTooManyRequests, RetryAfterMs: "10"})

	client, _ := s.NewClient()
	res, err := client.DangerouslyDeleteByTags(context.Background(), edgecache.DangerouslyDeleteByTagsRequest{
		ProjectIDOrName: "my-project",
		Tags:            edgecache.TagString("blog,products"),
	})
	fmt.Println(res.Attempts, err, s.Calls(), len(s.Requests()))

	// With retries disabled, the fault reaches the caller as an *APIError.
	s.FailNext(1, edgecachetest.Fault{Status: http.StatusServiceUnavailable})
	noRetry, _ := s.NewClient(edgecache.WithRetry(edgecache.RetryPolicy{MaxAttempts: 1}))
	_, err = noRetry.DangerouslyDeleteByTags(context.Background(), edgecache.DangerouslyDeleteByTagsRequest{
		ProjectIDOrName: "my-project",
		Tags:            edgecache.TagList("blog"),
	})
	fmt.Println(errors.Is(err, edgecache.ErrServer))
	// Output:
	// 2 <nil> 2 1
	// true
}

// The Handler mounts in a server of your own; here it answers a hand-made request that
// breaks the spec.
func ExampleNewHandler() {
	h := edgecachetest.NewHandler(edgecachetest.WithProjects("my-project"))
	mux := http.NewServeMux()
	mux.Handle("/v1/edge-cache/", h)

	req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/v1/edge-cache/dangerously-delete-by-tags?projectIdOrName=my-project",
		strings.NewReader(`{"tags":["blog"],"target":"staging"}`))
	req.Header.Set("Authorization", "Bearer any-token")
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body)
	// Output:
	// 400 {"error":{"code":"bad_request","message":"target: must be one of \"production\", \"preview\" (got \"staging\")"}}
}

// Journal lists every request with its answer, refused and faulted ones too; a fault can be
// limited to one operation. GET /__admin/requests answers the same, as JSON.
func ExampleHandler_Journal() {
	s := edgecachetest.NewServer()
	defer s.Close()
	s.FailNext(1, edgecachetest.Fault{Operation: edgecachetest.OpInvalidateBySrcImages, Status: http.StatusPaymentRequired})

	send := func(path, body string) {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, s.URL+path+"?projectIdOrName=my-project", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.Token())
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.Client().Do(req)
		if err != nil {
			panic(err)
		}
		_ = resp.Body.Close()
	}
	send("/v1/edge-cache/invalidate-by-tags", `{"tags":["blog"]}`)
	send("/v1/edge-cache/invalidate-by-src-images", `{"srcImages":["/hero.png"]}`)
	send("/v1/edge-cache/invalidate-by-src-images", `{"srcImages":[]}`)
	send("/v1/edge-cache/invalidate-by-src-images", `{"srcImages":["/hero.png"]}`)

	for _, r := range s.Journal(edgecachetest.AllOperations).Requests {
		fmt.Println(r.Operation, r.Status, r.Fault, string(r.Body))
	}
	fmt.Println(len(s.Requests()), "accepted")
	// Output:
	// invalidateByTags 200 false {"tags":["blog"]}
	// invalidateBySrcImages 402 true {"srcImages":["/hero.png"]}
	// invalidateBySrcImages 400 false {"srcImages":[]}
	// invalidateBySrcImages 200 false {"srcImages":["/hero.png"]}
	// 2 accepted
}
