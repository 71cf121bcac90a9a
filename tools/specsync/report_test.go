package specsync

import (
	"bytes"
	"reflect"
	"slices"
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
	for _, text := range []string{
		`summary changed: "Old summary" -> "New summary"`,
		`request body application/json example "example" removed`,
	} {
		if !slices.Contains(r.Notes, Note{Operation: "POST", Path: "/v1/x", Text: text}) {
			t.Errorf("notes %+v lack %q on POST /v1/x", r.Notes, text)
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

// impactBase and impactRevision differ in every way ClientImpact sorts:
// an operation removed, one added, one moved, a request rule tightened, a
// type changed, a new error status, and an answer changed.
const impactBase = `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /v1/keep:
    post:
      operationId: keep
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                n: {type: number, minimum: 0}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                required: [id]
                properties:
                  id: {type: string}
        "404": {description: missing}
  /v1/old:
    post:
      operationId: gone
      responses:
        "200": {description: ok}
  /v1/here:
    post:
      operationId: mover
      responses:
        "200": {description: ok}
`

const impactRevision = `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /v1/keep:
    post:
      operationId: keep
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                n: {type: integer, minimum: 0, maximum: 9}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  id: {type: string}
        "404": {description: missing}
        "410": {description: gone}
  /v1/there:
    post:
      operationId: mover
      responses:
        "200": {description: ok}
  /v1/new:
    post:
      operationId: fresh
      responses:
        "200": {description: ok}
        "402": {description: pay}
        "404": {description: missing}
`

func TestClientImpact(t *testing.T) {
	t.Parallel()
	r, err := Diff([]byte(impactBase), []byte(impactRevision))
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]Operation{}
	for _, o := range r.Operations {
		status[o.ID] = o
	}
	for id, want := range map[string]string{"keep": "changed", "gone": "removed", "mover": "changed", "fresh": "added"} {
		if got := status[id].Status; got != want {
			t.Errorf("%s status = %q, want %q", id, got, want)
		}
	}
	if got := status["mover"].MovedFrom; got != "POST /v1/here" {
		t.Errorf("mover.MovedFrom = %q", got)
	}
	if got := status["fresh"].NewErrorStatuses; !reflect.DeepEqual(got, []string{"402"}) {
		t.Errorf("fresh.NewErrorStatuses = %v, want [402] (404 was known)", got)
	}
	if got := status["keep"].NewErrorStatuses; !reflect.DeepEqual(got, []string{"410"}) {
		t.Errorf("keep.NewErrorStatuses = %v, want [410]", got)
	}

	impact := map[string][]string{}
	for _, g := range r.ClientImpact() {
		impact[strings.SplitN(g.Consequence, ";", 2)[0]] = g.Items
	}
	has := func(consequence, item string) {
		t.Helper()
		for _, it := range impact[consequence] {
			if strings.Contains(it, item) {
				return
			}
		}
		t.Errorf("impact %q lacks %q; impact is %q", consequence, item, impact)
	}
	has("new operations", "fresh")
	has("removed operations", "gone")
	has("moved operations", "mover: POST /v1/here -> POST /v1/there")
	has("requests the wrapper accepts may now be refused", "keep: the `n` request property's max was set to `9.00`")
	has("requests the wrapper accepts may now be refused", "keep: the `n` request property `type` changed from `number` to `integer`")
	has("generated Go types change", "keep: the `n` request property `type` changed from `number` to `integer`")
	has("error statuses openapi.yaml never listed", "402: fresh")
	has("error statuses openapi.yaml never listed", "410: keep")
	has("answers change", "keep:")
	if len(impact["new operations"]) != 1 || len(impact["removed operations"]) != 1 {
		t.Errorf("a move counted as an operation added or removed: %q", impact)
	}

	var out bytes.Buffer
	if err := r.Write(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"keep (POST /v1/keep): changed, ",
		"gone (POST /v1/old): removed, 1 breaking\n",
		"mover (POST /v1/there): changed, moved from POST /v1/here",
		"fresh (POST /v1/new): added; error statuses 402, 404\n",
		"What breaks for this client:\n  new operations; ",
		"\n    402: fresh\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestClientImpactNothing(t *testing.T) {
	t.Parallel()
	r, err := Diff([]byte(impactBase), []byte(impactBase))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.ClientImpact(); len(got) != 0 {
		t.Errorf("ClientImpact of identical documents = %+v", got)
	}
	var out bytes.Buffer
	if err := r.Write(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"no change: ", "keep (POST /v1/keep): unchanged\n", "What breaks for this client:\n  nothing", "0 changes, 0 breaking"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
