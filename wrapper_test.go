package edgecache_test

// The conformance suite. Every request the wrapper builds, for every operation, is checked by
// kin-openapi against openapi.yaml, and every dangerouslyDeleteByTags request also against the
// seed's document (testdata/seed/openapi.yaml), so that what the client sends is valid under
// both. Validate is compared with the spec's own verdict on the same request (by table and by
// fuzzing), and the guard reads every limit of every operation back from openapi.yaml.
//
// Nothing here reaches the network: requests go to an in-memory http.RoundTripper
// (confRecorder) that validates, records and answers them.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/vercelkit/edgecache"
)

// seedSpecFile is the seed's own document, kept unchanged as a fixture.
const seedSpecFile = "testdata/seed/openapi.yaml"

// ---------------------------------------------------------------------------------------------
// The four operations, as the tests see them.

// opKit describes one operation: its id and path in openapi.yaml, which body fields it has,
// and how to build the wrapper's request for an input.
type opKit struct {
	id, path         string
	tags             bool // the tags union; otherwise srcImages
	target, deadline bool
}

var opKits = []opKit{
	{id: "dangerouslyDeleteByTags", path: "/v1/edge-cache/dangerously-delete-by-tags", tags: true, target: true, deadline: true},
	{id: "invalidateByTags", path: "/v1/edge-cache/invalidate-by-tags", tags: true, target: true},
	{id: "invalidateBySrcImages", path: "/v1/edge-cache/invalidate-by-src-images"},
	{id: "dangerouslyDeleteBySrcImages", path: "/v1/edge-cache/dangerously-delete-by-src-images", deadline: true},
}

// itemsField is the body property that carries the operation's items.
func (k opKit) itemsField() string {
	if k.tags {
		return "tags"
	}
	return "srcImages"
}

// maxItems is the wrapper's limit of items per request for the operation.
func (k opKit) maxItems() int {
	if k.tags {
		return edgecache.MaxTagsPerRequest
	}
	return edgecache.MaxSrcImagesPerRequest
}

// request is the wrapper's request for in; fields the operation lacks are left out.
func (k opKit) request(in confInput) edgecache.Request {
	tags := edgecache.TagList(in.Items...)
	if in.UseString {
		tags = edgecache.TagString(strings.Join(in.Items, ","))
	}
	var deadline *int
	if in.DeadlineSet {
		deadline = edgecache.Ptr(in.Deadline)
	}
	target := edgecache.Target(in.Target)
	switch k.id {
	case "invalidateByTags":
		return edgecache.InvalidateByTagsRequest{ProjectIDOrName: in.Project, Tags: tags, Target: target}
	case "dangerouslyDeleteByTags":
		return edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: in.Project, Tags: tags, Target: target, RevalidationDeadlineSeconds: deadline}
	case "invalidateBySrcImages":
		return edgecache.InvalidateBySrcImagesRequest{ProjectIDOrName: in.Project, SrcImages: in.Items}
	default:
		return edgecache.DangerouslyDeleteBySrcImagesRequest{ProjectIDOrName: in.Project, SrcImages: in.Items, RevalidationDeadlineSeconds: deadline}
	}
}

// callOperation calls the public method of req's operation.
func callOperation(ctx context.Context, c *edgecache.Client, req edgecache.Request) (*edgecache.Result, error) {
	switch r := req.(type) {
	case edgecache.InvalidateByTagsRequest:
		return c.InvalidateByTags(ctx, r)
	case edgecache.DangerouslyDeleteByTagsRequest:
		return c.DangerouslyDeleteByTags(ctx, r)
	case edgecache.InvalidateBySrcImagesRequest:
		return c.InvalidateBySrcImages(ctx, r)
	case edgecache.DangerouslyDeleteBySrcImagesRequest:
		return c.DangerouslyDeleteBySrcImages(ctx, r)
	}
	panic(fmt.Sprintf("unknown request type %T", req))
}

// kitOf returns the kit of an operation id.
func kitOf(tb testing.TB, id string) opKit {
	for _, k := range opKits {
		if k.id == id {
			return k
		}
	}
	tb.Fatalf("no operation %q", id)
	return opKit{}
}

// ---------------------------------------------------------------------------------------------
// The spec validators and the recording transport.

// loadConfSpec parses and validates a document; extraServers are added to its servers so that a
// client with another base URL (a proxy with a path prefix) can be routed. Each call returns a
// fresh document, which the caller may change.
func loadConfSpec(data []byte, extraServers ...string) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("loading the spec: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("not a valid OpenAPI document: %w", err)
	}
	for _, s := range extraServers {
		doc.Servers = append(doc.Servers, &openapi3.Server{URL: s})
	}
	return doc, nil
}

func readSeedSpec(tb testing.TB) []byte {
	tb.Helper()
	data, err := os.ReadFile(seedSpecFile)
	if err != nil {
		tb.Fatalf("reading the seed's document: %v", err)
	}
	return data
}

// confValidator checks an HTTP request against one document with kin-openapi.
type confValidator struct {
	name   string
	router routers.Router
}

func newConfValidator(name string, data []byte, extraServers ...string) (*confValidator, error) {
	doc, err := loadConfSpec(data, extraServers...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("routing %s: %w", name, err)
	}
	return &confValidator{name: name, router: router}, nil
}

// confValidators are openapi.yaml's and the seed's, for the spec's own server.
var confValidators = sync.OnceValues(func() ([2]*confValidator, error) {
	seed, err := os.ReadFile(seedSpecFile)
	if err != nil {
		return [2]*confValidator{}, err
	}
	current, err := newConfValidator("openapi.yaml", edgecache.OpenAPISpec)
	if err != nil {
		return [2]*confValidator{}, err
	}
	old, err := newConfValidator(seedSpecFile, seed)
	return [2]*confValidator{current, old}, err
})

// confValidatorsFor returns openapi.yaml's and the seed's validators, also routing extraServers.
func confValidatorsFor(tb testing.TB, extraServers ...string) (current, seed *confValidator) {
	tb.Helper()
	if len(extraServers) == 0 {
		v, err := confValidators()
		if err != nil {
			tb.Fatal(err)
		}
		return v[0], v[1]
	}
	current, err := newConfValidator("openapi.yaml", edgecache.OpenAPISpec, extraServers...)
	if err == nil {
		seed, err = newConfValidator(seedSpecFile, readSeedSpec(tb), extraServers...)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return current, seed
}

// validate returns kin-openapi's verdict on a request given by its parts; nil means the
// document accepts it.
func (v *confValidator) validate(method, rawURL string, header http.Header, body []byte) error {
	req, err := http.NewRequestWithContext(context.Background(), method, rawURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("building the request to validate: %w", err)
	}
	req.Header = header.Clone()
	route, pathParams, err := v.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("no operation of %s matches %s %s: %w", v.name, method, rawURL, err)
	}
	return openapi3filter.ValidateRequest(req.Context(), &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: pathParams,
		Route:      route,
		Options:    &openapi3filter.Options{AuthenticationFunc: confCheckBearer},
	})
}

