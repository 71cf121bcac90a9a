package edgecache_test

// Conformance tests: every request the wrapper sends is checked by kin-openapi against the
// vendored openapi.yaml (edgecache.OpenAPISpec), validation is compared with the spec's own
// verdict, and the limits in validate.go are read back from the spec so that they cannot drift.
//
// Nothing here reaches the network: requests go to an in-memory http.RoundTripper (confRecorder)
// that validates, records and answers them.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/vercelkit/edgecache"
)

const (
	// confToken is distinctive so that a leak into any text is unambiguous.
	confToken = "vcp_TEST_SECRET_do_not_print_7f3a9c"
	// confPath is the operation's path in openapi.yaml.
	confPath = "/v1/edge-cache/dangerously-delete-by-tags"
	// confURL is where the wrapper sends requests by default.
	confURL = edgecache.DefaultBaseURL + confPath
)

// ---------------------------------------------------------------------------------------------
// The spec validator and the recording transport.

// loadConfSpec parses and validates openapi.yaml; extraServers are added to its servers so that a
// client with another base URL (a proxy with a path prefix) can be routed. Each call returns a
// fresh document, which the caller may change.
func loadConfSpec(extraServers ...string) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(edgecache.OpenAPISpec)
	if err != nil {
		return nil, fmt.Errorf("loading openapi.yaml: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapi.yaml is not a valid OpenAPI document: %w", err)
	}
	for _, s := range extraServers {
		doc.Servers = append(doc.Servers, &openapi3.Server{URL: s})
	}
	return doc, nil
}

// confValidator checks an HTTP request against openapi.yaml with kin-openapi.
type confValidator struct {
	router routers.Router
}

func newConfValidator(extraServers ...string) (*confValidator, error) {
	doc, err := loadConfSpec(extraServers...)
	if err != nil {
		return nil, err
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("routing openapi.yaml: %w", err)
	}
	return &confValidator{router: router}, nil
}

// defaultConfValidator routes the spec's own server, https://api.vercel.com.
var defaultConfValidator = sync.OnceValues(func() (*confValidator, error) { return newConfValidator() })

// confValidatorFor returns a validator that also routes extraServers.
func confValidatorFor(tb testing.TB, extraServers ...string) *confValidator {
	tb.Helper()
	var (
		v   *confValidator
		err error
	)
	if len(extraServers) == 0 {
		v, err = defaultConfValidator()
	} else {
		v, err = newConfValidator(extraServers...)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// validate returns kin-openapi's verdict on req; nil means the spec accepts it.
func (v *confValidator) validate(req *http.Request) error {
	route, pathParams, err := v.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("no operation of openapi.yaml matches %s %s: %w", req.Method, req.URL, err)
	}
	return openapi3filter.ValidateRequest(req.Context(), &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: pathParams,
		Route:      route,
		Options:    &openapi3filter.Options{AuthenticationFunc: confCheckBearer},
	})
}

// validateParts validates a request given by its parts.
func (v *confValidator) validateParts(method, rawURL string, header http.Header, body []byte) error {
	req, err := http.NewRequestWithContext(context.Background(), method, rawURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("building the request to validate: %w", err)
	}
	req.Header = header.Clone()
	return v.validate(req)
}

// confCheckBearer is the spec's bearerToken scheme (type http, scheme bearer): exactly one
// header "Authorization: Bearer <non-empty token>".
func confCheckBearer(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecuritySchemeName != "bearerToken" {
		return fmt.Errorf("unexpected security scheme %q", in.SecuritySchemeName)
	}
	if s := in.SecurityScheme; s == nil || s.Type != "http" || !strings.EqualFold(s.Scheme, "bearer") {
		return fmt.Errorf("security scheme bearerToken is not http bearer in openapi.yaml: %+v", in.SecurityScheme)
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

// confRecorder is an in-memory http.RoundTripper. It checks every request against openapi.yaml
// (a non-conforming request fails the test), records it, and answers 200 with an empty body
// unless respond says otherwise. It is safe for concurrent use.
type confRecorder struct {
	tb      testing.TB
	spec    *confValidator
	respond func(n int, req confRequest) (*http.Response, error) // n counts from 0

	mu   sync.Mutex
	reqs []confRequest
}

func newConfRecorder(tb testing.TB, extraServers ...string) *confRecorder {
	tb.Helper()
	return &confRecorder{tb: tb, spec: confValidatorFor(tb, extraServers...)}
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
	if err := r.spec.validateParts(req.Method, req.URL.String(), req.Header, body); err != nil {
		r.tb.Errorf("the wrapper sent a request that openapi.yaml refuses:\n  %s %s\n  body: %.300s\n  kin-openapi: %v",
			req.Method, req.URL.Redacted(), body, err)
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

// newConfClient returns a client with confToken whose requests go to rt.
func newConfClient(tb testing.TB, rt http.RoundTripper, opts ...edgecache.Option) *edgecache.Client {
	tb.Helper()
	all := append([]edgecache.Option{edgecache.WithHTTPClient(&http.Client{Transport: rt})}, opts...)
	c, err := edgecache.New(confToken, all...)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c
}

// confNoRetry makes one attempt per call, so that 429 and 5xx answers come back at once.
var confNoRetry = edgecache.WithRetry(edgecache.RetryPolicy{MaxAttempts: 1})

// ---------------------------------------------------------------------------------------------
// Small builders.

// confTags returns n distinct tags "tag-00", "tag-01", ….
func confTags(n int) []string {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("tag-%02d", i)
	}
	return tags
}

// confRepeat returns a tag of n runes, each r.
func confRepeat(r rune, n int) string { return strings.Repeat(string(r), n) }

// confLongTags returns n tags of length runes each, distinct in their first rune.
func confLongTags(n, length int) []string {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = string(rune('a'+i%26)) + strings.Repeat("x", length-1)
	}
	return tags
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
// Valid requests: sent once, conforming to the spec, encoded as expected.

func TestValidRequestsConformToSpec(t *testing.T) {
	t.Parallel()
	const proxy = "https://proxy.example/vercel"
	sixteenLong := confLongTags(16, 256)
	cases := []struct {
		name      string
		opts      []edgecache.Option
		servers   []string // base URLs to route besides the spec's server
		req       edgecache.DeleteByTagsRequest
		wantURL   string // without the query; confURL when empty
		wantQuery url.Values
		wantBody  string
	}{
		{
			name:      "list form, one tag",
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "prj_123", Tags: edgecache.TagList("blog")},
			wantQuery: url.Values{"projectIdOrName": {"prj_123"}},
			wantBody:  `{"tags":["blog"]}`,
		},
		{
			name:      "string form, two tags",
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "my-site", Tags: edgecache.TagString("blog,products")},
			wantQuery: url.Values{"projectIdOrName": {"my-site"}},
			wantBody:  `{"tags":"blog,products"}`,
		},
		{
			name:      "list form, 16 tags (maxItems)",
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList(confTags(16)...)},
			wantQuery: url.Values{"projectIdOrName": {"p"}},
			wantBody:  confJSON(map[string]any{"tags": confTags(16)}),
		},
		{
			name:      "list form, 256-character tag (items.maxLength)",
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList(confRepeat('a', 256))},
			wantQuery: url.Values{"projectIdOrName": {"p"}},
			wantBody:  confJSON(map[string]any{"tags": []string{confRepeat('a', 256)}}),
		},
		{
			name:      "list form, tag of 256 two-byte runes",
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList(confRepeat('é', 256))},
			wantQuery: url.Values{"projectIdOrName": {"p"}},
			wantBody:  confJSON(map[string]any{"tags": []string{confRepeat('é', 256)}}),
		},
		{
			name:      "list form, tag of 256 three-byte runes",
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList(confRepeat('€', 256))},
			wantQuery: url.Values{"projectIdOrName": {"p"}},
			wantBody:  confJSON(map[string]any{"tags": []string{confRepeat('€', 256)}}),
		},
		{
			// Outside the BMP: two UTF-16 code units each. kin-openapi, like JSON Schema,
			// counts code points, and so does the wrapper.
			name:      "list form, tag of 256 four-byte runes",
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList(confRepeat('😀', 256))},
			wantQuery: url.Values{"projectIdOrName": {"p"}},
			wantBody:  confJSON(map[string]any{"tags": []string{confRepeat('😀', 256)}}),
		},
		{
			name:      "list form, 16 tags of 256 characters",
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList(sixteenLong...)},
			wantQuery: url.Values{"projectIdOrName": {"p"}},
			wantBody:  confJSON(map[string]any{"tags": sixteenLong}),
		},
		{
			// The longest string form the wrapper sends: 16 tags of 256 characters and 15
			// commas, 4111 characters (see TestStringFormLengthBoundary for 8196).
			name:      "string form, 16 tags of 256 characters (4111 characters)",
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagString(strings.Join(sixteenLong, ","))},
			wantQuery: url.Values{"projectIdOrName": {"p"}},
			wantBody:  confJSON(map[string]any{"tags": strings.Join(sixteenLong, ",")}),
		},
		{
			name:      "string form, one 256-character tag",
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagString(confRepeat('z', 256))},
			wantQuery: url.Values{"projectIdOrName": {"p"}},
			wantBody:  confJSON(map[string]any{"tags": confRepeat('z', 256)}),
		},
		{
			name:      "deadline 0 is sent as 0",
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a"), RevalidationDeadlineSeconds: edgecache.Ptr(0)},
			wantQuery: url.Values{"projectIdOrName": {"p"}},
			wantBody:  `{"tags":["a"],"revalidationDeadlineSeconds":0}`,
		},
		{
			name:      "deadline 3600",
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a"), RevalidationDeadlineSeconds: edgecache.Ptr(3600)},
			wantQuery: url.Values{"projectIdOrName": {"p"}},
			wantBody:  `{"tags":["a"],"revalidationDeadlineSeconds":3600}`,
		},
		{
			name:      "deadline unset is absent",
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a")},
			wantQuery: url.Values{"projectIdOrName": {"p"}},
			wantBody:  `{"tags":["a"]}`,
		},
		{
			name:      "target production",
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a"), Target: edgecache.TargetProduction},
			wantQuery: url.Values{"projectIdOrName": {"p"}},
			wantBody:  `{"tags":["a"],"target":"production"}`,
		},
		{
			name:      "target preview",
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a"), Target: edgecache.TargetPreview},
			wantQuery: url.Values{"projectIdOrName": {"p"}},
			wantBody:  `{"tags":["a"],"target":"preview"}`,
		},
		{
			name:      "empty target is absent",
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a"), Target: ""},
			wantQuery: url.Values{"projectIdOrName": {"p"}},
			wantBody:  `{"tags":["a"]}`,
		},
		{
			name: "every body field",
			req: edgecache.DeleteByTagsRequest{ProjectIDOrName: "prj_abc", Tags: edgecache.TagString("a,b"),
				Target: edgecache.TargetPreview, RevalidationDeadlineSeconds: edgecache.Ptr(1)},
			wantQuery: url.Values{"projectIdOrName": {"prj_abc"}},
			wantBody:  `{"tags":"a,b","target":"preview","revalidationDeadlineSeconds":1}`,
		},
		{
			name:      "project name that needs escaping",
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "my site&x=1#y", Tags: edgecache.TagList("a")},
			wantQuery: url.Values{"projectIdOrName": {"my site&x=1#y"}},
			wantBody:  `{"tags":["a"]}`,
		},
		{
			name:      "client team id",
			opts:      []edgecache.Option{edgecache.WithTeamID("team_client")},
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a")},
			wantQuery: url.Values{"projectIdOrName": {"p"}, "teamId": {"team_client"}},
			wantBody:  `{"tags":["a"]}`,
		},
		{
			name:      "client team slug",
			opts:      []edgecache.Option{edgecache.WithTeamSlug("client-slug")},
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a")},
			wantQuery: url.Values{"projectIdOrName": {"p"}, "slug": {"client-slug"}},
			wantBody:  `{"tags":["a"]}`,
		},
		{
			name:      "client team id and slug",
			opts:      []edgecache.Option{edgecache.WithTeamID("team_client"), edgecache.WithTeamSlug("client-slug")},
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a")},
			wantQuery: url.Values{"projectIdOrName": {"p"}, "teamId": {"team_client"}, "slug": {"client-slug"}},
			wantBody:  `{"tags":["a"]}`,
		},
		{
			name:      "per-call team id and slug",
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a"), TeamID: "team_call", TeamSlug: "call-slug"},
			wantQuery: url.Values{"projectIdOrName": {"p"}, "teamId": {"team_call"}, "slug": {"call-slug"}},
			wantBody:  `{"tags":["a"]}`,
		},
		{
			name:      "per-call team id overrides the client's",
			opts:      []edgecache.Option{edgecache.WithTeamID("team_client"), edgecache.WithTeamSlug("client-slug")},
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a"), TeamID: "team_call"},
			wantQuery: url.Values{"projectIdOrName": {"p"}, "teamId": {"team_call"}, "slug": {"client-slug"}},
			wantBody:  `{"tags":["a"]}`,
		},
		{
			name:      "per-call slug overrides the client's",
			opts:      []edgecache.Option{edgecache.WithTeamSlug("client-slug")},
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a"), TeamSlug: "call-slug"},
			wantQuery: url.Values{"projectIdOrName": {"p"}, "slug": {"call-slug"}},
			wantBody:  `{"tags":["a"]}`,
		},
		{
			name:      "base URL with a path prefix",
			opts:      []edgecache.Option{edgecache.WithBaseURL(proxy)},
			servers:   []string{proxy},
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a")},
			wantURL:   proxy + confPath,
			wantQuery: url.Values{"projectIdOrName": {"p"}},
			wantBody:  `{"tags":["a"]}`,
		},
		{
			name:      "base URL with a path prefix and a trailing slash",
			opts:      []edgecache.Option{edgecache.WithBaseURL(proxy + "/")},
			servers:   []string{proxy},
			req:       edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a")},
			wantURL:   proxy + confPath,
			wantQuery: url.Values{"projectIdOrName": {"p"}},
			wantBody:  `{"tags":["a"]}`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := tc.req.Validate(); err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			rec := newConfRecorder(t, tc.servers...)
			c := newConfClient(t, rec, tc.opts...)
			res, err := c.DangerouslyDeleteByTags(context.Background(), tc.req)
			if err != nil {
				t.Fatalf("DangerouslyDeleteByTags: %v", err)
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
			wantURL := cmp.Or(tc.wantURL, confURL)
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
		})
	}
}

