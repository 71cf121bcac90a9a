package specsync

import (
	"fmt"
	"io"
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
	// Operation and Path locate the change; both are empty for document-wide entries.
	Operation string
	Path      string
	// Text is oasdiff's message without colour.
	Text string
	// Comment is oasdiff's advice for the rule, often empty.
	Comment string
}

// Report is the outcome of comparing the vendored spec with a new one.
type Report struct {
	// Changes is oasdiff's changelog, most severe first.
	Changes []Change
	// Notes lists differences oasdiff's diff sees but its changelog has no
	// rule for (documentation text, examples, info), so that a reader still
	// learns about them.
	Notes []string
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

// Write prints the report: one line per change, breaking ones marked
// BREAKING with oasdiff's level, then the notes and the summary line.
func (r *Report) Write(w io.Writer) error {
	var b strings.Builder
	if r.Identical {
		b.WriteString("no change: the documents are the same for oasdiff\n")
	}
	for _, c := range r.Changes {
		mark := "info"
		if c.Breaking {
			mark = "BREAKING (" + c.Level + ")"
		} else if c.Level != "info" {
			mark = c.Level
		}
		where := ""
		if c.Operation != "" || c.Path != "" {
			where = strings.TrimSpace(c.Operation+" "+c.Path) + ": "
		}
		fmt.Fprintf(&b, "  %-18s %s%s [%s]\n", mark, where, c.Text, c.ID)
		if c.Comment != "" {
			fmt.Fprintf(&b, "  %-18s   %s\n", "", c.Comment)
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("Not graded by oasdiff (documentation only, nothing for the generated code):\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  %-18s %s\n", "note", n)
		}
	}
	b.WriteString(r.Summary() + "\n")
	_, err := io.WriteString(w, b.String())
	return err
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
			Level:     c.GetLevel().String(),
			Breaking:  c.IsBreaking(),
			ID:        c.GetId(),
			Operation: c.GetOperation(),
			Path:      c.GetPath(),
			Text:      c.GetUncolorizedText(l),
			Comment:   c.GetComment(l),
		})
	}
	return r, nil
}

// docNotes reads the parts of oasdiff's diff that no changelog rule covers.
// It reads only what oasdiff computed; it does not compare anything itself.
func docNotes(d *diff.Diff) []string {
	var notes []string
	add := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
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
	for _, path := range sortedKeys(d.PathsDiff.Modified) {
		pd := d.PathsDiff.Modified[path]
		if pd == nil || pd.OperationsDiff == nil {
			continue
		}
		for _, method := range sortedKeys(pd.OperationsDiff.Modified) {
			md := pd.OperationsDiff.Modified[method]
			if md == nil {
				continue
			}
			op := method + " " + path
			value(op+" summary", md.SummaryDiff)
			value(op+" description", md.DescriptionDiff)
			if pp := md.ParametersDiff; pp != nil {
				for _, in := range sortedKeys(pp.Modified) {
					for _, name := range sortedKeys(pp.Modified[in]) {
						p := pp.Modified[in][name]
						where := fmt.Sprintf("%s %s parameter %q", op, in, name)
						value(where+" description", p.DescriptionDiff)
						examples(where, p.ExamplesDiff, p.ExampleDiff)
					}
				}
			}
			if rb := md.RequestBodyDiff; rb != nil {
				value(op+" request body description", rb.DescriptionDiff)
				if rb.ContentDiff != nil {
					for _, mt := range sortedKeys(rb.ContentDiff.MediaTypeModified) {
						m := rb.ContentDiff.MediaTypeModified[mt]
						examples(op+" request body "+mt, m.ExamplesDiff, m.ExampleDiff)
					}
				}
			}
			if rs := md.ResponsesDiff; rs != nil {
				for _, code := range sortedKeys(rs.Modified) {
					value(fmt.Sprintf("%s response %s description", op, code), rs.Modified[code].DescriptionDiff)
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