// confCheckBearer is the spec's bearerToken scheme (type http, scheme bearer): exactly one
// header "Authorization: Bearer <non-empty token>".
func confCheckBearer(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecuritySchemeName != "bearerToken" {
		return fmt.Errorf("unexpected security scheme %q", in.SecuritySchemeName)
	}
	if s := in.SecurityScheme; s == nil || s.Type != "http" || !strings.EqualFold(s.Scheme, "bearer") {
		return fmt.Errorf("security scheme bearerToken is not http bearer: %+v", in.SecurityScheme)
	}
	values := in.RequestValidationInput.Request.Header.Values("Authorization")
	if len(values) != 1 {
		return fmt.Errorf("want exactly one Authorization header, got %d", len(values))
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || scheme != "Bearer" || strings.TrimSpace(token) == "" {
		return errors.New(`Authorization header is not "Bearer <token>"`)
	}
	return nil
}

// confRequest is one request as the transport saw it.
type confRequest struct {
	Method string
	URL    *url.URL
	Header http.Header
	Body   []byte
}

// confRecorder is an in-memory http.RoundTripper. It checks every request against openapi.yaml,
// and a dangerouslyDeleteByTags request also against the seed's document (a request either
// refuses fails the test), records it, and answers 200 with an empty body unless respond says
// otherwise. It is safe for concurrent use.
type confRecorder struct {
	tb            testing.TB
	current, seed *confValidator
	respond       func(n int, req confRequest) (*http.Response, error) // n counts from 0

	mu   sync.Mutex
	reqs []confRequest
}

func newConfRecorder(tb testing.TB, extraServers ...string) *confRecorder {
	tb.Helper()
	current, seed := confValidatorsFor(tb, extraServers...)
	return &confRecorder{tb: tb, current: current, seed: seed}
}

func (r *confRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	u := *req.URL
	rec := confRequest{Method: req.Method, URL: &u, Header: req.Header.Clone(), Body: body}
	validators := []*confValidator{r.current}
	if strings.HasSuffix(req.URL.Path, "/dangerously-delete-by-tags") {
		validators = append(validators, r.seed)
	}
	for _, v := range validators {
		if err := v.validate(req.Method, req.URL.String(), req.Header, body); err != nil {
			r.tb.Errorf("the wrapper sent a request that %s refuses:\n  %s %s\n  body: %.300s\n  kin-openapi: %v",
				v.name, req.Method, req.URL.Redacted(), body, err)
		}
	}
	r.mu.Lock()
	n := len(r.reqs)
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
	if r.respond == nil {
		return confAnswer(http.StatusOK, "", nil), nil
	}
	resp, err := r.respond(n, rec)
	if resp != nil {
		resp.Request = req
	}
	return resp, err
}

func (r *confRecorder) requests() []confRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// confAnswer builds a response with the given status, body and headers.
func confAnswer(status int, body string, header map[string]string) *http.Response {
	h := make(http.Header)
	for k, v := range header {
		h.Set(k, v)
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
	}
}

// newConfClient returns a client with testToken whose requests go to rt.
func newConfClient(tb testing.TB, rt http.RoundTripper, opts ...edgecache.Option) *edgecache.Client {
	tb.Helper()
	all := append([]edgecache.Option{edgecache.WithHTTPClient(&http.Client{Transport: rt})}, opts...)
	c, err := edgecache.New(testToken, all...)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c
}

// ---------------------------------------------------------------------------------------------
// Small builders.

// confItems returns n distinct items "tag-00", "tag-01", ….
func confItems(n int) []string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf("tag-%02d", i)
	}
	return items
}

// confRepeat returns a string of n runes, each r.
func confRepeat(r rune, n int) string { return strings.Repeat(string(r), n) }

// confLongItems returns n items of length runes each, distinct in their first rune.
func confLongItems(n, length int) []string {
	items := make([]string, n)
	for i := range items {
		items[i] = string(rune('a'+i%26)) + strings.Repeat("x", length-1)
	}
	return items
}

// confJSON marshals v or panics; for expected bodies built in tests.
func confJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// confJSONEqual reports whether a and b hold the same JSON value.
func confJSONEqual(a, b []byte) (bool, error) {
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		return false, fmt.Errorf("decoding %.200s: %w", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		return false, fmt.Errorf("decoding %.200s: %w", b, err)
	}
	return reflect.DeepEqual(va, vb), nil
}

// confShort abbreviates long strings in failure messages.
func confShort(s string) string {
	if n := utf8.RuneCountInString(s); n > 40 {
		return fmt.Sprintf("%q…(%d runes)", string([]rune(s)[:20]), n)
	}
	return strconv.Quote(s)
}

// ---------------------------------------------------------------------------------------------
// Valid requests: sent once, conforming to both documents, encoded as expected.

