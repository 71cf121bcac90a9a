package edgecachetest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/edgecachetest"
)

func newAdminServer(t *testing.T, opts ...edgecachetest.Option) *edgecachetest.Server {
	t.Helper()
	return newServer(t, append(opts, edgecachetest.WithAdminAPI())...)
}

// adminCall sends a request to the admin API and returns the status, the headers and the
// raw body.
func adminCall(t *testing.T, s *edgecachetest.Server, method, target, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL+target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	data, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close() // read to the end: nothing left to report
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, data
}

// journalJSON is GET /__admin/requests decoded as a client in another language would.
type journalJSON struct {
	Requests []struct {
		Operation string          `json:"operation"`
		Method    string          `json:"method"`
		Path      string          `json:"path"`
		Query     map[string]any  `json:"query"`
		Body      json.RawMessage `json:"body"`
		Status    int             `json:"status"`
		Fault     bool            `json:"fault"`
		TokenSent bool            `json:"tokenSent"`
		Time      time.Time       `json:"time"`
	} `json:"requests"`
	Dropped *int `json:"dropped"`
}

func getJournal(t *testing.T, s *edgecachetest.Server, query string) journalJSON {
	t.Helper()
	status, header, body := adminCall(t, s, http.MethodGet, "/__admin/requests"+query, "")
	if status != http.StatusOK || !strings.HasPrefix(header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /__admin/requests%s: %d %s %s", query, status, header.Get("Content-Type"), body)
	}
	var j journalJSON
	if err := json.Unmarshal(body, &j); err != nil {
		t.Fatalf("GET /__admin/requests%s: %v in %s", query, err, body)
	}
	if j.Requests == nil || j.Dropped == nil {
		t.Fatalf("GET /__admin/requests%s: %s lacks requests or dropped", query, body)
	}
	return j
}

// sendAll sends each SDK case once, with the server's token.
func sendAll(t *testing.T, s *edgecachetest.Server) {
	t.Helper()
	for _, c := range sdkCases() {
		if a := post2(t, s, c.path+c.query, c.body); a.status != http.StatusOK {
			t.Fatalf("%s: %d %s", c.operation, a.status, a.body)
		}
	}
}

// post2 posts to any operation's path with the server's token; faults are allowed.
func post2(t *testing.T, s *edgecachetest.Server, target, body string) answer {
	t.Helper()
	return call(t, s, http.MethodPost, target, body, true, "Authorization: Bearer "+s.Token(), "Content-Type: application/json")
}

func TestAdminRequestsListsAndFiltersByOperation(t *testing.T) {
	s := newAdminServer(t)
	sendAll(t, s)
	sendAll(t, s)
	post2(t, s, pathInvalidateBySrcImages+"?projectIdOrName=p", `{"srcImages":[]}`) // refused: 400

	all := getJournal(t, s, "")
	if len(all.Requests) != 9 || *all.Dropped != 0 {
		t.Fatalf("got %d requests, %d dropped; want 9 and 0", len(all.Requests), *all.Dropped)
	}
	for i, r := range all.Requests[:8] {
		c := sdkCases()[i%4]
		if r.Operation != c.operation || r.Path != c.path || r.Method != "POST" || r.Status != 200 || !r.TokenSent || string(r.Body) != c.body {
			t.Errorf("request %d: %+v, want %s as sent", i, r, c.operation)
		}
		if i > 0 && r.Time.Before(all.Requests[i-1].Time) {
			t.Errorf("request %d is older than request %d: not oldest first", i, i-1)
		}
	}
	if last := all.Requests[8]; last.Status != 400 || last.Operation != edgecachetest.OpInvalidateBySrcImages {
		t.Errorf("the refused request is listed as %+v", last)
	}

	for _, c := range sdkCases() {
		j := getJournal(t, s, "?operation="+c.operation)
		want := 2
		if c.operation == edgecachetest.OpInvalidateBySrcImages {
			want = 3
		}
		if len(j.Requests) != want {
			t.Errorf("?operation=%s: %d requests, want %d", c.operation, len(j.Requests), want)
		}
		for _, r := range j.Requests {
			if r.Operation != c.operation {
				t.Errorf("?operation=%s listed a %s request", c.operation, r.Operation)
			}
		}
	}

	status, _, body := adminCall(t, s, http.MethodGet, "/__admin/requests?operation=deleteByTags", "")
	if status != http.StatusBadRequest || !strings.Contains(string(body), `operation: must be one of \"invalidateByTags\"`) {
		t.Errorf("unknown operation: %d %s, want 400 naming the field and the choices", status, body)
	}

	// The admin API answers what the Go method returns: one log behind both.
	_, _, raw := adminCall(t, s, http.MethodGet, "/__admin/requests?operation="+edgecachetest.OpDangerouslyDeleteByTags, "")
	goView, err := json.Marshal(s.Journal(edgecachetest.OpDangerouslyDeleteByTags))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(raw)) != string(goView) {
		t.Errorf("admin answer\n%s\ndiffers from Journal\n%s", raw, goView)
	}
}

