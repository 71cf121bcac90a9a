package edgecache

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The schema's limits for one request. The guard test in wrapper_test.go reads the same
// numbers from openapi.yaml and fails when they differ, so a spec change cannot slip past.
const (
	// MaxTagsPerRequest is the spec's maxItems for the array form of tags. Larger sets go
	// through [Client.DangerouslyDeleteByTagsBulk], which splits them.
	MaxTagsPerRequest = 16
	// MaxTagLength is the spec's maxLength for one tag, in characters.
	MaxTagLength = 256
	// MaxTagStringLength is the spec's maxLength for the string form of tags, in characters.
	MaxTagStringLength = 8196
	// minTagsPerRequest is the spec's minItems for the array form.
	minTagsPerRequest = 1
	// minRevalidationDeadline is the spec's minimum for revalidationDeadlineSeconds.
	minRevalidationDeadline = 0
)

// ValidationError says which field of a request broke which rule, with the offending value
// (shortened). It matches [ErrInvalidRequest] with errors.Is. A request that fails
// validation is never sent.
type ValidationError struct {
	// Field is the spec's name for the field, with an index for one tag: "tags[3]".
	Field string
	// Rule is the rule that was broken, in words: "must be at most 256 characters".
	Rule string
	// Value is the offending value, shortened to keep messages readable.
	Value string
}

// Error names the field, the rule and the value.
func (e *ValidationError) Error() string {
	return "edgecache: invalid request: " + e.Field + " " + e.Rule + " (got " + e.Value + ")"
}

// Is makes a ValidationError match ErrInvalidRequest.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidRequest }

// maxValueExcerpt bounds how much of an offending value an error repeats.
const maxValueExcerpt = 40

func invalid(field, rule, value string) error {
	shown := strconv.Quote(excerpt(value, maxValueExcerpt))
	if n := utf8.RuneCountInString(value); n > maxValueExcerpt {
		shown += " (" + strconv.Itoa(n) + " characters)"
	}
	return &ValidationError{Field: field, Rule: rule, Value: shown}
}

func invalidCount(field, rule string, n int) error {
	return &ValidationError{Field: field, Rule: rule, Value: strconv.Itoa(n)}
}

// Validate checks r against every constraint of the vendored schema, and against the
// client's stricter rules, without sending anything:
//
//   - the spec's: 1 to 16 tags in the array form, at most 256 characters each, at most 8196
//     characters in the string form, target "production" or "preview", deadline ≥ 0;
//   - stricter: a project is named (the spec requires the parameter but allows ""); no tag in
//     the array form holds a comma (Vercel splits tags on commas, so "a,b" would purge a and
//     b); no tag is empty; every tag is valid UTF-8 (encoding/json would silently replace a
//     bad byte, purging a different tag than the one named); and the string form, read as
//     Vercel reads it, obeys the array form's limits (1 to 16 tags of at most 256 characters).
//
// The error is a *ValidationError.
func (r DeleteByTagsRequest) Validate() error {
	if strings.TrimSpace(r.ProjectIDOrName) == "" {
		return invalid("projectIdOrName", "is required", r.ProjectIDOrName)
	}
	if err := validateTags(r.Tags); err != nil {
		return err
	}
	if err := r.Target.validate(); err != nil {
		return err
	}
	if d := r.RevalidationDeadlineSeconds; d != nil && *d < minRevalidationDeadline {
		return &ValidationError{Field: "revalidationDeadlineSeconds", Rule: "must be at least 0", Value: strconv.Itoa(*d)}
	}
	return nil
}

func validateTags(t Tags) error {
	switch t.form {
	case tagsList:
		if len(t.list) < minTagsPerRequest {
			return invalidCount("tags", "must hold at least 1 tag", len(t.list))
		}
		if len(t.list) > MaxTagsPerRequest {
			return invalidCount("tags", fmt.Sprintf("must hold at most %d tags (use DangerouslyDeleteByTagsBulk for more)", MaxTagsPerRequest), len(t.list))
		}
		for i, tag := range t.list {
			if err := validateTag(tag, i); err != nil {
				return err
			}
		}
		return nil
	case tagsString:
		if n := utf8.RuneCountInString(t.str); n > MaxTagStringLength {
			return invalid("tags", fmt.Sprintf("must be at most %d characters", MaxTagStringLength), t.str)
		}
		count := 0
		for rest := t.str; ; {
			tag, tail, more := strings.Cut(rest, ",")
			if tag == "" {
				return invalid("tags", "must not hold an empty tag (check for a stray comma)", t.str)
			}
			if !utf8.ValidString(tag) {
				return invalid(fmt.Sprintf("tags[%d]", count), "must be valid UTF-8", tag)
			}
			if utf8.RuneCountInString(tag) > MaxTagLength {
				return invalid(fmt.Sprintf("tags[%d]", count), fmt.Sprintf("must be at most %d characters", MaxTagLength), tag)
			}
			count++
			if !more {
				break
			}
			rest = tail
		}
		if count > MaxTagsPerRequest {
			return invalidCount("tags", fmt.Sprintf("must hold at most %d comma-separated tags", MaxTagsPerRequest), count)
		}
		return nil
	default:
		return invalid("tags", "is required (use TagList or TagString)", "")
	}
}

// validateTag checks one tag of the array form; index is its position, for the message.
func validateTag(tag string, index int) error {
	switch {
	case tag == "":
		return invalid(tagField(index), "must not be empty", tag)
	case utf8.RuneCountInString(tag) > MaxTagLength:
		return invalid(tagField(index), fmt.Sprintf("must be at most %d characters", MaxTagLength), tag)
	case strings.Contains(tag, ","):
		return invalid(tagField(index), "must not contain a comma (Vercel would read it as several tags)", tag)
	case !utf8.ValidString(tag):
		return invalid(tagField(index), "must be valid UTF-8", tag)
	}
	return nil
}

func tagField(i int) string { return "tags[" + strconv.Itoa(i) + "]" }

// validate checks the target against the spec's enum; empty means "omit" (all environments).
func (t Target) validate() error {
	switch t {
	case "", TargetProduction, TargetPreview:
		return nil
	}
	return invalid("target", `must be "production" or "preview" (or empty for all environments)`, string(t))
}
