package edgecachetest_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/edgecachetest"
)

// The paths of the four operations.
const (
	pathInvalidateByTags             = "/v1/edge-cache/invalidate-by-tags"
	pathDangerouslyDeleteByTags      = "/v1/edge-cache/dangerously-delete-by-tags"
	pathInvalidateBySrcImages        = "/v1/edge-cache/invalidate-by-src-images"
	pathDangerouslyDeleteBySrcImages = "/v1/edge-cache/dangerously-delete-by-src-images"
)

// sdkUserAgent is the User-Agent @vercel/sdk 1.28.35 sends.
const sdkUserAgent = "speakeasy-sdk/typescript 1.28.35 2.937.18 0.0.1 @vercel/sdk"

func TestOperationsAreTheSpecs(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(edgecache.OpenAPISpec)
	if err != nil {
		t.Fatal(err)
	}
	var fromSpec []string
	byPath := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if method != http.MethodPost {
				t.Errorf("%s %s: the fake routes POST only", method, path)
			}
			fromSpec = append(fromSpec, op.OperationID)
			byPath[path] = op.OperationID
		}
	}
	got := edgecachetest.Operations()
	if !reflect.DeepEqual(slices.Sorted(slices.Values(fromSpec)), slices.Sorted(slices.Values(got))) {
		t.Errorf("Operations() = %v, the spec has %v", got, fromSpec)
	}
	want := map[string]string{
		pathInvalidateByTags:             edgecachetest.OpInvalidateByTags,
		pathDangerouslyDeleteByTags:      edgecachetest.OpDangerouslyDeleteByTags,
		pathInvalidateBySrcImages:        edgecachetest.OpInvalidateBySrcImages,
		pathDangerouslyDeleteBySrcImages: edgecachetest.OpDangerouslyDeleteBySrcImages,
	}
	if !reflect.DeepEqual(byPath, want) {
		t.Errorf("the spec's paths and operationIds are %v, the constants say %v", byPath, want)
	}
}

// sdkCase is what @vercel/sdk 1.28.35 puts on the wire for one call: query, headers and body
// (JSON.stringify of the request body, keys in the SDK's schema order).
type sdkCase struct {
	operation, path, query, body string
	want                         edgecachetest.Request
}

func sdkCases() []sdkCase {
	return []sdkCase{
		{
			edgecachetest.OpInvalidateByTags, pathInvalidateByTags, "?projectIdOrName=prj_1&teamId=team_1",
			`{"tags":["blog","products"],"target":"production"}`,
			edgecachetest.Request{ProjectIDOrName: "prj_1", TeamID: "team_1", Tags: []string{"blog", "products"}, TagsForm: edgecachetest.FormArray, Target: "production"},
		},
		{
			edgecachetest.OpDangerouslyDeleteByTags, pathDangerouslyDeleteByTags, "?projectIdOrName=my-app&slug=my-team",
			`{"tags":"a,b","target":"preview","revalidationDeadlineSeconds":60}`,
			edgecachetest.Request{ProjectIDOrName: "my-app", Slug: "my-team", Tags: []string{"a", "b"}, TagsForm: edgecachetest.FormString, Target: "preview", RevalidationDeadlineSeconds: edgecache.Ptr(60)},
		},
		{
			edgecachetest.OpInvalidateBySrcImages, pathInvalidateBySrcImages, "?projectIdOrName=prj_1",
			`{"srcImages":["/hero.png","https://cdn.example.com/a b.jpg"]}`,
			edgecachetest.Request{ProjectIDOrName: "prj_1", SrcImages: []string{"/hero.png", "https://cdn.example.com/a b.jpg"}},
		},
		{
			edgecachetest.OpDangerouslyDeleteBySrcImages, pathDangerouslyDeleteBySrcImages, "?projectIdOrName=prj_1&teamId=team_1",
			`{"srcImages":["/logo.svg"],"revalidationDeadlineSeconds":0}`,
			edgecachetest.Request{ProjectIDOrName: "prj_1", TeamID: "team_1", SrcImages: []string{"/logo.svg"}, RevalidationDeadlineSeconds: edgecache.Ptr(0)},
		},
	}
}

