package edgecache

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vercelkit/edgecache/internal/redact"
)

// Sentinel errors. An *APIError matches the one for its status with errors.Is; a
// *ValidationError matches ErrInvalidRequest.
var (
	// ErrInvalidRequest matches a request that broke a rule of the spec or a stricter one and
	// was not sent.
	ErrInvalidRequest = errors.New("edgecache: invalid request")
	// ErrBadRequest matches a 400 answer.
	ErrBadRequest = errors.New("edgecache: bad request")
	// ErrUnauthorized matches a 401 answer: the token is missing, malformed or expired.
	ErrUnauthorized = errors.New("edgecache: unauthorized")
	// ErrForbidden matches a 403 answer: the token may not act on this project or team.
	ErrForbidden = errors.New("edgecache: forbidden")
	// ErrNotFound matches a 404 answer: no such project or team.
	ErrNotFound = errors.New("edgecache: not found")
	// ErrPaymentRequired matches a 402 answer (source images): the plan does not cover it.
	ErrPaymentRequired = errors.New("edgecache: payment required")
	// ErrGone matches a 410 answer.
	ErrGone = errors.New("edgecache: gone")
	// ErrRateLimited matches a 429 answer.
	ErrRateLimited = errors.New("edgecache: rate limited")
	// ErrServer matches any 5xx answer.
	ErrServer = errors.New("edgecache: server error")
)

// maxErrorBody caps how much of an answer is read: a bound against a misbehaving server.
const maxErrorBody = 1 << 20

// APIError is a non-2xx answer from the API.
type APIError struct {
	StatusCode int // the HTTP status
	// Code and Message are the envelope's error.code ("forbidden") and error.message; without
	// an envelope, Code is empty and Message a short excerpt of the body.
	Code, Message string
	// RequestID is the x-vercel-id header, to quote to Vercel support (redacted; see New).
	RequestID string
	// RetryAfter is the wait the server asked for (Retry-After or retry-after-ms), or zero.
	RetryAfter time.Duration
	// RateLimit is the envelope's error.limit, which Vercel sends with 429 answers; without
	// one, the X-RateLimit-* headers (see [Result]); or nil.
	RateLimit *RateLimit
	Attempts  int // how many requests were made, retries included
}

// RateLimit is a server's account of its rate limit: the limit block Vercel puts inside a
// rate-limited error envelope, or the X-RateLimit-* headers of any answer (then ResetMs is
// Reset in milliseconds).
type RateLimit struct {
	Remaining int   `json:"remaining"` // requests the window still allows
	Reset     int64 `json:"reset"`     // when the window resets, in Unix seconds
	ResetMs   int64 `json:"resetMs"`   // Reset in Unix milliseconds
	Total     int   `json:"total"`     // the window's limit
}

// Error describes the answer without any request credential.
func (e *APIError) Error() string {
	s := fmt.Sprintf("edgecache: %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	for _, part := range []string{e.Code, e.Message} {
		if part != "" {
			s += ": " + part
		}
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	if e.Attempts > 1 {
		s += fmt.Sprintf(" after %d attempts", e.Attempts)
	}
	if e.RequestID != "" {
		s += " [request id " + e.RequestID + "]"
	}
	return s
}

// Is matches the sentinel for the error's status, so callers need not compare codes.
func (e *APIError) Is(target error) bool {
	if e.StatusCode >= 500 && e.StatusCode <= 599 {
		return target == ErrServer
	}
	sentinel, ok := map[int]error{400: ErrBadRequest, 401: ErrUnauthorized, 402: ErrPaymentRequired,
		403: ErrForbidden, 404: ErrNotFound, 410: ErrGone, 429: ErrRateLimited}[e.StatusCode]
	return ok && target == sentinel
}

// Temporary reports whether the same request may succeed later: rate limits and server
// faults, not refusals of the request itself.
func (e *APIError) Temporary() bool { return isRetryableStatus(e.StatusCode) }

// errorEnvelope is Vercel's error body: {"error":{"code":…,"message":…,"limit":{…}}}.
type errorEnvelope struct {
	Error *struct {
		Code    string     `json:"code"`
		Message string     `json:"message"`
		Limit   *RateLimit `json:"limit"`
	} `json:"error"`
}

// maxExcerpt bounds the text kept from a body that is not an envelope.
const maxExcerpt = 200

// parseErrorBody fills code, message and limit from an error body, each text redacted. The
// spec gives 4xx answers no schema, so an empty or non-JSON body becomes the message.
func parseErrorBody(e *APIError, body []byte, redact func(string) string) {
	var env errorEnvelope
	if err := json.Unmarshal(body, &env); err == nil && env.Error != nil {
		e.RateLimit = env.Error.Limit
		if env.Error.Code != "" || env.Error.Message != "" {
			e.Code = redact(env.Error.Code)
			e.Message = redact(env.Error.Message)
			return
		}
		// {"error":{}} says nothing: the body itself becomes the message.
	}
	// Redacted before the cut, which could otherwise leave all but the end of the token.
	e.Message = excerpt(redact(strings.TrimSpace(string(body))), maxExcerpt)
}

// excerpt shortens s to at most n runes, marking a cut with an ellipsis, and replaces
// invalid UTF-8 so that a binary body cannot garble a log line.
func excerpt(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// checkResponse turns an answer into a *Result (2xx) or an *APIError (anything else), the one
// place where every operation's answers are read.
func (c *Client) checkResponse(resp *http.Response) (*Result, error) {
	requestID := c.redact(resp.Header.Get("X-Vercel-Id")) // the id Vercel support asks for
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		// Drained so the connection can be reused; a 200 carries {} at most.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return &Result{StatusCode: resp.StatusCode, RequestID: requestID, RateLimit: rateLimitHeaders(resp.Header)}, nil
	}
	apiErr := &APIError{
		StatusCode: resp.StatusCode,
		RequestID:  requestID,
		RetryAfter: parseRetryAfter(resp.Header, c.now()),
	}
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	parseErrorBody(apiErr, data, c.redact)
	if apiErr.RateLimit == nil {
		apiErr.RateLimit = rateLimitHeaders(resp.Header)
	}
	if readErr != nil && apiErr.Message == "" {
		apiErr.Message = "reading the error body: " + readErr.Error()
	}
	if loc, err := resp.Location(); err == nil && resp.StatusCode/100 == 3 {
		apiErr.Message = "redirect to " + c.redact(loc.Redacted()) + " not followed: a purge follows only a 307 or 308 to the same origin"
	}
	return nil, apiErr
}

// redact replaces the token in s (see New): a proxy or a misbehaving server may echo the
// request back, and the token must not travel on.
func (c *Client) redact(s string) string { return redact.Token(s, c.token) }

// redactError keeps the token out of a transport error: net/http's *url.Error names a URL,
// perhaps a followed Location that carried the token; any other error whose text holds the
// token becomes that text redacted, its chain dropped, since the chain would print it again.
func (c *Client) redactError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return &url.Error{Op: ue.Op, URL: c.redact(ue.URL), Err: c.redactError(ue.Err)}
	}
	if text := err.Error(); c.redact(text) != text {
		return errors.New(c.redact(text))
	}
	return err
}