// checkConfHeaders asserts the headers every request carries.
func checkConfHeaders(t *testing.T, h http.Header) {
	t.Helper()
	if got := h.Values("Authorization"); len(got) != 1 || got[0] != "Bearer "+confToken {
		t.Errorf("Authorization headers = %d values, want exactly one, %q", len(got), "Bearer <confToken>")
	}
	if got := h.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	if got := h.Get("Accept"); got != "application/json" {
		t.Errorf("Accept = %q, want application/json", got)
	}
	if got := h.Get("User-Agent"); !strings.HasPrefix(got, "edgecache-go/") {
		t.Errorf("User-Agent = %q, want edgecache-go/VERSION", got)
	}
}

// ---------------------------------------------------------------------------------------------
// Invalid requests: refused before sending, with an error naming field, rule and value.

func TestInvalidRequestsAreRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	ok := func(tags edgecache.Tags) edgecache.DeleteByTagsRequest {
		return edgecache.DeleteByTagsRequest{ProjectIDOrName: "prj_123", Tags: tags}
	}
	tooLongString := strings.Repeat("a,", 4098) + "a" // 8197 characters, 4099 tags
	cases := []struct {
		name      string
		req       edgecache.DeleteByTagsRequest
		wantField string
		wantRule  string // a substring of Rule
		wantValue string // a substring of Value
	}{
		{"empty project", edgecache.DeleteByTagsRequest{Tags: edgecache.TagList("a")}, "projectIdOrName", "required", `""`},
		{"blank project", edgecache.DeleteByTagsRequest{ProjectIDOrName: " \t ", Tags: edgecache.TagList("a")}, "projectIdOrName", "required", `\t`},
		{"zero Tags", ok(edgecache.Tags{}), "tags", "required", `""`},
		{"empty list", ok(edgecache.TagList()), "tags", "at least 1", "0"},
		{"17 tags", ok(edgecache.TagList(confTags(17)...)), "tags", "at most 16", "17"},
		{"257-character tag", ok(edgecache.TagList("a", "b", confRepeat('x', 257))), "tags[2]", "at most 256 characters", "257 characters"},
		{"tag of 257 four-byte runes", ok(edgecache.TagList(confRepeat('😀', 257))), "tags[0]", "at most 256 characters", "257 characters"},
		{"empty tag", ok(edgecache.TagList("a", "")), "tags[1]", "must not be empty", `""`},
		{"tag with a comma", ok(edgecache.TagList("blog,products")), "tags[0]", "comma", `"blog,products"`},
		{"string form of 8197 characters", ok(edgecache.TagString(tooLongString)), "tags", "at most 8196 characters", "8197 characters"},
		{"string form with an empty element", ok(edgecache.TagString("a,,b")), "tags", "empty tag", `"a,,b"`},
		{"string form of one comma", ok(edgecache.TagString(",")), "tags", "empty tag", `","`},
		{"empty string form", ok(edgecache.TagString("")), "tags", "empty tag", `""`},
		{"string form with a trailing comma", ok(edgecache.TagString("a,b,")), "tags", "empty tag", `"a,b,"`},
		{"string form with 17 tags", ok(edgecache.TagString(strings.Join(confTags(17), ","))), "tags", "at most 16", "17"},
		{"string form with a 257-character tag", ok(edgecache.TagString("a," + confRepeat('x', 257))), "tags[1]", "at most 256 characters", "257 characters"},
		{"target staging", edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a"), Target: "staging"}, "target", `"production" or "preview"`, `"staging"`},
		{"target in capitals", edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a"), Target: "Production"}, "target", `"production" or "preview"`, `"Production"`},
		{"deadline -1", edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a"), RevalidationDeadlineSeconds: edgecache.Ptr(-1)}, "revalidationDeadlineSeconds", "at least 0", "-1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := newConfRecorder(t)
			c := newConfClient(t, rec)
			res, err := c.DangerouslyDeleteByTags(context.Background(), tc.req)
			if n := len(rec.requests()); n != 0 {
				t.Errorf("the transport saw %d requests; an invalid request must not be sent", n)
			}
			if res != nil {
				t.Errorf("Result = %+v, want nil", res)
			}
			checkConfValidationError(t, err, tc.wantField, tc.wantRule, tc.wantValue)
			if verr := tc.req.Validate(); verr == nil || err == nil || verr.Error() != err.Error() {
				t.Errorf("Validate() = %v, want the same error as the call, %v", verr, err)
			}
		})
	}
}