func TestAdminFaultsPerOperation(t *testing.T) {
	s := newAdminServer(t)
	status, _, body := adminCall(t, s, http.MethodPost, "/__admin/faults",
		`{"operation":"invalidateBySrcImages","status":402,"times":2}`)
	if status != http.StatusCreated {
		t.Fatalf("POST /__admin/faults: %d %s, want 201", status, body)
	}
	var queued map[string]any
	if err := json.Unmarshal(body, &queued); err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"operation": "invalidateBySrcImages", "status": 402.0, "times": 2.0}; !reflect.DeepEqual(queued, want) {
		t.Errorf("201 answered %v, want the fault queued %v", queued, want)
	}
	// Go's FailNext reaches the same queue: a fault for any operation, once, after it.
	s.FailNext(1, edgecachetest.Fault{Status: http.StatusServiceUnavailable})

	src := pathInvalidateBySrcImages + "?projectIdOrName=p"
	tags := pathInvalidateByTags + "?projectIdOrName=p"
	steps := []struct {
		target, body string
		status       int
		code         string
	}{
		{tags, `{"tags":["a"]}`, 503, "internal_server_error"}, // the any-operation fault; the src one waits
		{tags, `{"tags":["a"]}`, 200, ""},
		{src, `{"srcImages":["/a.png"]}`, 402, "payment_required"},
		{pathDangerouslyDeleteBySrcImages + "?projectIdOrName=p", `{"srcImages":["/a.png"]}`, 200, ""},
		{src, `{"srcImages":["/a.png"]}`, 402, "payment_required"},
		{src, `{"srcImages":["/a.png"]}`, 200, ""},
	}
	for i, st := range steps {
		if i == 2 {
			var list struct {
				Faults []map[string]any `json:"faults"`
			}
			_, _, b := adminCall(t, s, http.MethodGet, "/__admin/faults", "")
			if err := json.Unmarshal(b, &list); err != nil || len(list.Faults) != 1 || list.Faults[0]["times"] != 2.0 {
				t.Errorf("GET /__admin/faults = %s, want the src-images fault with times 2", b)
			}
		}
		a := post2(t, s, st.target, st.body)
		if a.status != st.status || a.code != st.code {
			t.Fatalf("step %d (%s): got %d %q, want %d %s", i, st.target, a.status, a.body, st.status, st.code)
		}
	}
	if f := s.Faults(); len(f) != 0 {
		t.Errorf("Faults() = %+v after every use, want none", f)
	}
	faulted := 0
	for _, r := range getJournal(t, s, "").Requests {
		if r.Fault {
			faulted++
		}
	}
	if faulted != 3 {
		t.Errorf("the journal marks %d requests as faulted, want 3", faulted)
	}
}

