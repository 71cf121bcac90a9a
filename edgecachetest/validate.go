package edgecachetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	middleware "github.com/oapi-codegen/nethttp-middleware"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/api"
)

// loadSpec parses and checks the vendored document once per process. The document is only
// read afterwards, so every Handler shares it. Its servers are dropped so that routing ignores
// the Host header (the spec names api.vercel.com; the fake listens on 127.0.0.1).
var loadSpec = sync.OnceValues(func() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(edgecache.OpenAPISpec)
	if err != nil {
		return nil, fmt.Errorf("edgecachetest: loading the embedded spec: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("edgecachetest: the embedded spec is invalid: %w", err)
	}
	doc.Servers = nil
	return doc, nil
})

// Sentinels the AuthenticationFunc returns, told apart in the error handler.
var (
	errNoToken      = errors.New("missing bearer token (send Authorization: Bearer <token>)")
	errTokenRefused = errors.New("the token is not allowed to act here")
)

// newValidatedHandler builds the validating chain: the kin-openapi request validator (through
// nethttp-middleware) in front of the generated server, whose one operation is h.accept.
func (h *Handler) newValidatedHandler() http.Handler {
	doc, err := loadSpec()
	if err != nil {
		// The spec is embedded and checked by the root package's tests: a failure here is a
		// broken build, not a runtime condition.
		panic(err)
	}
	server := api.HandlerWithOptions(operation{h}, api.StdHTTPServerOptions{
		ErrorHandlerFunc: h.bindError,
	})
	validator := middleware.OapiRequestValidatorWithOptions(doc, &middleware.Options{
		Options: openapi3filter.Options{
			AuthenticationFunc:  h.authenticate,
			SkipSettingDefaults: true,
		},
		ErrorHandlerWithOpts:  h.validationError,
		SilenceServersWarning: true,
	})
	return validator(server)
}

// operation adapts Handler to the generated api.ServerInterface. Each method is reached only
// by requests the spec validation let through.
type operation struct{ h *Handler }

// InvalidateByTags accepts a valid POST /v1/edge-cache/invalidate-by-tags.
func (o operation) InvalidateByTags(w http.ResponseWriter, r *http.Request, p api.InvalidateByTagsParams) {
	o.h.accept(w, r, OpInvalidateByTags, queryParams{p.ProjectIdOrName, p.TeamId, p.Slug})
}

// DangerouslyDeleteByTags accepts a valid POST /v1/edge-cache/dangerously-delete-by-tags.
func (o operation) DangerouslyDeleteByTags(w http.ResponseWriter, r *http.Request, p api.DangerouslyDeleteByTagsParams) {
	o.h.accept(w, r, OpDangerouslyDeleteByTags, queryParams{p.ProjectIdOrName, p.TeamId, p.Slug})
}

// InvalidateBySrcImages accepts a valid POST /v1/edge-cache/invalidate-by-src-images.
func (o operation) InvalidateBySrcImages(w http.ResponseWriter, r *http.Request, p api.InvalidateBySrcImagesParams) {
	o.h.accept(w, r, OpInvalidateBySrcImages, queryParams{p.ProjectIdOrName, p.TeamId, p.Slug})
}

// DangerouslyDeleteBySrcImages accepts a valid POST /v1/edge-cache/dangerously-delete-by-src-images.
func (o operation) DangerouslyDeleteBySrcImages(w http.ResponseWriter, r *http.Request, p api.DangerouslyDeleteBySrcImagesParams) {
	o.h.accept(w, r, OpDangerouslyDeleteBySrcImages, queryParams{p.ProjectIdOrName, p.TeamId, p.Slug})
}

// routes maps the path of each operation the spec declares to its operationId; every
// operation is a POST. It is read only, once built.
var routes = sync.OnceValue(func() map[string]string {
	doc, err := loadSpec()
	if err != nil {
		panic(err)
	}
	m := make(map[string]string)
	for path, item := range doc.Paths.Map() {
		if item.Post != nil {
			m[path] = item.Post.OperationID
		}
	}
	return m
})