// checkConfValidationError asserts that err is a *ValidationError for field whose rule and value
// contain the given texts, and that its message names all three.
func checkConfValidationError(t *testing.T, err error, field, rule, value string) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want a *ValidationError for %s", field)
	}
	if !errors.Is(err, edgecache.ErrInvalidRequest) {
		t.Errorf("errors.Is(%v, ErrInvalidRequest) = false", err)
	}
	var ve *edgecache.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %T (%v) is not a *ValidationError", err, err)
	}
	if ve.Field != field {
		t.Errorf("Field = %q, want %q (error: %v)", ve.Field, field, err)
	}
	if !strings.Contains(ve.Rule, rule) {
		t.Errorf("Rule = %q, want it to mention %q", ve.Rule, rule)
	}
	if !strings.Contains(ve.Value, value) {
		t.Errorf("Value = %q, want it to mention %q", ve.Value, value)
	}
	msg := err.Error()
	for _, part := range []string{ve.Field, ve.Rule, ve.Value} {
		if !strings.Contains(msg, part) {
			t.Errorf("error text %q does not name %q", msg, part)
		}
	}
	if len(msg) > 400 {
		t.Errorf("error text is %d bytes long; the value should be shortened: %.100q…", len(msg), msg)
	}
	for _, sentinel := range []error{edgecache.ErrBadRequest, edgecache.ErrServer, edgecache.ErrRateLimited} {
		if errors.Is(err, sentinel) {
			t.Errorf("a validation error matches %v", sentinel)
		}
	}
}

// TestStringFormLengthBoundary documents how the spec's maxLength of the string form (8196)
// meets the wrapper's stricter reading of it. Vercel splits the string on commas, so the
// wrapper holds the string form to the array form's limits: at most 16 tags of at most 256
// characters, hence at most 16*256+15 = 4111 characters. A string of 8196 characters is within
// the spec's maxLength (kin-openapi accepts it: see the "string form of 8196 characters" cases
// of TestValidationAgreesWithSpec) but can never satisfy the stricter rule, so Validate refuses
// it, naming the stricter rule it breaks rather than the length. One character more breaks
// the spec's own maxLength, which Validate names.
func TestStringFormLengthBoundary(t *testing.T) {
	t.Parallel()
	if max := edgecache.MaxTagsPerRequest*edgecache.MaxTagLength + edgecache.MaxTagsPerRequest - 1; max >= edgecache.MaxTagStringLength {
		t.Fatalf("the longest string form the stricter rules allow, %d characters, reaches the spec's maxLength %d: rewrite this test", max, edgecache.MaxTagStringLength)
	}
	// 31 tags of 256 characters and one of 229, with 31 commas: 8196 characters, 32 tags.
	manyTags := strings.Join(append(confLongTags(31, 256), confRepeat('q', 229)), ",")
	oneTag := confRepeat('a', edgecache.MaxTagStringLength)
	cases := []struct {
		name                        string
		tags                        string
		wantLen                     int
		wantField, wantRule, wantIn string
	}{
		{"8196 characters in 32 tags of at most 256", manyTags, 8196, "tags", "at most 16 comma-separated tags", "32"},
		{"8196 characters in one tag", oneTag, 8196, "tags[0]", "at most 256 characters", "8196 characters"},
		{"8197 characters", manyTags + "q", 8197, "tags", "at most 8196 characters", "8197 characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if n := utf8.RuneCountInString(tc.tags); n != tc.wantLen {
				t.Fatalf("test input has %d characters, want %d", n, tc.wantLen)
			}
			err := edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagString(tc.tags)}.Validate()
			checkConfValidationError(t, err, tc.wantField, tc.wantRule, tc.wantIn)
			var ve *edgecache.ValidationError
			if errors.As(err, &ve) && tc.wantLen <= edgecache.MaxTagStringLength && strings.Contains(ve.Rule, strconv.Itoa(edgecache.MaxTagStringLength)) {
				t.Errorf("a string of %d characters is within maxLength %d, but the error blames the length: %v",
					tc.wantLen, edgecache.MaxTagStringLength, err)
			}
		})
	}
}

// ---------------------------------------------------------------------------------------------
// Differential testing: Validate against kin-openapi's verdict on the same request.

// confInput is one request, described by its parts, for the differential tests.
type confInput struct {
	Project     string
	Tags        []string // never nil; joined by commas in the string form
	UseString   bool
	Target      string
	Deadline    int
	DeadlineSet bool
}

func (in confInput) String() string {
	tags := make([]string, len(in.Tags))
	for i, t := range in.Tags {
		tags[i] = confShort(t)
	}
	form := "list"
	if in.UseString {
		form = fmt.Sprintf("string of %d runes", utf8.RuneCountInString(strings.Join(in.Tags, ",")))
	}
	deadline := "unset"
	if in.DeadlineSet {
		deadline = strconv.Itoa(in.Deadline)
	}
	return fmt.Sprintf("  project %s\n  tags (%s form, %d) [%s]\n  target %q, deadline %s",
		confShort(in.Project), form, len(in.Tags), strings.Join(tags, " "), in.Target, deadline)
}

// request is the wrapper's form of the input.
func (in confInput) request() edgecache.DeleteByTagsRequest {
	r := edgecache.DeleteByTagsRequest{ProjectIDOrName: in.Project, Target: edgecache.Target(in.Target)}
	if in.UseString {
		r.Tags = edgecache.TagString(strings.Join(in.Tags, ","))
	} else {
		r.Tags = edgecache.TagList(in.Tags...)
	}
	if in.DeadlineSet {
		r.RevalidationDeadlineSeconds = edgecache.Ptr(in.Deadline)
	}
	return r
}

// body is the JSON body that carries the input, built by hand, independently of the wrapper:
// an empty Target and an unset deadline are absent, as the wrapper documents.
func (in confInput) body() []byte {
	m := map[string]any{}
	if in.UseString {
		m["tags"] = strings.Join(in.Tags, ",")
	} else {
		m["tags"] = in.Tags
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
	rawURL := confURL + "?" + url.Values{"projectIdOrName": {in.Project}}.Encode()
	header := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + confToken}}
	return v.validateParts(http.MethodPost, rawURL, header, in.body())
}