func TestAdminFaultFields(t *testing.T) {
	const tags = pathDangerouslyDeleteByTags + "?projectIdOrName=p"
	const body = `{"tags":["a"]}`

	t.Run("retryAfter and the default envelope", func(t *testing.T) {
		s := newAdminServer(t)
		adminCall(t, s, http.MethodPost, "/__admin/faults", `{"status":429,"retryAfter":"3"}`)
		a := post2(t, s, tags, body)
		if a.status != 429 || a.code != "rate_limited" || a.header.Get("Retry-After") != "3" {
			t.Fatalf("got %d %v %q", a.status, a.header, a.body)
		}
		if a := post2(t, s, tags, body); a.status != 200 {
			t.Fatalf("times defaults to 1, yet the second request got %d", a.status)
		}
	})

	t.Run("a JSON body is sent as JSON", func(t *testing.T) {
		s := newAdminServer(t)
		adminCall(t, s, http.MethodPost, "/__admin/faults", `{"status":429,"body":{"error":{"code":"rate_limited","message":"slow down","limit":{"total":6}}}}`)
		a := post2(t, s, tags, body)
		if a.status != 429 || a.body != `{"error":{"code":"rate_limited","message":"slow down","limit":{"total":6}}}` ||
			!strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
			t.Fatalf("got %d %q %q", a.status, a.header.Get("Content-Type"), a.body)
		}
	})

	t.Run("a string body is sent verbatim", func(t *testing.T) {
		s := newAdminServer(t)
		adminCall(t, s, http.MethodPost, "/__admin/faults", `{"status":502,"body":"<html>bad gateway</html>"}`)
		a := post2(t, s, tags, body)
		if a.status != 502 || a.body != "<html>bad gateway</html>" {
			t.Fatalf("got %d %q", a.status, a.body)
		}
		var list struct {
			Faults []faultOut `json:"faults"`
		}
		s.FailNext(1, edgecachetest.Fault{Status: 502, Body: "<html>x</html>"})
		_, _, b := adminCall(t, s, http.MethodGet, "/__admin/faults", "")
		if err := json.Unmarshal(b, &list); err != nil || len(list.Faults) != 1 || string(list.Faults[0].Body) != `"<html>x</html>"` {
			t.Errorf("GET /__admin/faults = %s, want the body as a JSON string", b)
		}
	})

	t.Run("delayMs", func(t *testing.T) {
		s := newAdminServer(t)
		adminCall(t, s, http.MethodPost, "/__admin/faults", `{"operation":"dangerouslyDeleteByTags","delayMs":200}`)
		start := time.Now()
		a := post2(t, s, tags, body)
		if elapsed := time.Since(start); a.status != 200 || elapsed < 200*time.Millisecond {
			t.Fatalf("got %d after %v, want 200 after at least 200ms", a.status, elapsed)
		}
	})

	t.Run("drop", func(t *testing.T) {
		s := newAdminServer(t)
		adminCall(t, s, http.MethodPost, "/__admin/faults", `{"drop":true}`)
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+tags, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.Token())
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.Client().Do(req)
		if err == nil {
			_ = resp.Body.Close()
			t.Fatalf("got %d, want the connection closed without an answer", resp.StatusCode)
		}
		j := getJournal(t, s, "")
		if len(j.Requests) != 1 || j.Requests[0].Status != 0 || !j.Requests[0].Fault {
			t.Errorf("the dropped request is journaled as %+v, want status 0 and fault", j.Requests)
		}
	})
}

// faultOut is a listed fault with its body kept raw.
type faultOut struct {
	Body json.RawMessage `json:"body"`
}

