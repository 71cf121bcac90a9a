package specsync

import (
	"cmp"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oasdiff/oasdiff/checker"
	"github.com/oasdiff/oasdiff/diff"
	"github.com/oasdiff/oasdiff/load"
)

// Change is one entry of oasdiff's changelog, detached from oasdiff's types
// so that callers and tests need not import them.
type Change struct {
	// Level is oasdiff's grade: "error", "warning" or "info".
	Level string
	// Breaking is oasdiff's verdict; it holds for the error and warning levels.
	Breaking bool
	// ID is the oasdiff rule, e.g. "request-property-type-changed".
	ID string
	// OperationID, Operation (the method) and Path locate the change; all
	// are empty for document-wide entries.
	OperationID string
	Operation   string
	Path        string
	// Text is oasdiff's message without colour.
	Text string
	// Comment is oasdiff's advice for the rule, often empty.
	Comment string
}

// Note is a difference oasdiff's diff sees but its changelog has no rule
// for (documentation text, examples, info).
type Note struct {
	// Operation (the method) and Path locate the note; both are empty for
	// document-wide notes.
	Operation string
	Path      string
	Text      string
}

// Operation states what happened to one operation between the two documents.
type Operation struct {
	// ID is the operationId ("METHOD path" for an operation without one).
	ID string
	// Status is "added", "removed", "changed" or "unchanged".
	Status string
	// Method and Path locate the operation in the new document, or in the
	// old one when it was removed.
	Method string
	Path   string
	// MovedFrom is the old "METHOD path" when the operation changed place.
	MovedFrom string
	// ErrorStatuses are the 4xx, 5xx and default responses the operation
	// lists (in the old document when it was removed).
	ErrorStatuses []string
	// NewErrorStatuses are those of ErrorStatuses that no operation of the
	// old document lists: answers the client has never had to classify.
	NewErrorStatuses []string
}

func (o Operation) where() string { return o.Method + " " + o.Path }

// Report is the outcome of comparing the vendored spec with a new one.
type Report struct {
	// Operations lists every operation of either document, the Edge Cache
	// group first in its own order.
	Operations []Operation
	// Changes is oasdiff's changelog, most severe first.
	Changes []Change
	// Notes lists differences oasdiff's changelog has no rule for, so that a
	// reader still learns about them.
	Notes []Note
	// Identical is true when oasdiff found no difference at all.
	Identical bool
}

// Breaking counts the changes oasdiff considers breaking.
func (r *Report) Breaking() int {
	n := 0
	for _, c := range r.Changes {
		if c.Breaking {
			n++
		}
	}
	return n
}

// Summary is the one-line total printed under the report.
func (r *Report) Summary() string {
	s := fmt.Sprintf("%d changes, %d breaking", len(r.Changes), r.Breaking())
	if len(r.Notes) > 0 {
		s += fmt.Sprintf(" (plus %d documentation-only differences)", len(r.Notes))
	}
	return s
}

// belongsTo reports whether a change is about operation o.
func (c Change) belongsTo(o Operation) bool {
	if c.OperationID != "" {
		return c.OperationID == o.ID
	}
	return c.Operation != "" && c.Operation+" "+c.Path == o.where()
}