// stricterRuleBroken reports whether in breaks one of the rules the wrapper documents as
// stricter than the spec (see DeleteByTagsRequest.Validate): a blank project; in the array
// form, an empty tag or a tag holding a comma; in either form, a tag that is not valid UTF-8;
// in the string form, read as Vercel reads it (split on commas), an empty tag, more than 16
// tags or a tag longer than 256 characters.
func stricterRuleBroken(in confInput) bool {
	if strings.TrimSpace(in.Project) == "" {
		return true
	}
	if !in.UseString {
		for _, tag := range in.Tags {
			if tag == "" || strings.Contains(tag, ",") || !utf8.ValidString(tag) {
				return true
			}
		}
		return false
	}
	parts := strings.Split(strings.Join(in.Tags, ","), ",")
	if len(parts) > edgecache.MaxTagsPerRequest {
		return true
	}
	for _, tag := range parts {
		if tag == "" || utf8.RuneCountInString(tag) > edgecache.MaxTagLength || !utf8.ValidString(tag) {
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
// against the spec again, and its body must equal the hand-built one.
func checkConfAgreement(t *testing.T, v *confValidator, in confInput) (wrapperErr, specErr error) {
	t.Helper()
	wrapperErr = in.request().Validate()
	specErr = in.specVerdict(v)
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
	rec := &confRecorder{tb: t, spec: v}
	c := newConfClient(t, rec)
	if _, err := c.DangerouslyDeleteByTags(context.Background(), in.request()); err != nil {
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
	list := func(tags ...string) confInput {
		return confInput{Project: "prj_123", Tags: append([]string{}, tags...)}
	}
	str := func(s string) confInput {
		return confInput{Project: "prj_123", Tags: strings.Split(s, ","), UseString: true}
	}
	with := func(in confInput, f func(*confInput)) confInput { f(&in); return in }
	string8196 := strings.Join(append(confLongTags(31, 256), confRepeat('q', 229)), ",")
	cases := []struct {
		name              string
		in                confInput
		specOK, wrapperOK bool
		stricter          bool // stricterRuleBroken: explains why the verdicts may differ
	}{
		{name: "one tag", in: list("blog"), specOK: true, wrapperOK: true},
		{name: "string form, two tags", in: str("blog,products"), specOK: true, wrapperOK: true},
		{name: "16 tags", in: list(confTags(16)...), specOK: true, wrapperOK: true},
		{name: "17 tags", in: list(confTags(17)...)},
		{name: "empty list", in: list()},
		{name: "256-character tag", in: list(confRepeat('a', 256)), specOK: true, wrapperOK: true},
		{name: "257-character tag", in: list(confRepeat('a', 257))},
		{name: "256 four-byte runes", in: list(confRepeat('😀', 256)), specOK: true, wrapperOK: true},
		{name: "257 four-byte runes", in: list(confRepeat('😀', 257))},
		{name: "256 invalid UTF-8 bytes", in: list(strings.Repeat("\xff", 256)), specOK: true, stricter: true},
		{name: "257 invalid UTF-8 bytes", in: list(strings.Repeat("\xff", 257)), stricter: true},
		{name: "comma inside a tag", in: list("a,b"), specOK: true, stricter: true},
		{name: "empty tag", in: list("a", ""), specOK: true, stricter: true},
		{name: "empty project", in: with(list("a"), func(in *confInput) { in.Project = "" }), specOK: true, stricter: true},
		{name: "blank project", in: with(list("a"), func(in *confInput) { in.Project = "  " }), specOK: true, stricter: true},
		{name: "string form of 8196 characters in 32 tags", in: str(string8196), specOK: true, stricter: true},
		{name: "string form of 8196 characters in one tag", in: str(confRepeat('a', 8196)), specOK: true, stricter: true},
		{name: "string form of 8197 characters", in: str(string8196 + "q"), stricter: true},
		{name: "string form of 17 short tags", in: str(strings.Join(confTags(17), ",")), specOK: true, stricter: true},
		{name: "string form with an empty element", in: str("a,,b"), specOK: true, stricter: true},
		{name: "empty string form", in: str(""), specOK: true, stricter: true},
		{name: "string form of 16 tags of 256 characters", in: str(strings.Join(confLongTags(16, 256), ",")), specOK: true, wrapperOK: true},
		{name: "target production", in: with(list("a"), func(in *confInput) { in.Target = "production" }), specOK: true, wrapperOK: true},
		{name: "target preview", in: with(list("a"), func(in *confInput) { in.Target = "preview" }), specOK: true, wrapperOK: true},
		{name: "target staging", in: with(list("a"), func(in *confInput) { in.Target = "staging" })},
		{name: "deadline -1", in: with(list("a"), func(in *confInput) { in.Deadline, in.DeadlineSet = -1, true })},
		{name: "deadline 0", in: with(list("a"), func(in *confInput) { in.Deadline, in.DeadlineSet = 0, true }), specOK: true, wrapperOK: true},
		{name: "deadline 1e9", in: with(list("a"), func(in *confInput) { in.Deadline, in.DeadlineSet = 1e9, true }), specOK: true, wrapperOK: true},
	}
	v := confValidatorFor(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wrapperErr, specErr := checkConfAgreement(t, v, tc.in)
			if (specErr == nil) != tc.specOK {
				t.Errorf("kin-openapi verdict = %v, want accepted = %v", specErr, tc.specOK)
			}
			if (wrapperErr == nil) != tc.wrapperOK {
				t.Errorf("Validate() = %v, want accepted = %v", wrapperErr, tc.wrapperOK)
			}
			if got := stricterRuleBroken(tc.in); got != tc.stricter {
				t.Errorf("stricterRuleBroken = %v, want %v", got, tc.stricter)
			}
		})
	}
}

// confFuzzInput turns fuzzed values into a confInput: count (mod 20) tags cycling through tagA,
// tagB and tagC, tagA padded with pad (mod 9000) x's so the fuzzer reaches the length limits.
func confFuzzInput(project, tagA, tagB, tagC string, count, pad int, useString bool, target string, deadline int, deadlineSet bool) confInput {
	mod := func(x, m int) int { return (x%m + m) % m }
	pool := []string{tagA + strings.Repeat("x", mod(pad, 9000)), tagB, tagC}
	tags := make([]string, mod(count, 20))
	for i := range tags {
		tags[i] = pool[i%len(pool)]
	}
	return confInput{Project: project, Tags: tags, UseString: useString, Target: target, Deadline: deadline, DeadlineSet: deadlineSet}
}

// FuzzValidationAgreesWithSpec checks Validate against kin-openapi's verdict on the request the
// wrapper would send (see checkConfAgreement). Its seed corpus is in
// testdata/fuzz/FuzzValidationAgreesWithSpec and below.
func FuzzValidationAgreesWithSpec(f *testing.F) {
	// project, tagA, tagB, tagC, count, pad, useString, target, deadline, deadlineSet
	f.Add("prj_123", "blog", "products", "home", 1, 0, false, "", 0, false)
	f.Add("prj_123", "blog", "products", "home", 3, 0, true, "production", 60, true)
	f.Add("my-site", "a", "b", "c", 16, 0, false, "preview", 0, true)
	f.Add("my-site", "a", "b", "c", 17, 0, false, "", 0, false)
	f.Add("my-site", "a", "b", "c", 17, 0, true, "", 0, false)
	f.Add("p", "", "b", "c", 2, 256, false, "", 0, false)
	f.Add("p", "", "b", "c", 2, 257, true, "", 0, false)
	f.Add("p", "a,b", "c", "d", 1, 0, false, "", 0, false)
	f.Add("p", "a", "", "c", 3, 0, true, "", 0, false)
	f.Add("p", "", "", "", 1, 8196, true, "", 0, false)
	f.Add("p", "", "", "", 1, 8197, true, "", 0, false)
	f.Add(" ", "a", "b", "c", 1, 0, false, "", 0, false)
	f.Add("p", "a", "b", "c", 1, 0, false, "staging", -1, true)
	f.Add("p", "😀", "é", "€", 3, 0, false, "", 0, false)
	v := confValidatorFor(f)
	f.Fuzz(func(t *testing.T, project, tagA, tagB, tagC string, count, pad int, useString bool, target string, deadline int, deadlineSet bool) {
		checkConfAgreement(t, v, confFuzzInput(project, tagA, tagB, tagC, count, pad, useString, target, deadline, deadlineSet))
	})
}

// ---------------------------------------------------------------------------------------------
// The guard: the limits in validate.go, read back from openapi.yaml.

// confSpecLimits are the request's constraints as openapi.yaml states them. A constraint may be
// found in several places (or none); each slice holds the distinct values found.
type confSpecLimits struct {
	projectInQuery, projectRequired bool
	queryParams                     []string
	bodyRequired, bodyProperties    []string
	noAdditionalProperties          bool
	tagTypes                        []string // the types of the tags union's arms
	tagsMinItems, tagsMaxItems      []uint64
	tagMaxLength                    []uint64 // items.maxLength of the array arm
	tagStringMaxLength              []uint64 // maxLength of the string arm
	deadlineMinimum                 []float64
	deadlineExclusiveMinimum        bool
	deadlineMaximum                 []float64
	targetEnum                      []string
}

// confSchemaParts returns the schema at ref and every schema it combines through allOf, oneOf
// and anyOf, at any depth, so that a constraint is found whether or not a spec wraps it in
// allOf (as the vendored seed does) or nests it differently.
func confSchemaParts(ref *openapi3.SchemaRef) []*openapi3.Schema {
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

func confAddUnique[T comparable](s []T, v T) []T {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// readConfSpecLimits reads the operation's constraints from doc.
func readConfSpecLimits(doc *openapi3.T) (confSpecLimits, error) {
	var l confSpecLimits
	item := doc.Paths.Find(confPath)
	if item == nil || item.Post == nil {
		return l, fmt.Errorf("openapi.yaml has no POST %s", confPath)
	}
	op := item.Post
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
	if op.RequestBody == nil || op.RequestBody.Value == nil {
		return l, errors.New("the operation has no request body")
	}
	media := op.RequestBody.Value.Content.Get("application/json")
	if media == nil || media.Schema == nil {
		return l, errors.New("the request body has no application/json schema")
	}
	props := map[string][]*openapi3.SchemaRef{}
	for _, s := range confSchemaParts(media.Schema) {
		for _, r := range s.Required {
			l.bodyRequired = confAddUnique(l.bodyRequired, r)
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

	for _, ref := range props["tags"] {
		for _, s := range confSchemaParts(ref) {
			for _, typ := range s.Type.Slice() {
				l.tagTypes = confAddUnique(l.tagTypes, typ)
			}
			if s.MinItems != 0 {
				l.tagsMinItems = confAddUnique(l.tagsMinItems, s.MinItems)
			}
			if s.MaxItems != nil {
				l.tagsMaxItems = confAddUnique(l.tagsMaxItems, *s.MaxItems)
			}
			if s.MaxLength != nil {
				l.tagStringMaxLength = confAddUnique(l.tagStringMaxLength, *s.MaxLength)
			}
			for _, item := range confSchemaParts(s.Items) {
				if item.MaxLength != nil {
					l.tagMaxLength = confAddUnique(l.tagMaxLength, *item.MaxLength)
				}
			}
		}
	}
	if len(l.tagsMinItems) == 0 && slices.Contains(l.tagTypes, "array") {
		l.tagsMinItems = []uint64{0} // JSON Schema's default
	}
	slices.Sort(l.tagTypes)
	for _, ref := range props["revalidationDeadlineSeconds"] {
		for _, s := range confSchemaParts(ref) {
			if s.Min != nil {
				l.deadlineMinimum = confAddUnique(l.deadlineMinimum, *s.Min)
			}
			if b := s.ExclusiveMin; (b.Bool != nil && *b.Bool) || b.Value != nil {
				l.deadlineExclusiveMinimum = true
			}
			if s.Max != nil {
				l.deadlineMaximum = confAddUnique(l.deadlineMaximum, *s.Max)
			}
		}
	}
	for _, ref := range props["target"] {
		for _, s := range confSchemaParts(ref) {
			for _, e := range s.Enum {
				l.targetEnum = confAddUnique(l.targetEnum, fmt.Sprint(e))
			}
		}
	}
	slices.Sort(l.targetEnum)
	return l, nil
}

// confLimitMismatches compares the spec's limits with the wrapper's constants and behaviour. Each
// mismatch is a message for the maintainer.
func confLimitMismatches(l confSpecLimits) []string {
	var out []string
	report := func(format string, args ...any) {
		out = append(out, fmt.Sprintf(format, args...)+
			"\n\tupdate validate.go (and the wrapper's encoding) to match openapi.yaml, then this guard test")
	}
	one := func(name string, found []uint64) (uint64, bool) {
		if len(found) != 1 {
			report("openapi.yaml: expected exactly one value of %s for tags, found %v", name, found)
			return 0, false
		}
		return found[0], true
	}
	validate := func(r edgecache.DeleteByTagsRequest) error {
		if r.ProjectIDOrName == "" {
			r.ProjectIDOrName = "prj_123"
		}
		return r.Validate()
	}

	if !l.projectInQuery || !l.projectRequired {
		report("openapi.yaml: projectIdOrName in query = %v, required = %v; the wrapper sends it in the query and requires it", l.projectInQuery, l.projectRequired)
	}
	if err := (edgecache.DeleteByTagsRequest{Tags: edgecache.TagList("a")}).Validate(); err == nil {
		report("Validate accepts an empty projectIdOrName, which openapi.yaml requires")
	}
	if want := []string{"projectIdOrName", "slug", "teamId"}; !slices.Equal(l.queryParams, want) {
		report("openapi.yaml: query parameters are %v; the wrapper knows %v", l.queryParams, want)
	}
	if !slices.Equal(l.bodyRequired, []string{"tags"}) {
		report("openapi.yaml: the body requires %v; the wrapper requires only tags", l.bodyRequired)
	}
	if err := validate(edgecache.DeleteByTagsRequest{}); err == nil {
		report("Validate accepts a request without tags, which openapi.yaml requires")
	}
	if !l.noAdditionalProperties {
		report("openapi.yaml: the body no longer sets additionalProperties: false; the wrapper's tests assume it")
	}
	if want := []string{"revalidationDeadlineSeconds", "tags", "target"}; !slices.Equal(l.bodyProperties, want) {
		report("openapi.yaml: the body's properties are %v; the wrapper sends %v", l.bodyProperties, want)
	}
	if !slices.Equal(l.tagTypes, []string{"array", "string"}) {
		report("openapi.yaml: tags is a union of %v; the wrapper's Tags holds an array or a string", l.tagTypes)
	}
	if v, ok := one("minItems", l.tagsMinItems); ok {
		if v != uint64(edgecache.MinTagsPerRequest) {
			report("openapi.yaml: tags minItems = %d, but minTagsPerRequest = %d", v, edgecache.MinTagsPerRequest)
		}
		if v > 0 && validate(edgecache.DeleteByTagsRequest{Tags: edgecache.TagList(confTags(int(v))...)}) != nil {
			report("Validate refuses %d tags, which openapi.yaml's minItems allows", v)
		}
		if v > 0 && validate(edgecache.DeleteByTagsRequest{Tags: edgecache.TagList(confTags(int(v) - 1)...)}) == nil {
			report("Validate accepts %d tags, below openapi.yaml's minItems %d", v-1, v)
		}
	}
	if v, ok := one("maxItems", l.tagsMaxItems); ok {
		if v != uint64(edgecache.MaxTagsPerRequest) {
			report("openapi.yaml: tags maxItems = %d, but MaxTagsPerRequest = %d", v, edgecache.MaxTagsPerRequest)
		}
		if v < 1000 && validate(edgecache.DeleteByTagsRequest{Tags: edgecache.TagList(confTags(int(v))...)}) != nil {
			report("Validate refuses %d tags, which openapi.yaml's maxItems allows", v)
		}
		if v < 1000 && validate(edgecache.DeleteByTagsRequest{Tags: edgecache.TagList(confTags(int(v) + 1)...)}) == nil {
			report("Validate accepts %d tags, above openapi.yaml's maxItems %d", v+1, v)
		}
	}
	if v, ok := one("items.maxLength", l.tagMaxLength); ok {
		if v != uint64(edgecache.MaxTagLength) {
			report("openapi.yaml: tags items.maxLength = %d, but MaxTagLength = %d", v, edgecache.MaxTagLength)
		}
		if v < 100000 && validate(edgecache.DeleteByTagsRequest{Tags: edgecache.TagList(confRepeat('a', int(v)))}) != nil {
			report("Validate refuses a tag of %d characters, which openapi.yaml's items.maxLength allows", v)
		}
		if v < 100000 && validate(edgecache.DeleteByTagsRequest{Tags: edgecache.TagList(confRepeat('a', int(v)+1))}) == nil {
			report("Validate accepts a tag of %d characters, above openapi.yaml's items.maxLength %d", v+1, v)
		}
	}
	if v, ok := one("maxLength (string form)", l.tagStringMaxLength); ok {
		if v != uint64(edgecache.MaxTagStringLength) {
			report("openapi.yaml: tags string maxLength = %d, but MaxTagStringLength = %d", v, edgecache.MaxTagStringLength)
		}
		// The stricter rules refuse long strings anyway (TestStringFormLengthBoundary); the
		// length rule itself must name the spec's number.
		if v < 100000 {
			err := validate(edgecache.DeleteByTagsRequest{Tags: edgecache.TagString(strings.Repeat("a,", int(v)/2) + "aa")})
			var ve *edgecache.ValidationError
			if !errors.As(err, &ve) || !strings.Contains(ve.Rule, fmt.Sprintf("at most %d characters", v)) {
				report("Validate does not refuse a string form of %d characters for breaking openapi.yaml's maxLength %d (got %v)", v+1, v, err)
			}
		}
	}
	if len(l.deadlineMinimum) != 1 {
		report("openapi.yaml: expected exactly one minimum for revalidationDeadlineSeconds, found %v", l.deadlineMinimum)
	} else {
		m := l.deadlineMinimum[0]
		if m != float64(edgecache.MinRevalidationDeadline) || l.deadlineExclusiveMinimum {
			report("openapi.yaml: revalidationDeadlineSeconds minimum = %v (exclusive %v), but minRevalidationDeadline = %d (inclusive)",
				m, l.deadlineExclusiveMinimum, edgecache.MinRevalidationDeadline)
		}
		if validate(edgecache.DeleteByTagsRequest{Tags: edgecache.TagList("a"), RevalidationDeadlineSeconds: edgecache.Ptr(int(m))}) != nil {
			report("Validate refuses revalidationDeadlineSeconds %v, openapi.yaml's minimum", m)
		}
		if validate(edgecache.DeleteByTagsRequest{Tags: edgecache.TagList("a"), RevalidationDeadlineSeconds: edgecache.Ptr(int(m) - 1)}) == nil {
			report("Validate accepts revalidationDeadlineSeconds %v, below openapi.yaml's minimum", m-1)
		}
	}
	// The wrapper enforces no maximum deadline, because the vendored spec states none. Upstream
	// has since added one (31536000); adopting it must add the rule to validate.go.
	if len(l.deadlineMaximum) > 0 {
		report("openapi.yaml: revalidationDeadlineSeconds maximum = %v, but Validate enforces no maximum", l.deadlineMaximum)
	}
	wrapperTargets := []string{string(edgecache.TargetPreview), string(edgecache.TargetProduction)}
	slices.Sort(wrapperTargets)
	if !slices.Equal(l.targetEnum, wrapperTargets) {
		report("openapi.yaml: target enum = %v, but the wrapper's Target constants are %v", l.targetEnum, wrapperTargets)
	}
	for _, e := range l.targetEnum {
		if validate(edgecache.DeleteByTagsRequest{Tags: edgecache.TagList("a"), Target: edgecache.Target(e)}) != nil {
			report("Validate refuses target %q, which openapi.yaml's enum allows", e)
		}
	}
	if validate(edgecache.DeleteByTagsRequest{Tags: edgecache.TagList("a"), Target: "staging"}) == nil && !slices.Contains(l.targetEnum, "staging") {
		report("Validate accepts target %q, which openapi.yaml's enum does not list", "staging")
	}
	return out
}

func TestValidationLimitsMatchSpec(t *testing.T) {
	t.Parallel()
	doc, err := loadConfSpec()
	if err != nil {
		t.Fatal(err)
	}
	limits, err := readConfSpecLimits(doc)
	if err != nil {
		t.Fatalf("reading the limits from openapi.yaml: %v", err)
	}
	for _, m := range confLimitMismatches(limits) {
		t.Error(m)
	}
	// The numbers themselves, so that a failure of the reader cannot pass silently.
	if !slices.Equal(limits.tagsMaxItems, []uint64{16}) || !slices.Equal(limits.tagMaxLength, []uint64{256}) ||
		!slices.Equal(limits.tagStringMaxLength, []uint64{8196}) || !slices.Equal(limits.tagsMinItems, []uint64{1}) ||
		!slices.Equal(limits.deadlineMinimum, []float64{0}) {
		t.Errorf("read limits %+v; want minItems 1, maxItems 16, items.maxLength 256, maxLength 8196, minimum 0", limits)
	}
}

// TestSpecLimitReaderFollowsSchemaChanges shows that the guard reads the schema however a newer
// upstream document nests it, and fails when a limit changes.
func TestSpecLimitReaderFollowsSchemaChanges(t *testing.T) {
	t.Parallel()
	bodySchema := func(doc *openapi3.T) *openapi3.SchemaRef {
		return doc.Paths.Find(confPath).Post.RequestBody.Value.Content.Get("application/json").Schema
	}
	props := func(doc *openapi3.T) openapi3.Schemas { return bodySchema(doc).Value.Properties }
	// each applies f to every part of property name that passes has.
	each := func(doc *openapi3.T, name string, f func(*openapi3.Schema)) {
		for _, s := range confSchemaParts(props(doc)[name]) {
			f(s)
		}
	}
	u64 := func(v uint64) *uint64 { return &v }
	cases := []struct {
		name   string
		mutate func(*openapi3.T)
		want   string // a substring of some mismatch; "" means no mismatch
	}{
		{name: "the vendored spec", mutate: func(*openapi3.T) {}},
		{name: "allOf wrappers removed", mutate: func(doc *openapi3.T) {
			for name, p := range props(doc) {
				if len(p.Value.AllOf) == 1 {
					props(doc)[name] = p.Value.AllOf[0]
				}
			}
		}},
		{name: "extra allOf around the body and the properties", mutate: func(doc *openapi3.T) {
			for name, p := range props(doc) {
				props(doc)[name] = &openapi3.SchemaRef{Value: &openapi3.Schema{AllOf: openapi3.SchemaRefs{p}}}
			}
			media := doc.Paths.Find(confPath).Post.RequestBody.Value.Content.Get("application/json")
			media.Schema = &openapi3.SchemaRef{Value: &openapi3.Schema{AllOf: openapi3.SchemaRefs{media.Schema}}}
		}},
		{name: "maxItems 20", want: "maxItems = 20", mutate: func(doc *openapi3.T) {
			each(doc, "tags", func(s *openapi3.Schema) {
				if s.MaxItems != nil {
					s.MaxItems = u64(20)
				}
			})
		}},
		{name: "minItems 2", want: "minItems = 2", mutate: func(doc *openapi3.T) {
			each(doc, "tags", func(s *openapi3.Schema) {
				if s.MinItems != 0 {
					s.MinItems = 2
				}
			})
		}},
		{name: "items maxLength 128", want: "items.maxLength = 128", mutate: func(doc *openapi3.T) {
			each(doc, "tags", func(s *openapi3.Schema) {
				if s.Items != nil {
					s.Items.Value.MaxLength = u64(128)
				}
			})
		}},
		{name: "string maxLength 10000", want: "string maxLength = 10000", mutate: func(doc *openapi3.T) {
			each(doc, "tags", func(s *openapi3.Schema) {
				if s.MaxLength != nil {
					s.MaxLength = u64(10000)
				}
			})
		}},
		{name: "minimum 1", want: "minimum = 1", mutate: func(doc *openapi3.T) {
			each(doc, "revalidationDeadlineSeconds", func(s *openapi3.Schema) {
				if s.Min != nil {
					s.Min = openapi3.Float64Ptr(1)
				}
			})
		}},
		{name: "maximum 31536000, as upstream has it", want: "maximum = [3.1536e+07]", mutate: func(doc *openapi3.T) {
			each(doc, "revalidationDeadlineSeconds", func(s *openapi3.Schema) {
				if s.Min != nil {
					s.Max = openapi3.Float64Ptr(31536000)
				}
			})
		}},
		{name: "target enum gains staging", want: "target enum", mutate: func(doc *openapi3.T) {
			each(doc, "target", func(s *openapi3.Schema) {
				if len(s.Enum) > 0 {
					s.Enum = append(s.Enum, "staging")
				}
			})
		}},
		{name: "target becomes required", want: "the body requires", mutate: func(doc *openapi3.T) {
			bodySchema(doc).Value.Required = append(bodySchema(doc).Value.Required, "target")
		}},
		{name: "additionalProperties dropped", want: "additionalProperties", mutate: func(doc *openapi3.T) {
			bodySchema(doc).Value.AdditionalProperties = openapi3.AdditionalProperties{}
		}},
		{name: "a new property", want: "properties are", mutate: func(doc *openapi3.T) {
			props(doc)["paths"] = openapi3.NewStringSchema().NewRef()
		}},
		{name: "projectIdOrName optional", want: "projectIdOrName", mutate: func(doc *openapi3.T) {
			doc.Paths.Find(confPath).Post.Parameters.GetByInAndName("query", "projectIdOrName").Required = false
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc, err := loadConfSpec()
			if err != nil {
				t.Fatal(err)
			}
			tc.mutate(doc)
			limits, err := readConfSpecLimits(doc)
			if err != nil {
				t.Fatalf("readConfSpecLimits: %v", err)
			}
			got := confLimitMismatches(limits)
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

// ---------------------------------------------------------------------------------------------
// Answers: errors and results.

// confCountingBody counts the bytes read from a response body.
type confCountingBody struct {
	r io.Reader
	n *atomic.Int64
}

func (b confCountingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (confCountingBody) Close() error { return nil }

func TestAPIErrorMapping(t *testing.T) {
	t.Parallel()
	const requestID = "fra1::iad1::abcde-1700000000000-0123456789ab"
	sentinels := map[string]error{
		"ErrBadRequest": edgecache.ErrBadRequest, "ErrUnauthorized": edgecache.ErrUnauthorized,
		"ErrForbidden": edgecache.ErrForbidden, "ErrNotFound": edgecache.ErrNotFound, "ErrGone": edgecache.ErrGone,
		"ErrRateLimited": edgecache.ErrRateLimited, "ErrServer": edgecache.ErrServer, "ErrInvalidRequest": edgecache.ErrInvalidRequest,
	}
	statuses := []struct {
		status   int
		sentinel string
	}{
		{400, "ErrBadRequest"}, {401, "ErrUnauthorized"}, {403, "ErrForbidden"}, {404, "ErrNotFound"}, {410, "ErrGone"},
		{429, "ErrRateLimited"}, {500, "ErrServer"}, {502, "ErrServer"}, {503, "ErrServer"},
	}
	html := `<!DOCTYPE html><html><head><title>Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>`
	huge := `{"error":{"code":"huge","message":"` + strings.Repeat("a", 2<<20) + `"}}`
	type bodyCase struct {
		name        string
		body        string
		noRequestID bool
		wantCode    string
		wantMessage string
		wantLimit   *edgecache.RateLimit
	}
	bodies := []bodyCase{
		{name: "envelope", body: `{"error":{"code":"some_code","message":"Something went wrong."}}`, wantCode: "some_code", wantMessage: "Something went wrong."},
		{name: "empty body"},
		{name: "HTML body", body: "\n" + html + "\n", wantMessage: html},
		{name: "truncated JSON", body: `{"error":{"code":"forbidden","mess`, wantMessage: `{"error":{"code":"forbidden","mess`},
		{name: "not an envelope", body: `{"message":"x"}`, wantMessage: `{"message":"x"}`},
		// Cut at 1 MiB, the envelope does not parse: its start becomes the message.
		{name: "2 MiB body", body: huge, wantMessage: huge[:200] + "…"},
		{name: "no request id", body: `{"error":{"code":"c","message":"m"}}`, noRequestID: true, wantCode: "c", wantMessage: "m"},
	}
	type tcase struct {
		status   int
		sentinel string
		bodyCase
	}
	var cases []tcase
	for _, s := range statuses {
		for _, b := range bodies {
			cases = append(cases, tcase{s.status, s.sentinel, b})
		}
	}
	cases = append(cases, tcase{429, "ErrRateLimited", bodyCase{
		name:        "envelope with limit",
		body:        `{"error":{"code":"rate_limited","message":"Rate limit exceeded","limit":{"remaining":0,"reset":1700000060,"resetMs":1700000060000,"total":100}}}`,
		wantCode:    "rate_limited",
		wantMessage: "Rate limit exceeded",
		wantLimit:   &edgecache.RateLimit{Remaining: 0, Reset: 1700000060, ResetMs: 1700000060000, Total: 100},
	}})
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d %s", tc.status, tc.name), func(t *testing.T) {
			t.Parallel()
			var read atomic.Int64
			rec := newConfRecorder(t)
			rec.respond = func(int, confRequest) (*http.Response, error) {
				resp := confAnswer(tc.status, "", nil)
				if !tc.noRequestID {
					resp.Header.Set("X-Vercel-Id", requestID)
				}
				resp.Body = confCountingBody{r: strings.NewReader(tc.body), n: &read}
				return resp, nil
			}
			c := newConfClient(t, rec, confNoRetry)
			res, err := c.DangerouslyDeleteByTags(context.Background(), edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a")})
			if res != nil || err == nil {
				t.Fatalf("got (%+v, %v), want an *APIError", res, err)
			}
			var apiErr *edgecache.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("error %T (%v) is not an *APIError", err, err)
			}
			wantID := requestID
			if tc.noRequestID {
				wantID = ""
			}
			if apiErr.StatusCode != tc.status || apiErr.Code != tc.wantCode || apiErr.Message != tc.wantMessage || apiErr.RequestID != wantID {
				t.Errorf("APIError{StatusCode: %d, Code: %q, Message: %.80q, RequestID: %q}\nwant     {StatusCode: %d, Code: %q, Message: %.80q, RequestID: %q}",
					apiErr.StatusCode, apiErr.Code, apiErr.Message, apiErr.RequestID, tc.status, tc.wantCode, tc.wantMessage, wantID)
			}
			if !reflect.DeepEqual(apiErr.RateLimit, tc.wantLimit) {
				t.Errorf("RateLimit = %+v, want %+v", apiErr.RateLimit, tc.wantLimit)
			}
			if apiErr.Attempts != 1 || len(rec.requests()) != 1 {
				t.Errorf("Attempts = %d, requests = %d; want 1 and 1 with MaxAttempts 1", apiErr.Attempts, len(rec.requests()))
			}
			for name, sentinel := range sentinels {
				if got, want := errors.Is(err, sentinel), name == tc.sentinel; got != want {
					t.Errorf("errors.Is(err, %s) = %v, want %v", name, got, want)
				}
			}
			msg := err.Error()
			if !strings.Contains(msg, strconv.Itoa(tc.status)) || (tc.wantCode != "" && !strings.Contains(msg, tc.wantCode)) || !strings.Contains(msg, wantID) {
				t.Errorf("error text %.200q does not give the status, the code and the request id", msg)
			}
			if len(msg) > 1024 {
				t.Errorf("error text is %d bytes long, want a short excerpt of the body", len(msg))
			}
			if n := read.Load(); n > 1<<20 {
				t.Errorf("read %d bytes of the error body, want at most 1 MiB", n)
			}
		})
	}
}

func TestSuccessfulAnswers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		status    int
		body      string
		requestID string
	}{
		{"200 with {}", 200, "{}", "fra1::abc-1"},
		{"200 with an empty body", 200, "", "fra1::abc-2"},
		{"200 without a request id", 200, "{}", ""},
		{"202 with an empty body", 202, "", "fra1::abc-3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := newConfRecorder(t)
			rec.respond = func(int, confRequest) (*http.Response, error) {
				h := map[string]string{}
				if tc.requestID != "" {
					h["x-vercel-id"] = tc.requestID
				}
				return confAnswer(tc.status, tc.body, h), nil
			}
			c := newConfClient(t, rec, confNoRetry)
			res, err := c.DangerouslyDeleteByTags(context.Background(), edgecache.DeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a")})
			if err != nil {
				t.Fatalf("DangerouslyDeleteByTags: %v", err)
			}
			want := edgecache.Result{StatusCode: tc.status, RequestID: tc.requestID, Attempts: 1}
			if *res != want {
				t.Errorf("Result = %+v, want %+v", *res, want)
			}
		})
	}
}

// ---------------------------------------------------------------------------------------------
// Authentication and the token's secrecy.

func TestTokenIsSentAndNeverPrinted(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(confLockedWriter{&logMu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))

	rec := newConfRecorder(t)
	rec.respond = func(n int, req confRequest) (*http.Response, error) {
		switch req.URL.Query().Get("projectIdOrName") {
		case "retry-then-ok":
			if n == 0 {
				return confAnswer(503, `{"error":{"code":"internal","message":"try again"}}`, nil), nil
			}
		case "unauthorized":
			return confAnswer(401, `{"error":{"code":"forbidden","message":"Not authorized"}}`, map[string]string{"x-vercel-id": "id-1"}), nil
		case "no-answer":
			return nil, errors.New("connection reset by peer")
		}
		return confAnswer(200, "{}", map[string]string{"x-vercel-id": "id-2"}), nil
	}
	c := newConfClient(t, rec, edgecache.WithLogger(logger),
		edgecache.WithRetry(edgecache.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	call := func(project string, tags edgecache.Tags) (*edgecache.Result, error) {
		return c.DangerouslyDeleteByTags(context.Background(), edgecache.DeleteByTagsRequest{ProjectIDOrName: project, Tags: tags})
	}

	var texts []string
	add := func(label string, v any) {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			texts = append(texts, label+" "+verb+": "+fmt.Sprintf(verb, v))
		}
	}
	add("client", c)
	add("*client", *c) // a dereferenced copy must not reveal the token either
	res, err := call("retry-then-ok", edgecache.TagList("a"))
	if err != nil || res.Attempts != 2 {
		t.Fatalf("retry-then-ok: (%+v, %v), want success after 2 attempts", res, err)
	}
	add("result", res)
	add("*result", *res)
	_, err = call("unauthorized", edgecache.TagList("a"))
	var apiErr *edgecache.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("unauthorized: error %v is not an *APIError", err)
	}
	add("APIError", apiErr)
	add("*APIError", *apiErr)
	add("APIError.Error()", err.Error())
	_, err = call("no-answer", edgecache.TagList("a"))
	var tErr *edgecache.TransportError
	if !errors.As(err, &tErr) {
		t.Fatalf("no-answer: error %T (%v) is not a *TransportError", err, err)
	}
	add("TransportError", tErr)
	_, err = call("p", edgecache.TagString("a,,b"))
	var ve *edgecache.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("invalid: error %v is not a *ValidationError", err)
	}
	add("ValidationError", ve)
	add("*ValidationError", *ve)
	if _, err := edgecache.New(confToken, edgecache.WithBaseURL("http://example.com")); err == nil {
		t.Error("New accepted a plain-http base URL")
	} else {
		add("New error", err)
	}

	logMu.Lock()
	logText := logs.String()
	logMu.Unlock()
	if !strings.Contains(logText, "retrying") {
		t.Errorf("the retry was not logged; the log check below would prove nothing:\n%s", logText)
	}
	texts = append(texts, "logs: "+logText)
	for _, text := range texts {
		if strings.Contains(text, confToken) {
			t.Errorf("the token appears in %s", text)
		}
	}

	reqs := rec.requests()
	// retry-then-ok: 2 attempts; unauthorized: 1 (401 is not retried); no-answer: 2 (MaxAttempts);
	// the invalid request: none.
	if len(reqs) != 5 {
		t.Errorf("the transport saw %d requests, want 5", len(reqs))
	}
	for i, r := range reqs {
		if got := r.Header.Values("Authorization"); len(got) != 1 || got[0] != "Bearer "+confToken {
			t.Errorf("request %d: Authorization = %d values, want exactly %q", i, len(got), "Bearer <confToken>")
		}
	}
}

type confLockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l confLockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// ---------------------------------------------------------------------------------------------
// New.

func TestNew(t *testing.T) {
	t.Parallel()
	hc := &http.Client{}
	cases := []struct {
		name    string
		token   string
		opts    []edgecache.Option
		wantErr string // a substring of the error; "" means success
		wantURL string // the base URL the client reports, on success
	}{
		{name: "defaults", token: confToken, wantURL: edgecache.DefaultBaseURL},
		{name: "empty token", token: "", wantErr: "token"},
		{name: "malformed base URL", token: confToken, opts: []edgecache.Option{edgecache.WithBaseURL("::")}, wantErr: "WithBaseURL"},
		{name: "ftp base URL", token: confToken, opts: []edgecache.Option{edgecache.WithBaseURL("ftp://x")}, wantErr: "http(s)"},
		{name: "base URL without scheme", token: confToken, opts: []edgecache.Option{edgecache.WithBaseURL("api.vercel.com")}, wantErr: "http(s)"},
		{name: "base URL with a query", token: confToken, opts: []edgecache.Option{edgecache.WithBaseURL("https://api.vercel.com?teamId=x")}, wantErr: "query"},
		{name: "base URL with a fragment", token: confToken, opts: []edgecache.Option{edgecache.WithBaseURL("https://api.vercel.com#x")}, wantErr: "fragment"},
		{name: "plain http to a remote host", token: confToken, opts: []edgecache.Option{edgecache.WithBaseURL("http://example.com")}, wantErr: "WithInsecureHTTP"},
		{name: "plain http with WithInsecureHTTP", token: confToken, opts: []edgecache.Option{edgecache.WithBaseURL("http://example.com"), edgecache.WithInsecureHTTP()}, wantURL: "http://example.com"},
		{name: "WithInsecureHTTP before the base URL", token: confToken, opts: []edgecache.Option{edgecache.WithInsecureHTTP(), edgecache.WithBaseURL("http://example.com")}, wantURL: "http://example.com"},
		{name: "plain http to 127.0.0.1", token: confToken, opts: []edgecache.Option{edgecache.WithBaseURL("http://127.0.0.1:8080")}, wantURL: "http://127.0.0.1:8080"},
		{name: "plain http to localhost", token: confToken, opts: []edgecache.Option{edgecache.WithBaseURL("http://localhost:3000")}, wantURL: "http://localhost:3000"},
		{name: "plain http to [::1]", token: confToken, opts: []edgecache.Option{edgecache.WithBaseURL("http://[::1]:8080")}, wantURL: "http://[::1]:8080"},
		{name: "https with a path prefix", token: confToken, opts: []edgecache.Option{edgecache.WithBaseURL("https://proxy.example/vercel/")}, wantURL: "https://proxy.example/vercel"},
		{name: "nil HTTP client", token: confToken, opts: []edgecache.Option{edgecache.WithHTTPClient(nil)}, wantErr: "nil"},
		{name: "an HTTP client", token: confToken, opts: []edgecache.Option{edgecache.WithHTTPClient(hc)}, wantURL: edgecache.DefaultBaseURL},
		{name: "empty user agent", token: confToken, opts: []edgecache.Option{edgecache.WithUserAgent("")}, wantErr: "user agent"},
		{name: "nil logger", token: confToken, opts: []edgecache.Option{edgecache.WithLogger(nil)}, wantErr: "logger"},
		{name: "negative retry policy", token: confToken, opts: []edgecache.Option{edgecache.WithRetry(edgecache.RetryPolicy{MaxAttempts: -1})}, wantErr: "negative"},
		{name: "nil option", token: confToken, opts: []edgecache.Option{nil}, wantURL: edgecache.DefaultBaseURL},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := edgecache.New(tc.token, tc.opts...)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("New succeeded (%v), want an error mentioning %q", c, tc.wantErr)
				}
				if c != nil {
					t.Errorf("New returned a client with its error")
				}
				if !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "edgecache: New: ") {
					t.Errorf("error %q, want an \"edgecache: New: \" error mentioning %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), confToken) {
					t.Errorf("the error holds the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if want := fmt.Sprintf("baseURL: %q", tc.wantURL); !strings.Contains(c.String(), want) {
				t.Errorf("client %v, want %s", c, want)
			}
		})
	}
}

// ---------------------------------------------------------------------------------------------
// The tags union.

func TestTagsMarshalJSON(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		tags    edgecache.Tags
		want    string // "" means an error
		wantErr bool
	}{
		{name: "list", tags: edgecache.TagList("blog", "products"), want: `["blog","products"]`},
		{name: "string", tags: edgecache.TagString("blog,products"), want: `"blog,products"`},
		{name: "empty list", tags: edgecache.TagList(), want: `[]`},
		{name: "empty string", tags: edgecache.TagString(""), want: `""`},
		{name: "zero value", tags: edgecache.Tags{}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := json.Marshal(tc.tags)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("json.Marshal = %s, want an error (never null)", got)
				}
				wrapped, err := json.Marshal(struct {
					Tags edgecache.Tags `json:"tags"`
				}{tc.tags})
				if err == nil {
					t.Errorf("json.Marshal of a struct holding it = %s, want an error", wrapped)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Errorf("json.Marshal = (%s, %v), want %s", got, err, tc.want)
			}
		})
	}
}

