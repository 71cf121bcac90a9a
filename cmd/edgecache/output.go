package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/vercelkit/edgecache"
)

// printDryRun prints each request that would be sent: as text, or as a JSON array.
func printDryRun(w io.Writer, client *edgecache.Client, calls []edgecache.DeleteByTagsRequest, asJSON bool) error {
	prepared := make([]*edgecache.PreparedRequest, 0, len(calls))
	for _, call := range calls {
		p, err := client.Prepare(call)
		if err != nil {
			return err
		}
		prepared = append(prepared, p)
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"dryRun": true, "requests": prepared})
	}
	for _, p := range prepared {
		fmt.Fprintf(w, "%s %s\n%s\n", p.Method, p.URL, p.Body)
	}
	fmt.Fprintf(w, "dry run: %d request(s), nothing sent\n", len(prepared))
	return nil
}

// printSummary reports a purge in a few lines of text.
func printSummary(w io.Writer, res *edgecache.BulkResult, project string, f deleteFlags) {
	target := f.target
	if target == "" {
		target = "all environments"
	}
	fmt.Fprintf(w, "Deleted %d tag(s) in project %s (%s)", len(res.Purged), project, target)
	if f.mock {
		fmt.Fprint(w, " [mock: the embedded fake answered; nothing reached Vercel]")
	}
	fmt.Fprintln(w)
	for _, fb := range res.Failed {
		reason := strings.TrimPrefix(fb.Message, "edgecache: ")
		if fb.Code != "" {
			reason = fb.Code + ": " + reason
		}
		if fb.Status != 0 {
			reason = fmt.Sprint(fb.Status, " ", reason)
		}
		fmt.Fprintf(w, "Failed %d tag(s) (%s): %s\n", len(fb.Tags), reason, strings.Join(fb.Tags, ","))
	}
	if n := len(res.NotAttempted); n > 0 {
		fmt.Fprintf(w, "Not attempted %d tag(s): %s\n", n, strings.Join(res.NotAttempted, ","))
	}
	if len(res.Purged) > 0 && !f.deadlineSet {
		fmt.Fprintln(w, "The next request for each page under these tags is revalidated at the origin, in the foreground.")
	}
}

// progressLine returns a progress callback that redraws one line on a terminal.
func progressLine(w io.Writer) func(edgecache.BulkProgress) {
	return func(p edgecache.BulkProgress) {
		fmt.Fprintf(w, "\r%d/%d requests, %d/%d tags purged, %d failed", p.RequestsDone, p.Requests, p.TagsPurged, p.Tags, p.TagsFailed)
	}
}