func TestValidRequestsConformToSpec(t *testing.T) {
	t.Parallel()
	const proxy = "https://proxy.example/vercel"
	sixteenLong := confLongItems(16, 256)
	del := func(tags edgecache.Tags) edgecache.DangerouslyDeleteByTagsRequest {
		return edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "p", Tags: tags}
	}
	with := func(r edgecache.DangerouslyDeleteByTagsRequest, f func(*edgecache.DangerouslyDeleteByTagsRequest)) edgecache.DangerouslyDeleteByTagsRequest {
		f(&r)
		return r
	}
	pQuery := url.Values{"projectIdOrName": {"p"}}
	cases := []struct {
		name      string
		opts      []edgecache.Option
		servers   []string // base URLs to route besides the spec's server
		req       edgecache.Request
		wantURL   string // without the query; the spec's server and the operation's path when empty
		wantQuery url.Values
		wantBody  string
	}{
		// dangerouslyDeleteByTags: every boundary of the union and the optional fields.
		{name: "list form, one tag", req: edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "prj_123", Tags: edgecache.TagList("blog")},
			wantQuery: url.Values{"projectIdOrName": {"prj_123"}}, wantBody: `{"tags":["blog"]}`},
		{name: "string form, two tags", req: edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "my-site", Tags: edgecache.TagString("blog,products")},
			wantQuery: url.Values{"projectIdOrName": {"my-site"}}, wantBody: `{"tags":"blog,products"}`},
		{name: "list form, 16 tags (maxItems)", req: del(edgecache.TagList(confItems(16)...)), wantQuery: pQuery, wantBody: confJSON(map[string]any{"tags": confItems(16)})},
		{name: "list form, 256-character tag", req: del(edgecache.TagList(confRepeat('a', 256))), wantQuery: pQuery, wantBody: confJSON(map[string]any{"tags": []string{confRepeat('a', 256)}})},
		{name: "list form, 256 two-byte runes", req: del(edgecache.TagList(confRepeat('é', 256))), wantQuery: pQuery, wantBody: confJSON(map[string]any{"tags": []string{confRepeat('é', 256)}})},
		{name: "list form, 256 three-byte runes", req: del(edgecache.TagList(confRepeat('€', 256))), wantQuery: pQuery, wantBody: confJSON(map[string]any{"tags": []string{confRepeat('€', 256)}})},
		// Outside the BMP: kin-openapi, like JSON Schema, counts code points, and so does the wrapper.
		{name: "list form, 256 four-byte runes", req: del(edgecache.TagList(confRepeat('😀', 256))), wantQuery: pQuery, wantBody: confJSON(map[string]any{"tags": []string{confRepeat('😀', 256)}})},
		{name: "list form, 16 tags of 256 characters", req: del(edgecache.TagList(sixteenLong...)), wantQuery: pQuery, wantBody: confJSON(map[string]any{"tags": sixteenLong})},
		// The longest string form the wrapper sends: 16 tags of 256 characters and 15 commas.
		{name: "string form, 16 tags of 256 characters", req: del(edgecache.TagString(strings.Join(sixteenLong, ","))), wantQuery: pQuery, wantBody: confJSON(map[string]any{"tags": strings.Join(sixteenLong, ",")})},
		{name: "characters JSON escapes", req: del(edgecache.TagList(`<a href="x">&`, `back\slash`, "é")), wantQuery: pQuery, wantBody: confJSON(map[string]any{"tags": []string{`<a href="x">&`, `back\slash`, "é"}})},
		{name: "deadline 0 is sent as 0", req: with(del(edgecache.TagList("a")), func(r *edgecache.DangerouslyDeleteByTagsRequest) { r.RevalidationDeadlineSeconds = edgecache.Ptr(0) }),
			wantQuery: pQuery, wantBody: `{"tags":["a"],"revalidationDeadlineSeconds":0}`},
		{name: "deadline one year (maximum)", req: with(del(edgecache.TagList("a")), func(r *edgecache.DangerouslyDeleteByTagsRequest) {
			r.RevalidationDeadlineSeconds = edgecache.Ptr(31536000)
		}),
			wantQuery: pQuery, wantBody: `{"tags":["a"],"revalidationDeadlineSeconds":31536000}`},
		{name: "deadline unset is absent", req: del(edgecache.TagList("a")), wantQuery: pQuery, wantBody: `{"tags":["a"]}`},
		{name: "target production", req: with(del(edgecache.TagList("a")), func(r *edgecache.DangerouslyDeleteByTagsRequest) { r.Target = edgecache.TargetProduction }),
			wantQuery: pQuery, wantBody: `{"tags":["a"],"target":"production"}`},
		{name: "target preview", req: with(del(edgecache.TagList("a")), func(r *edgecache.DangerouslyDeleteByTagsRequest) { r.Target = edgecache.TargetPreview }),
			wantQuery: pQuery, wantBody: `{"tags":["a"],"target":"preview"}`},
		{name: "every body field", req: edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "prj_abc", Tags: edgecache.TagString("a,b"), Target: edgecache.TargetPreview, RevalidationDeadlineSeconds: edgecache.Ptr(1)},
			wantQuery: url.Values{"projectIdOrName": {"prj_abc"}}, wantBody: `{"tags":"a,b","target":"preview","revalidationDeadlineSeconds":1}`},
		{name: "project name that needs escaping", req: edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "my site&x=1#y", Tags: edgecache.TagList("a")},
			wantQuery: url.Values{"projectIdOrName": {"my site&x=1#y"}}, wantBody: `{"tags":["a"]}`},
		{name: "client team id and slug", opts: []edgecache.Option{edgecache.WithTeamID("team_client"), edgecache.WithTeamSlug("client-slug")}, req: del(edgecache.TagList("a")),
			wantQuery: url.Values{"projectIdOrName": {"p"}, "teamId": {"team_client"}, "slug": {"client-slug"}}, wantBody: `{"tags":["a"]}`},
		{name: "per-call team id overrides the client's", opts: []edgecache.Option{edgecache.WithTeamID("team_client"), edgecache.WithTeamSlug("client-slug")},
			req:       with(del(edgecache.TagList("a")), func(r *edgecache.DangerouslyDeleteByTagsRequest) { r.TeamID = "team_call" }),
			wantQuery: url.Values{"projectIdOrName": {"p"}, "teamId": {"team_call"}, "slug": {"client-slug"}}, wantBody: `{"tags":["a"]}`},
		{name: "per-call slug overrides the client's", opts: []edgecache.Option{edgecache.WithTeamSlug("client-slug")},
			req:       with(del(edgecache.TagList("a")), func(r *edgecache.DangerouslyDeleteByTagsRequest) { r.TeamSlug = "call-slug" }),
			wantQuery: url.Values{"projectIdOrName": {"p"}, "slug": {"call-slug"}}, wantBody: `{"tags":["a"]}`},
		{name: "base URL with a path prefix and a trailing slash", opts: []edgecache.Option{edgecache.WithBaseURL(proxy + "/")}, servers: []string{proxy},
			req: del(edgecache.TagList("a")), wantURL: proxy + "/v1/edge-cache/dangerously-delete-by-tags", wantQuery: pQuery, wantBody: `{"tags":["a"]}`},

		// invalidateByTags: the same union and target, never a deadline.
		{name: "invalidate, list form", req: edgecache.InvalidateByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList(confItems(16)...)},
			wantQuery: pQuery, wantBody: confJSON(map[string]any{"tags": confItems(16)})},
		{name: "invalidate, string form and target", req: edgecache.InvalidateByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagString("blog,home"), Target: edgecache.TargetPreview},
			wantQuery: pQuery, wantBody: `{"tags":"blog,home","target":"preview"}`},
		{name: "invalidate, per-call team", opts: []edgecache.Option{edgecache.WithTeamID("team_client")},
			req:       edgecache.InvalidateByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a"), TeamID: "team_call", TeamSlug: "s"},
			wantQuery: url.Values{"projectIdOrName": {"p"}, "teamId": {"team_call"}, "slug": {"s"}}, wantBody: `{"tags":["a"]}`},

		// invalidateBySrcImages: 1 to 8 images, never split on commas.
		{name: "invalidate images, one", req: edgecache.InvalidateBySrcImagesRequest{ProjectIDOrName: "p", SrcImages: []string{"/img/hero.png"}},
			wantQuery: pQuery, wantBody: `{"srcImages":["/img/hero.png"]}`},
		{name: "invalidate images, 8 (maxItems), one with a comma", req: edgecache.InvalidateBySrcImagesRequest{ProjectIDOrName: "p", SrcImages: append(confItems(7), "/a,b.png")},
			wantQuery: pQuery, wantBody: confJSON(map[string]any{"srcImages": append(confItems(7), "/a,b.png")})},
		{name: "invalidate images, a long URL", req: edgecache.InvalidateBySrcImagesRequest{ProjectIDOrName: "p", SrcImages: []string{"https://cdn.example/" + confRepeat('x', 2000)}},
			wantQuery: pQuery, wantBody: confJSON(map[string]any{"srcImages": []string{"https://cdn.example/" + confRepeat('x', 2000)}})},

		// dangerouslyDeleteBySrcImages: images and a deadline, no target.
		{name: "delete images with deadline 0", req: edgecache.DangerouslyDeleteBySrcImagesRequest{ProjectIDOrName: "p", SrcImages: []string{"/a.png", "/b.png"}, RevalidationDeadlineSeconds: edgecache.Ptr(0)},
			wantQuery: pQuery, wantBody: `{"srcImages":["/a.png","/b.png"],"revalidationDeadlineSeconds":0}`},
		{name: "delete images, client slug", opts: []edgecache.Option{edgecache.WithTeamSlug("my-team")},
			req:       edgecache.DangerouslyDeleteBySrcImagesRequest{ProjectIDOrName: "p", SrcImages: confItems(8)},
			wantQuery: url.Values{"projectIdOrName": {"p"}, "slug": {"my-team"}}, wantBody: confJSON(map[string]any{"srcImages": confItems(8)})},
	}
	pathOf := map[string]string{}
	for _, k := range opKits {
		pathOf[fmt.Sprintf("%T", k.request(confInput{}))] = k.path
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := tc.req.Validate(); err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			rec := newConfRecorder(t, tc.servers...)
			c := newConfClient(t, rec, tc.opts...)
			res, err := callOperation(context.Background(), c, tc.req)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if res.StatusCode != http.StatusOK || res.Attempts != 1 {
				t.Errorf("Result = %+v, want StatusCode 200 and Attempts 1", res)
			}
			reqs := rec.requests()
			if len(reqs) != 1 {
				t.Fatalf("the transport saw %d requests, want 1", len(reqs))
			}
			got := reqs[0]
			if got.Method != http.MethodPost {
				t.Errorf("method = %s, want POST", got.Method)
			}
			wantURL := cmp.Or(tc.wantURL, edgecache.DefaultBaseURL+pathOf[fmt.Sprintf("%T", tc.req)])
			u := *got.URL
			u.RawQuery = ""
			if u.String() != wantURL {
				t.Errorf("URL = %s, want %s", u.String(), wantURL)
			}
			if q := got.URL.Query(); !reflect.DeepEqual(q, tc.wantQuery) {
				t.Errorf("query = %v, want %v", q, tc.wantQuery)
			}
			checkConfHeaders(t, got.Header)
			if eq, err := confJSONEqual(got.Body, []byte(tc.wantBody)); err != nil || !eq {
				t.Errorf("body = %.300s\nwant   %.300s (%v)", got.Body, tc.wantBody, err)
			}
			// What Prepare shows is what was sent.
			p, err := c.Prepare(tc.req)
			if err != nil || p.URL != got.URL.String() || !bytes.Equal(p.Body, got.Body) || p.Method != got.Method {
				t.Errorf("Prepare = %+v, %v; want the sent request %s %s %s", p, err, got.Method, got.URL, got.Body)
			}
		})
	}
}

// checkConfHeaders asserts the headers every request carries.
func checkConfHeaders(t *testing.T, h http.Header) {
	t.Helper()
	if got := h.Values("Authorization"); len(got) != 1 || got[0] != "Bearer "+testToken {
		t.Errorf("Authorization headers = %d values, want exactly one, %q", len(got), "Bearer <testToken>")
	}
	if got := h.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	if got := h.Get("User-Agent"); !strings.HasPrefix(got, "edgecache-go/") {
		t.Errorf("User-Agent = %q, want edgecache-go/VERSION", got)
	}
}

// TestTheSeedValidatorBites shows that the second check of dangerouslyDeleteByTags requests is
// not vacuous: the seed's document refuses what it should, and the wrapper refuses a deadline
// the seed would take but the current spec does not.
func TestTheSeedValidatorBites(t *testing.T) {
	t.Parallel()
	current, seed := confValidatorsFor(t)
	rawURL := edgecache.DefaultBaseURL + "/v1/edge-cache/dangerously-delete-by-tags?projectIdOrName=p"
	header := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer x"}}
	for _, body := range []string{`{"tags":["a"],"revalidationDeadlineSeconds":-1}`, `{"tags":[]}`, `{"tags":["a"],"extra":1}`} {
		if err := seed.validate(http.MethodPost, rawURL, header, []byte(body)); err == nil {
			t.Errorf("the seed's document accepts %s", body)
		}
	}
	over := `{"tags":["a"],"revalidationDeadlineSeconds":31536001}`
	if seed.validate(http.MethodPost, rawURL, header, []byte(over)) != nil || current.validate(http.MethodPost, rawURL, header, []byte(over)) == nil {
		t.Errorf("want the seed to accept and openapi.yaml to refuse %s", over)
	}
	if err := (edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a"), RevalidationDeadlineSeconds: edgecache.Ptr(31536001)}).Validate(); err == nil {
		t.Error("Validate accepts a deadline over a year")
	}
	// The seed describes one operation only.
	if err := seed.validate(http.MethodPost, edgecache.DefaultBaseURL+"/v1/edge-cache/invalidate-by-tags?projectIdOrName=p", header, []byte(`{"tags":["a"]}`)); err == nil {
		t.Error("the seed's document routes invalidate-by-tags; it should hold only dangerouslyDeleteByTags")
	}
}

