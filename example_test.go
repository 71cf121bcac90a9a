package edgecache_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"golang.org/x/time/rate"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/edgecachetest"
)

// exampleAPI stands in for api.vercel.com so that the examples run offline: an in-process
// server on 127.0.0.1 that answers like Vercel. It refuses the project
// "someone-elses-project" with 403 and accepts every other call of the four operations with 200.
// (Tests of your own code can use package edgecachetest, a fake that also checks every request
// against the spec.)
func exampleAPI() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Vercel-Id", "fra1::example-1")
		var body map[string]json.RawMessage
		switch {
		case r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/v1/edge-cache/"):
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":{"code":"not_found","message":"The requested path was not found."}}`)
		case r.Header.Get("Authorization") != "Bearer my-vercel-token":
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":{"code":"forbidden","message":"Not authorized"}}`)
		case json.NewDecoder(r.Body).Decode(&body) != nil || len(body["tags"])+len(body["srcImages"]) == 0:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":{"code":"bad_request","message":"Invalid request body."}}`)
		case r.URL.Query().Get("projectIdOrName") == "someone-elses-project":
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"error":{"code":"forbidden","message":"You don't have permission to access this resource."}}`)
		default:
			fmt.Fprint(w, `{}`)
		}
	}))
}

func ExampleNew() {
	// In real code, read the token from the environment or a secret store, never from source.
	client, err := edgecache.New("my-vercel-token", edgecache.WithTeamSlug("my-team"))
	if err != nil {
		log.Fatal(err)
	}
	// A client never prints its token.
	fmt.Println(client)
	// Output: edgecache.Client{baseURL: "https://api.vercel.com", token: [redacted]}
}

func ExampleClient_InvalidateByTags() {
	vercel := exampleAPI() // in real code, leave out this line and WithBaseURL below
	defer vercel.Close()

	client, err := edgecache.New("my-vercel-token", edgecache.WithBaseURL(vercel.URL), edgecache.WithTeamSlug("my-team"))
	if err != nil {
		log.Fatal(err)
	}
	// Invalidation is the safe purge: the next request for each page under these tags is served
	// the stale copy while the page revalidates in the background, so the origin sees no
	// stampede. Prefer it to DangerouslyDeleteByTags.
	res, err := client.InvalidateByTags(context.Background(), edgecache.InvalidateByTagsRequest{
		ProjectIDOrName: "prj_12HKQaOmR5t5Uy6vdcQsNIiZgHGB",
		Tags:            edgecache.TagList("product-42", "category-shoes"),
		Target:          edgecache.TargetProduction,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.StatusCode, res.RequestID)
	// Output: 200 fra1::example-1
}

func ExampleClient_InvalidateBySrcImages() {
	vercel := exampleAPI() // in real code, leave out this line and WithBaseURL below
	defer vercel.Close()

	client, err := edgecache.New("my-vercel-token", edgecache.WithBaseURL(vercel.URL))
	if err != nil {
		log.Fatal(err)
	}
	// The transformed images of these source images revalidate in the background. A comma is
	// part of an image's name: source images are never split.
	_, err = client.InvalidateBySrcImages(context.Background(), edgecache.InvalidateBySrcImagesRequest{
		ProjectIDOrName: "my-site",
		SrcImages:       []string{"/images/hero.png", "/images/a,b.jpg"},
	})
	fmt.Println(err)
	// Output: <nil>
}

func ExampleClient_DangerouslyDeleteByTags() {
	vercel := exampleAPI() // in real code, leave out this line and WithBaseURL below
	defer vercel.Close()

	client, err := edgecache.New("my-vercel-token", edgecache.WithBaseURL(vercel.URL), edgecache.WithTeamSlug("my-team"))
	if err != nil {
		log.Fatal(err)
	}
	// Prefer InvalidateByTags. Deleting a tag sends the next request for every page under it to
	// the origin, in the foreground: use it when the origin content is gone. One tag can cover many paths, so this can flood the origin at once: a cache
	// stampede. The revalidation deadline softens it: for 60 seconds the entries are still
	// served stale while they revalidate in the background, and only then are they deleted.
	res, err := client.DangerouslyDeleteByTags(context.Background(), edgecache.DangerouslyDeleteByTagsRequest{
		ProjectIDOrName:             "prj_12HKQaOmR5t5Uy6vdcQsNIiZgHGB",
		Tags:                        edgecache.TagList("product-42", "category-shoes"),
		Target:                      edgecache.TargetProduction,
		RevalidationDeadlineSeconds: edgecache.Ptr(60),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.StatusCode, res.RequestID)
	// Output: 200 fra1::example-1
}

func ExampleTagString() {
	// The string form is one comma-separated string, which Vercel splits on commas.
	tags := edgecache.TagString("blog,products")
	fmt.Println(tags.Values(), tags.IsList())

	// A stray comma would send an empty tag; it is refused before anything is sent.
	req := edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "my-site", Tags: edgecache.TagString("blog,,products")}
	err := req.Validate()
	fmt.Println(errors.Is(err, edgecache.ErrInvalidRequest))
	fmt.Println(err)
	// Output:
	// [blog products] false
	// true
	// edgecache: invalid request: tags[1] must not be empty (got "")
}

func ExampleClient_Bulk() {
	vercel := exampleAPI() // in real code, leave out this line and WithBaseURL below
	defer vercel.Close()

	client, err := edgecache.New("my-vercel-token", edgecache.WithBaseURL(vercel.URL))
	if err != nil {
		log.Fatal(err)
	}
	tags := make([]string, 40)
	for i := range tags {
		tags[i] = fmt.Sprintf("product-%d", i+1)
	}
	var last edgecache.BulkProgress
	// Any operation's request can hold any number of items: 40 tags go out as 3 requests of
	// at most 16 (source images: 8 per request).
	res, err := client.Bulk(context.Background(), edgecache.InvalidateByTagsRequest{
		ProjectIDOrName: "my-site",
		Tags:            edgecache.TagList(tags...),
	}, edgecache.BulkOptions{Concurrency: 2, Progress: func(p edgecache.BulkProgress) { last = p }})
	if err != nil {
		// res still says which tags were purged, which failed and which were never attempted.
		log.Fatal(err)
	}
	fmt.Printf("purged %d tags in %d requests; %d failed, %d not attempted\n",
		len(res.Purged), last.RequestsDone, len(res.Failed), len(res.NotAttempted))
	// Output: purged 40 tags in 3 requests; 0 failed, 0 not attempted
}

func ExampleAPIError() {
	vercel := exampleAPI() // in real code, leave out this line and WithBaseURL below
	defer vercel.Close()

	client, err := edgecache.New("my-vercel-token", edgecache.WithBaseURL(vercel.URL))
	if err != nil {
		log.Fatal(err)
	}
	_, err = client.DangerouslyDeleteByTags(context.Background(), edgecache.DangerouslyDeleteByTagsRequest{
		ProjectIDOrName: "someone-elses-project",
		Tags:            edgecache.TagList("blog"),
	})

	var apiErr *edgecache.APIError
	switch {
	case err == nil:
		fmt.Println("purged")
	case errors.Is(err, edgecache.ErrInvalidRequest):
		fmt.Println("fix the request:", err) // nothing was sent
	case errors.As(err, &apiErr):
		fmt.Println(apiErr.StatusCode, apiErr.Code, apiErr.Message)
		// The sentinels spare comparing status codes. ErrForbidden: the token may not act on
		// this project; check the team (WithTeamID or WithTeamSlug).
		fmt.Println("forbidden:", errors.Is(err, edgecache.ErrForbidden), "retry later:", apiErr.Temporary())
		fmt.Println("quote to Vercel support:", apiErr.RequestID)
	default:
		fmt.Println("no answer:", err) // a *TransportError
	}
	// Output:
	// 403 forbidden You don't have permission to access this resource.
	// forbidden: true retry later: false
	// quote to Vercel support: fra1::example-1
}

func ExamplePurger() {
	// A fake of the API, for this example; in real code: client, err := edgecache.New(token).
	vercel := edgecachetest.NewServer()
	defer vercel.Close()
	client, err := vercel.NewClient()
	if err != nil {
		log.Fatal(err)
	}

	// One Purger for the whole process, shared by every goroutine. Calls made within a few
	// milliseconds of one another share requests of up to 16 tags.
	purger := client.NewPurger(edgecache.PurgerOptions{})

	// Each event purges its own tag and waits for the answer, here 40 at once.
	var wg sync.WaitGroup
	for id := range 40 {
		wg.Go(func() {
			err := purger.Purge(context.Background(), edgecache.InvalidateByTagsRequest{
				ProjectIDOrName: "my-site",
				Tags:            edgecache.TagList(fmt.Sprintf("product-%d", id)),
			})
			switch {
			case errors.Is(err, edgecache.ErrForbidden):
				log.Print("the token may not purge my-site: ", err)
			case err != nil:
				log.Print(err) // the same errors as a single call's
			}
		})
	}
	wg.Wait()

	// Or hand the items over without waiting: Close reports whatever then fails.
	if err := purger.Enqueue(edgecache.InvalidateByTagsRequest{ProjectIDOrName: "my-site", Tags: edgecache.TagList("home")}); err != nil {
		log.Print(err)
	}

	// Close sends what still waits, and waits for the answers.
	if err := purger.Close(context.Background()); err != nil {
		log.Print(err)
	}
	tags, requests := 0, len(vercel.Requests())
	for _, r := range vercel.Requests() {
		tags += len(r.Tags)
	}
	fmt.Printf("%d tags purged, in fewer requests than calls: %v\n", tags, requests < 41)
	// Output: 41 tags purged, in fewer requests than calls: true
}

func ExampleLimiter() {
	// A fake of the API, for this example; in real code: client, err := edgecache.New(token).
	vercel := edgecachetest.NewServer()
	defer vercel.Close()
	client, err := vercel.NewClient()
	if err != nil {
		log.Fatal(err)
	}

	// One limit for everything that purges with this token in this process: at most 10
	// requests a second between the bulk purge and the purger, whatever each learns alone.
	shared := rate.NewLimiter(10, 1)
	purger := client.NewPurger(edgecache.PurgerOptions{Limiter: shared})
	res, err := client.Bulk(context.Background(), edgecache.InvalidateByTagsRequest{
		ProjectIDOrName: "my-site",
		Tags:            edgecache.TagList("blog", "products", "home"),
	}, edgecache.BulkOptions{Limiter: shared})
	if err != nil {
		log.Fatal(err)
	}
	if err := purger.Purge(context.Background(), edgecache.InvalidateByTagsRequest{ProjectIDOrName: "my-site", Tags: edgecache.TagList("about")}); err != nil {
		log.Fatal(err)
	}
	if err := purger.Close(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(res.Purged), "tags purged in bulk;", vercel.Calls(), "requests in all")
	// Output: 3 tags purged in bulk; 2 requests in all
}