// operationOf names the operation a request is for, "" when its method and path are none.
func operationOf(r *http.Request) string {
	if r.Method != http.MethodPost {
		return ""
	}
	return routes()[r.URL.Path]
}

// authenticate is the AuthenticationFunc for the spec's bearerToken scheme.
func (h *Handler) authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if s := in.SecurityScheme; s == nil || s.Type != "http" || !strings.EqualFold(s.Scheme, "bearer") {
		return fmt.Errorf("security scheme %q is not supported by the fake", in.SecuritySchemeName)
	}
	auth := in.RequestValidationInput.Request.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(auth, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return errNoToken
	}
	if h.cfg.tokens != nil {
		if _, ok := h.cfg.tokens[token]; !ok {
			return errTokenRefused
		}
	}
	return nil
}

// validationError answers what the validator refused: no route, failed security, or a
// breach of the spec.
func (h *Handler) validationError(_ context.Context, err error, w http.ResponseWriter, r *http.Request, opts middleware.ErrorHandlerOpts) {
	if opts.MatchedRoute == nil {
		msg := "The requested endpoint was not found: " + r.Method + " " + r.URL.Path
		if errors.Is(err, routers.ErrMethodNotAllowed) {
			msg = "The endpoint " + r.URL.Path + " only accepts POST"
		}
		writeError(w, http.StatusNotFound, "not_found", msg)
		return
	}
	if _, ok := errors.AsType[*openapi3filter.SecurityRequirementsError](err); ok {
		switch {
		case errors.Is(err, errTokenRefused):
			writeError(w, http.StatusForbidden, "forbidden", "Not authorized: "+errTokenRefused.Error())
		case errors.Is(err, errNoToken):
			writeError(w, http.StatusUnauthorized, "unauthorized", "Not authorized: "+errNoToken.Error())
		default:
			writeError(w, http.StatusUnauthorized, "unauthorized", "Not authorized")
		}
		return
	}
	if reqErr, ok := errors.AsType[*openapi3filter.RequestError](err); ok {
		writeError(w, http.StatusBadRequest, "bad_request", describeRequestError(reqErr))
		return
	}
	// Not reached with this spec and these options (no MultiError); kept honest rather than
	// dressed up as a 400.
	writeError(w, http.StatusInternalServerError, "internal_server_error", "edgecachetest: unexpected validation error: "+err.Error())
}

// bindError answers a parameter the generated server could not bind. The validator has
// checked the parameters already, so only oddities such as a repeated parameter reach it.
func (h *Handler) bindError(w http.ResponseWriter, _ *http.Request, err error) {
	var (
		required *api.RequiredParamError
		format   *api.InvalidParamFormatError
		tooMany  *api.TooManyValuesForParamError
	)
	switch {
	case errors.As(err, &required):
		writeError(w, http.StatusBadRequest, "bad_request", required.ParamName+": is required")
	case errors.As(err, &tooMany):
		writeError(w, http.StatusBadRequest, "bad_request", tooMany.ParamName+": must be given once")
	case errors.As(err, &format):
		writeError(w, http.StatusBadRequest, "bad_request", format.ParamName+": must be given once, as a string")
	default:
		writeError(w, http.StatusBadRequest, "bad_request", "query: "+err.Error())
	}
}