func TestConcurrentCallsConformToSpec(t *testing.T) {
	t.Parallel()
	const n = 32
	rec := newConfRecorder(t)
	c := newConfClient(t, rec, edgecache.WithTeamSlug("my-team"))
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			in := confInput{Project: fmt.Sprintf("prj_%02d", i), Items: []string{fmt.Sprintf("tag-%02d", i), "shared"},
				UseString: i%3 == 0, Target: []string{"", "production", "preview"}[i%3], Deadline: i, DeadlineSet: i%2 == 0}
			k := opKits[i%len(opKits)]
			if !k.target {
				in.Target = ""
			}
			_, errs[i] = callOperation(context.Background(), c, k.request(in))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	reqs := rec.requests()
	if len(reqs) != n {
		t.Fatalf("the transport saw %d requests, want %d", len(reqs), n)
	}
	seen := map[string]bool{}
	for _, r := range reqs {
		seen[r.URL.Query().Get("projectIdOrName")] = true
		checkConfHeaders(t, r.Header)
	}
	if len(seen) != n {
		t.Errorf("the transport saw %d distinct projects, want %d", len(seen), n)
	}
}

func TestBulkRequestsConformToSpec(t *testing.T) {
	t.Parallel()
	for _, k := range opKits {
		t.Run(k.id, func(t *testing.T) {
			t.Parallel()
			rec := newConfRecorder(t)
			c := newConfClient(t, rec)
			in := confInput{Project: "p", Items: confItems(40), Deadline: 0, DeadlineSet: k.deadline}
			if k.target {
				in.Target = "production"
			}
			res, err := c.Bulk(context.Background(), k.request(in), edgecache.BulkOptions{})
			if err != nil {
				t.Fatalf("Bulk: %v", err)
			}
			if len(res.Purged) != 40 {
				t.Errorf("purged %d items, want 40", len(res.Purged))
			}
			reqs := rec.requests()
			if want := (40 + k.maxItems() - 1) / k.maxItems(); len(reqs) != want {
				t.Fatalf("the transport saw %d requests, want %d of at most %d", len(reqs), want, k.maxItems())
			}
			var sent []string
			for _, r := range reqs {
				var body map[string]any
				if err := json.Unmarshal(r.Body, &body); err != nil {
					t.Fatalf("body %s: %v", r.Body, err)
				}
				items, _ := body[k.itemsField()].([]any)
				if len(items) == 0 || len(items) > k.maxItems() || !strings.HasSuffix(r.URL.Path, k.path) {
					t.Errorf("%s %s: want 1 to %d %s", r.URL.Path, r.Body, k.maxItems(), k.itemsField())
				}
				for _, item := range items {
					sent = append(sent, item.(string))
				}
				if _, has := body["target"]; has != k.target {
					t.Errorf("body %s: target present = %v, want %v", r.Body, has, k.target)
				}
				if d, has := body["revalidationDeadlineSeconds"]; has != k.deadline || has && d != 0.0 {
					t.Errorf("body %s: deadline present = %v, want %v (and 0)", r.Body, has, k.deadline)
				}
			}
			if slices.Sort(sent); !slices.Equal(sent, confItems(40)) {
				t.Errorf("the requests carried %q, want each item once", sent)
			}
		})
	}
}

// ---------------------------------------------------------------------------------------------
// Differential testing: Validate against kin-openapi's verdict on the same request.

// confInput is one request, described by its parts, for the differential tests. Fields its
// operation lacks (a target or deadline it cannot carry, the string form of images) are ignored.
type confInput struct {
	Op          opKit
	Project     string
	Items       []string // never nil; joined by commas in the string form
	UseString   bool
	Target      string
	Deadline    int
	DeadlineSet bool
}

func (in confInput) String() string {
	items := make([]string, len(in.Items))
	for i, t := range in.Items {
		items[i] = confShort(t)
	}
	form := "list"
	if in.UseString {
		form = fmt.Sprintf("string of %d runes", utf8.RuneCountInString(strings.Join(in.Items, ",")))
	}
	deadline := "unset"
	if in.DeadlineSet {
		deadline = strconv.Itoa(in.Deadline)
	}
	return fmt.Sprintf("  %s, project %s\n  items (%s form, %d) [%s]\n  target %q, deadline %s",
		in.Op.id, confShort(in.Project), form, len(in.Items), strings.Join(items, " "), in.Target, deadline)
}

// normalize drops what the operation cannot carry.
func (in confInput) normalize() confInput {
	if !in.Op.tags {
		in.UseString = false
	}
	if !in.Op.target {
		in.Target = ""
	}
	if !in.Op.deadline {
		in.DeadlineSet = false
	}
	return in
}

// body is the JSON body that carries the input, built by hand, independently of the wrapper:
// an empty target and an unset deadline are absent, as the wrapper documents.
func (in confInput) body() []byte {
	m := map[string]any{}
	switch {
	case in.UseString:
		m["tags"] = strings.Join(in.Items, ",")
	default:
		m[in.Op.itemsField()] = in.Items
	}
	if in.Target != "" {
		m["target"] = in.Target
	}
	if in.DeadlineSet {
		m["revalidationDeadlineSeconds"] = in.Deadline
	}
	return []byte(confJSON(m))
}

// specVerdict is kin-openapi's verdict on the hand-built request; nil means accepted.
func (in confInput) specVerdict(v *confValidator) error {
	rawURL := edgecache.DefaultBaseURL + in.Op.path + "?" + url.Values{"projectIdOrName": {in.Project}}.Encode()
	header := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + testToken}}
	return v.validate(http.MethodPost, rawURL, header, in.body())
}

// hasInvisible reports a control or format character, which Validate refuses.
func hasInvisible(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) }) >= 0
}

// stricterRuleBroken reports whether in breaks one of the rules the wrapper documents as
// stricter than the spec (see DangerouslyDeleteByTagsRequest.Validate and
// InvalidateBySrcImagesRequest.Validate): a blank project; an empty item, an item that is not
// valid UTF-8 or holds a control or invisible format character; in the tags' array form, a tag
// holding a comma; in the string form, read as Vercel reads it (split on commas), an empty tag,
// more than 16 tags or a tag longer than 256 characters.
func stricterRuleBroken(in confInput) bool {
	if strings.TrimSpace(in.Project) == "" {
		return true
	}
	items := in.Items
	if in.UseString {
		items = strings.Split(strings.Join(in.Items, ","), ",")
		if len(items) > edgecache.MaxTagsPerRequest {
			return true
		}
	}
	for _, item := range items {
		if item == "" || !utf8.ValidString(item) || hasInvisible(item) ||
			in.Op.tags && !in.UseString && strings.Contains(item, ",") ||
			in.UseString && utf8.RuneCountInString(item) > edgecache.MaxTagLength {
			return true
		}
	}
	return false
}

// checkConfAgreement compares Validate with kin-openapi on in. The wrapper must accept exactly
// what the spec accepts, less what its documented stricter rules refuse:
//
//	wrapper accepts ⇒ kin-openapi accepts, and no stricter rule is broken;
//	kin-openapi accepts ∧ no stricter rule is broken ⇒ wrapper accepts.
//
// When the wrapper accepts, the request is also sent through a client; the recorder checks it
// against the spec (and the seed's document) again, and its body must equal the hand-built one.
func checkConfAgreement(t *testing.T, in confInput) (wrapperErr, specErr error) {
	t.Helper()
	in = in.normalize()
	current, _ := confValidatorsFor(t)
	req := in.Op.request(in)
	wrapperErr = req.Validate()
	specErr = in.specVerdict(current)
	stricter := stricterRuleBroken(in)
	if wrapperErr == nil && specErr != nil {
		t.Errorf("Validate accepts a request that openapi.yaml refuses:\n%s\nkin-openapi: %v", in, specErr)
	}
	if wrapperErr == nil && stricter {
		t.Errorf("Validate accepts a request that breaks one of its documented stricter rules:\n%s", in)
	}
	if wrapperErr != nil && specErr == nil && !stricter {
		t.Errorf("Validate refuses a request that openapi.yaml accepts and no documented stricter rule explains:\n%s\nValidate: %v", in, wrapperErr)
	}
	if wrapperErr != nil {
		var ve *edgecache.ValidationError
		if !errors.Is(wrapperErr, edgecache.ErrInvalidRequest) || !errors.As(wrapperErr, &ve) {
			t.Errorf("Validate returned %T (%v), want a *ValidationError matching ErrInvalidRequest", wrapperErr, wrapperErr)
		}
		return wrapperErr, specErr
	}
	rec := newConfRecorder(t)
	if _, err := callOperation(context.Background(), newConfClient(t, rec), req); err != nil {
		t.Errorf("sending a valid request: %v\n%s", err, in)
		return wrapperErr, specErr
	}
	reqs := rec.requests()
	if len(reqs) != 1 {
		t.Errorf("the transport saw %d requests, want 1", len(reqs))
		return wrapperErr, specErr
	}
	if eq, err := confJSONEqual(reqs[0].Body, in.body()); err != nil || !eq {
		t.Errorf("the wrapper sent body %.300s\nwant (hand-built)   %.300s (%v)\n%s", reqs[0].Body, in.body(), err, in)
	}
	if got := reqs[0].URL.Query().Get("projectIdOrName"); got != in.Project {
		t.Errorf("projectIdOrName = %s, want %s", confShort(got), confShort(in.Project))
	}
	return wrapperErr, specErr
}

