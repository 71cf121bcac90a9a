package edgecache

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vercelkit/edgecache/api"
)

// DefaultBaseURL is Vercel's production API, the spec's server.
const DefaultBaseURL = "https://api.vercel.com"

// Version is this module's version, sent in the default User-Agent.
const Version = "0.1.0"

// Client calls the Edge Cache endpoint. It is safe for concurrent use; create it with [New]
// and reuse it. A Client holds the token but never prints it: its String and GoString forms,
// its errors and its log lines leave it out.
type Client struct {
	raw        *api.Client
	httpClient *http.Client
	baseURL    string
	token      string
	teamID     string
	teamSlug   string
	userAgent  string
	retry      RetryPolicy
	logger     *slog.Logger
	insecure   bool

	// authHeader and userAgentHeader are the header values authorize sets, built once in New
	// and shared, read-only, by every request.
	authHeader, userAgentHeader []string

	// now and sleep are the clock; tests replace them so backoff runs instantly.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// Target is the environment a purge applies to. The zero value omits the field, which
// applies the purge to all environments.
type Target string

// The spec's target enum.
const (
	TargetProduction Target = "production"
	TargetPreview    Target = "preview"
)

// DeleteByTagsRequest is one call of the endpoint.
type DeleteByTagsRequest struct {
	// ProjectIDOrName is the project's id ("prj_…") or name. Required.
	ProjectIDOrName string
	// Tags to delete: [TagList] or [TagString]. Required; 1 to 16 tags.
	Tags Tags
	// Target limits the purge to one environment; empty means all environments.
	Target Target
	// RevalidationDeadlineSeconds, when set, keeps serving stale content (revalidating in the
	// background) for that many seconds before the entries are deleted. Nil omits the field
	// (Vercel's default, 0: deleted at once); a pointer to 0 sends 0 explicitly. See [Ptr].
	RevalidationDeadlineSeconds *int
	// TeamID, when set, overrides the client's [WithTeamID] for this call.
	TeamID string
	// TeamSlug, when set, overrides the client's [WithTeamSlug] for this call.
	TeamSlug string
}

// Result is a 2xx answer. It proves Vercel accepted the request, not that any cache entry
// carried the tags: an unknown tag is also accepted.
type Result struct {
	// StatusCode is the HTTP status (200).
	StatusCode int
	// RequestID is the x-vercel-id header, when present.
	RequestID string
	// Attempts is how many requests were made, retries included.
	Attempts int
}

// Ptr returns a pointer to v, for optional fields such as
// DeleteByTagsRequest.RevalidationDeadlineSeconds.
func Ptr[T any](v T) *T { return &v }

// requestIDHeader is where Vercel puts the id of a request, for support.
const requestIDHeader = "X-Vercel-Id"

// New returns a client that authenticates with token. An empty token, a malformed base URL
// or a failing option is an error.
func New(token string, opts ...Option) (*Client, error) {
	if token == "" {
		return nil, fmt.Errorf("edgecache: New: token is empty (create one at https://vercel.com/account/tokens)")
	}
	c := &Client{
		baseURL:    DefaultBaseURL,
		httpClient: newDefaultHTTPClient(),
		token:      token,
		userAgent:  "edgecache-go/" + Version,
		retry:      DefaultRetryPolicy(),
		logger:     slog.New(slog.DiscardHandler),
		now:        time.Now,
		sleep:      sleepContext,
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(c); err != nil {
			return nil, fmt.Errorf("edgecache: New: %w", err)
		}
	}
	if err := checkBaseURL(c.baseURL, c.insecure); err != nil {
		return nil, fmt.Errorf("edgecache: New: %w", err)
	}
	c.authHeader = headerValue("Bearer " + c.token)
	c.userAgentHeader = headerValue(c.userAgent)
	raw, err := api.NewClient(c.baseURL, api.WithHTTPClient(c.httpClient), api.WithRequestEditorFn(c.authorize))
	if err != nil {
		return nil, fmt.Errorf("edgecache: New: %w", err)
	}
	c.raw = raw
	return c, nil
}

// redacted stands in for the token wherever it would otherwise be shown.
const redacted = "[redacted]"

// newDefaultHTTPClient is the client New uses unless WithHTTPClient replaces it. It keeps
// enough idle connections for a bulk purge's workers (net/http keeps 2 per host, so most
// requests of a concurrent purge would pay a new TLS handshake), bounds each attempt, and
// refuses a redirect from https to http, on which net/http would keep the Authorization
// header when the host stays the same.
func newDefaultHTTPClient() *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = maxIdleConnsPerHost
	return &http.Client{
		Transport: transport,
		Timeout:   defaultAttemptTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			if req.URL.Scheme != "https" && via[0].URL.Scheme == "https" {
				return fmt.Errorf("refusing a redirect from https to %s (%s)", req.URL.Scheme, req.URL.Redacted())
			}
			return nil
		},
	}
}

