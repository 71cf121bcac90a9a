package edgecache

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinel errors. An *APIError matches the one for its status with errors.Is; a
// *ValidationError matches ErrInvalidRequest.
var (
	// ErrInvalidRequest means the request broke a rule of the spec (or one of the client's
	// stricter rules) and was not sent.
	ErrInvalidRequest = errors.New("edgecache: invalid request")
	// ErrBadRequest matches a 400 answer.
	ErrBadRequest = errors.New("edgecache: bad request")
	// ErrUnauthorized matches a 401 answer: the token is missing, malformed or expired.
	ErrUnauthorized = errors.New("edgecache: unauthorized")
	// ErrForbidden matches a 403 answer: the token may not act on this project or team.
	ErrForbidden = errors.New("edgecache: forbidden")
	// ErrNotFound matches a 404 answer: no such project or team.
	ErrNotFound = errors.New("edgecache: not found")
	// ErrPaymentRequired matches a 402 answer, which the source-image operations declare:
	// the team's plan does not cover the call.
	ErrPaymentRequired = errors.New("edgecache: payment required")
	// ErrGone matches a 410 answer.
	ErrGone = errors.New("edgecache: gone")
	// ErrRateLimited matches a 429 answer.
	ErrRateLimited = errors.New("edgecache: rate limited")
	// ErrServer matches any 5xx answer.
	ErrServer = errors.New("edgecache: server error")
)

// maxErrorBody caps how much of an error answer is read: enough for Vercel's envelope, and a
// bound against a misbehaving server or proxy.
const maxErrorBody = 1 << 20

// APIError is a non-2xx answer from the API.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the envelope's error.code (for example "forbidden"), or empty when the body
	// carried no envelope.
	Code string
	// Message is the envelope's error.message, or a short excerpt of a non-envelope body.
	Message string
	// RequestID is the x-vercel-id header, to quote to Vercel support.
	RequestID string
	// RetryAfter is the wait the server asked for (Retry-After or retry-after-ms), zero when
	// it asked for none.
	RetryAfter time.Duration
	// RateLimit is the envelope's error.limit when the body carries one (Vercel sends it with
	// 429 answers), nil otherwise.
	RateLimit *RateLimit
	// Attempts is how many requests were made, retries included.
	Attempts int
}

// RateLimit is the limit block Vercel puts inside a rate-limited error envelope.
type RateLimit struct {
	// Remaining is how many requests the window still allows.
	Remaining int `json:"remaining"`
	// Reset is when the window resets, in Unix seconds.
	Reset int64 `json:"reset"`
	// ResetMs is Reset in Unix milliseconds.
	ResetMs int64 `json:"resetMs"`
	// Total is the window's limit.
	Total int `json:"total"`
}

// Error describes the answer without any request credential.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "edgecache: %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		fmt.Fprintf(&b, ": %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " [request id %s]", e.RequestID)
	}
	return b.String()
}

// Is matches the sentinel for the error's status, so callers need not compare codes.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrBadRequest:
		return e.StatusCode == http.StatusBadRequest
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrPaymentRequired:
		return e.StatusCode == http.StatusPaymentRequired
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrGone:
		return e.StatusCode == http.StatusGone
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrServer:
		return e.StatusCode >= 500 && e.StatusCode <= 599
	}
	return false
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

// parseErrorBody fills code, message and limit from an error body. The spec gives 4xx
// answers no schema, so an empty, truncated or non-JSON body must still yield a usable
// error: its start becomes the message.
func parseErrorBody(e *APIError, body []byte) {
	var env errorEnvelope
	if err := json.Unmarshal(body, &env); err == nil && env.Error != nil {
		e.RateLimit = env.Error.Limit
		if env.Error.Code != "" || env.Error.Message != "" {
			e.Code = env.Error.Code
			e.Message = env.Error.Message
			return
		}
		// An envelope with neither code nor message ({"error":{}}) says nothing: fall
		// through, so that the body itself becomes the message.
	}
	e.Message = excerpt(strings.TrimSpace(string(body)), maxExcerpt)
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
	requestID := resp.Header.Get(requestIDHeader)
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		// Drained so the connection can be reused; a 200 carries {} at most.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return &Result{StatusCode: resp.StatusCode, RequestID: requestID}, nil
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
	return nil, apiErr
}