func TestValidationAgreesWithSpec(t *testing.T) {
	t.Parallel()
	list := func(items ...string) confInput {
		return confInput{Project: "prj_123", Items: append([]string{}, items...)}
	}
	str := func(s string) confInput {
		return confInput{Project: "prj_123", Items: strings.Split(s, ","), UseString: true}
	}
	with := func(in confInput, f func(*confInput)) confInput { f(&in); return in }
	string8196 := strings.Join(append(confLongItems(31, 256), confRepeat('q', 229)), ",")
	// Cases for every operation; the tags' string form applies to the tag operations only.
	cases := []struct {
		name              string
		in                confInput
		specOK, wrapperOK bool
		stricter          bool // stricterRuleBroken: explains why the verdicts may differ
		tagsOnly          bool
	}{
		{name: "one item", in: list("blog"), specOK: true, wrapperOK: true},
		{name: "8 items", in: list(confItems(8)...), specOK: true, wrapperOK: true},
		{name: "no item", in: list()},
		{name: "empty item", in: list("a", ""), specOK: true, stricter: true},
		{name: "invalid UTF-8", in: list("\xff\xfe"), specOK: true, stricter: true},
		{name: "zero-width space", in: list("blog\u200b"), specOK: true, stricter: true},
		{name: "byte-order mark", in: list("\ufeffblog"), specOK: true, stricter: true},
		{name: "newline", in: list("a\nb"), specOK: true, stricter: true},
		{name: "empty project", in: with(list("a"), func(in *confInput) { in.Project = "" }), specOK: true, stricter: true},
		{name: "blank project", in: with(list("a"), func(in *confInput) { in.Project = "  " }), specOK: true, stricter: true},
		{name: "deadline -1", in: with(list("a"), func(in *confInput) { in.Deadline, in.DeadlineSet = -1, true })},
		{name: "deadline 0", in: with(list("a"), func(in *confInput) { in.Deadline, in.DeadlineSet = 0, true }), specOK: true, wrapperOK: true},
		{name: "deadline one year", in: with(list("a"), func(in *confInput) { in.Deadline, in.DeadlineSet = 31536000, true }), specOK: true, wrapperOK: true},
		{name: "deadline a year and a second", in: with(list("a"), func(in *confInput) { in.Deadline, in.DeadlineSet = 31536001, true })},

		{name: "16 tags", in: list(confItems(16)...), specOK: true, wrapperOK: true, tagsOnly: true},
		{name: "17 tags", in: list(confItems(17)...), tagsOnly: true},
		{name: "256-character tag", in: list(confRepeat('a', 256)), specOK: true, wrapperOK: true, tagsOnly: true},
		{name: "257-character tag", in: list(confRepeat('a', 257)), tagsOnly: true},
		{name: "256 four-byte runes", in: list(confRepeat('😀', 256)), specOK: true, wrapperOK: true, tagsOnly: true},
		{name: "257 four-byte runes", in: list(confRepeat('😀', 257)), tagsOnly: true},
		{name: "comma inside a tag", in: list("a,b"), specOK: true, stricter: true, tagsOnly: true},
		{name: "string form, two tags", in: str("blog,products"), specOK: true, wrapperOK: true, tagsOnly: true},
		{name: "string form of 8196 characters in 32 tags", in: str(string8196), specOK: true, stricter: true, tagsOnly: true},
		{name: "string form of 8196 characters in one tag", in: str(confRepeat('a', 8196)), specOK: true, stricter: true, tagsOnly: true},
		{name: "string form of 8197 characters", in: str(string8196 + "q"), stricter: true, tagsOnly: true},
		{name: "string form of 17 short tags", in: str(strings.Join(confItems(17), ",")), specOK: true, stricter: true, tagsOnly: true},
		{name: "string form with an empty element", in: str("a,,b"), specOK: true, stricter: true, tagsOnly: true},
		{name: "empty string form", in: str(""), specOK: true, stricter: true, tagsOnly: true},
		{name: "string form of 16 tags of 256 characters", in: str(strings.Join(confLongItems(16, 256), ",")), specOK: true, wrapperOK: true, tagsOnly: true},
		{name: "target production", in: with(list("a"), func(in *confInput) { in.Target = "production" }), specOK: true, wrapperOK: true, tagsOnly: true},
		{name: "target staging", in: with(list("a"), func(in *confInput) { in.Target = "staging" }), tagsOnly: true},
	}
	// For images the verdicts differ from the tags' in two places: 9 to 16 images break
	// maxItems 8, and a comma is part of an image's name.
	imageCases := []struct {
		name              string
		in                confInput
		specOK, wrapperOK bool
	}{
		{name: "9 images", in: list(confItems(9)...)},
		{name: "an image with a comma", in: list("/a,b.png"), specOK: true, wrapperOK: true},
		{name: "a 300-character image", in: list(confRepeat('i', 300)), specOK: true, wrapperOK: true},
	}
	for _, k := range opKits {
		for _, tc := range cases {
			if tc.tagsOnly && !k.tags {
				continue
			}
			in := tc.in
			in.Op = k
			specOK, wrapperOK := tc.specOK, tc.wrapperOK
			if !k.deadline && in.DeadlineSet {
				specOK, wrapperOK = true, !tc.stricter // the deadline is dropped for invalidation
			}
			t.Run(k.id+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				checkVerdicts(t, in, specOK, wrapperOK, tc.stricter && (k.deadline || !in.DeadlineSet))
			})
		}
		if k.tags {
			continue
		}
		for _, tc := range imageCases {
			in := tc.in
			in.Op = k
			t.Run(k.id+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				checkVerdicts(t, in, tc.specOK, tc.wrapperOK, false)
			})
		}
	}
}

func checkVerdicts(t *testing.T, in confInput, specOK, wrapperOK, stricter bool) {
	t.Helper()
	wrapperErr, specErr := checkConfAgreement(t, in)
	if (specErr == nil) != specOK {
		t.Errorf("kin-openapi verdict = %v, want accepted = %v", specErr, specOK)
	}
	if (wrapperErr == nil) != wrapperOK {
		t.Errorf("Validate() = %v, want accepted = %v", wrapperErr, wrapperOK)
	}
	if got := stricterRuleBroken(in.normalize()); got != stricter {
		t.Errorf("stricterRuleBroken = %v, want %v", got, stricter)
	}
}

// TestAnInvalidationCarriesNoDeadline: the spec refuses a deadline or a target where the
// operation declares none, and the wrapper's request types cannot express one.
func TestAnInvalidationCarriesNoDeadline(t *testing.T) {
	t.Parallel()
	current, _ := confValidatorsFor(t)
	for _, k := range opKits {
		header := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer x"}}
		rawURL := edgecache.DefaultBaseURL + k.path + "?projectIdOrName=p"
		items := `"` + k.itemsField() + `":["a"]`
		for field, allowed := range map[string]bool{`"revalidationDeadlineSeconds":1`: k.deadline, `"target":"preview"`: k.target} {
			err := current.validate(http.MethodPost, rawURL, header, []byte("{"+items+","+field+"}"))
			if (err == nil) != allowed {
				t.Errorf("%s with %s: spec verdict %v, want accepted = %v", k.id, field, err, allowed)
			}
		}
		typ := reflect.TypeOf(k.request(confInput{}))
		_, hasDeadline := typ.FieldByName("RevalidationDeadlineSeconds")
		_, hasTarget := typ.FieldByName("Target")
		if hasDeadline != k.deadline || hasTarget != k.target {
			t.Errorf("%s: has a deadline field = %v, a target field = %v; want %v, %v", typ, hasDeadline, hasTarget, k.deadline, k.target)
		}
	}
}