func TestFourOperationsAreServedAndRecordedExactly(t *testing.T) {
	s := newServer(t)
	cases := sdkCases()
	for _, c := range cases {
		a := call(t, s, http.MethodPost, c.path+c.query, c.body, false,
			"Authorization: Bearer "+s.Token(), "Content-Type: application/json", "Accept: */*", "User-Agent: "+sdkUserAgent)
		if a.status != http.StatusOK {
			t.Fatalf("%s: got %d %q, want 200", c.operation, a.status, a.body)
		}
	}

	reqs := s.Requests()
	if len(reqs) != len(cases) {
		t.Fatalf("recorded %d requests, want %d", len(reqs), len(cases))
	}
	for i, c := range cases {
		got := reqs[i]
		if got.RequestID == "" || got.Time.IsZero() || got.UserAgent != sdkUserAgent {
			t.Errorf("%s: request id %q, time %v, user agent %q", c.operation, got.RequestID, got.Time, got.UserAgent)
		}
		got.RequestID, got.Time, got.UserAgent = "", time.Time{}, ""
		want := c.want
		want.Operation = c.operation
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s recorded as\n%+v\nwant\n%+v", c.operation, got, want)
		}
	}

	// The journal holds the same requests, as sent.
	j := s.Journal("")
	if len(j.Requests) != len(cases) || j.Dropped != 0 {
		t.Fatalf("journal: %d requests, %d dropped", len(j.Requests), j.Dropped)
	}
	for i, c := range cases {
		r := j.Requests[i]
		if r.Operation != c.operation || r.Method != http.MethodPost || r.Path != c.path || r.Status != 200 ||
			r.Fault || !r.TokenSent || r.ContentType != "application/json" || r.UserAgent != sdkUserAgent || r.RequestID != reqs[i].RequestID {
			t.Errorf("%s: journal entry %+v", c.operation, r)
		}
		if string(r.Body) != c.body {
			t.Errorf("%s: body %s, sent %s", c.operation, r.Body, c.body)
		}
		wantQuery := map[string]any{}
		for kv := range strings.SplitSeq(strings.TrimPrefix(c.query, "?"), "&") {
			k, v, _ := strings.Cut(kv, "=")
			wantQuery[k] = v
		}
		if !reflect.DeepEqual(r.Query, wantQuery) {
			t.Errorf("%s: query %v, sent %v", c.operation, r.Query, wantQuery)
		}
	}
}

func TestEachOperationHasItsOwnSchema(t *testing.T) {
	s := newServer(t)
	nine := `["1","2","3","4","5","6","7","8","9"]`
	tests := []struct {
		name, path, body string
		wantMsg          string // the whole message
	}{
		{"src images: empty body", pathInvalidateBySrcImages, "", "srcImages: is required (the request body is empty)"},
		{"src images: missing", pathDangerouslyDeleteBySrcImages, `{}`, "srcImages: is required"},
		{"src images: nine", pathInvalidateBySrcImages, `{"srcImages":` + nine + `}`, "srcImages: must hold at most 8 items (got 9)"},
		{"src images: none", pathDangerouslyDeleteBySrcImages, `{"srcImages":[]}`, "srcImages: must hold at least 1 item (got 0)"},
		{"src images: a string", pathInvalidateBySrcImages, `{"srcImages":"/a.png"}`, "srcImages: must be an array of strings (got string)"},
		{"src images: no target", pathInvalidateBySrcImages, `{"srcImages":["/a.png"],"target":"production"}`, "target: is not allowed (unknown property)"},
		{"src images: no tags", pathDangerouslyDeleteBySrcImages, `{"srcImages":["/a.png"],"tags":["a"]}`, "tags: is not allowed (unknown property)"},
		{"src images: no deadline on invalidate", pathInvalidateBySrcImages, `{"srcImages":["/a.png"],"revalidationDeadlineSeconds":1}`, "revalidationDeadlineSeconds: is not allowed (unknown property)"},
		{"src images: deadline is an integer", pathDangerouslyDeleteBySrcImages, `{"srcImages":["/a.png"],"revalidationDeadlineSeconds":0.5}`, "revalidationDeadlineSeconds: must be an integer (got number)"},
		{"tags: empty body", pathInvalidateByTags, "", "tags: is required (the request body is empty)"},
		{"tags: no deadline on invalidate", pathInvalidateByTags, `{"tags":["a"],"revalidationDeadlineSeconds":1}`, "revalidationDeadlineSeconds: is not allowed (unknown property)"},
		{"tags: no srcImages", pathInvalidateByTags, `{"tags":["a"],"srcImages":["/a.png"]}`, "srcImages: is not allowed (unknown property)"},
		{"tags: 17", pathInvalidateByTags, `{"tags":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]}`, "tags: must hold at most 16 items (got 17)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := call(t, s, http.MethodPost, tt.path+"?projectIdOrName=p", tt.body, false, "Authorization: Bearer "+s.Token(), "Content-Type: application/json")
			if a.status != http.StatusBadRequest || a.msg != tt.wantMsg {
				t.Fatalf("got %d %q, want 400 %q", a.status, a.body, tt.wantMsg)
			}
		})
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d refused requests were returned by Requests", n)
	}
	if n := len(s.Journal("").Requests); n != len(tests) {
		t.Errorf("the journal holds %d requests, want all %d refused ones", n, len(tests))
	}
}