func TestAdminRefusesABadFaultNamingTheField(t *testing.T) {
	s := newAdminServer(t)
	tests := []struct{ body, want string }{
		{`{"status":429,"times":0}`, "times: must be at least 1 (got 0)"},
		{`{"status":42}`, "status: must be 0 or from 200 to 999 (got 42)"},
		{`{"status":429,"operation":"purge"}`, `operation: must be one of "invalidateByTags", "dangerouslyDeleteByTags", "invalidateBySrcImages", "dangerouslyDeleteBySrcImages", or absent for any (got "purge")`},
		{`{"status":429,"retry_after":"1"}`, "retry_after: is not a field of a fault (operation, times, status, retryAfter, retryAfterMs, body, delayMs, drop)"},
		{`{"status":"429"}`, "status: must be an integer (got string)"},
		{`{"status":429,"times":"2"}`, "times: must be an integer (got string)"},
		{`{"status":429,"drop":"yes"}`, "drop: must be a boolean (got string)"},
		{`{"times":2}`, "status: is required unless drop or delayMs is given"},
		{`{"delayMs":-5}`, "delayMs: must not be negative (got -5)"},
		{``, "body: must be a JSON object (the body is empty)"},
		{`[]`, "body: must be a JSON object (json: cannot unmarshal array into Go value of type edgecachetest.faultJSON)"},
		{`{"status":429}{"status":503}`, "body: must hold one JSON object"},
	}
	for _, tt := range tests {
		status, _, body := adminCall(t, s, http.MethodPost, "/__admin/faults", tt.body)
		var env struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(body, &env); err != nil || status != 400 || env.Error.Code != "bad_request" {
			t.Errorf("POST %s: %d %s, want 400 bad_request", tt.body, status, body)
			continue
		}
		if env.Error.Message != tt.want && !strings.HasPrefix(tt.want, "body: must be a JSON object (json:") {
			t.Errorf("POST %s: message %q, want %q", tt.body, env.Error.Message, tt.want)
		}
	}
	if f := s.Faults(); len(f) != 0 {
		t.Errorf("refused faults were queued: %+v", f)
	}
}

func TestFailNextRefusesAnUnknownOperation(t *testing.T) {
	s := newServer(t)
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), `operation: must be one of`) {
			t.Errorf("FailNext with an unknown operation: recovered %v, want a panic naming the field", r)
		}
	}()
	s.FailNext(1, edgecachetest.Fault{Operation: "invalidateByTag", Status: 429})
}

func TestAdminResetAndClear(t *testing.T) {
	s := newAdminServer(t)
	queue := func() {
		if status, _, b := adminCall(t, s, http.MethodPost, "/__admin/faults", `{"status":503,"operation":"invalidateBySrcImages"}`); status != 201 {
			t.Fatalf("queueing: %d %s", status, b)
		}
	}
	sendAll(t, s)
	queue()

	if status, _, _ := adminCall(t, s, http.MethodDelete, "/__admin/requests", ""); status != http.StatusNoContent {
		t.Fatalf("DELETE /__admin/requests: %d", status)
	}
	if j := getJournal(t, s, ""); len(j.Requests) != 0 || *j.Dropped != 0 {
		t.Errorf("after DELETE /__admin/requests: %+v", j)
	}
	if len(s.Faults()) != 1 || s.Calls() != 4 {
		t.Errorf("DELETE /__admin/requests changed the faults (%d) or Calls (%d)", len(s.Faults()), s.Calls())
	}

	if status, _, _ := adminCall(t, s, http.MethodDelete, "/__admin/faults", ""); status != http.StatusNoContent || len(s.Faults()) != 0 {
		t.Fatalf("DELETE /__admin/faults: %d, %d faults left", status, len(s.Faults()))
	}

	sendAll(t, s)
	queue()
	if status, _, _ := adminCall(t, s, http.MethodPost, "/__admin/reset", ""); status != http.StatusNoContent {
		t.Fatalf("POST /__admin/reset: %d", status)
	}
	if j := getJournal(t, s, ""); len(j.Requests) != 0 || len(s.Faults()) != 0 || s.Calls() != 0 || len(s.Requests()) != 0 {
		t.Errorf("after reset: %d journaled, %d faults, %d calls", len(j.Requests), len(s.Faults()), s.Calls())
	}
	// The src-images fault is gone: the request is accepted.
	if a := post2(t, s, pathInvalidateBySrcImages+"?projectIdOrName=p", `{"srcImages":["/a.png"]}`); a.status != 200 {
		t.Errorf("after reset: %d, want 200", a.status)
	}
}