// FuzzValidationAgreesWithSpec checks Validate against kin-openapi's verdict on the request the
// wrapper would send (see checkConfAgreement), for every operation: count mod 20 is the number
// of items (cycling through tagA, tagB and tagC, tagA padded with pad mod 9000 x's so that the
// fuzzer reaches the length limits), and count/20 mod 4 picks the operation. Its seed corpus is
// in testdata/fuzz/FuzzValidationAgreesWithSpec and below.
func FuzzValidationAgreesWithSpec(f *testing.F) {
	// project, tagA, tagB, tagC, count, pad, useString, target, deadline, deadlineSet
	f.Add("prj_123", "blog", "products", "home", 1, 0, false, "", 0, false)
	f.Add("prj_123", "blog", "products", "home", 3, 0, true, "production", 60, true)
	f.Add("my-site", "a", "b", "c", 16, 0, false, "preview", 0, true)
	f.Add("my-site", "a", "b", "c", 17, 0, true, "", 0, false)
	f.Add("p", "", "b", "c", 2, 257, true, "", 0, false)
	f.Add("p", "a,b", "c", "d", 1, 0, false, "", 0, false)
	f.Add("p", "", "", "", 1, 8197, true, "", 0, false)
	f.Add(" ", "a", "b", "c", 1, 0, false, "", 0, false)
	f.Add("p", "a", "b", "c", 1, 0, false, "staging", -1, true)
	f.Add("p", "😀", "é", "\u200b", 3, 0, false, "", 0, false)
	f.Add("p", "a", "b", "c", 21, 0, true, "preview", 31536001, true)   // invalidateByTags
	f.Add("p", "/a.png", "/b,c.png", "", 42, 0, false, "", 0, true)     // invalidateBySrcImages
	f.Add("p", "/a.png", "/b.png", "/c.png", 69, 0, false, "", 5, true) // 9 images, deleted
	f.Add("p", "/a.png", "/b.png", "/c.png", 61, 0, false, "", 31536000, true)
	f.Fuzz(func(t *testing.T, project, tagA, tagB, tagC string, count, pad int, useString bool, target string, deadline int, deadlineSet bool) {
		mod := func(x, m int) int { return (x%m + m) % m }
		pool := []string{tagA + strings.Repeat("x", mod(pad, 9000)), tagB, tagC}
		items := make([]string, mod(count, 20))
		for i := range items {
			items[i] = pool[i%len(pool)]
		}
		in := confInput{Op: opKits[mod(count/20, len(opKits))], Project: project, Items: items, UseString: useString,
			Target: target, Deadline: deadline, DeadlineSet: deadlineSet}
		_, _ = checkConfAgreement(t, in)
	})
}

// ---------------------------------------------------------------------------------------------
// The guard: every limit of every operation, read back from openapi.yaml.

// specLimits are one operation's constraints as openapi.yaml states them. A constraint may be
// found in several places (or none); each slice holds the distinct values found.
type specLimits struct {
	path                            string
	projectInQuery, projectRequired bool
	queryParams                     []string
	bodyRequired, bodyProperties    []string
	noAdditionalProperties          bool
	itemTypes                       []string // the types of the items property (the tags union's arms)
	minItems, maxItems              []uint64
	itemMaxLength                   []uint64 // items.maxLength of the array
	stringMaxLength                 []uint64 // maxLength of the tags' string arm
	deadlineTypes                   []string
	deadlineMinimum                 []float64
	deadlineExclusiveMinimum        bool
	deadlineMaximum                 []float64
	targetEnum                      []string
	errorStatuses                   []string
}

// schemaParts returns the schema at ref and every schema it combines through allOf, oneOf and
// anyOf, at any depth, so that a constraint is found however a document nests it (the seed
// wraps every property in allOf; upstream does not).
func schemaParts(ref *openapi3.SchemaRef) []*openapi3.Schema {
	var out []*openapi3.Schema
	seen := map[*openapi3.Schema]bool{}
	var walk func(*openapi3.SchemaRef)
	walk = func(r *openapi3.SchemaRef) {
		if r == nil || r.Value == nil || seen[r.Value] {
			return
		}
		seen[r.Value] = true
		out = append(out, r.Value)
		for _, group := range []openapi3.SchemaRefs{r.Value.AllOf, r.Value.OneOf, r.Value.AnyOf} {
			for _, sub := range group {
				walk(sub)
			}
		}
	}
	walk(ref)
	return out
}

func addUnique[T comparable](s []T, v T) []T {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// findOperation returns the operation with the id, wherever its path is.
func findOperation(doc *openapi3.T, id string) (string, *openapi3.Operation) {
	for path, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.OperationID == id {
				return path, op
			}
		}
	}
	return "", nil
}

// readSpecLimits reads one operation's constraints from doc.
func readSpecLimits(doc *openapi3.T, k opKit) (specLimits, error) {
	var l specLimits
	path, op := findOperation(doc, k.id)
	if op == nil {
		return l, fmt.Errorf("openapi.yaml has no operation %s", k.id)
	}
	l.path = path
	for _, p := range op.Parameters {
		if p == nil || p.Value == nil {
			continue
		}
		if p.Value.In == openapi3.ParameterInQuery {
			l.queryParams = append(l.queryParams, p.Value.Name)
		}
		if p.Value.Name == "projectIdOrName" {
			l.projectInQuery = p.Value.In == openapi3.ParameterInQuery
			l.projectRequired = p.Value.Required
		}
	}
	slices.Sort(l.queryParams)
	for code := range op.Responses.Map() {
		if !strings.HasPrefix(code, "2") {
			l.errorStatuses = append(l.errorStatuses, code)
		}
	}
	slices.Sort(l.errorStatuses)
	if op.RequestBody == nil || op.RequestBody.Value == nil {
		return l, fmt.Errorf("%s has no request body", k.id)
	}
	media := op.RequestBody.Value.Content.Get("application/json")
	if media == nil || media.Schema == nil {
		return l, fmt.Errorf("%s's request body has no application/json schema", k.id)
	}
	props := map[string][]*openapi3.SchemaRef{}
	for _, s := range schemaParts(media.Schema) {
		for _, r := range s.Required {
			l.bodyRequired = addUnique(l.bodyRequired, r)
		}
		for name, p := range s.Properties {
			props[name] = append(props[name], p)
		}
		if has := s.AdditionalProperties.Has; has != nil && !*has {
			l.noAdditionalProperties = true
		}
	}
	slices.Sort(l.bodyRequired)
	l.bodyProperties = slices.Sorted(maps.Keys(props))
	for _, ref := range props[k.itemsField()] {
		for _, s := range schemaParts(ref) {
			for _, typ := range s.Type.Slice() {
				l.itemTypes = addUnique(l.itemTypes, typ)
			}
			if s.MinItems != 0 {
				l.minItems = addUnique(l.minItems, s.MinItems)
			}
			if s.MaxItems != nil {
				l.maxItems = addUnique(l.maxItems, *s.MaxItems)
			}
			if s.MaxLength != nil {
				l.stringMaxLength = addUnique(l.stringMaxLength, *s.MaxLength)
			}
			for _, item := range schemaParts(s.Items) {
				if item.MaxLength != nil {
					l.itemMaxLength = addUnique(l.itemMaxLength, *item.MaxLength)
				}
			}
		}
	}
	if len(l.minItems) == 0 && slices.Contains(l.itemTypes, "array") {
		l.minItems = []uint64{0} // JSON Schema's default
	}
	slices.Sort(l.itemTypes)
	for _, ref := range props["revalidationDeadlineSeconds"] {
		for _, s := range schemaParts(ref) {
			for _, typ := range s.Type.Slice() {
				l.deadlineTypes = addUnique(l.deadlineTypes, typ)
			}
			if s.Min != nil {
				l.deadlineMinimum = addUnique(l.deadlineMinimum, *s.Min)
			}
			if b := s.ExclusiveMin; (b.Bool != nil && *b.Bool) || b.Value != nil {
				l.deadlineExclusiveMinimum = true
			}
			if s.Max != nil {
				l.deadlineMaximum = addUnique(l.deadlineMaximum, *s.Max)
			}
		}
	}
	for _, ref := range props["target"] {
		for _, s := range schemaParts(ref) {
			for _, e := range s.Enum {
				l.targetEnum = addUnique(l.targetEnum, fmt.Sprint(e))
			}
		}
	}
	slices.Sort(l.targetEnum)
	return l, nil
}