// describeRequestError turns a RequestError into "<field>: <rule>".
func describeRequestError(e *openapi3filter.RequestError) string {
	var field string
	switch {
	case e.Parameter != nil:
		field = e.Parameter.Name
	case e.RequestBody != nil:
		field = "body"
	default:
		// Reading the body failed, inside the security check; not reached, since guardBody
		// has read it into memory.
		return "body: could not be read"
	}
	if strings.HasPrefix(e.Reason, "header Content-Type has unexpected value") {
		return "Content-Type: must be application/json (got " + quoteOrNone(e.Input.Request.Header.Get("Content-Type")) + ")"
	}
	if se, ok := errors.AsType[*openapi3.SchemaError](e.Err); ok {
		path, rule := describeSchemaError(se)
		return joinField(field, e.Parameter != nil, path) + ": " + rule
	}
	if pe, ok := errors.AsType[*openapi3filter.ParseError](e.Err); ok && e.RequestBody != nil {
		cause := pe.Reason
		if pe.Cause != nil {
			cause = pe.Cause.Error()
		}
		return "body: is not valid JSON (" + cause + ")"
	}
	switch {
	case errors.Is(e.Err, openapi3filter.ErrInvalidRequired):
		return field + ": is required"
	case errors.Is(e.Err, openapi3filter.ErrInvalidEmptyValue):
		return field + ": must not be empty"
	case e.Reason != "":
		return field + ": " + e.Reason
	case e.Err != nil:
		return field + ": " + e.Err.Error()
	}
	return field + ": is invalid"
}

