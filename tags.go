package edgecache

import (
	"slices"
	"strings"

	"github.com/vercelkit/edgecache/api"
)

// tagsForm records which arm of the spec's `tags` oneOf a Tags value holds. The zero form is
// "unset", so a zero Tags can be told apart from an empty list and refused.
type tagsForm uint8

const (
	tagsUnset tagsForm = iota
	tagsList
	tagsString
)

// Tags is the request's `tags` field: the spec's oneOf of an array of tags (see [TagList])
// or one comma-separated string (see [TagString]). The zero value holds neither; validation
// refuses it rather than send null.
type Tags struct {
	list []string
	str  string
	form tagsForm
}

// TagList returns the array form of tags. The slice is copied, so the caller may reuse it.
func TagList(tags ...string) Tags {
	return Tags{list: append([]string{}, tags...), form: tagsList}
}

// TagString returns the string form of tags: one string in which commas separate tags, as
// Vercel reads it (for example "blog,products").
func TagString(commaSeparated string) Tags {
	return Tags{str: commaSeparated, form: tagsString}
}

// IsZero reports whether t holds neither form.
func (t Tags) IsZero() bool { return t.form == tagsUnset }

// IsList reports whether t holds the array form.
func (t Tags) IsList() bool { return t.form == tagsList }

// Values returns the tags as Vercel will read them: the array form as given, the string form
// split on commas. It returns nil for the zero value.
func (t Tags) Values() []string {
	switch t.form {
	case tagsList:
		return slices.Clone(t.list)
	case tagsString:
		return strings.Split(t.str, ",")
	}
	return nil
}

// String returns the tags joined by commas, the way Vercel's CLI and headers write them.
func (t Tags) String() string {
	if t.form == tagsString {
		return t.str
	}
	return strings.Join(t.list, ",")
}

// union is t as the generated oneOf, filled by its generated From* methods. Their only error
// is json.Marshal's, which a string or a list of strings cannot produce. Both tag operations'
// unions are this same struct, so InvalidateByTags converts it.
func (t Tags) union() api.DangerouslyDeleteByTagsJSONBody_Tags {
	var u api.DangerouslyDeleteByTagsJSONBody_Tags
	if t.form == tagsString {
		_ = u.FromDangerouslyDeleteByTagsJSONBodyTags1(t.str)
	} else {
		_ = u.FromDangerouslyDeleteByTagsJSONBodyTags0(t.list)
	}
	return u
}