// limitMismatches compares one operation's limits in the spec with the wrapper's constants and
// behaviour. Each mismatch is a message for the maintainer.
func limitMismatches(k opKit, l specLimits) []string {
	var out []string
	report := func(format string, args ...any) {
		out = append(out, k.id+": "+fmt.Sprintf(format, args...)+
			"\n\tupdate validate.go (and the operation in operations.go) to match openapi.yaml, then this guard test")
	}
	one := func(name string, found []uint64) (int, bool) {
		if len(found) != 1 {
			report("openapi.yaml: expected exactly one value of %s for %s, found %v", name, k.itemsField(), found)
			return 0, false
		}
		return int(found[0]), true
	}
	base := confInput{Op: k, Project: "prj_123", Items: []string{"a"}}
	accepts := func(f func(*confInput)) bool {
		in := base
		f(&in)
		return k.request(in).Validate() == nil
	}
	withItems := func(items ...string) func(*confInput) { return func(in *confInput) { in.Items = items } }
	if l.path != k.path {
		report("openapi.yaml: the operation's path is %s; the tests expect %s (the generated client follows the spec)", l.path, k.path)
	}
	if !l.projectInQuery || !l.projectRequired {
		report("openapi.yaml: projectIdOrName in query = %v, required = %v; the wrapper sends it in the query and requires it", l.projectInQuery, l.projectRequired)
	}
	if accepts(func(in *confInput) { in.Project = "" }) {
		report("Validate accepts an empty projectIdOrName, which openapi.yaml requires")
	}
	if want := []string{"projectIdOrName", "slug", "teamId"}; !slices.Equal(l.queryParams, want) {
		report("openapi.yaml: query parameters are %v; the wrapper knows %v", l.queryParams, want)
	}
	if !slices.Equal(l.bodyRequired, []string{k.itemsField()}) {
		report("openapi.yaml: the body requires %v; the wrapper requires only %s", l.bodyRequired, k.itemsField())
	}
	if !l.noAdditionalProperties {
		report("openapi.yaml: the body no longer sets additionalProperties: false; the wrapper's tests assume it")
	}
	want := []string{k.itemsField()}
	if k.deadline {
		want = append(want, "revalidationDeadlineSeconds")
	}
	if k.target {
		want = append(want, "target")
	}
	if slices.Sort(want); !slices.Equal(l.bodyProperties, want) {
		report("openapi.yaml: the body's properties are %v; the wrapper sends %v", l.bodyProperties, want)
	}
	wantTypes := []string{"array"}
	if k.tags {
		wantTypes = []string{"array", "string"}
	}
	if !slices.Equal(l.itemTypes, wantTypes) {
		report("openapi.yaml: %s is %v; the wrapper sends %v", k.itemsField(), l.itemTypes, wantTypes)
	}
	if v, ok := one("minItems", l.minItems); ok {
		if v != edgecache.MinItemsPerRequest {
			report("openapi.yaml: %s minItems = %d, but minItemsPerRequest = %d", k.itemsField(), v, edgecache.MinItemsPerRequest)
		}
		if v > 0 && (!accepts(withItems(confItems(v)...)) || accepts(withItems(confItems(v-1)...))) {
			report("Validate does not draw the line at openapi.yaml's minItems %d", v)
		}
	}
	if v, ok := one("maxItems", l.maxItems); ok {
		if v != k.maxItems() {
			report("openapi.yaml: %s maxItems = %d, but the wrapper's limit is %d", k.itemsField(), v, k.maxItems())
		}
		if v < 1000 && (!accepts(withItems(confItems(v)...)) || accepts(withItems(confItems(v+1)...))) {
			report("Validate does not draw the line at openapi.yaml's maxItems %d", v)
		}
	}
	switch {
	case k.tags:
		if v, ok := one("items.maxLength", l.itemMaxLength); ok {
			if v != edgecache.MaxTagLength {
				report("openapi.yaml: tags items.maxLength = %d, but MaxTagLength = %d", v, edgecache.MaxTagLength)
			}
			if v < 100000 && (!accepts(withItems(confRepeat('a', v))) || accepts(withItems(confRepeat('a', v+1)))) {
				report("Validate does not draw the line at openapi.yaml's items.maxLength %d", v)
			}
		}
		if v, ok := one("maxLength (string form)", l.stringMaxLength); ok {
			if v != edgecache.MaxTagStringLength {
				report("openapi.yaml: tags string maxLength = %d, but MaxTagStringLength = %d", v, edgecache.MaxTagStringLength)
			}
			// The stricter rules refuse long strings anyway (TestStringFormLengthBoundary); the
			// length rule itself must name the spec's number.
			err := k.request(confInput{Op: k, Project: "p", Items: []string{strings.Repeat("a,", v/2) + "aa"}, UseString: true}).Validate()
			var ve *edgecache.ValidationError
			if !errors.As(err, &ve) || !strings.Contains(ve.Rule, fmt.Sprintf("at most %d characters", v)) {
				report("Validate does not refuse a string form of %d characters for breaking openapi.yaml's maxLength %d (got %v)", v+1, v, err)
			}
		}
	default:
		if len(l.itemMaxLength) > 0 || len(l.stringMaxLength) > 0 {
			report("openapi.yaml: srcImages items now have a maxLength %v%v, which Validate does not enforce", l.itemMaxLength, l.stringMaxLength)
		}
	}
	if k.deadline {
		if !slices.Equal(l.deadlineTypes, []string{"integer"}) {
			report("openapi.yaml: revalidationDeadlineSeconds is %v; the wrapper sends an int", l.deadlineTypes)
		}
		if len(l.deadlineMinimum) != 1 || l.deadlineMinimum[0] != edgecache.MinRevalidationDeadline || l.deadlineExclusiveMinimum {
			report("openapi.yaml: revalidationDeadlineSeconds minimum = %v (exclusive %v), but minRevalidationDeadline = %d (inclusive)",
				l.deadlineMinimum, l.deadlineExclusiveMinimum, edgecache.MinRevalidationDeadline)
		}
		if len(l.deadlineMaximum) != 1 || l.deadlineMaximum[0] != edgecache.MaxRevalidationDeadlineSeconds {
			report("openapi.yaml: revalidationDeadlineSeconds maximum = %v, but MaxRevalidationDeadlineSeconds = %d",
				l.deadlineMaximum, edgecache.MaxRevalidationDeadlineSeconds)
		}
		for _, m := range l.deadlineMinimum {
			if !accepts(func(in *confInput) { in.Deadline, in.DeadlineSet = int(m), true }) || accepts(func(in *confInput) { in.Deadline, in.DeadlineSet = int(m)-1, true }) {
				report("Validate does not draw the line at openapi.yaml's minimum %v", m)
			}
		}
		for _, m := range l.deadlineMaximum {
			if !accepts(func(in *confInput) { in.Deadline, in.DeadlineSet = int(m), true }) || accepts(func(in *confInput) { in.Deadline, in.DeadlineSet = int(m)+1, true }) {
				report("Validate does not draw the line at openapi.yaml's maximum %v", m)
			}
		}
	}
	if k.target {
		wrapperTargets := []string{string(edgecache.TargetPreview), string(edgecache.TargetProduction)}
		if !slices.Equal(l.targetEnum, wrapperTargets) {
			report("openapi.yaml: target enum = %v, but the wrapper's Target constants are %v", l.targetEnum, wrapperTargets)
		}
		if accepts(func(in *confInput) { in.Target = "staging" }) && !slices.Contains(l.targetEnum, "staging") {
			report("Validate accepts target %q, which openapi.yaml's enum does not list", "staging")
		}
	}
	// Every error status the operation declares must map to a sentinel (see errors.go).
	for _, code := range l.errorStatuses {
		status, _ := strconv.Atoi(code)
		if apiErr := (&edgecache.APIError{StatusCode: status}); !slices.ContainsFunc(statusSentinels, func(s error) bool { return errors.Is(apiErr, s) }) {
			report("openapi.yaml: the operation declares status %s, which no sentinel in errors.go matches", code)
		}
	}
	return out
}

// statusSentinels are the sentinels an *APIError can match.
var statusSentinels = []error{edgecache.ErrBadRequest, edgecache.ErrUnauthorized, edgecache.ErrPaymentRequired, edgecache.ErrForbidden,
	edgecache.ErrNotFound, edgecache.ErrGone, edgecache.ErrRateLimited, edgecache.ErrServer}