func TestTheLogIsBounded(t *testing.T) {
	s := newAdminServer(t, edgecachetest.WithMaxRecorded(3))
	sendAll(t, s) // 4 requests, one per operation
	sendAll(t, s) // 4 more

	j := getJournal(t, s, "")
	if len(j.Requests) != 3 || *j.Dropped != 5 {
		t.Fatalf("%d kept, %d dropped; want the newest 3 and 5 dropped", len(j.Requests), *j.Dropped)
	}
	cases := sdkCases()
	for i, r := range j.Requests {
		if want := cases[i+1].operation; r.Operation != want {
			t.Errorf("kept request %d is %s, want %s (the newest, oldest first)", i, r.Operation, want)
		}
	}
	// Per operation: invalidateByTags was sent twice and neither is kept.
	if j := getJournal(t, s, "?operation="+edgecachetest.OpInvalidateByTags); len(j.Requests) != 0 || *j.Dropped != 2 {
		t.Errorf("invalidateByTags: %d kept, %d dropped; want 0 and 2", len(j.Requests), *j.Dropped)
	}
	if j := getJournal(t, s, "?operation="+edgecachetest.OpInvalidateBySrcImages); len(j.Requests) != 1 || *j.Dropped != 1 {
		t.Errorf("invalidateBySrcImages: %d kept, %d dropped; want 1 and 1", len(j.Requests), *j.Dropped)
	}
	if reqs := s.Requests(); len(reqs) != 3 || reqs[2].Operation != edgecachetest.OpDangerouslyDeleteBySrcImages {
		t.Errorf("Requests() = %d requests, want the newest 3", len(reqs))
	}

	t.Run("WithoutRecording counts every request as dropped", func(t *testing.T) {
		s := newAdminServer(t, edgecachetest.WithoutRecording())
		sendAll(t, s)
		if j := getJournal(t, s, ""); len(j.Requests) != 0 || *j.Dropped != 4 {
			t.Errorf("%d kept, %d dropped; want 0 and 4", len(j.Requests), *j.Dropped)
		}
	})

	t.Run("the default keeps 10,000", func(t *testing.T) {
		h := edgecachetest.NewHandler()
		for range edgecachetest.DefaultMaxRecorded + 5 {
			if err := serveOne(h); err != nil {
				t.Fatal(err)
			}
		}
		j := h.Journal("")
		if len(j.Requests) != edgecachetest.DefaultMaxRecorded || j.Dropped != 5 {
			t.Errorf("%d kept, %d dropped; want %d and 5", len(j.Requests), j.Dropped, edgecachetest.DefaultMaxRecorded)
		}
		if got := j.Requests[0].RequestID; got != "fake1::6" {
			t.Errorf("the oldest kept request is %s, want fake1::6", got)
		}
	})
}