// maxIdleConnsPerHost covers a bulk purge's default and usual concurrency.
const maxIdleConnsPerHost = 16

// maxRedirects is net/http's own default limit.
const maxRedirects = 10

// defaultAttemptTimeout bounds one attempt when the caller's context sets no deadline, so a
// server that never answers cannot hang a client forever.
const defaultAttemptTimeout = 30 * time.Second

// authorize adds the credential to each request rather than to a shared header set, so that
// net/http's redirect policy drops it when a redirect leaves the host.
//
// It assigns the values Header.Set would (the keys are already canonical) from slices built
// once in New, instead of allocating three slices and a string per request. The slices are
// shared by every request and never written: net/http only reads a request's headers and
// clones them to follow a redirect, and their capacity equals their length, so an append
// by anyone else copies them.
func (c *Client) authorize(_ context.Context, req *http.Request) error {
	req.Header["Authorization"] = c.authHeader
	req.Header["User-Agent"] = c.userAgentHeader
	req.Header["Accept"] = acceptJSON
	return nil
}

// jsonContentType is the media type of the request body, and the one the client accepts.
const jsonContentType = "application/json"

// acceptJSON is the shared, read-only value of the Accept header; see authorize.
var acceptJSON = headerValue(jsonContentType)

// headerValue returns a one-value header slice whose capacity equals its length.
func headerValue(v string) []string { return []string{v}[:1:1] }

// String describes the client without its token. The printing methods have value receivers
// so that printing a dereferenced Client cannot reveal the token either.
func (c Client) String() string {
	return fmt.Sprintf("edgecache.Client{baseURL: %q, token: %s}", c.baseURL, redacted)
}

// GoString is String, so that %#v cannot reveal the token either.
func (c Client) GoString() string { return c.String() }

// Format prints String for every verb, %+v and %#v included.
func (c Client) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// DangerouslyDeleteByTags marks the request's tags as deleted, so that every cache entry
// carrying one of them is revalidated in the foreground, at the origin, on its next request.
// One tag can cover many paths: deleting it can cause a cache stampede on the origin.
//
// The request is validated first; a *ValidationError (matching ErrInvalidRequest) means
// nothing was sent. Rate limits, server faults and connection errors are retried per the
// client's [RetryPolicy]; retrying is safe because deleting a tag twice equals deleting it
// once. A non-2xx answer is an *APIError.
//
// Vercel API docs: https://vercel.com/docs/rest-api/reference/endpoints/edge-cache/dangerously-delete-by-tag
func (c *Client) DangerouslyDeleteByTags(ctx context.Context, req DeleteByTagsRequest) (*Result, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	params, body := c.encode(req)
	return c.sendWithRetry(ctx, &params, &body)
}

