package main

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/vercelkit/edgecache"
)

// sdkCase is one request recorded from @vercel/sdk by testdata/sdk/capture.mjs.
type sdkCase struct {
	Name      string   `json:"name"`
	Operation string   `json:"operation"`
	CLI       []string `json:"cli"` // nil: a form the command never sends
	Token     string   `json:"token"`
	Input     struct {
		ProjectIDOrName string `json:"projectIdOrName"`
		TeamID          string `json:"teamId"`
		Slug            string `json:"slug"`
		RequestBody     struct {
			Tags                        json.RawMessage `json:"tags"`
			Target                      string          `json:"target"`
			RevalidationDeadlineSeconds *int            `json:"revalidationDeadlineSeconds"`
			SrcImages                   []string        `json:"srcImages"`
		} `json:"requestBody"`
	} `json:"input"`
	Request struct {
		Method        string         `json:"method"`
		Path          string         `json:"path"`
		Query         url.Values     `json:"query"`
		Authorization string         `json:"authorization"`
		ContentType   string         `json:"contentType"`
		Body          map[string]any `json:"body"`
		RawBody       string         `json:"rawBody"`
	} `json:"request"`
}

func loadSDKCases(t *testing.T) []sdkCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "sdk", "sdk-requests.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fixture struct {
		SDK   string    `json:"sdk"`
		Cases []sdkCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &fixture); err != nil {
		t.Fatal(err)
	}
	// Every operation must be covered, or parity for it would pass vacuously.
	perOperation := map[string]int{}
	for _, c := range fixture.Cases {
		perOperation[c.Operation]++
	}
	for _, op := range []string{"invalidateByTags", "dangerouslyDeleteByTags", "invalidateBySrcImages", "dangerouslyDeleteBySrcImages"} {
		if perOperation[op] < 3 {
			t.Fatalf("the fixture holds %d cases of %s, want at least 3", perOperation[op], op)
		}
	}
	return fixture.Cases
}

// sameAsSDK fails the test unless got is the request the SDK sent: method, path, query, the
// Authorization and Content-Type headers, and the body as JSON.
func sameAsSDK(t *testing.T, c sdkCase, got []wireRequest) {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("%d requests sent, want 1", len(got))
	}
	g, want := got[0], c.Request
	if g.Method != want.Method || g.Path != want.Path {
		t.Errorf("sent %s %s, the SDK sent %s %s", g.Method, g.Path, want.Method, want.Path)
	}
	if !reflect.DeepEqual(g.Query, want.Query) {
		t.Errorf("query = %v, the SDK sent %v", g.Query, want.Query)
	}
	if g.Authorization != want.Authorization || g.ContentType != want.ContentType {
		t.Errorf("Authorization %q, Content-Type %q; the SDK sent %q, %q", g.Authorization, g.ContentType, want.Authorization, want.ContentType)
	}
	if body := g.jsonBody(t); !reflect.DeepEqual(body, want.Body) {
		t.Errorf("body = %s, the SDK sent %v", g.Body, want.Body)
	} else if string(g.Body) != want.RawBody {
		t.Logf("same JSON, other bytes (key order): sent %s, the SDK sent %s", g.Body, want.RawBody)
	}
}

// sdkRequest is the library request for a case's SDK input.
func sdkRequest(t *testing.T, c sdkCase) edgecache.Request {
	t.Helper()
	in, body := c.Input, c.Input.RequestBody
	var tags edgecache.Tags
	if len(body.Tags) > 0 {
		var list []string
		var str string
		switch {
		case json.Unmarshal(body.Tags, &list) == nil:
			tags = edgecache.TagList(list...)
		case json.Unmarshal(body.Tags, &str) == nil:
			tags = edgecache.TagString(str)
		default:
			t.Fatalf("tags %s are neither form", body.Tags)
		}
	}
	switch c.Operation {
	case "invalidateByTags":
		return edgecache.InvalidateByTagsRequest{ProjectIDOrName: in.ProjectIDOrName, Tags: tags,
			Target: edgecache.Target(body.Target), TeamID: in.TeamID, TeamSlug: in.Slug}
	case "dangerouslyDeleteByTags":
		return edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: in.ProjectIDOrName, Tags: tags,
			Target: edgecache.Target(body.Target), RevalidationDeadlineSeconds: body.RevalidationDeadlineSeconds,
			TeamID: in.TeamID, TeamSlug: in.Slug}
	case "invalidateBySrcImages":
		return edgecache.InvalidateBySrcImagesRequest{ProjectIDOrName: in.ProjectIDOrName, SrcImages: body.SrcImages,
			TeamID: in.TeamID, TeamSlug: in.Slug}
	case "dangerouslyDeleteBySrcImages":
		return edgecache.DangerouslyDeleteBySrcImagesRequest{ProjectIDOrName: in.ProjectIDOrName, SrcImages: body.SrcImages,
			RevalidationDeadlineSeconds: body.RevalidationDeadlineSeconds, TeamID: in.TeamID, TeamSlug: in.Slug}
	}
	t.Fatalf("unknown operation %q", c.Operation)
	return nil
}

// TestLibrarySendsWhatTheSDKSends calls each operation's client method with the input the
// SDK was given, and compares what arrives with what the SDK sent.
func TestLibrarySendsWhatTheSDKSends(t *testing.T) {
	for _, c := range loadSDKCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			rec := newRecorder(t, 0)
			client, err := edgecache.New(c.Token, edgecache.WithBaseURL(rec.URL))
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			var callErr error
			switch r := sdkRequest(t, c).(type) {
			case edgecache.InvalidateByTagsRequest:
				_, callErr = client.InvalidateByTags(ctx, r)
			case edgecache.DangerouslyDeleteByTagsRequest:
				_, callErr = client.DangerouslyDeleteByTags(ctx, r)
			case edgecache.InvalidateBySrcImagesRequest:
				_, callErr = client.InvalidateBySrcImages(ctx, r)
			case edgecache.DangerouslyDeleteBySrcImagesRequest:
				_, callErr = client.DangerouslyDeleteBySrcImages(ctx, r)
			}
			if callErr != nil {
				t.Fatal(callErr)
			}
			sameAsSDK(t, c, rec.requests())
		})
	}
}

// TestCommandSendsWhatTheSDKSends runs the command line of each case and compares what
// arrives with what the SDK sent for the same input.
func TestCommandSendsWhatTheSDKSends(t *testing.T) {
	ran := map[string]bool{}
	for _, c := range loadSDKCases(t) {
		if c.CLI == nil {
			continue
		}
		ran[c.Operation] = true
		t.Run(c.Name, func(t *testing.T) {
			rec := newRecorder(t, 0)
			out := harness{}.run(t, append(c.CLI, "--api-url", rec.URL, "--token", c.Token, "--yes")...)
			if out.code != exitOK {
				t.Fatalf("exit %d, stderr %q", out.code, out.stderr)
			}
			sameAsSDK(t, c, rec.requests())
		})
	}
	if len(ran) != 4 {
		t.Errorf("the command was compared for %d operations, want 4", len(ran))
	}
}
