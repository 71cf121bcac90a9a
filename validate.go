package edgecache

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The schema's limits. The guard test in wrapper_test.go reads every limit of every operation
// from openapi.yaml and fails when one differs from these, so a spec change cannot slip past.
const (
	// MaxTagsPerRequest is the spec's maxItems of tags; [Client.Bulk] splits larger sets.
	MaxTagsPerRequest = 16
	// MaxTagLength is the spec's maxLength of one tag, in characters.
	MaxTagLength = 256
	// MaxTagStringLength is the spec's maxLength of the string form of tags, in characters.
	MaxTagStringLength = 8196
	// MaxSrcImagesPerRequest is the spec's maxItems of srcImages; [Client.Bulk] splits more.
	MaxSrcImagesPerRequest = 8
	// MaxRevalidationDeadlineSeconds is the spec's maximum of revalidationDeadlineSeconds.
	MaxRevalidationDeadlineSeconds = 31536000

	minItemsPerRequest      = 1 // minItems of tags and srcImages
	minRevalidationDeadline = 0 // minimum of revalidationDeadlineSeconds
)

// ValidationError says which field of a request broke which rule, with the offending value
// (shortened). It matches [ErrInvalidRequest] with errors.Is. A request that fails
// validation is never sent.
type ValidationError struct {
	Field string // the spec's name for the field, with an index for one item: "tags[3]"
	Rule  string // the rule broken, in words: "must be at most 256 characters"
	Value string // the offending value, quoted and shortened, or a count
}

// Error names the field, the rule and the value.
func (e *ValidationError) Error() string {
	return "edgecache: invalid request: " + e.Field + " " + e.Rule + " (got " + e.Value + ")"
}

// Is makes a ValidationError match ErrInvalidRequest.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidRequest }

// maxValueExcerpt bounds how much of an offending value an error repeats.
const maxValueExcerpt = 40

// invalid quotes value, so that invalid bytes and invisible characters show as escapes, and
// shortens it when it is long.
func invalid(field, rule, value string) error {
	shown := strconv.Quote(value)
	if n := utf8.RuneCountInString(value); n > maxValueExcerpt {
		shown = strconv.Quote(excerpt(value, maxValueExcerpt)) + " (" + strconv.Itoa(n) + " characters)"
	}
	return &ValidationError{Field: field, Rule: rule, Value: shown}
}

func invalidCount(field, rule string, n int) error {
	return &ValidationError{Field: field, Rule: rule, Value: strconv.Itoa(n)}
}

// Validate checks r against its operation's schema and the stricter rules; see
// [DangerouslyDeleteByTagsRequest.Validate].
func (r InvalidateByTagsRequest) Validate() error { return r.operation().validate(0) }

// Validate checks r against every constraint of the spec, and against the client's stricter
// rules, without sending anything:
//
//   - the spec's: 1 to 16 tags in the array form, at most 256 characters each, at most 8196
//     characters in the string form, target "production" or "preview", a deadline from 0 to
//     31536000 (one year);
//   - stricter: a project is named (the spec requires the parameter but allows ""); no tag in
//     the array form holds a comma (Vercel splits tags on commas, so "a,b" would purge a and
//     b); no tag is empty; every tag is valid UTF-8 (encoding/json would silently replace a
//     bad byte, purging another tag than the one named) and holds no control or invisible
//     format character (such as U+200B or U+FEFF), which no cache tag header can carry; and
//     the string form, read as Vercel reads it, obeys the array form's limits.
//
// The error is a *ValidationError.
func (r DangerouslyDeleteByTagsRequest) Validate() error { return r.operation().validate(0) }

// Validate checks r: a named project and 1 to 8 source images, each non-empty, valid UTF-8
// and free of control and invisible format characters; commas are allowed.
func (r InvalidateBySrcImagesRequest) Validate() error { return r.operation().validate(0) }

// Validate checks r as [InvalidateBySrcImagesRequest.Validate] does, and the deadline as
// [DangerouslyDeleteByTagsRequest.Validate] does.
func (r DangerouslyDeleteBySrcImagesRequest) Validate() error { return r.operation().validate(0) }

