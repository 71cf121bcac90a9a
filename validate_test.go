package edgecache_test

// Validation before sending: every rule of every operation refuses its input with a
// *ValidationError that names the field, the rule and the value, and nothing is sent.
// (The differential comparison with kin-openapi is in wrapper_test.go.)

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/vercelkit/edgecache"
)

func TestInvalidRequestsAreRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	tagsDel := func(tags edgecache.Tags) edgecache.DangerouslyDeleteByTagsRequest {
		return edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "prj_123", Tags: tags}
	}
	tagsInv := func(tags edgecache.Tags) edgecache.InvalidateByTagsRequest {
		return edgecache.InvalidateByTagsRequest{ProjectIDOrName: "prj_123", Tags: tags}
	}
	images := func(images ...string) edgecache.InvalidateBySrcImagesRequest {
		return edgecache.InvalidateBySrcImagesRequest{ProjectIDOrName: "prj_123", SrcImages: images}
	}
	delImages := func(deadline int) edgecache.DangerouslyDeleteBySrcImagesRequest {
		return edgecache.DangerouslyDeleteBySrcImagesRequest{ProjectIDOrName: "p", SrcImages: []string{"/a.png"}, RevalidationDeadlineSeconds: edgecache.Ptr(deadline)}
	}
	tooLongString := strings.Repeat("a,", 4098) + "a" // 8197 characters, 4099 tags
	cases := []struct {
		name      string
		req       edgecache.Request
		wantField string
		wantRule  string // a substring of Rule
		wantValue string // a substring of Value
	}{
		{"empty project", edgecache.DangerouslyDeleteByTagsRequest{Tags: edgecache.TagList("a")}, "projectIdOrName", "required", `""`},
		{"blank project", edgecache.InvalidateBySrcImagesRequest{ProjectIDOrName: " \t ", SrcImages: []string{"a"}}, "projectIdOrName", "required", `\t`},
		{"zero Tags", tagsDel(edgecache.Tags{}), "tags", "required", `""`},
		{"zero Tags, invalidation", tagsInv(edgecache.Tags{}), "tags", "required", `""`},
		{"empty list", tagsDel(edgecache.TagList()), "tags", "at least 1", "0"},
		{"17 tags", tagsInv(edgecache.TagList(confItems(17)...)), "tags", "at most 16", "17"},
		{"257-character tag", tagsDel(edgecache.TagList("a", "b", confRepeat('x', 257))), "tags[2]", "at most 256 characters", "257 characters"},
		{"tag of 257 four-byte runes", tagsDel(edgecache.TagList(confRepeat('😀', 257))), "tags[0]", "at most 256 characters", "257 characters"},
		{"empty tag", tagsInv(edgecache.TagList("a", "")), "tags[1]", "must not be empty", `""`},
		{"tag with a comma", tagsDel(edgecache.TagList("blog,products")), "tags[0]", "comma", `"blog,products"`},
		{"invalid UTF-8 tag", tagsDel(edgecache.TagList("ok", "\xffbad")), "tags[1]", "valid UTF-8", `\xff`},
		{"zero-width space", tagsInv(edgecache.TagList("blog\u200b")), "tags[0]", "invisible", `\u200b`},
		{"byte-order mark", tagsDel(edgecache.TagList("\ufeffblog")), "tags[0]", "invisible", `\ufeff`},
		{"newline in a tag", tagsDel(edgecache.TagString("a,b\nc")), "tags[1]", "control", `\n`},
		{"string form of 8197 characters", tagsDel(edgecache.TagString(tooLongString)), "tags", "at most 8196 characters", "8197 characters"},
		{"string form with an empty element", tagsDel(edgecache.TagString("a,,b")), "tags[1]", "must not be empty", `""`},
		{"string form of one comma", tagsInv(edgecache.TagString(",")), "tags[0]", "must not be empty", `""`},
		{"empty string form", tagsDel(edgecache.TagString("")), "tags[0]", "must not be empty", `""`},
		{"string form with 17 tags", tagsDel(edgecache.TagString(strings.Join(confItems(17), ","))), "tags", "at most 16", "17"},
		{"string form with a 257-character tag", tagsInv(edgecache.TagString("a," + confRepeat('x', 257))), "tags[1]", "at most 256 characters", "257 characters"},
		{"target staging", edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a"), Target: "staging"}, "target", `"production" or "preview"`, `"staging"`},
		{"target in capitals", edgecache.InvalidateByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a"), Target: "Production"}, "target", `"production" or "preview"`, `"Production"`},
		{"deadline -1", edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a"), RevalidationDeadlineSeconds: edgecache.Ptr(-1)}, "revalidationDeadlineSeconds", "from 0 to 31536000", "-1"},
		{"deadline a year and a second", edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList("a"), RevalidationDeadlineSeconds: edgecache.Ptr(31536001)}, "revalidationDeadlineSeconds", "from 0 to 31536000", "31536001"},
		{"image deadline -1", delImages(-1), "revalidationDeadlineSeconds", "from 0 to 31536000", "-1"},
		{"image deadline over a year", delImages(1 << 40), "revalidationDeadlineSeconds", "from 0 to 31536000", strconv.Itoa(1 << 40)},
		{"no images", images(), "srcImages", "at least 1", "0"},
		{"9 images", images(confItems(9)...), "srcImages", "at most 8", "9"},
		{"empty image", images("/a.png", ""), "srcImages[1]", "must not be empty", `""`},
		{"invalid UTF-8 image", images("/\xff.png"), "srcImages[0]", "valid UTF-8", `\xff`},
		{"image with a zero-width joiner", edgecache.DangerouslyDeleteBySrcImagesRequest{ProjectIDOrName: "p", SrcImages: []string{"/a\u200d.png"}}, "srcImages[0]", "invisible", `\u200d`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := newConfRecorder(t)
			c := newConfClient(t, rec)
			res, err := callOperation(context.Background(), c, tc.req)
			if n := len(rec.requests()); n != 0 {
				t.Errorf("the transport saw %d requests; an invalid request must not be sent", n)
			}
			if res != nil {
				t.Errorf("Result = %+v, want nil", res)
			}
			checkValidationError(t, err, tc.wantField, tc.wantRule, tc.wantValue)
			if verr := tc.req.Validate(); verr == nil || err == nil || verr.Error() != err.Error() {
				t.Errorf("Validate() = %v, want the same error as the call, %v", verr, err)
			}
			if _, perr := c.Prepare(tc.req); perr == nil || perr.Error() != err.Error() {
				t.Errorf("Prepare error = %v, want the call's %v", perr, err)
			}
		})
	}
}