// joinField names a value: a body path on its own ("tags[3]", or "body" for the whole
// body), a parameter by its name and path.
func joinField(field string, isParam bool, path []string) string {
	var b strings.Builder
	if isParam || len(path) == 0 {
		b.WriteString(field)
	}
	for i, p := range path {
		if _, err := strconv.Atoi(p); err == nil {
			b.WriteString("[" + p + "]")
			continue
		}
		if i > 0 || b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// describeSchemaError finds the most specific failure under se and states its rule in words.
// It never calls se.Error(), which renders the schema and value over many lines.
func describeSchemaError(se *openapi3.SchemaError) (path []string, rule string) {
	for {
		switch se.SchemaField {
		case "allOf":
			children := childErrors(se)
			if len(children) == 0 {
				return se.JSONPointer(), reasonOf(se)
			}
			se = children[0]
			continue
		case "oneOf", "anyOf":
			children := childErrors(se)
			if pick := pickBranch(children, len(se.JSONPointer())); pick != nil {
				se = pick
				continue
			}
			// No branch took the value's type: name the types the union allows.
			return se.JSONPointer(), "must be " + describeUnion(se.Schema) + " (got " + jsonType(se.Value) + ")"
		}
		break
	}
	path = se.JSONPointer()
	s := se.Schema
	switch se.SchemaField {
	case "type":
		return path, "must be " + describeType(s) + " (got " + jsonType(se.Value) + ")"
	case "nullable":
		return path, "must not be null"
	case "enum":
		vals := make([]string, 0, len(s.Enum))
		for _, v := range s.Enum {
			b, _ := json.Marshal(v)
			vals = append(vals, string(b))
		}
		return path, "must be one of " + strings.Join(vals, ", ") + " (got " + shortValue(se.Value) + ")"
	case "maxItems":
		if s.MaxItems != nil {
			return path, fmt.Sprintf("must hold at most %d items (got %d)", *s.MaxItems, lenOf(se.Value))
		}
	case "minItems":
		return path, fmt.Sprintf("must hold at least %d %s (got %d)", s.MinItems, plural(s.MinItems, "item"), lenOf(se.Value))
	case "maxLength":
		if s.MaxLength != nil {
			return path, fmt.Sprintf("must be at most %d characters (got %d)", *s.MaxLength, lenOf(se.Value))
		}
	case "minLength":
		return path, fmt.Sprintf("must be at least %d %s (got %d)", s.MinLength, plural(s.MinLength, "character"), lenOf(se.Value))
	case "minimum":
		if s.Min != nil {
			return path, "must be at least " + formatNumber(*s.Min) + " (got " + shortValue(se.Value) + ")"
		}
	case "maximum":
		if s.Max != nil {
			return path, "must be at most " + formatNumber(*s.Max) + " (got " + shortValue(se.Value) + ")"
		}
	case "required":
		return path, "is required"
	case "properties":
		// kin-openapi's reason is `property "name" is unsupported`; the name is the field.
		if name, ok := quotedName(se.Reason); ok {
			return append(path, name), "is not allowed (unknown property)"
		}
	}
	return path, reasonOf(se)
}

// childErrors returns the SchemaErrors a combinator error (allOf, oneOf, anyOf) wraps.
func childErrors(se *openapi3.SchemaError) []*openapi3.SchemaError {
	me, ok := errors.AsType[openapi3.MultiError](se.Origin)
	if !ok {
		return nil
	}
	out := make([]*openapi3.SchemaError, 0, len(me))
	for _, err := range me {
		if child, ok := errors.AsType[*openapi3.SchemaError](err); ok {
			out = append(out, child)
		}
	}
	return out
}

// pickBranch returns the failure of the union branch the value's type matched, the one worth
// reporting: a failure inside the value (deeper than depth, such as an item of the wrong
// type) or of a rule other than the type. It returns nil when every branch refused the type.
func pickBranch(children []*openapi3.SchemaError, depth int) *openapi3.SchemaError {
	for _, c := range children {
		if len(c.JSONPointer()) > depth || c.SchemaField != "type" && c.SchemaField != "nullable" {
			return c
		}
	}
	return nil
}

// describeUnion lists what a oneOf/anyOf accepts: "an array of strings or a string".
func describeUnion(s *openapi3.Schema) string {
	refs := s.OneOf
	if len(refs) == 0 {
		refs = s.AnyOf
	}
	parts := make([]string, 0, len(refs))
	for _, ref := range refs {
		if ref.Value != nil {
			parts = append(parts, describeType(ref.Value))
		}
	}
	if len(parts) == 0 {
		return "a valid value"
	}
	return strings.Join(parts, " or ")
}

// describeType names a schema's type with an article: "a string", "an array of strings".
func describeType(s *openapi3.Schema) string {
	if s == nil || s.Type == nil || len(s.Type.Slice()) == 0 {
		return "a valid value"
	}
	t := s.Type.Slice()[0]
	if t == "array" && s.Items != nil && s.Items.Value != nil && s.Items.Value.Type != nil && len(s.Items.Value.Type.Slice()) > 0 {
		return "an array of " + s.Items.Value.Type.Slice()[0] + "s"
	}
	return article(t) + " " + t
}

func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

func plural(n uint64, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number, float64, int, int64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// lenOf counts an array's items or a string's characters.
func lenOf(v any) int {
	switch v := v.(type) {
	case []any:
		return len(v)
	case string:
		return utf8.RuneCountInString(v)
	}
	return 0
}

// maxShownValue bounds how much of an offending value a message repeats.
const maxShownValue = 40

// shortValue renders a scalar for a message, JSON-quoted and shortened.
func shortValue(v any) string {
	if s, ok := v.(string); ok {
		if utf8.RuneCountInString(s) > maxShownValue {
			s = string([]rune(s)[:maxShownValue]) + "…"
		}
		b, _ := json.Marshal(s)
		return string(b)
	}
	switch v.(type) {
	case json.Number, float64, bool, nil:
		b, _ := json.Marshal(v)
		return string(b)
	}
	return jsonType(v)
}

// formatNumber writes a bound as the spec does: 31536000, not 3.1536e+07.
func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func quoteOrNone(s string) string {
	if s == "" {
		return "none"
	}
	return strconv.Quote(s)
}

// quotedName extracts the first Go-quoted string of s.
func quotedName(s string) (string, bool) {
	i := strings.IndexByte(s, '"')
	if i < 0 {
		return "", false
	}
	q, err := strconv.QuotedPrefix(s[i:])
	if err != nil {
		return "", false
	}
	name, err := strconv.Unquote(q)
	return name, err == nil
}

// reasonOf is kin-openapi's one-line reason for an error the switch above does not word.
func reasonOf(se *openapi3.SchemaError) string {
	if se.Reason != "" {
		return se.Reason
	}
	return "does not match the schema's " + strconv.Quote(se.SchemaField)
}
