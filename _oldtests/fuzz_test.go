package edgecache_test

// Fuzz targets for the parsers that read untrusted input: the tags union's JSON, error
// bodies and Retry-After headers. Their seed corpora are in testdata/fuzz/<FuzzName>/ and in
// the f.Add calls; `go test` runs every seed as a regular test.

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vercelkit/edgecache"
)

// Input sizes are capped. The fuzzing engine minimizes every new interesting input, at a
// cost quadratic in its length (it tries removing every run of bytes), and an execution in
// this package's large, coverage-instrumented test binary takes a few hundred microseconds:
// one interesting 1 KiB input stalls fuzzing for the whole -fuzzminimizetime (60 s), longer
// than the Makefile's or a 30 s run, which then fails with "context deadline exceeded".
// Inputs above the caps return at once, so they add no coverage and are never minimized;
// FuzzParseErrorBody repeats its body to reach lengths beyond the cap.
const (
	relFuzzMaxJSON   = 128 // JSON documents and error bodies
	relFuzzMaxString = 64  // tags, codes, messages, header values
)

// relWire returns s as it arrives after a JSON round trip: encoding/json replaces invalid
// UTF-8 with U+FFFD.
func relWire(t *testing.T, s string) string {
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("json.Marshal(%q): %v", s, err)
	}
	var out string
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("json.Unmarshal(%s): %v", data, err)
	}
	return out
}

// relNullItemsAsEmpty replaces null items of a decoded JSON array with "": Tags.UnmarshalJSON
// decodes into a []string, where a null item leaves "" (validation then refuses the empty
// tag; see the report).
func relNullItemsAsEmpty(v any) any {
	list, ok := v.([]any)
	if !ok {
		return v
	}
	out := make([]any, len(list))
	for i, item := range list {
		if item == nil {
			item = ""
		}
		out[i] = item
	}
	return out
}

// FuzzTagsJSONRoundTrip: any JSON that Tags.UnmarshalJSON accepts re-encodes to an
// equivalent value, which decodes to the same Tags; TagList and TagString values survive a
// marshal and unmarshal, alone and inside a request body.
func FuzzTagsJSONRoundTrip(f *testing.F) {
	for _, seed := range []struct {
		data string
		a, b string
	}{
		{`["blog","products"]`, "blog", "products"},
		{`"blog,products"`, "a", ""},
		{`[]`, "", ""},
		{`""`, "", "x"},
		{` [ "a" , "b" ] `, "with,comma", "é😀"},
		{`["\u00e9","\ud83d\ude00","\\"]`, `quote"`, `back\slash`},
		{`["a",null]`, "\x00", "\u2028"},
		{`null`, "\xff", "ok"},
		{`{"tags":["a"]}`, "a", "a"},
		{`[1,2]`, "1", "2"},
		{`"\ud800"`, "<script>", "&amp;"},
	} {
		f.Add([]byte(seed.data), seed.a, seed.b)
	}
	f.Fuzz(func(t *testing.T, data []byte, a, b string) {
		if len(data) > relFuzzMaxJSON || len(a) > relFuzzMaxString || len(b) > relFuzzMaxString {
			return
		}
		// Decode, encode, decode.
		var tags edgecache.Tags
		if err := json.Unmarshal(data, &tags); err == nil {
			if tags.IsZero() {
				t.Fatalf("Unmarshal(%q) succeeded with a zero Tags", data)
			}
			enc, err := json.Marshal(tags)
			if err != nil {
				t.Fatalf("Unmarshal(%q) succeeded but Marshal failed: %v", data, err)
			}
			var orig, re any
			if err := json.Unmarshal(data, &orig); err != nil {
				t.Fatalf("Tags accepted %q, which is not JSON: %v", data, err)
			}
			if err := json.Unmarshal(enc, &re); err != nil {
				t.Fatalf("Marshal gave %q, which is not JSON: %v", enc, err)
			}
			if !reflect.DeepEqual(relNullItemsAsEmpty(orig), re) {
				t.Fatalf("%q decoded and re-encoded as %q: not equivalent (%#v vs %#v)", data, enc, orig, re)
			}
			var again edgecache.Tags
			if err := json.Unmarshal(enc, &again); err != nil {
				t.Fatalf("Marshal gave %q, which Unmarshal refuses: %v", enc, err)
			}
			if again.IsList() != tags.IsList() || !slices.Equal(again.Values(), tags.Values()) || again.String() != tags.String() {
				t.Fatalf("%q → %q → list=%v %q, want list=%v %q", data, enc, again.IsList(), again.Values(), tags.IsList(), tags.Values())
			}
			if enc2, err := json.Marshal(again); err != nil || !bytes.Equal(enc2, enc) {
				t.Fatalf("encoding is not stable: %q then %q (%v)", enc, enc2, err)
			}
		}

		// Constructed values.
		wa, wb := relWire(t, a), relWire(t, b)
		cases := []struct {
			tags       edgecache.Tags
			wantList   bool
			wantValues []string
		}{
			{edgecache.TagList(a, b), true, []string{wa, wb}},
			{edgecache.TagList(a), true, []string{wa}},
			{edgecache.TagList(), true, []string{}},
			{edgecache.TagString(a), false, strings.Split(wa, ",")},
		}
		for _, tc := range cases {
			type body struct {
				Tags edgecache.Tags `json:"tags"`
			}
			enc, err := json.Marshal(body{tc.tags})
			if err != nil {
				t.Fatalf("Marshal(%#v): %v", tc.tags.Values(), err)
			}
			var back body
			if err := json.Unmarshal(enc, &back); err != nil {
				t.Fatalf("Unmarshal(%q): %v", enc, err)
			}
			got := back.Tags.Values()
			if got == nil {
				got = []string{}
			}
			if back.Tags.IsList() != tc.wantList || !slices.Equal(got, tc.wantValues) {
				t.Fatalf("%q decoded as list=%v %q, want list=%v %q", enc, back.Tags.IsList(), got, tc.wantList, tc.wantValues)
			}
			if utf8.ValidString(a) && utf8.ValidString(b) && back.Tags.String() != tc.tags.String() {
				t.Fatalf("%q decoded as %q, want %q", enc, back.Tags.String(), tc.tags.String())
			}
		}
	})
}