// checkValidationError asserts that err is a *ValidationError for field whose rule and value
// contain the given texts, and that its message names all three.
func checkValidationError(t *testing.T, err error, field, rule, value string) {
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
	if len(msg) > 400 || !utf8.ValidString(msg) {
		t.Errorf("error text is %d bytes long or not valid UTF-8; the value should be shortened and quoted: %.100q…", len(msg), msg)
	}
	for _, sentinel := range statusSentinels {
		if errors.Is(err, sentinel) {
			t.Errorf("a validation error matches %v", sentinel)
		}
	}
}

// TestStringFormLengthBoundary documents how the spec's maxLength of the string form (8196)
// meets the wrapper's stricter reading of it. Vercel splits the string on commas, so the
// wrapper holds the string form to the array form's limits: at most 16 tags of at most 256
// characters, hence at most 16*256+15 = 4111 characters. A string of 8196 characters is within
// the spec's maxLength (kin-openapi accepts it: see TestValidationAgreesWithSpec) but can never
// satisfy the stricter rule, so Validate refuses it, naming the stricter rule it breaks rather
// than the length. One character more breaks the spec's own maxLength, which Validate names.
func TestStringFormLengthBoundary(t *testing.T) {
	t.Parallel()
	if most := edgecache.MaxTagsPerRequest*edgecache.MaxTagLength + edgecache.MaxTagsPerRequest - 1; most >= edgecache.MaxTagStringLength {
		t.Fatalf("the longest string form the stricter rules allow, %d characters, reaches the spec's maxLength %d: rewrite this test", most, edgecache.MaxTagStringLength)
	}
	// 31 tags of 256 characters and one of 229, with 31 commas: 8196 characters, 32 tags.
	manyTags := strings.Join(append(confLongItems(31, 256), confRepeat('q', 229)), ",")
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
			err := edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagString(tc.tags)}.Validate()
			checkValidationError(t, err, tc.wantField, tc.wantRule, tc.wantIn)
		})
	}
}

// TestValidationErrorShortensTheValue: a long value is cut to 40 characters, counted in
// characters, and its length is given.
func TestValidationErrorShortensTheValue(t *testing.T) {
	t.Parallel()
	err := edgecache.InvalidateByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList(confRepeat('é', 300))}.Validate()
	var ve *edgecache.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v, want a *ValidationError", err)
	}
	want := strconv.Quote(confRepeat('é', 40)+"…") + " (300 characters)"
	if ve.Value != want {
		t.Errorf("Value = %s, want %s", ve.Value, want)
	}
	if got, want := err.Error(), "edgecache: invalid request: tags[0] must be at most 256 characters (got "+want+")"; got != want {
		t.Errorf("Error() = %s\nwant      %s", got, want)
	}
}

// BenchmarkValidate compares the wrapper's validation of each operation's request with
// kin-openapi's validation of the same request against the spec (the route found once,
// outside the loop). The target is at most 1 µs for the wrapper.
func BenchmarkValidate(b *testing.B) {
	for _, op := range everyOperation() {
		b.Run("wrapper/"+op.id, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := op.req.Validate(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("kin-openapi/dangerouslyDeleteByTags", func(b *testing.B) {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(edgecache.OpenAPISpec)
		if err != nil {
			b.Fatal(err)
		}
		router, err := gorillamux.NewRouter(doc)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := json.Marshal(map[string]any{"tags": "blog,products", "target": "production", "revalidationDeadlineSeconds": 60})
		u := edgecache.DefaultBaseURL + "/v1/edge-cache/dangerously-delete-by-tags?projectIdOrName=" + testProject
		httpReq, err := http.NewRequestWithContext(b.Context(), http.MethodPost, u, nil)
		if err != nil {
			b.Fatal(err)
		}
		httpReq.Header.Set("Authorization", "Bearer "+testToken)
		httpReq.Header.Set("Content-Type", "application/json")
		route, pathParams, err := router.FindRoute(httpReq)
		if err != nil {
			b.Fatal(err)
		}
		input := &openapi3filter.RequestValidationInput{Request: httpReq, PathParams: pathParams, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: confCheckBearer}}
		ctx := context.Background()
		var rb rewindBody
		b.ReportAllocs()
		for b.Loop() {
			// ValidateRequest reads the body and replaces it; give it the same bytes each time.
			rb.Reset(body)
			httpReq.Body = &rb
			input.QueryParams = nil
			if err := openapi3filter.ValidateRequest(ctx, input); err != nil {
				b.Fatal(fmt.Errorf("kin-openapi: %w", err))
			}
		}
	})
}

// rewindBody is a request body that can be refilled without allocating.
type rewindBody struct{ bytes.Reader }

func (*rewindBody) Close() error { return nil }