func TestRefusedAndFaultedRequestsAreJournaledNotAccepted(t *testing.T) {
	s := newServer(t)
	s.FailNext(1, edgecachetest.Fault{Operation: edgecachetest.OpInvalidateByTags, Status: http.StatusTooManyRequests, RetryAfter: "1"})
	auth := []string{"Authorization: Bearer " + s.Token(), "Content-Type: application/json"}
	call(t, s, http.MethodPost, pathInvalidateByTags+"?projectIdOrName=p", `{"tags":["a"]}`, true, auth...)
	call(t, s, http.MethodPost, pathInvalidateByTags+"?projectIdOrName=p", `{"tags":["a"]}`, false, auth...)
	call(t, s, http.MethodPost, pathInvalidateByTags+"?projectIdOrName=p", `not json`, false, auth...)
	call(t, s, http.MethodGet, "/v2/elsewhere?x=1&x=2", "", false)

	j := s.Journal("")
	type row struct {
		op     string
		status int
		fault  bool
		body   string
	}
	var got []row
	for _, r := range j.Requests {
		got = append(got, row{r.Operation, r.Status, r.Fault, string(r.Body)})
	}
	want := []row{
		{edgecachetest.OpInvalidateByTags, 429, true, `{"tags":["a"]}`},
		{edgecachetest.OpInvalidateByTags, 200, false, `{"tags":["a"]}`},
		{edgecachetest.OpInvalidateByTags, 400, false, `"not json"`},
		{"", 404, false, "null"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("journal\n%v\nwant\n%v", got, want)
	}
	if q := j.Requests[3].Query; !reflect.DeepEqual(q, map[string]any{"x": []string{"1", "2"}}) {
		t.Errorf("repeated query parameter recorded as %#v", q)
	}
	if reqs := s.Requests(); len(reqs) != 1 || reqs[0].Operation != edgecachetest.OpInvalidateByTags {
		t.Errorf("Requests() = %+v, want the one accepted request", reqs)
	}
	if enc, err := json.Marshal(j); err != nil || !json.Valid(enc) {
		t.Errorf("the journal does not encode as JSON: %v", err)
	}
}

func TestALongBodyIsJournaledCutShort(t *testing.T) {
	s := newServer(t)
	long := `{"tags":"` + strings.Repeat("x", 70_000) + `"}`
	if a := post(t, s, "?projectIdOrName=p", long); a.status != http.StatusBadRequest {
		t.Fatalf("got %d, want 400 for an 8197+ character tags string", a.status)
	}
	r := s.Journal("").Requests[0]
	var kept string
	if err := json.Unmarshal(r.Body, &kept); err != nil || !r.BodyTruncated || kept != long[:64<<10] {
		t.Errorf("body kept as %d bytes (truncated %v, err %v), want the first 64 KiB as a string", len(kept), r.BodyTruncated, err)
	}
}
