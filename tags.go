package edgecache

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
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
// or one comma-separated string (see [TagString]). The zero value holds neither; it is
// refused by validation and by MarshalJSON rather than sent as null.
type Tags struct {
	list []string
	str  string
	form tagsForm
}

// TagList returns the array form of tags. The slice is copied, so the caller may reuse it.
func TagList(tags ...string) Tags {
	return Tags{list: append([]string(nil), tags...), form: tagsList}
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
		return append([]string(nil), t.list...)
	case tagsString:
		return strings.Split(t.str, ",")
	default:
		return nil
	}
}

// String returns the tags joined by commas, the way Vercel's CLI and headers write them.
func (t Tags) String() string {
	if t.form == tagsString {
		return t.str
	}
	return strings.Join(t.list, ",")
}

// errZeroTags is returned when a zero Tags would otherwise be encoded as null.
var errZeroTags = errors.New("edgecache: Tags is unset: use TagList or TagString")

// MarshalJSON encodes the array form as a JSON array and the string form as a JSON string.
// An empty list is [], never null.
func (t Tags) MarshalJSON() ([]byte, error) {
	if t.form == tagsList && t.list == nil {
		return []byte("[]"), nil
	}
	return t.appendJSON(nil)
}

// appendJSON appends to dst the JSON that json.Marshal makes of the list or of the string,
// byte for byte (so a nil list is null, as the generated union's From* methods store it,
// where MarshalJSON writes []), without boxing the value. The zero value is an error.
func (t Tags) appendJSON(dst []byte) ([]byte, error) {
	var err error
	switch t.form {
	case tagsList:
		if t.list == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, tag := range t.list {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendString(dst, tag); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case tagsString:
		return appendString(dst, t.str)
	default:
		return nil, errZeroTags
	}
}

// appendString appends s as json.Marshal encodes a string: directly when every byte is
// printable ASCII that needs no escaping (json.Marshal escapes ", \, <, > and &, and
// replaces invalid UTF-8), through json.Marshal otherwise.
func appendString(dst []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, err := json.Marshal(s)
			return append(dst, b...), err
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"'), nil
}

// UnmarshalJSON decodes either arm of the union; anything else, null included, is an error.
func (t *Tags) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		return errors.New("edgecache: tags must be an array of strings or a string, not null")
	}
	var list []string
	if err := json.Unmarshal(data, &list); err == nil {
		if list == nil {
			list = []string{}
		}
		*t = Tags{list: list, form: tagsList}
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*t = Tags{str: s, form: tagsString}
		return nil
	}
	return errors.New("edgecache: tags must be an array of strings or a string")
}
