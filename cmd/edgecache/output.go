package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/vercelkit/edgecache"
)

// printDryRun prints each request that would be sent: as text, or as a JSON array.
func printDryRun(w io.Writer, client *edgecache.Client, calls []edgecache.Request, asJSON bool) error {
	prepared := make([]*edgecache.PreparedRequest, 0, len(calls))
	for _, call := range calls {
		p, err := client.Prepare(call)
		if err != nil {
			return err
		}
		prepared = append(prepared, p)
	}
	if asJSON {
		return writeJSON(w, map[string]any{"dryRun": true, "requests": prepared})
	}
	for _, p := range prepared {
		fmt.Fprintf(w, "%s %s\n%s\n", p.Method, p.URL, p.Body)
	}
	fmt.Fprintf(w, "dry run: %d request(s), nothing sent\n", len(prepared))
	return nil
}

// writeJSON prints v indented, for people and programs alike. It leaves &, < and > as they
// are: a URL's query holds &, and no HTML page embeds this output.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// printSummary reports a purge in a few lines of text: counts and a few examples, never the
// whole input, however large.
func printSummary(w io.Writer, v verb, k itemKind, s scope, f purgeFlags, res *edgecache.BulkResult, total int) {
	where := "project " + s.project
	if k == tagKind {
		where += " (" + targetText(f.target) + ")"
	}
	purged := k.count(len(res.Purged))
	if len(res.Purged) < total {
		purged = fmt.Sprintf("%d of %s", len(res.Purged), k.count(total))
	}
	fmt.Fprintf(w, "%s %s in %s.", v.done, purged, where)
	if f.mock {
		fmt.Fprint(w, " [mock: the embedded fake answered; nothing reached Vercel]")
	}
	fmt.Fprintln(w)
	for _, g := range groupFailures(res.Failed) {
		fmt.Fprintf(w, "Failed: %s (%s), e.g. %s\n", k.count(len(g.items)), g.reason, examples(g.items))
	}
	if n := len(res.Interrupted); n > 0 {
		fmt.Fprintf(w, "Interrupted: %s (on their way when the run ended: outcome unknown), e.g. %s\n", k.count(n), examples(res.Interrupted))
	}
	if n := len(res.NotAttempted); n > 0 {
		fmt.Fprintf(w, "Not attempted: %s, e.g. %s\n", k.count(n), examples(res.NotAttempted))
	}
	if len(res.Purged) == 0 {
		return
	}
	switch {
	case !v.deletes:
		fmt.Fprintln(w, "Their pages are served stale while they revalidate in the background.")
	case f.deadlineSet && f.deadline > 0:
		fmt.Fprintf(w, "Stale content is served while pages revalidate, for at most %s; then the entries are deleted.\n", seconds(f.deadline))
	default:
		fmt.Fprintln(w, "The next request for each page under them is revalidated at the origin, in the foreground.")
	}
}

// failureGroup is the items of every failed request that failed for the same reason.
type failureGroup struct {
	reason string
	items  []string
}

// groupFailures merges failed requests by reason, in order of first appearance, so that 400
// requests refused alike make one line.
func groupFailures(failed []edgecache.FailedBatch) []failureGroup {
	var groups []failureGroup
	index := map[string]int{}
	for _, fb := range failed {
		reason := strings.TrimPrefix(fb.Message, "edgecache: ")
		if fb.Code != "" {
			reason = fb.Code + ": " + reason
		}
		if fb.Status != 0 {
			reason = fmt.Sprint(fb.Status, " ", reason)
		}
		i, ok := index[reason]
		if !ok {
			i = len(groups)
			index[reason] = i
			groups = append(groups, failureGroup{reason: reason})
		}
		groups[i].items = append(groups[i].items, fb.Items...)
	}
	return groups
}