func TestAdminAnswersNeverHoldTheToken(t *testing.T) {
	// A token with characters that escaping changes, so that every written form differs.
	const token = "tok/en+Sec=ret&42"
	const other = "configured-second-token"
	s := newAdminServer(t, edgecachetest.WithTokens(token, other))
	forms := []string{
		token,
		url.QueryEscape(token),
		url.PathEscape(token),
		other,
		"Bearer",
	}
	esc := func(s string) string { // every character as \uXXXX, as a JSON encoder may write it
		var b strings.Builder
		for _, r := range s {
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		return b.String()
	}
	auth := "Authorization: Bearer " + token
	ct := "Content-Type: application/json"
	q := "?projectIdOrName=p"
	sends := []struct {
		method, target, body string
		headers              []string
	}{
		{"POST", pathInvalidateByTags + q, `{"tags":["a"]}`, []string{auth, ct}},
		{"POST", pathInvalidateByTags + q + "&teamId=" + url.QueryEscape(token), `{"tags":["a"]}`, []string{auth, ct}},
		{"POST", pathInvalidateByTags + q + "&slug=" + token, `{"tags":["a"]}`, []string{auth, ct}},
		{"POST", pathInvalidateByTags + q, `{"tags":["` + token + `"]}`, []string{auth, ct}},
		{"POST", pathInvalidateByTags + q, `{"tags":["` + esc(token) + `"]}`, []string{auth, ct}},
		{"POST", pathInvalidateByTags + q, `{"tags":["` + strings.ReplaceAll(token, "/", `\/`) + `"],"` + esc(token) + `":1}`, []string{auth, ct}},
		{"POST", pathInvalidateBySrcImages + q, `{"srcImages":["/a.png?k=` + other + `"]}`, []string{auth, ct}},
		{"POST", pathInvalidateByTags + q, "token=" + url.QueryEscape(token), []string{auth, "Content-Type: application/x-www-form-urlencoded"}},
		{"POST", pathInvalidateByTags + q, "not json " + token, []string{auth, "Content-Type: text/plain; " + token}},
		{"POST", pathInvalidateByTags + q, `{"tags":["a"]}`, []string{"Authorization: Bearer wrong-" + token, ct}}, // 403
		{"POST", pathInvalidateByTags + q, `{"tags":["a"]}`, []string{"Authorization: Basic " + token, ct}},        // 401
		{"POST", pathInvalidateByTags + q, `{"tags":["a"]}`, []string{auth, ct, "User-Agent: my-app " + token}},    // header echo
		{"POST", "/v1/edge-cache/" + url.PathEscape(token) + q, `{"tags":["a"]}`, []string{auth, ct}},              // 404
		{"GET", "/__admin/" + token, "", nil},                                // admin 404
		{"POST", "/__admin/faults", `{"status":503,"` + token + `":1}`, nil}, // admin 400
		{"POST", "/__admin/faults", `{"status":"` + token + `"}`, nil},       // admin 400
	}
	for _, snd := range sends {
		if !strings.HasPrefix(snd.target, "/__admin/") {
			call(t, s, snd.method, snd.target, snd.body, true, snd.headers...)
			continue
		}
		status, _, body := adminCall(t, s, snd.method, snd.target, snd.body)
		if status < 400 {
			t.Errorf("%s %s: %d, want an error", snd.method, snd.target, status)
		}
		for _, f := range forms[:4] {
			if strings.Contains(string(body), f) {
				t.Errorf("%s %s: the admin answer holds the token (%q): %s", snd.method, snd.target, f, body)
			}
		}
	}
	if len(s.Requests()) == 0 {
		t.Fatal("no request was accepted: the test sent nothing useful")
	}

	answers := map[string]string{}
	for _, target := range []string{"/__admin/requests", "/__admin/requests?operation=invalidateByTags", "/__admin/faults", "/__admin/spec", "/__admin/spec?format=yaml"} {
		_, _, body := adminCall(t, s, http.MethodGet, target, "")
		answers[target] = string(body)
	}
	j := getJournal(t, s, "")
	if len(j.Requests) != 13 {
		t.Errorf("journaled %d requests, want the 13 sent to the API's paths", len(j.Requests))
	}
	for target, body := range answers {
		for _, f := range forms {
			if f == "Bearer" && !strings.HasPrefix(target, "/__admin/requests") {
				continue
			}
			if strings.Contains(body, f) {
				t.Errorf("GET %s holds %q:\n%s", target, f, body)
			}
		}
		// A JSON decoder would undo any escape: look in the decoded strings too.
		var v any
		if strings.HasPrefix(target, "/__admin/requests") {
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Fatal(err)
			}
			walkStrings(v, func(s string) {
				for _, f := range forms[:4] {
					if strings.Contains(s, f) {
						t.Errorf("GET %s holds %q in the decoded string %q", target, f, s)
					}
				}
			})
		}
	}
	for _, r := range j.Requests {
		if !r.TokenSent {
			t.Errorf("%s %s: tokenSent is false, yet every request sent credentials", r.Method, r.Path)
		}
	}
	if !strings.Contains(answers["/__admin/requests"], "[redacted]") {
		t.Errorf("the journal shows no [redacted] mark; was anything recorded?\n%s", answers["/__admin/requests"])
	}
}

func walkStrings(v any, fn func(string)) {
	switch v := v.(type) {
	case string:
		fn(v)
	case []any:
		for _, item := range v {
			walkStrings(item, fn)
		}
	case map[string]any:
		for k, item := range v {
			fn(k)
			walkStrings(item, fn)
		}
	}
}