// encode turns a validated request into the generated api types.
//
// The optional fields are pointers in the api types. Rather than one allocation per field,
// they point into a single optionalValues (allocated only when a field is set), and the
// target points at a shared, read-only enum value.
func (c *Client) encode(req DeleteByTagsRequest) (api.DangerouslyDeleteByTagsParams, api.DangerouslyDeleteByTagsJSONRequestBody) {
	params := api.DangerouslyDeleteByTagsParams{ProjectIdOrName: req.ProjectIDOrName}
	var body api.DangerouslyDeleteByTagsJSONRequestBody
	body.Tags = encodeTags(req.Tags)
	team := firstNonEmpty(req.TeamID, c.teamID)
	slug := firstNonEmpty(req.TeamSlug, c.teamSlug)
	if team != "" || slug != "" || req.RevalidationDeadlineSeconds != nil {
		v := &optionalValues{team: team, slug: slug}
		if team != "" {
			params.TeamId = &v.team
		}
		if slug != "" {
			params.Slug = &v.slug
		}
		if d := req.RevalidationDeadlineSeconds; d != nil {
			v.seconds = *d
			body.RevalidationDeadlineSeconds = &v.seconds
		}
	}
	body.Target = apiTarget(req.Target)
	return params, body
}

// optionalValues holds what encode's optional pointers point at, in one allocation.
type optionalValues struct {
	team, slug string
	seconds    int
}

// The spec's target enum as api values, for apiTarget to point at. They are never written.
var (
	apiTargetProduction = api.DangerouslyDeleteByTagsJSONBodyTargetProduction
	apiTargetPreview    = api.DangerouslyDeleteByTagsJSONBodyTargetPreview
)

// apiTarget returns the api form of t: nil for "" (the field is omitted), a shared value for
// the enum's members, a new one for anything else (which validation refuses before encode).
func apiTarget(t Target) *api.DangerouslyDeleteByTagsJSONBodyTarget {
	switch t {
	case "":
		return nil
	case TargetProduction:
		return &apiTargetProduction
	case TargetPreview:
		return &apiTargetPreview
	}
	v := api.DangerouslyDeleteByTagsJSONBodyTarget(t)
	return &v
}

// encodeTags fills the generated union from a validated Tags: the bytes the generated From*
// methods would store (json.Marshal of the list or the string), written by Tags.appendJSON
// into a stack buffer and copied into the union by its generated UnmarshalJSON, which
// takes one allocation where From* takes two (boxing the value, then the result).
func encodeTags(t Tags) api.DangerouslyDeleteByTagsJSONBody_Tags {
	var u api.DangerouslyDeleteByTagsJSONBody_Tags
	var buf [256]byte
	data, err := t.appendJSON(buf[:0])
	if err != nil {
		// Only a zero Tags, which validation refuses; From* would have stored null.
		data = append(buf[:0], "null"...)
	}
	_ = u.UnmarshalJSON(data)
	return u
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// send makes one attempt. It returns a *Result for a 2xx answer, an *APIError for any other
// answer, or a transport error when no answer came.
//
// The body is encoded by appendBody, byte for byte what json.Marshal makes of it, and sent
// through the generated DangerouslyDeleteByTagsWithBody; each attempt gets its own reader.
func (c *Client) send(ctx context.Context, params *api.DangerouslyDeleteByTagsParams, body *api.DangerouslyDeleteByTagsJSONRequestBody) (*Result, *APIError, error) {
	data, err := appendBody(nil, body)
	if err != nil {
		return nil, nil, err
	}
	resp, err := c.raw.DangerouslyDeleteByTagsWithBody(ctx, params, jsonContentType, bytes.NewReader(data))
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	requestID := resp.Header.Get(requestIDHeader)
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		// Drained so the connection can be reused; a 200 carries {} at most. An answer with
		// Content-Length: 0 has http.NoBody, with nothing to drain.
		if resp.Body != http.NoBody {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		}
		return &Result{StatusCode: resp.StatusCode, RequestID: requestID}, nil, nil
	}
	apiErr := &APIError{
		StatusCode: resp.StatusCode,
		RequestID:  requestID,
		RetryAfter: parseRetryAfter(resp.Header, c.now()),
	}
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	parseErrorBody(apiErr, data)
	if readErr != nil && apiErr.Message == "" {
		apiErr.Message = "reading the error body: " + readErr.Error()
	}
	// A proxy or a misbehaving server may echo the request back; the token must not travel
	// on in an error text or a log line.
	apiErr.Code = strings.ReplaceAll(apiErr.Code, c.token, redacted)
	apiErr.Message = strings.ReplaceAll(apiErr.Message, c.token, redacted)
	return nil, apiErr, nil
}

