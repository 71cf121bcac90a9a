package edgecachetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
)

// The bounds a body must keep before the spec validation sees it. kin-openapi renders a
// failed oneOf eagerly, the offending value included, once per branch and per level, so its
// cost grows with the value's size and, steeply, with its depth: a 20 KB body nesting 9,990
// arrays cost 5–18 s and 2–5 GB, and 1 MiB of empty arrays 0.3–0.7 s and 150 MB. Within
// these bounds a refused request costs at most about 0.1 s and 40 MB (BenchmarkGuard).
//
// Each bound leaves room above the largest body an operation accepts (see
// TestGuardBoundsFitTheSpec), so that a body a little beyond the spec still gets the
// validator's precise message ("tags: must hold at most 16 items (got 17)").
const (
	// maxBodyBytes bounds a request body's size.
	maxBodyBytes = 1 << 20
	// maxBodyDepth bounds how deep arrays and objects nest. The deepest valid body nests 2
	// ({"tags":["a"]}).
	maxBodyDepth = 8
	// maxBodyValues bounds the JSON values (objects, arrays, strings, numbers, booleans and
	// nulls; not object keys) in a body. The largest valid body holds 20: the object, the
	// tags array and its 16 items, the target and the deadline.
	maxBodyValues = 1000
)

// guardBody reads the body once, within maxBodyBytes, so that the log can keep it, and
// refuses one that is too large, too deep, too many values or followed by more data, before
// any other verdict: those are what the validator must never see. It then gives the request
// a copy, in memory, for the validator and the handler. It reports whether to go on; if not,
// the answer is written.
func guardBody(aw *answerWriter, r *http.Request) (body []byte, ok bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	data, err := io.ReadAll(http.MaxBytesReader(aw.ResponseWriter, r.Body, maxBodyBytes))
	_ = r.Body.Close()
	if err != nil {
		// A partial body must get an answer other than the 200 net/http sends for a handler
		// that writes nothing; if the client is gone, nobody reads it. The rest of the
		// request never came, so the connection is out of step: close it after the answer
		// (net/http does so itself for a body beyond the limit).
		msg := fmt.Sprintf("body: must be at most %d bytes", maxBodyBytes)
		if !isMaxBytes(err) {
			aw.Header().Set("Connection", "close")
			msg = "body: could not be read to its end (" + err.Error() + ")"
			if errors.Is(err, os.ErrDeadlineExceeded) {
				msg = "body: could not be read to its end (timed out)"
			}
		}
		writeError(aw, http.StatusBadRequest, "bad_request", msg)
		return data, false
	}
	if msg := checkJSONShape(data); msg != "" {
		writeError(aw, http.StatusBadRequest, "bad_request", "body: "+msg)
		return data, false
	}
	if len(data) == 0 {
		r.Body = http.NoBody
		return nil, true
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	r.ContentLength = int64(len(data))
	return data, true
}

func isMaxBytes(err error) bool {
	_, ok := errors.AsType[*http.MaxBytesError](err)
	return ok
}

// checkJSONShape walks data's tokens, without building any value, and returns the bound
// data breaks ("" if none). A body that is not JSON at all is left to the validator, which
// words that breach as it always has; it stops at the same place, within the bounds.
func checkJSONShape(data []byte) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	// Numbers stay text: a number too large for a float64 is not an error here.
	dec.UseNumber()
	// Per open container: whether it is an object, and how many tokens it has held, so
	// that an object's keys (its even tokens) are told from its values.
	type level struct {
		object bool
		tokens int
	}
	var open []level
	values := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		if tok == json.Delim('}') || tok == json.Delim(']') {
			open = open[:len(open)-1]
			if len(open) == 0 {
				break
			}
			continue
		}
		isKey := false
		if n := len(open); n > 0 {
			isKey = open[n-1].object && open[n-1].tokens%2 == 0
			open[n-1].tokens++
		}
		if isKey {
			continue
		}
		if values++; values > maxBodyValues {
			return fmt.Sprintf("must hold at most %d JSON values (got more)", maxBodyValues)
		}
		if tok == json.Delim('{') || tok == json.Delim('[') {
			open = append(open, level{object: tok == json.Delim('{')})
			if len(open) > maxBodyDepth {
				// The token just read is the one-byte delimiter.
				return fmt.Sprintf("must nest arrays and objects at most %d deep (level %d opens at byte %d)", maxBodyDepth, len(open), dec.InputOffset()-1)
			}
			continue
		}
		if len(open) == 0 {
			break // a scalar body
		}
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); err == io.EOF {
		return ""
	}
	// Whitespace is fine after the value, as in any JSON text; anything else is not.
	return "must be one JSON value (got " + shortValue(string(bytes.TrimSpace(data[end:]))) + " after it)"
}