func TestAdminPathsDoNotShadowTheAPI(t *testing.T) {
	with := newAdminServer(t)
	without := newServer(t)
	targets := []struct{ method, target, body string }{
		{"POST", pathInvalidateByTags + "?projectIdOrName=p", `{"tags":["a"]}`},
		{"POST", pathDangerouslyDeleteByTags + "?projectIdOrName=p", `{"tags":"a,b"}`},
		{"POST", pathInvalidateBySrcImages + "?projectIdOrName=p", `{"srcImages":["/a.png"]}`},
		{"POST", pathDangerouslyDeleteBySrcImages + "?projectIdOrName=p", `{"srcImages":["/a.png"]}`},
		{"POST", pathInvalidateByTags + "?projectIdOrName=p", `{"tags":[]}`},
		{"GET", pathInvalidateByTags + "?projectIdOrName=p", ""},
		{"POST", "/v1/edge-cache/__admin/requests", `{"tags":["a"]}`},
		{"GET", "/v1/__admin/requests", ""},
		{"POST", "/__adminx/requests", ""},
		{"POST", "/", `{"tags":["a"]}`},
	}
	for _, tt := range targets {
		a := call(t, with, tt.method, tt.target, tt.body, false, "Authorization: Bearer "+with.Token(), "Content-Type: application/json")
		b := call(t, without, tt.method, tt.target, tt.body, false, "Authorization: Bearer "+without.Token(), "Content-Type: application/json")
		if a.status != b.status || a.body != b.body {
			t.Errorf("%s %s: with the admin API %d %q, without %d %q", tt.method, tt.target, a.status, a.body, b.status, b.body)
		}
	}
	before := with.Calls()
	for _, p := range []string{"/__admin/requests", "/__admin/faults", "/__admin/spec", "/__admin/nothing", "/__admin"} {
		adminCall(t, with, http.MethodGet, p, "")
	}
	if with.Calls() != before || len(with.Journal("").Requests) != len(targets) {
		t.Errorf("admin requests were counted (%d calls, was %d) or journaled (%d)", with.Calls(), before, len(with.Journal("").Requests))
	}
	// Without WithAdminAPI the admin paths are unknown API paths, answered like any other.
	a := call(t, without, http.MethodGet, "/__admin/requests", "", false)
	if a.status != http.StatusNotFound || a.code != "not_found" {
		t.Errorf("without WithAdminAPI: %d %q, want the fake's 404", a.status, a.body)
	}
}

func TestAdminRoutesAndMethods(t *testing.T) {
	s := newAdminServer(t)
	tests := []struct {
		method, target string
		status         int
		allow          string
	}{
		{"GET", "/__admin/nothing", 404, ""},
		{"POST", "/__admin/", 405, "GET, HEAD"},
		{"PUT", "/__admin/requests", 405, "GET, HEAD, DELETE"},
		{"PATCH", "/__admin/faults", 405, "GET, HEAD, POST, DELETE"},
		{"GET", "/__admin/reset", 405, "POST"},
		{"POST", "/__admin/spec", 405, "GET, HEAD"},
		{"GET", "/__admin/spec?format=xml", 400, ""},
	}
	for _, tt := range tests {
		status, header, body := adminCall(t, s, tt.method, tt.target, "")
		var env struct {
			Error struct{ Code, Message string }
		}
		if status != tt.status || header.Get("Allow") != tt.allow || json.Unmarshal(body, &env) != nil || env.Error.Code == "" {
			t.Errorf("%s %s: %d Allow=%q %s; want %d Allow=%q with an envelope", tt.method, tt.target, status, header.Get("Allow"), body, tt.status, tt.allow)
		}
	}
}