// PreparedRequest is the HTTP request a call would send, without its credential.
type PreparedRequest struct {
	// Method is the HTTP method, POST.
	Method string `json:"method"`
	// URL is the full URL, query included.
	URL string `json:"url"`
	// Body is the JSON body, exactly as it would be sent.
	Body json.RawMessage `json:"body"`
}

// Prepare validates req and builds the request DangerouslyDeleteByTags would send, without
// sending it and without the Authorization header: for dry runs and logs.
func (c *Client) Prepare(req DeleteByTagsRequest) (*PreparedRequest, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	params, body := c.encode(req)
	encoded, err := appendBody(nil, &body)
	if err != nil {
		return nil, fmt.Errorf("edgecache: building the request: %w", err)
	}
	httpReq, err := api.NewDangerouslyDeleteByTagsRequestWithBody(c.raw.Server, &params, jsonContentType, bytes.NewReader(encoded))
	if err != nil {
		return nil, fmt.Errorf("edgecache: building the request: %w", err)
	}
	data, err := io.ReadAll(httpReq.Body)
	if err != nil {
		return nil, fmt.Errorf("edgecache: building the request: %w", err)
	}
	return &PreparedRequest{Method: httpReq.Method, URL: httpReq.URL.String(), Body: data}, nil
}

// appendBody appends the JSON encoding of body to dst: the bytes json.Marshal produces for
// it, without its cost. json.Marshal would box the struct, call the tags union's MarshalJSON
// and then scan and compact the union's JSON, which the generated From* method made with
// json.Marshal already. Here the union's JSON is copied as it is, the deadline is formatted
// as encoding/json formats a float64, and the target is written directly when it needs no
// escaping; anything else falls back to json.Marshal for that field.
func appendBody(dst []byte, body *api.DangerouslyDeleteByTagsJSONRequestBody) ([]byte, error) {
	tags, err := body.Tags.MarshalJSON()
	if err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		// An unset union: let json.Marshal encode it exactly as it would have. A copy is
		// marshalled so that body itself does not escape to the heap on the common path.
		whole := *body
		return json.Marshal(whole)
	}
	size := len(`{"tags":}`) + len(tags)
	if body.RevalidationDeadlineSeconds != nil {
		size += len(`"revalidationDeadlineSeconds":,`) + 24
	}
	if body.Target != nil {
		size += len(`,"target":""`) + len(*body.Target)
	}
	if dst == nil {
		dst = make([]byte, 0, size)
	}
	dst = append(dst, '{')
	if d := body.RevalidationDeadlineSeconds; d != nil {
		dst = append(dst, `"revalidationDeadlineSeconds":`...)
		dst = strconv.AppendInt(dst, int64(*d), 10)
		dst = append(dst, ',')
	}
	dst = append(dst, `"tags":`...)
	dst = append(dst, tags...)
	if t := body.Target; t != nil {
		dst = append(dst, `,"target":`...)
		if dst, err = appendString(dst, string(*t)); err != nil {
			return nil, err
		}
	}
	return append(dst, '}'), nil
}

// appendFloat writes f as encoding/json does. Integral values below 1e21 (every deadline
// the wrapper sends, which comes from an int) take the 'f' format, as in encoding/json;
// anything else goes through json.Marshal.
func appendFloat(dst []byte, f float64) ([]byte, error) {
	if abs := math.Abs(f); abs < 1e21 && f == math.Trunc(f) {
		return strconv.AppendFloat(dst, f, 'f', -1, 64), nil
	}
	b, err := json.Marshal(f)
	return append(dst, b...), err
}
