package edgecache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/vercelkit/edgecache/api"
	"github.com/vercelkit/edgecache/internal/pace"
	"github.com/vercelkit/edgecache/internal/redact"
)

// DefaultBaseURL is Vercel's production API, the spec's server.
const DefaultBaseURL = "https://api.vercel.com"

// Client calls the Edge Cache API. It is safe for concurrent use; create it with [New] and
// reuse it. A Client holds the token but never prints it: its String and GoString forms, its
// errors and its log lines leave it out.
type Client struct {
	raw                       *api.Client
	httpClient                *http.Client
	baseURL, token, userAgent string
	teamID, teamSlug          string
	retry                     RetryPolicy
	logger                    *slog.Logger
	insecure                  bool

	// now and sleep are the clock; tests replace them so backoff runs instantly.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// New returns a client that authenticates with token. It is an error if the token is empty or
// holds anything but printable ASCII without spaces, as every bearer token does, if the base
// URL is malformed, or if an option fails.
//
// Every operation is a POST that carries the token, so whatever *http.Client is used, the
// client follows only a 307 or 308 to the same origin, and only if the *http.Client's own
// CheckRedirect agrees; any other redirect is an *APIError with its status. Wherever an answer
// could echo the token (an error's text, a request id, a URL) it becomes "[redacted]", before
// anything is shortened: everywhere when the token has 16 characters or more, otherwise only
// where it stands alone (not next to a letter, digit, mark, '-' or '_'), so that words stay
// intact and do not spell a short token out.
func New(token string, opts ...Option) (*Client, error) {
	if token == "" {
		return nil, errors.New("edgecache: New: token is empty (create one at https://vercel.com/account/tokens)")
	}
	if i := strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r > '~' }); i >= 0 {
		return nil, fmt.Errorf("edgecache: New: token holds %U, but a bearer token is printable ASCII without spaces", []rune(token[i:])[0])
	}
	c := &Client{
		baseURL:    DefaultBaseURL,
		httpClient: newDefaultHTTPClient(),
		token:      token,
		userAgent:  "edgecache-go/" + Version(),
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
	hc := *c.httpClient
	hc.CheckRedirect = followSafeRedirects(hc.CheckRedirect)
	c.httpClient = &hc
	raw, err := api.NewClient(c.baseURL, api.WithHTTPClient(c.httpClient), api.WithRequestEditorFn(c.authorize))
	if err != nil {
		return nil, fmt.Errorf("edgecache: New: %w", err)
	}
	c.raw = raw
	return c, nil
}

// followSafeRedirects puts New's redirect rule before next. A refused redirect becomes the
// answer (http.ErrUseLastResponse): an *APIError, so nothing is counted or retried.
func followSafeRedirects(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		from, status := via[0].URL, req.Response.StatusCode
		// At most 10 redirects, net/http's own limit.
		if req.URL.Scheme != from.Scheme || !strings.EqualFold(req.URL.Host, from.Host) || len(via) >= 10 ||
			status != http.StatusTemporaryRedirect && status != http.StatusPermanentRedirect {
			return http.ErrUseLastResponse
		}
		if next == nil {
			return nil
		}
		return next(req, via)
	}
}

// newDefaultHTTPClient is the client New uses unless WithHTTPClient replaces it. It keeps 16
// idle connections, enough for a bulk purge's workers (net/http keeps 2 per host, so most
// requests would pay a new TLS handshake), and bounds each attempt to 30 s, so that a server
// that never answers cannot hang a caller whose context sets no deadline.
func newDefaultHTTPClient() *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 16
	return &http.Client{Transport: transport, Timeout: 30 * time.Second}
}

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
	return fmt.Sprintf("edgecache.Client{baseURL: %q, token: %s}", c.redact(c.baseURL), redact.Placeholder)
}

// GoString is String, so that %#v cannot reveal the token either.
func (c Client) GoString() string { return c.String() }

// Format prints String for every verb, %+v and %#v included.
func (c Client) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// do validates req and sends it: the body of every operation's method.
func (c *Client) do(ctx context.Context, req Request) (*Result, error) {
	op := req.operation()
	if err := op.validate(0); err != nil {
		return nil, err
	}
	return c.send(ctx, op, nil, pace.Turn{})
}

// send is the one core every operation shares: it sends a validated request under the retry
// policy and turns the answer into a *Result or an error (see retry.go and errors.go). In a
// bulk purge or a purger, every request goes at the shared pace: turn is the first attempt's,
// which the caller waited for; each later attempt waits for its own, and a 429 the pace waits
// out is no retry.
func (c *Client) send(ctx context.Context, op operation, pacer *pace.Pacer, turn pace.Turn) (*Result, error) {
	haveTurn := true
	var last error // the previous attempt's, for an error while waiting to send again
	return c.retryLoop(ctx, func(ctx context.Context) (*Result, error) {
		for {
			if pacer != nil && !haveTurn {
				var err error
				if turn, err = pacer.Wait(ctx); err != nil {
					return nil, fmt.Errorf("edgecache: %w while waiting for its turn to send again: %w", err, last)
				}
			}
			haveTurn = false
			resp, err := op.send(ctx, c, c.raw)
			if err != nil {
				pacer.Observe(turn, pace.Answer{})
				last = &TransportError{Err: c.redactError(err)}
				return nil, last
			}
			res, err := c.checkResponse(resp)
			_ = resp.Body.Close()
			last = err
			if !pacer.Observe(turn, c.paceAnswer(resp, res, err)) {
				return res, err
			}
		}
	})
}

// PreparedRequest is the HTTP request a call would send, without its credential: the method
// (POST), the full URL, and the JSON body exactly as it would be sent.
type PreparedRequest struct {
	Method string          `json:"method"`
	URL    string          `json:"url"`
	Body   json.RawMessage `json:"body"`
}

// Prepare validates req and builds the request the client would send for it, through the
// same generated code, without sending it and without the Authorization header: for dry runs
// and logs.
func (c *Client) Prepare(req Request) (*PreparedRequest, error) {
	op := req.operation()
	if err := op.validate(0); err != nil {
		return nil, err
	}
	var captured capture
	raw, err := api.NewClient(c.baseURL, api.WithHTTPClient(&captured))
	if err == nil {
		_, err = op.send(context.Background(), c, raw)
	}
	if captured.req == nil {
		return nil, fmt.Errorf("edgecache: building the request: %w", err)
	}
	body, err := io.ReadAll(captured.req.Body)
	if err != nil {
		return nil, fmt.Errorf("edgecache: building the request: %w", err)
	}
	return &PreparedRequest{Method: captured.req.Method, URL: captured.req.URL.String(), Body: body}, nil
}

// capture is an api.HttpRequestDoer that keeps the request instead of sending it.
type capture struct{ req *http.Request }

func (d *capture) Do(req *http.Request) (*http.Response, error) {
	d.req = req
	return nil, errors.New("not sent")
}
