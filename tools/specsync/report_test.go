package specsync

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

const reportBase = `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /v1/x:
    post:
      summary: Old summary
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                n:
                  allOf:
                    - type: number
                      minimum: 0
            examples:
              example:
                value: {n: 1}
      responses:
        "200": {description: ok}
`

// TestDiffFlattensAllOf: the same schema with and without allOf wrappers
// is no change, which is what lets the seed's shape be compared with
// upstream's at all.
func TestDiffFlattensAllOf(t *testing.T) {
	t.Parallel()
	unwrapped := strings.Replace(reportBase, `                  allOf:
                    - type: number
                      minimum: 0
`, `                  type: number
                  minimum: 0
`, 1)
	if unwrapped == reportBase {
		t.Fatal("fixture edit did not apply")
	}
	r, err := Diff([]byte(reportBase), []byte(unwrapped))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Changes) != 0 {
		t.Errorf("allOf unwrapping reported as %+v", r.Changes)
	}
}

func TestDiffReportsAndPrints(t *testing.T) {
	t.Parallel()
	rev := strings.NewReplacer(
		"type: number", "type: integer",
		"minimum: 0", "minimum: 0\n                      maximum: 10",
		"Old summary", "New summary",
		`"200": {description: ok}`, `"200": {description: ok}`+"\n        \"410\": {description: gone}",
	).Replace(reportBase)
	rev = rev[:strings.Index(rev, "            examples:")] + rev[strings.Index(rev, "      responses:"):]

	r, err := Diff([]byte(reportBase), []byte(rev))
	if err != nil {
		t.Fatal(err)
	}
	if r.Identical {
		t.Fatal("report says identical")
	}
	ids := map[string]Change{}
	for _, c := range r.Changes {
		ids[c.ID] = c
	}
	for id, breaking := range map[string]bool{
		"request-property-type-changed":     true,
		"request-property-max-set":          true,
		"response-non-success-status-added": false,
	} {
		c, ok := ids[id]
		if !ok {
			t.Errorf("no %s in %+v", id, r.Changes)
			continue
		}
		if c.Breaking != breaking || c.Operation != "POST" || c.Path != "/v1/x" {
			t.Errorf("%s = %+v, want breaking=%v at POST /v1/x", id, c, breaking)
		}
	}
	wantNotes := []string{
		`POST /v1/x summary changed: "Old summary" -> "New summary"`,
		`POST /v1/x request body application/json example "example" removed`,
	}
	for _, n := range wantNotes {
		if !strings.Contains(strings.Join(r.Notes, "\n"), n) {
			t.Errorf("notes %q lack %q", r.Notes, n)
		}
	}

	var out bytes.Buffer
	if err := r.Write(&out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if want := r.Summary(); lines[len(lines)-1] != want {
		t.Errorf("last line %q, want the summary %q", lines[len(lines)-1], want)
	}
	if got := r.Breaking(); got < 2 || !strings.HasPrefix(r.Summary(), strings.Join([]string{strconv.Itoa(len(r.Changes)), "changes,", strconv.Itoa(got), "breaking"}, " ")) {
		t.Errorf("summary %q for %d changes, %d breaking", r.Summary(), len(r.Changes), got)
	}
	for _, c := range r.Changes {
		line := ""
		for _, l := range lines {
			if strings.HasSuffix(l, "["+c.ID+"]") {
				line = l
			}
		}
		if c.Breaking != strings.HasPrefix(strings.TrimSpace(line), "BREAKING") {
			t.Errorf("change %s (breaking=%v) printed as %q", c.ID, c.Breaking, line)
		}
	}
}

func TestDescribeValueChange(t *testing.T) {
	t.Parallel()
	long := "Use this method with caution because one tag can be associated with many paths. "
	for _, tc := range []struct {
		from, to any
		want     string
	}{
		{"a", "b", `"a" -> "b"`},
		{false, true, "false -> true"},
		{long + "A good use case is X.", long + "Prefer Y.",
			`"…A good use case is X." -> "…Prefer Y."`},
		{"Every word but the last stays the same in this long sentence about cache tags, old",
			"Every word but the last stays the same in this long sentence about cache tags, new",
			`"…old" -> "…new"`},
		{"Prefix that is long enough to need trimming, é and more: old tail, then the same ending words here.",
			"Prefix that is long enough to need trimming, é and more: new tail, then the same ending words here.",
			`"…old…" -> "…new…"`},
	} {
		if got := describeValueChange(tc.from, tc.to); got != tc.want {
			t.Errorf("describeValueChange(%v, %v) = %s, want %s", tc.from, tc.to, got, tc.want)
		}
	}
}
