package edgecache

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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
		httpClient: &http.Client{Timeout: defaultAttemptTimeout},
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
	raw, err := api.NewClient(c.baseURL, api.WithHTTPClient(c.httpClient), api.WithRequestEditorFn(c.authorize))
	if err != nil {
		return nil, fmt.Errorf("edgecache: New: %w", err)
	}
	c.raw = raw
	return c, nil
}

// defaultAttemptTimeout bounds one attempt when the caller's context sets no deadline, so a
// server that never answers cannot hang a client forever.
const defaultAttemptTimeout = 30 * time.Second

// authorize adds the credential to each request rather than to a shared header set, so that
// net/http's redirect policy drops it when a redirect leaves the host.
func (c *Client) authorize(_ context.Context, req *http.Request) error {
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/json")
	return nil
}

// String describes the client without its token. The printing methods have value receivers
// so that printing a dereferenced Client cannot reveal the token either.
func (c Client) String() string {
	return fmt.Sprintf("edgecache.Client{baseURL: %q, token: [redacted]}", c.baseURL)
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
func (c *Client) encode(req DeleteByTagsRequest) (api.DangerouslyDeleteByTagsParams, api.DangerouslyDeleteByTagsJSONRequestBody) {
	params := api.DangerouslyDeleteByTagsParams{ProjectIdOrName: req.ProjectIDOrName}
	if team := firstNonEmpty(req.TeamID, c.teamID); team != "" {
		params.TeamId = &team
	}
	if slug := firstNonEmpty(req.TeamSlug, c.teamSlug); slug != "" {
		params.Slug = &slug
	}
	var body api.DangerouslyDeleteByTagsJSONRequestBody
	body.Tags = encodeTags(req.Tags)
	if req.Target != "" {
		target := api.DangerouslyDeleteByTagsJSONBodyTarget(req.Target)
		body.Target = &target
	}
	if d := req.RevalidationDeadlineSeconds; d != nil {
		seconds := float64(*d)
		body.RevalidationDeadlineSeconds = &seconds
	}
	return params, body
}

// encodeTags fills the generated union from a validated Tags. The generated From* methods
// only fail when json.Marshal fails, which a []string or string cannot.
func encodeTags(t Tags) api.DangerouslyDeleteByTagsJSONBody_Tags {
	var u api.DangerouslyDeleteByTagsJSONBody_Tags
	if t.form == tagsString {
		_ = u.FromDangerouslyDeleteByTagsJSONBodyTags1(t.str)
	} else {
		_ = u.FromDangerouslyDeleteByTagsJSONBodyTags0(t.list)
	}
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
func (c *Client) send(ctx context.Context, params *api.DangerouslyDeleteByTagsParams, body *api.DangerouslyDeleteByTagsJSONRequestBody) (*Result, *APIError, error) {
	resp, err := c.raw.DangerouslyDeleteByTags(ctx, params, *body)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	requestID := resp.Header.Get(requestIDHeader)
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		// Drained so the connection can be reused; a 200 carries {} at most.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
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
	return nil, apiErr, nil
}

// PreparedRequest is the HTTP request a call would send, without its credential.
type PreparedRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
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
	httpReq, err := api.NewDangerouslyDeleteByTagsRequest(c.raw.Server, &params, body)
	if err != nil {
		return nil, fmt.Errorf("edgecache: building the request: %w", err)
	}
	data, err := io.ReadAll(httpReq.Body)
	if err != nil {
		return nil, fmt.Errorf("edgecache: building the request: %w", err)
	}
	return &PreparedRequest{Method: httpReq.Method, URL: httpReq.URL.String(), Body: data}, nil
}