func TestAdminSpec(t *testing.T) {
	s := newAdminServer(t)
	status, header, body := adminCall(t, s, http.MethodGet, "/__admin/spec", "")
	if status != 200 || header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /__admin/spec: %d %s", status, header.Get("Content-Type"))
	}
	doc, err := openapi3.NewLoader().LoadFromData(body)
	if err != nil {
		t.Fatalf("the JSON spec does not load: %v", err)
	}
	ids := map[string]bool{}
	for _, item := range doc.Paths.Map() {
		if item.Post != nil {
			ids[item.Post.OperationID] = true
		}
	}
	for _, op := range edgecachetest.Operations() {
		if !ids[op] {
			t.Errorf("the served spec lacks %s", op)
		}
	}
	if len(doc.Servers) == 0 || doc.Servers[0].URL != "https://api.vercel.com" {
		t.Errorf("the served spec's servers are %v, want the vendored document's", doc.Servers)
	}
	_, header, yaml := adminCall(t, s, http.MethodGet, "/__admin/spec?format=yaml", "")
	if !bytes.Equal(yaml, edgecache.OpenAPISpec) || header.Get("Content-Type") != "application/yaml" {
		t.Errorf("?format=yaml is not the vendored document (%d bytes, %s)", len(yaml), header.Get("Content-Type"))
	}
}

func TestAdminUnderConcurrentUse(t *testing.T) {
	s := newAdminServer(t, edgecachetest.WithMaxRecorded(50))
	c := newClient(t, s, edgecache.WithRetry(edgecache.RetryPolicy{MaxAttempts: 20, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				adminCall(t, s, http.MethodGet, "/__admin/requests", "")
				adminCall(t, s, http.MethodPost, "/__admin/faults", `{"status":503,"operation":"dangerouslyDeleteByTags"}`)
				adminCall(t, s, http.MethodGet, "/__admin/faults", "")
			}
		})
	}
	var writers sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 4 {
		writers.Go(func() {
			for i := range 25 {
				_, err := c.DangerouslyDeleteByTags(t.Context(), edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: "p", Tags: edgecache.TagList(fmt.Sprintf("w%d-%d", w, i))})
				if err != nil && !errors.Is(err, edgecache.ErrServer) {
					errs <- err
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	j := s.Journal("")
	if len(j.Requests) != 50 || len(j.Requests)+j.Dropped != s.Calls() {
		t.Errorf("%d kept + %d dropped, %d calls: every request must be kept or counted", len(j.Requests), j.Dropped, s.Calls())
	}
}

func TestLogLinesRedactTheTokenLikeTheJournal(t *testing.T) {
	var logs syncBuffer
	const token = "log-line-token-77"
	s := newServer(t, edgecachetest.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	auth := []string{"Authorization: Bearer " + token, "Content-Type: application/json"}
	call(t, s, http.MethodPost, pathInvalidateByTags+"?projectIdOrName="+token, `{"tags":["a"]}`, false, auth...)
	call(t, s, http.MethodPost, pathInvalidateByTags+"?projectIdOrName=p", `{"tags":["a"],"target":"`+token+`"}`, false, auth...)
	call(t, s, http.MethodPost, "/v1/"+token, `{"tags":["a"]}`, false, auth...)
	out := logs.String()
	if strings.Count(out, "\n") != 3 || strings.Count(out, redactedMark) < 3 {
		t.Errorf("want 3 lines, each with the token redacted:\n%s", out)
	}
	if strings.Contains(out, token) {
		t.Errorf("the log holds the token:\n%s", out)
	}
}

const redactedMark = "[redacted]"

// TestAShortTokenDoesNotShredTheLog: the log redacts by the client's rule, so a short test
// token is replaced where it stands alone and the words around it stay as they were sent.
func TestAShortTokenDoesNotShredTheLog(t *testing.T) {
	s := newAdminServer(t, edgecachetest.WithTokens("e"))
	if a := post2(t, s, "/v1/edge-cache/invalidate-by-tags?projectIdOrName=release", `{"tags":["blue","e"]}`); a.status != http.StatusOK {
		t.Fatalf("%d %s", a.status, a.body)
	}
	j := getJournal(t, s, "")
	if len(j.Requests) != 1 {
		t.Fatalf("%d requests recorded, want 1", len(j.Requests))
	}
	r := j.Requests[0]
	if string(r.Body) != `{"tags":["blue","[redacted]"]}` || r.Query["projectIdOrName"] != "release" {
		t.Errorf("recorded body %s and query %v; want the words intact and only the lone token redacted", r.Body, r.Query)
	}
}