// FuzzParseErrorBody: the error-body parser never panics; a non-blank body always yields a
// Code or a Message; the Message is valid UTF-8 and, unless it is an envelope's own, at most
// 200 runes plus an ellipsis taken from the start of the body; an envelope's code and message
// come back exactly.
func FuzzParseErrorBody(f *testing.F) {
	for _, seed := range []struct {
		body          string
		repeat        uint8
		code, message string
	}{
		{`{"error":{"code":"forbidden","message":"Not authorized"}}`, 0, "forbidden", "Not authorized"},
		{`{"error":{"code":"rate_limited","message":"Rate limit exceeded","limit":{"remaining":0,"reset":1,"resetMs":1000,"total":100}}}`, 0, "rate_limited", ""},
		{`{"error":{}}`, 0, "", "m"},
		{`{"error":null}`, 0, "c", ""},
		{`{"error":{"code":5}}`, 0, "", ""},
		{`{"error":{"code":"x","message":"y","limit":{"remaining":1.5}}}`, 0, "x", "y"},
		{`{"error":{"code":"forbidden","mess`, 3, "\xff", "\xfe"},
		{"<html><body>502 Bad Gateway</body></html>", 9, "bad_gateway", strings.Repeat("é", 30)},
		{"\xff\xfe\xfd binary", 40, "", "\u2028"},
		{"   \n\t", 7, "", ""},
		{"", 0, "", ""},
		{strings.Repeat("€", 40), 5, "€", strings.Repeat("x", 60)},
		{"a", 199, "", ""},
		{"ab", 100, "", ""},
		{`{"ERROR":{"CODE":"case","Message":"insensitive"}}`, 0, "a", "b"},
	} {
		f.Add([]byte(seed.body), seed.repeat, seed.code, seed.message)
	}
	f.Fuzz(func(t *testing.T, body []byte, repeat uint8, code, message string) {
		if len(body) > relFuzzMaxJSON || len(code) > relFuzzMaxString || len(message) > relFuzzMaxString {
			return
		}
		// Repeated, a short input reaches past the 200-rune excerpt (up to 32 KiB).
		body = bytes.Repeat(body, 1+int(repeat))
		e := edgecache.ParseErrorBody(body)
		if len(bytes.TrimSpace(body)) > 0 && e.Code == "" && e.Message == "" {
			t.Fatalf("body %q yielded neither a Code nor a Message", body)
		}
		if !utf8.ValidString(e.Message) || !utf8.ValidString(e.Code) {
			t.Fatalf("body %q yielded Code %q, Message %q: not valid UTF-8", body, e.Code, e.Message)
		}
		var env struct {
			Error *struct {
				Code    string               `json:"code"`
				Message string               `json:"message"`
				Limit   *edgecache.RateLimit `json:"limit"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &env) == nil && env.Error != nil && (env.Error.Code != "" || env.Error.Message != "") {
			if e.Code != env.Error.Code || e.Message != env.Error.Message || !reflect.DeepEqual(e.RateLimit, env.Error.Limit) {
				t.Fatalf("envelope %q yielded {%q, %q, %+v}, want {%q, %q, %+v}", body, e.Code, e.Message, e.RateLimit, env.Error.Code, env.Error.Message, env.Error.Limit)
			}
		} else {
			if e.Code != "" {
				t.Fatalf("non-envelope %q yielded Code %q", body, e.Code)
			}
			n := utf8.RuneCountInString(e.Message)
			text := strings.TrimSuffix(e.Message, "…")
			if n > edgecache.MaxExcerpt+1 || (n == edgecache.MaxExcerpt+1 && text == e.Message) {
				t.Fatalf("non-envelope %q yielded a %d-rune Message, want at most %d plus an ellipsis", body, n, edgecache.MaxExcerpt)
			}
			if want := strings.ToValidUTF8(strings.TrimSpace(string(body)), "\uFFFD"); !strings.HasPrefix(want, text) {
				t.Fatalf("non-envelope %q yielded Message %q, not the start of the body", body, e.Message)
			}
		}

		// An envelope built from code and message gives them back as they arrive.
		data, err := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": message}})
		if err != nil {
			t.Fatal(err)
		}
		e = edgecache.ParseErrorBody(data)
		wantCode, wantMessage := relWire(t, code), relWire(t, message)
		if wantCode == "" && wantMessage == "" {
			if e.Message == "" {
				t.Fatalf("empty envelope %s yielded no Message", data)
			}
			return
		}
		if e.Code != wantCode || e.Message != wantMessage {
			t.Fatalf("envelope %s yielded {%q, %q}, want {%q, %q}", data, e.Code, e.Message, wantCode, wantMessage)
		}
	})
}

// FuzzParseRetryAfter: the wait read from Retry-After and retry-after-ms is never negative
// and never above the clamp, and a plain reading of either header is honoured exactly.
func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC).Unix()
	for _, seed := range []struct {
		retryAfter, ms string
		now            int64
	}{
		{"2", "", now},
		{"0", "", now},
		{"-5", "", now},
		{"3600", "", now},
		{"99999999999999999999", "", now},
		{"9223372036854775807", "", now},
		{"Wed, 02 Jan 2030 03:04:12 GMT", "", now},
		{"Wed, 02 Jan 2030 03:04:12 GMT", "", math.MinInt64},
		{"Fri, 31 Dec 9999 23:59:59 GMT", "", now},
		{"Sun, 06 Nov 1994 08:49:37 GMT", "", now},
		{"Sunday, 06-Nov-94 08:49:37 GMT", "", now},
		{"Sun Nov  6 08:49:37 1994", "", now},
		{"soon", "", now},
		{"", "1500", now},
		{"9", "250.5", now},
		{"4", "x", now},
		{"", "1e300", now},
		{"", "Inf", now},
		{"", "NaN", now},
		{"", "-1", now},
		{"", "1e-9", now},
		{"", "31536000000", now},
		{"", "31536000001", now},
		{" 7 ", " 0x10 ", now},
	} {
		f.Add(seed.retryAfter, seed.ms, seed.now)
	}
	f.Fuzz(func(t *testing.T, retryAfter, ms string, nowUnix int64) {
		if len(retryAfter) > relFuzzMaxString || len(ms) > relFuzzMaxString {
			return
		}
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		if ms != "" {
			h.Set("Retry-After-Ms", ms)
		}
		now := time.Unix(nowUnix, 0)
		d := edgecache.ParseRetryAfter(h, now)
		if d < 0 || d > edgecache.MaxRetryAfterHeader {
			t.Fatalf("Retry-After %q, retry-after-ms %q at %d gave %s, want within [0, %s]", retryAfter, ms, nowUnix, d, edgecache.MaxRetryAfterHeader)
		}

		// Where the answer is plain, it must be exact.
		if msf, err := strconv.ParseFloat(strings.TrimSpace(ms), 64); err == nil && msf > 0 {
			if limit := float64(edgecache.MaxRetryAfterHeader / time.Millisecond); msf < limit {
				if want := time.Duration(msf * float64(time.Millisecond)); d != want {
					t.Fatalf("retry-after-ms %q gave %s, want %s", ms, d, want)
				}
			} else if d != edgecache.MaxRetryAfterHeader {
				t.Fatalf("retry-after-ms %q gave %s, want the clamp %s", ms, d, edgecache.MaxRetryAfterHeader)
			}
			return
		}
		v := strings.TrimSpace(retryAfter)
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
			want := time.Duration(0)
			if secs > 0 {
				want = min(time.Duration(min(secs, math.MaxInt64/int64(time.Second)))*time.Second, edgecache.MaxRetryAfterHeader)
			}
			if d != want {
				t.Fatalf("Retry-After %q gave %s, want %s", retryAfter, d, want)
			}
		}
	})
}