func TestValidationLimitsMatchSpec(t *testing.T) {
	t.Parallel()
	doc, err := loadConfSpec(edgecache.OpenAPISpec)
	if err != nil {
		t.Fatal(err)
	}
	if n := doc.Paths.Len(); n != len(opKits) {
		t.Errorf("openapi.yaml holds %d paths; the wrapper knows %d operations", n, len(opKits))
	}
	for _, k := range opKits {
		limits, err := readSpecLimits(doc, k)
		if err != nil {
			t.Fatalf("reading the limits from openapi.yaml: %v", err)
		}
		for _, m := range limitMismatches(k, limits) {
			t.Error(m)
		}
		// The numbers themselves, so that a failure of the reader cannot pass silently.
		wantMax, wantStatuses := []uint64{8}, []string{"400", "401", "402", "403", "404", "410"}
		if k.tags {
			wantMax, wantStatuses = []uint64{16}, []string{"400", "401", "403", "404", "410"}
		}
		if !slices.Equal(limits.maxItems, wantMax) || !slices.Equal(limits.minItems, []uint64{1}) || !slices.Equal(limits.errorStatuses, wantStatuses) {
			t.Errorf("%s: read limits %+v; want minItems 1, maxItems %v, statuses %v", k.id, limits, wantMax, wantStatuses)
		}
		if k.tags && (!slices.Equal(limits.itemMaxLength, []uint64{256}) || !slices.Equal(limits.stringMaxLength, []uint64{8196})) {
			t.Errorf("%s: read limits %+v; want items.maxLength 256, maxLength 8196", k.id, limits)
		}
		if k.deadline && (!slices.Equal(limits.deadlineMinimum, []float64{0}) || !slices.Equal(limits.deadlineMaximum, []float64{31536000})) {
			t.Errorf("%s: read deadline limits %v..%v; want 0..31536000", k.id, limits.deadlineMinimum, limits.deadlineMaximum)
		}
	}
}

// TestSpecLimitReaderFollowsSchemaChanges shows that the guard reads the schema however a newer
// upstream document nests it, and fails when a limit of any operation changes.
func TestSpecLimitReaderFollowsSchemaChanges(t *testing.T) {
	t.Parallel()
	bodySchema := func(doc *openapi3.T, id string) *openapi3.SchemaRef {
		_, op := findOperation(doc, id)
		return op.RequestBody.Value.Content.Get("application/json").Schema
	}
	props := func(doc *openapi3.T, id string) openapi3.Schemas { return bodySchema(doc, id).Value.Properties }
	each := func(doc *openapi3.T, id, name string, f func(*openapi3.Schema)) {
		for _, s := range schemaParts(props(doc, id)[name]) {
			f(s)
		}
	}
	u64 := func(v uint64) *uint64 { return &v }
	cases := []struct {
		name   string
		op     string
		mutate func(*openapi3.T)
		want   string // a substring of some mismatch; "" means no mismatch
	}{
		{name: "the vendored spec", op: "invalidateByTags", mutate: func(*openapi3.T) {}},
		{name: "allOf wrappers around every property, as in the seed", op: "dangerouslyDeleteBySrcImages", mutate: func(doc *openapi3.T) {
			for name, p := range props(doc, "dangerouslyDeleteBySrcImages") {
				props(doc, "dangerouslyDeleteBySrcImages")[name] = &openapi3.SchemaRef{Value: &openapi3.Schema{AllOf: openapi3.SchemaRefs{p}}}
			}
		}},
		{name: "tags maxItems 20", op: "invalidateByTags", want: "maxItems = 20", mutate: func(doc *openapi3.T) {
			each(doc, "invalidateByTags", "tags", func(s *openapi3.Schema) {
				if s.MaxItems != nil {
					s.MaxItems = u64(20)
				}
			})
		}},
		{name: "srcImages maxItems 10", op: "invalidateBySrcImages", want: "srcImages maxItems = 10", mutate: func(doc *openapi3.T) {
			each(doc, "invalidateBySrcImages", "srcImages", func(s *openapi3.Schema) { s.MaxItems = u64(10) })
		}},
		{name: "srcImages items gain a maxLength", op: "dangerouslyDeleteBySrcImages", want: "maxLength", mutate: func(doc *openapi3.T) {
			each(doc, "dangerouslyDeleteBySrcImages", "srcImages", func(s *openapi3.Schema) { s.Items.Value.MaxLength = u64(1024) })
		}},
		{name: "items maxLength 128", op: "dangerouslyDeleteByTags", want: "items.maxLength = 128", mutate: func(doc *openapi3.T) {
			each(doc, "dangerouslyDeleteByTags", "tags", func(s *openapi3.Schema) {
				if s.Items != nil {
					s.Items.Value.MaxLength = u64(128)
				}
			})
		}},
		{name: "string maxLength 10000", op: "invalidateByTags", want: "string maxLength = 10000", mutate: func(doc *openapi3.T) {
			each(doc, "invalidateByTags", "tags", func(s *openapi3.Schema) {
				if s.MaxLength != nil {
					s.MaxLength = u64(10000)
				}
			})
		}},
		{name: "deadline maximum two years", op: "dangerouslyDeleteByTags", want: "maximum = [6.3072e+07]", mutate: func(doc *openapi3.T) {
			each(doc, "dangerouslyDeleteByTags", "revalidationDeadlineSeconds", func(s *openapi3.Schema) { s.Max = openapi3.Ptr(63072000.0) })
		}},
		{name: "deadline back to number", op: "dangerouslyDeleteBySrcImages", want: "revalidationDeadlineSeconds is [number]", mutate: func(doc *openapi3.T) {
			each(doc, "dangerouslyDeleteBySrcImages", "revalidationDeadlineSeconds", func(s *openapi3.Schema) { s.Type = &openapi3.Types{"number"} })
		}},
		{name: "invalidation gains a deadline", op: "invalidateByTags", want: "properties are", mutate: func(doc *openapi3.T) {
			props(doc, "invalidateByTags")["revalidationDeadlineSeconds"] = openapi3.NewIntegerSchema().NewRef()
		}},
		{name: "target enum gains staging", op: "dangerouslyDeleteByTags", want: "target enum", mutate: func(doc *openapi3.T) {
			each(doc, "dangerouslyDeleteByTags", "target", func(s *openapi3.Schema) { s.Enum = append(s.Enum, "staging") })
		}},
		{name: "target becomes required", op: "invalidateByTags", want: "the body requires", mutate: func(doc *openapi3.T) {
			bodySchema(doc, "invalidateByTags").Value.Required = append(bodySchema(doc, "invalidateByTags").Value.Required, "target")
		}},
		{name: "additionalProperties dropped", op: "invalidateBySrcImages", want: "additionalProperties", mutate: func(doc *openapi3.T) {
			bodySchema(doc, "invalidateBySrcImages").Value.AdditionalProperties = openapi3.AdditionalProperties{}
		}},
		{name: "a new status without a sentinel", op: "invalidateByTags", want: "status 409", mutate: func(doc *openapi3.T) {
			_, op := findOperation(doc, "invalidateByTags")
			op.Responses.Set("409", &openapi3.ResponseRef{Value: openapi3.NewResponse().WithDescription("")})
		}},
		{name: "projectIdOrName optional", op: "invalidateBySrcImages", want: "projectIdOrName", mutate: func(doc *openapi3.T) {
			_, op := findOperation(doc, "invalidateBySrcImages")
			op.Parameters.GetByInAndName("query", "projectIdOrName").Required = false
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc, err := loadConfSpec(edgecache.OpenAPISpec)
			if err != nil {
				t.Fatal(err)
			}
			tc.mutate(doc)
			k := kitOf(t, tc.op)
			limits, err := readSpecLimits(doc, k)
			if err != nil {
				t.Fatalf("readSpecLimits: %v", err)
			}
			got := limitMismatches(k, limits)
			if tc.want == "" {
				if len(got) > 0 {
					t.Errorf("mismatches on a spec with the same limits:\n%s", strings.Join(got, "\n"))
				}
				return
			}
			found := false
			for _, m := range got {
				found = found || strings.Contains(m, tc.want)
				if !strings.Contains(m, "update validate.go") {
					t.Errorf("mismatch %q does not tell the maintainer to update validate.go", m)
				}
			}
			if !found {
				t.Errorf("mismatches %q: none mentions %q", got, tc.want)
			}
		})
	}
}
