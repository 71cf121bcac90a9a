package edgecache_test

// The tags union: its two forms, how Vercel reads them, and how they go on the wire.

import (
	"slices"
	"testing"

	"github.com/vercelkit/edgecache"
)

func TestTagForms(t *testing.T) {
	t.Parallel()
	in := []string{"blog", "products"}
	list := edgecache.TagList(in...)
	in[0] = "changed"
	cases := []struct {
		name         string
		tags         edgecache.Tags
		zero, isList bool
		values       []string
		str          string
	}{
		{"zero", edgecache.Tags{}, true, false, nil, ""},
		{"list (copied from the caller's slice)", list, false, true, []string{"blog", "products"}, "blog,products"},
		{"empty list", edgecache.TagList(), false, true, []string{}, ""},
		{"string", edgecache.TagString("blog,products"), false, false, []string{"blog", "products"}, "blog,products"},
		{"string read as Vercel splits it", edgecache.TagString(",a,,b,"), false, false, []string{"", "a", "", "b", ""}, ",a,,b,"},
		{"empty string", edgecache.TagString(""), false, false, []string{""}, ""},
	}
	for _, tc := range cases {
		if tc.tags.IsZero() != tc.zero || tc.tags.IsList() != tc.isList {
			t.Errorf("%s: IsZero %v, IsList %v; want %v, %v", tc.name, tc.tags.IsZero(), tc.tags.IsList(), tc.zero, tc.isList)
		}
		if got := tc.tags.Values(); !slices.Equal(got, tc.values) || (got == nil) != (tc.values == nil) {
			t.Errorf("%s: Values() = %#v, want %#v", tc.name, got, tc.values)
		}
		if got := tc.tags.String(); got != tc.str {
			t.Errorf("%s: String() = %q, want %q", tc.name, got, tc.str)
		}
	}
	// Values returns a copy: changing it does not change the Tags.
	list.Values()[0] = "x"
	if list.Values()[0] != "blog" {
		t.Error("changing the slice Values returned changed the Tags")
	}
}

// TestTagsOnTheWire: both arms of the union are encoded by the generated code through
// encoding/json, escapes included, for both tag operations.
func TestTagsOnTheWire(t *testing.T) {
	t.Parallel()
	c := newConfClient(t, newConfRecorder(t))
	cases := []struct {
		tags edgecache.Tags
		want string
	}{
		{edgecache.TagList("blog"), `{"tags":["blog"]}`},
		{edgecache.TagList("a", "b"), `{"tags":["a","b"]}`},
		{edgecache.TagString("a,b"), `{"tags":"a,b"}`},
		{edgecache.TagList(`<b>&"x"\`), `{"tags":["\u003cb\u003e\u0026\"x\"\\"]}`},
		{edgecache.TagString("é€😀"), `{"tags":"é€😀"}`},
	}
	for _, tc := range cases {
		for _, req := range []edgecache.Request{
			edgecache.InvalidateByTagsRequest{ProjectIDOrName: "p", Tags: tc.tags},
			edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "p", Tags: tc.tags},
		} {
			p, err := c.Prepare(req)
			if err != nil {
				t.Fatalf("Prepare(%T %q): %v", req, tc.tags, err)
			}
			if string(p.Body) != tc.want {
				t.Errorf("%T with %q: body %s, want %s", req, tc.tags, p.Body, tc.want)
			}
		}
	}
}