// Write prints the report: each operation with its status and its entries
// (breaking ones marked BREAKING with oasdiff's level), the document-wide
// entries, what breaks for this client, and the summary line.
func (r *Report) Write(w io.Writer) error {
	var b strings.Builder
	if r.Identical {
		b.WriteString("no change: the documents are the same for oasdiff\n")
	}
	line := func(mark, text string) { fmt.Fprintf(&b, "  %-18s %s\n", mark, text) }
	change := func(c Change) {
		mark := "info"
		if c.Breaking {
			mark = "BREAKING (" + c.Level + ")"
		} else if c.Level != "info" {
			mark = c.Level
		}
		line(mark, fmt.Sprintf("%s [%s]", c.Text, c.ID))
		if c.Comment != "" {
			line("", "  "+c.Comment)
		}
	}
	placed := make([]bool, len(r.Changes))
	placedNote := make([]bool, len(r.Notes))
	for _, o := range r.Operations {
		var mine []Change
		for i, c := range r.Changes {
			if !placed[i] && c.belongsTo(o) {
				placed[i] = true
				mine = append(mine, c)
			}
		}
		var notes []string
		for i, n := range r.Notes {
			if !placedNote[i] && n.Operation != "" && n.Operation+" "+n.Path == o.where() {
				placedNote[i] = true
				notes = append(notes, n.Text)
			}
		}
		fmt.Fprintf(&b, "%s (%s): %s\n", o.ID, o.where(), o.headline(mine))
		for _, c := range mine {
			change(c)
		}
		for _, n := range notes {
			line("note", n)
		}
	}
	var rest []Change
	for i, c := range r.Changes {
		if !placed[i] {
			rest = append(rest, c)
		}
	}
	var restNotes []string
	for i, n := range r.Notes {
		if !placedNote[i] {
			restNotes = append(restNotes, strings.TrimSpace(n.Operation+" "+n.Path+" "+n.Text))
		}
	}
	if len(rest)+len(restNotes) > 0 {
		b.WriteString("Whole document:\n")
		for _, c := range rest {
			change(c)
		}
		for _, n := range restNotes {
			line("note", n)
		}
	}
	b.WriteString("What breaks for this client:\n")
	impact := r.ClientImpact()
	if len(impact) == 0 {
		b.WriteString("  nothing: every operation takes and answers what it did\n")
	}
	for _, group := range impact {
		fmt.Fprintf(&b, "  %s:\n", group.Consequence)
		for _, item := range group.Items {
			fmt.Fprintf(&b, "    %s\n", item)
		}
	}
	b.WriteString(r.Summary() + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// headline is the status part of an operation's heading line.
func (o Operation) headline(changes []Change) string {
	s := o.Status
	if o.MovedFrom != "" {
		s += ", moved from " + o.MovedFrom
	}
	breaking := 0
	for _, c := range changes {
		if c.Breaking {
			breaking++
		}
	}
	if breaking > 0 {
		s += fmt.Sprintf(", %d breaking", breaking)
	}
	if o.Status == "added" && len(o.ErrorStatuses) > 0 {
		s += "; error statuses " + strings.Join(o.ErrorStatuses, ", ")
	}
	return s
}

// Impact is one consequence for this client, with what causes it.
type Impact struct {
	// Consequence says what breaks and what to do about it.
	Consequence string
	// Items are the causes, one a line ("operationId: oasdiff's text").
	Items []string
}

// typeRule matches oasdiff rules about a schema type, which change the Go
// types oapi-codegen generates.
var typeRule = regexp.MustCompile(`-(body|property|parameter|header)-type-(changed|generalized|specialized|compatible)$|-list-of-types-`)

// ClientImpact translates the report into what it means for a client that
// wraps these operations. oasdiff grades changes from the server's side
// (would an old client break?); a client that checks its input before
// sending has its own list: new and removed operations, request rules it
// must now enforce, generated types that change, and error statuses it has
// never had to classify.
func (r *Report) ClientImpact() []Impact {
	var added, removed, moved, refused, types, answers, other []string
	opID := func(c Change) string {
		if c.OperationID != "" {
			return c.OperationID
		}
		return strings.TrimSpace(c.Operation + " " + c.Path)
	}
	statusOps := map[string][]string{}
	var statuses []string
	for _, o := range r.Operations {
		switch o.Status {
		case "added":
			added = append(added, o.ID)
		case "removed":
			removed = append(removed, o.ID)
		}
		if o.MovedFrom != "" {
			moved = append(moved, fmt.Sprintf("%s: %s -> %s", o.ID, o.MovedFrom, o.where()))
		}
		for _, s := range o.NewErrorStatuses {
			if statusOps[s] == nil {
				statuses = append(statuses, s)
			}
			statusOps[s] = append(statusOps[s], o.ID)
		}
	}
	for _, c := range r.Changes {
		item := opID(c) + ": " + c.Text
		switch {
		case typeRule.MatchString(c.ID):
			types = append(types, item)
			if c.Breaking && strings.HasPrefix(c.ID, "request-") {
				refused = append(refused, item)
			}
		case !c.Breaking, c.ID == "api-version-not-bumped":
		case strings.HasPrefix(c.ID, "request-") || strings.Contains(c.ID, "-request-"):
			refused = append(refused, item)
		case strings.HasPrefix(c.ID, "response-"):
			answers = append(answers, item)
		case strings.HasPrefix(c.ID, "api-path-removed") || strings.HasPrefix(c.ID, "api-removed"):
			// An operation's removal or move; listed by operation below.
		default:
			other = append(other, item)
		}
	}
	slices.Sort(statuses)
	var statusItems []string
	for _, s := range statuses {
		statusItems = append(statusItems, s+": "+strings.Join(statusOps[s], ", "))
	}
	var out []Impact
	add := func(consequence string, items []string) {
		if len(items) > 0 {
			out = append(out, Impact{Consequence: consequence, Items: items})
		}
	}
	add("new operations; api/ gains a method for each, which the wrapper must wrap with its validation and tests", added)
	add("removed operations; api/ loses them, so the wrapper's calls to them stop compiling", removed)
	add("moved operations; the generated method keeps its name and calls the new place", moved)
	add("requests the wrapper accepts may now be refused; check these before sending (the root package's guard test reads every limit from openapi.yaml)", refused)
	add("generated Go types change; the wrapper may not compile until it follows api/", types)
	add("error statuses openapi.yaml never listed; each needs an error callers can test with errors.Is, retried only if transient", statusItems)
	add("answers change; check how the wrapper reads them", answers)
	add("other breaking changes; see the entries above", other)
	return out
}

// Diff compares two OpenAPI documents with oasdiff, the way `oasdiff
// changelog --flatten-allof` does. Flattening matters here: the seed wraps
// every property in allOf and upstream does not, and without merging those
// wrappers oasdiff reports allOf branches coming and going instead of the
// real type and limit changes.
func Diff(base, revision []byte) (*Report, error) {
	flatten := load.WithFlattenAllOf()
	// A fresh loader per side: the loader caches documents by name.
	s1, err := load.NewSpecInfoFromData(openapi3.NewLoader(), base, "base", flatten)
	if err != nil {
		return nil, fmt.Errorf("load base spec for diff: %w", err)
	}
	s2, err := load.NewSpecInfoFromData(openapi3.NewLoader(), revision, "revision", flatten)
	if err != nil {
		return nil, fmt.Errorf("load revision spec for diff: %w", err)
	}
	d, sources, err := diff.GetWithOperationsSourcesMap(diff.NewConfig(), s1, s2)
	if err != nil {
		return nil, fmt.Errorf("diff specs: %w", err)
	}
	changes := checker.CheckBackwardCompatibilityUntilLevel(
		checker.NewConfig(checker.GetAllChecks()), d, sources, checker.INFO)
	slices.SortStableFunc(changes, checker.CompareChanges)

	l := checker.NewDefaultLocalizer()
	// oasdiff returns a nil diff when it finds nothing.
	r := &Report{Identical: d == nil || d.Empty()}
	if d != nil {
		r.Notes = docNotes(d)
	}
	for _, c := range changes {
		r.Changes = append(r.Changes, Change{
			Level:       c.GetLevel().String(),
			Breaking:    c.IsBreaking(),
			ID:          c.GetId(),
			OperationID: c.GetOperationId(),
			Operation:   c.GetOperation(),
			Path:        c.GetPath(),
			Text:        c.GetUncolorizedText(l),
			Comment:     c.GetComment(l),
		})
	}
	r.Operations = compareOperations(s1.Spec, s2.Spec, r)
	return r, nil
}

// opInfo is one operation as a document states it.
type opInfo struct {
	id, method, path string
	errorStatuses    []string
}

// operationsOf lists a document's operations keyed by operationId.
func operationsOf(doc *openapi3.T) map[string]opInfo {
	ops := map[string]opInfo{}
	if doc == nil || doc.Paths == nil {
		return ops
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			info := opInfo{id: op.OperationID, method: method, path: path}
			if info.id == "" {
				info.id = method + " " + path
			}
			if op.Responses != nil {
				for code := range op.Responses.Map() {
					if code == "default" || strings.HasPrefix(code, "4") || strings.HasPrefix(code, "5") {
						info.errorStatuses = append(info.errorStatuses, code)
					}
				}
			}
			slices.Sort(info.errorStatuses)
			ops[info.id] = info
		}
	}
	return ops
}

// compareOperations pairs the two documents' operations by operationId.
func compareOperations(base, revision *openapi3.T, r *Report) []Operation {
	before, after := operationsOf(base), operationsOf(revision)
	known := map[string]bool{}
	for _, o := range before {
		for _, s := range o.errorStatuses {
			known[s] = true
		}
	}
	var out []Operation
	for id, a := range after {
		o := Operation{ID: id, Method: a.method, Path: a.path, ErrorStatuses: a.errorStatuses, Status: "unchanged"}
		for _, s := range a.errorStatuses {
			if !known[s] {
				o.NewErrorStatuses = append(o.NewErrorStatuses, s)
			}
		}
		b, existed := before[id]
		switch {
		case !existed:
			o.Status = "added"
		case b.method != a.method || b.path != a.path:
			o.Status, o.MovedFrom = "changed", b.method+" "+b.path
		case r.touches(o):
			o.Status = "changed"
		}
		out = append(out, o)
	}
	for id, b := range before {
		if _, ok := after[id]; !ok {
			out = append(out, Operation{ID: id, Method: b.method, Path: b.path, ErrorStatuses: b.errorStatuses, Status: "removed"})
		}
	}
	slices.SortFunc(out, func(x, y Operation) int {
		return cmp.Or(cmp.Compare(groupRank(x.ID), groupRank(y.ID)), cmp.Compare(x.Path, y.Path), cmp.Compare(x.Method, y.Method))
	})
	return out
}

// touches reports whether any change or note is about o.
func (r *Report) touches(o Operation) bool {
	for _, c := range r.Changes {
		if c.belongsTo(o) {
			return true
		}
	}
	for _, n := range r.Notes {
		if n.Operation != "" && n.Operation+" "+n.Path == o.where() {
			return true
		}
	}
	return false
}

// groupRank orders the Edge Cache group first, in its own order.
func groupRank(id string) int {
	if i := slices.Index(edgeCacheGroup[:], id); i >= 0 {
		return i
	}
	return len(edgeCacheGroup)
}

// docNotes reads the parts of oasdiff's diff that no changelog rule covers.
// It reads only what oasdiff computed; it does not compare anything itself.
func docNotes(d *diff.Diff) []Note {
	var notes []Note
	method, path := "", ""
	add := func(format string, args ...any) {
		notes = append(notes, Note{Operation: method, Path: path, Text: fmt.Sprintf(format, args...)})
	}
	value := func(where string, v *diff.ValueDiff) {
		if v != nil {
			add("%s changed: %s", where, describeValueChange(v.From, v.To))
		}
	}
	examples := func(where string, ex *diff.ExamplesDiff, single *diff.ValueDiff) {
		if ex != nil {
			for _, name := range ex.Added {
				add("%s example %q added", where, name)
			}
			for _, name := range ex.Deleted {
				add("%s example %q removed", where, name)
			}
			for _, name := range sortedKeys(ex.Modified) {
				add("%s example %q changed", where, name)
			}
		}
		value(where+" example", single)
	}
	if d.InfoDiff != nil {
		value("info.title", d.InfoDiff.TitleDiff)
		value("info.version", d.InfoDiff.VersionDiff)
		value("info.description", d.InfoDiff.DescriptionDiff)
	}
	if d.PathsDiff == nil {
		return notes
	}
	for _, p := range sortedKeys(d.PathsDiff.Modified) {
		pd := d.PathsDiff.Modified[p]
		if pd == nil || pd.OperationsDiff == nil {
			continue
		}
		for _, m := range sortedKeys(pd.OperationsDiff.Modified) {
			md := pd.OperationsDiff.Modified[m]
			if md == nil {
				continue
			}
			method, path = m, p
			value("summary", md.SummaryDiff)
			value("description", md.DescriptionDiff)
			if pp := md.ParametersDiff; pp != nil {
				for _, in := range sortedKeys(pp.Modified) {
					for _, name := range sortedKeys(pp.Modified[in]) {
						prm := pp.Modified[in][name]
						where := fmt.Sprintf("%s parameter %q", in, name)
						value(where+" description", prm.DescriptionDiff)
						examples(where, prm.ExamplesDiff, prm.ExampleDiff)
					}
				}
			}
			if rb := md.RequestBodyDiff; rb != nil {
				value("request body description", rb.DescriptionDiff)
				if rb.ContentDiff != nil {
					for _, mt := range sortedKeys(rb.ContentDiff.MediaTypeModified) {
						mtd := rb.ContentDiff.MediaTypeModified[mt]
						examples("request body "+mt, mtd.ExamplesDiff, mtd.ExampleDiff)
					}
				}
			}
			if rs := md.ResponsesDiff; rs != nil {
				for _, code := range sortedKeys(rs.Modified) {
					value(fmt.Sprintf("response %s description", code), rs.Modified[code].DescriptionDiff)
				}
			}
		}
	}
	return notes
}

// describeValueChange shows a text change by its differing middle, so that a
// long description that gained one sentence reads as that sentence.
func describeValueChange(from, to any) string {
	fs, fok := from.(string)
	ts, tok := to.(string)
	if !fok || !tok {
		return fmt.Sprintf("%v -> %v", from, to)
	}
	const room = 60
	if len(fs) <= room && len(ts) <= room {
		return fmt.Sprintf("%q -> %q", fs, ts)
	}
	pre := 0
	for pre < len(fs) && pre < len(ts) && fs[pre] == ts[pre] {
		pre++
	}
	suf := 0
	for suf < len(fs)-pre && suf < len(ts)-pre && fs[len(fs)-1-suf] == ts[len(ts)-1-suf] {
		suf++
	}
	// Back up to a word boundary so the excerpt starts on a whole word, and
	// never split a UTF-8 sequence.
	if i := strings.LastIndexByte(fs[:pre], ' '); i >= 0 {
		pre = i + 1
	}
	for pre > 0 && pre < len(fs) && !utf8.RuneStart(fs[pre]) {
		pre--
	}
	// Likewise end on a whole word: a common tail without a space (a final
	// full stop) is shown rather than cut.
	if i := strings.IndexByte(fs[len(fs)-suf:], ' '); i >= 0 {
		suf -= i
	} else {
		suf = 0
	}
	cut := func(s string) string {
		mid := s[pre : len(s)-suf]
		if pre > 0 {
			mid = "…" + mid
		}
		if suf > 0 {
			mid += "…"
		}
		return fmt.Sprintf("%q", mid)
	}
	return cut(fs) + " -> " + cut(ts)
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