// validate checks every field of the request; offset is added to item indexes in messages,
// for the requests of a bulk purge.
func (op operation) validate(offset int) error {
	if strings.TrimSpace(op.project) == "" {
		return invalid("projectIdOrName", "is required", op.project)
	}
	itemsErr := validateSrcImages(op.images, offset)
	if op.tags != nil {
		itemsErr = validateTags(*op.tags, offset)
	}
	if itemsErr != nil {
		return itemsErr
	}
	if err := op.target.validate(); err != nil {
		return err
	}
	if d := op.deadline; d != nil && (*d < minRevalidationDeadline || *d > MaxRevalidationDeadlineSeconds) {
		return invalidCount("revalidationDeadlineSeconds",
			fmt.Sprintf("must be from %d to %d seconds", minRevalidationDeadline, MaxRevalidationDeadlineSeconds), *d)
	}
	return nil
}

// validateTags checks either form; the string form is read as Vercel reads it, split on
// commas, and held to the array form's limits too.
func validateTags(t Tags, offset int) error {
	tags := t.list
	switch t.form {
	case tagsList:
		if err := validateCount("tags", len(tags), MaxTagsPerRequest); err != nil {
			return err
		}
	case tagsString:
		if utf8.RuneCountInString(t.str) > MaxTagStringLength {
			return invalid("tags", fmt.Sprintf("must be at most %d characters", MaxTagStringLength), t.str)
		}
		if tags = strings.Split(t.str, ","); len(tags) > MaxTagsPerRequest {
			return invalidCount("tags", fmt.Sprintf("must hold at most %d comma-separated tags", MaxTagsPerRequest), len(tags))
		}
	default:
		return invalid("tags", "is required (use TagList or TagString)", "")
	}
	for i, tag := range tags {
		if err := validateItem("tags", offset+i, tag, MaxTagLength); err != nil {
			return err
		}
		if strings.Contains(tag, ",") {
			return invalid(itemField("tags", offset+i), "must not contain a comma (Vercel would read it as several tags)", tag)
		}
	}
	return nil
}

func validateSrcImages(images []string, offset int) error {
	if err := validateCount("srcImages", len(images), MaxSrcImagesPerRequest); err != nil {
		return err
	}
	for i, image := range images {
		if err := validateItem("srcImages", offset+i, image, 0); err != nil {
			return err
		}
	}
	return nil
}

func validateCount(field string, n, most int) error {
	switch {
	case n < minItemsPerRequest:
		return invalidCount(field, fmt.Sprintf("must hold at least %d item", minItemsPerRequest), n)
	case n > most:
		return invalidCount(field, fmt.Sprintf("must hold at most %d items (Client.Bulk splits larger sets)", most), n)
	}
	return nil
}

// validateItem checks one tag or source image; maxLength 0 means no limit.
func validateItem(field string, index int, s string, maxLength int) error {
	switch {
	case s == "":
		return invalid(itemField(field, index), "must not be empty", s)
	case !utf8.ValidString(s):
		return invalid(itemField(field, index), "must be valid UTF-8", s)
	case maxLength > 0 && utf8.RuneCountInString(s) > maxLength:
		return invalid(itemField(field, index), fmt.Sprintf("must be at most %d characters", maxLength), s)
	case strings.IndexFunc(s, isInvisible) >= 0:
		return invalid(itemField(field, index), "must not contain control or invisible format characters", s)
	}
	return nil
}

// isInvisible reports control characters and format characters (Unicode Cf: zero-width
// spaces, byte-order marks, direction marks): nobody means to purge a tag that holds one.
func isInvisible(r rune) bool { return unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) }

func itemField(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }

// validate checks the target against the spec's enum; empty means "omit" (all environments).
func (t Target) validate() error {
	switch t {
	case "", TargetProduction, TargetPreview:
		return nil
	}
	return invalid("target", `must be "production" or "preview" (or empty for all environments)`, string(t))
}