func TestTagsUnmarshalJSON(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in         string
		wantErr    bool
		wantList   bool
		wantValues []string
	}{
		{in: `["blog","products"]`, wantList: true, wantValues: []string{"blog", "products"}},
		{in: `"blog,products"`, wantValues: []string{"blog", "products"}},
		{in: `[]`, wantList: true, wantValues: []string{}},
		{in: `""`, wantValues: []string{""}},
		{in: `null`, wantErr: true},
		{in: ` null `, wantErr: true},
		{in: `42`, wantErr: true},
		{in: `{"tags":["a"]}`, wantErr: true},
		{in: `[1,2]`, wantErr: true},
		{in: `true`, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			var tags edgecache.Tags
			err := json.Unmarshal([]byte(tc.in), &tags)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("json.Unmarshal(%s) = %#v, want an error", tc.in, tags.Values())
				}
				if !tags.IsZero() {
					t.Errorf("a failed decode left Tags set: %v", tags.Values())
				}
				return
			}
			if err != nil {
				t.Fatalf("json.Unmarshal(%s): %v", tc.in, err)
			}
			if tags.IsZero() || tags.IsList() != tc.wantList || !slices.Equal(tags.Values(), tc.wantValues) {
				t.Errorf("decoded IsZero %v, IsList %v, Values %q; want set, IsList %v, Values %q",
					tags.IsZero(), tags.IsList(), tags.Values(), tc.wantList, tc.wantValues)
			}
			again, err := json.Marshal(tags)
			if eq, jerr := confJSONEqual(again, []byte(tc.in)); err != nil || jerr != nil || !eq {
				t.Errorf("round trip: %s became %s (%v, %v)", tc.in, again, err, jerr)
			}
		})
	}
}

func TestTagsRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tags := range []edgecache.Tags{
		edgecache.TagList("a"), edgecache.TagList(confTags(16)...), edgecache.TagList("é", "😀", `"quoted"`, "<html>"),
		edgecache.TagString("a"), edgecache.TagString("a,b,c"), edgecache.TagString("😀,<&>"),
	} {
		data, err := json.Marshal(tags)
		if err != nil {
			t.Fatalf("json.Marshal(%v): %v", tags, err)
		}
		var back edgecache.Tags
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("json.Unmarshal(%s): %v", data, err)
		}
		if back.IsList() != tags.IsList() || !slices.Equal(back.Values(), tags.Values()) || back.String() != tags.String() {
			t.Errorf("%s: round trip gave IsList %v %q, want IsList %v %q", data, back.IsList(), back.Values(), tags.IsList(), tags.Values())
		}
	}
	var zero edgecache.Tags
	if !zero.IsZero() || zero.Values() != nil {
		t.Errorf("zero Tags: IsZero %v, Values %#v; want true, nil", zero.IsZero(), zero.Values())
	}
	list := []string{"a", "b"}
	tags := edgecache.TagList(list...)
	list[0] = "changed"
	if got := tags.Values(); got[0] != "a" {
		t.Errorf("TagList kept the caller's slice: Values = %q after the caller changed it", got)
	}
}

// ---------------------------------------------------------------------------------------------
// Concurrency and bulk.

func TestConcurrentCallsConformToSpec(t *testing.T) {
	t.Parallel()
	const n = 32
	rec := newConfRecorder(t)
	c := newConfClient(t, rec, edgecache.WithTeamSlug("my-team"))
	targets := []edgecache.Target{"", edgecache.TargetProduction, edgecache.TargetPreview}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			req := edgecache.DeleteByTagsRequest{
				ProjectIDOrName: fmt.Sprintf("prj_%02d", i),
				Tags:            edgecache.TagList(fmt.Sprintf("tag-%02d", i), "shared"),
				Target:          targets[i%len(targets)],
			}
			if i%2 == 0 {
				req.Tags = edgecache.TagString(fmt.Sprintf("tag-%02d,shared", i))
				req.RevalidationDeadlineSeconds = edgecache.Ptr(i)
			}
			_, errs[i] = c.DangerouslyDeleteByTags(context.Background(), req)
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
	rec := newConfRecorder(t)
	c := newConfClient(t, rec)
	tags := make([]string, 40)
	for i := range tags {
		tags[i] = fmt.Sprintf("product-%d", i)
	}
	res, err := c.DangerouslyDeleteByTagsBulk(context.Background(), edgecache.BulkDeleteRequest{
		ProjectIDOrName: "p", Tags: tags, Target: edgecache.TargetProduction, RevalidationDeadlineSeconds: edgecache.Ptr(0),
	})
	if err != nil {
		t.Fatalf("DangerouslyDeleteByTagsBulk: %v", err)
	}
	if len(res.Purged) != len(tags) {
		t.Errorf("purged %d tags, want %d", len(res.Purged), len(tags))
	}
	reqs := rec.requests()
	if len(reqs) != 3 {
		t.Fatalf("the transport saw %d requests, want 3 (16+16+8)", len(reqs))
	}
	var sent []string
	for _, r := range reqs {
		var body struct {
			Tags     []string `json:"tags"`
			Target   string   `json:"target"`
			Deadline *float64 `json:"revalidationDeadlineSeconds"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("body %s: %v", r.Body, err)
		}
		if len(body.Tags) > edgecache.MaxTagsPerRequest || body.Target != "production" || body.Deadline == nil || *body.Deadline != 0 {
			t.Errorf("body %s: want at most 16 tags, target production, deadline 0", r.Body)
		}
		sent = append(sent, body.Tags...)
	}
	slices.Sort(sent)
	want := slices.Clone(tags)
	slices.Sort(want)
	if !slices.Equal(sent, want) {
		t.Errorf("the requests carried %q, want each tag once: %q", sent, want)
	}
}
