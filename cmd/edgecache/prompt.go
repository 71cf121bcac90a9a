package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/vercelkit/edgecache"
)

// errCanceled is a confirmation answered with anything but y or yes: the command ends with
// exit 0 and nothing sent, as vercel's does.
var errCanceled = errors.New("canceled at the confirmation")

// confirm shows what will happen and asks on a terminal; anywhere else it refuses and prints
// the command to rerun with --yes. A signal ends it at once, with nothing sent.
func confirm(ctx context.Context, e env, v verb, k itemKind, s scope, f purgeFlags, items []string) error {
	n := len(items)
	if !e.isTerminal(e.stdin) {
		f.yes = true
		return fmt.Errorf("refusing to %s %s without confirmation in a non-interactive shell; rerun with --yes: %s",
			strings.ToLower(v.ask), k.count(n), commandLine(v, f))
	}
	w := e.stderr
	fmt.Fprintf(w, "Project:  %s\nTeam:     %s\n", s.project, s.team())
	if k == tagKind {
		fmt.Fprintf(w, "Target:   %s\n", targetText(f.target))
	}
	fmt.Fprintf(w, "%-9s %d (%s)\n", capitalize(k.many)+":", n, examples(items))
	switch {
	case !v.deletes:
		fmt.Fprintln(w, "\nPages under them are served stale while they revalidate in the background.")
	case f.deadlineSet && f.deadline > 0:
		fmt.Fprintf(w, "Deadline: %s: until then stale content is served while pages revalidate in the\n", seconds(f.deadline))
		fmt.Fprintln(w, "          background; entries not revalidated by then are deleted.")
	default:
		fmt.Fprintln(w, "\nWARNING: deleting sends the next request for every page under them to the origin,")
		fmt.Fprintln(w, "in the foreground. Many pages at once is a cache stampede; prefer invalidate, or")
		fmt.Fprintln(w, "--revalidation-deadline-seconds, unless the content is gone from the origin.")
	}
	fmt.Fprintf(w, "%s %s? [y/N] ", v.ask, k.count(n))

	answer := make(chan string, 1)
	// Read aside, so that Ctrl-C (SIGINT) or SIGTERM ends the wait at once.
	go func() {
		line, _ := bufio.NewReader(e.stdin).ReadString('\n')
		answer <- line
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(w)
		return fmt.Errorf("%w at the confirmation; nothing was sent", context.Cause(ctx))
	case a := <-answer:
		switch strings.ToLower(strings.TrimSpace(a)) {
		case "y", "yes":
			return nil
		}
	}
	return errCanceled
}

func targetText(target string) string {
	return firstOf(target, "all environments")
}

func seconds(n int) string {
	if n == 1 {
		return "1 second"
	}
	return strconv.Itoa(n) + " seconds"
}

func capitalize(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

// maxExamples is how many items a prompt or a summary names: enough to recognise a set, never
// a line the size of the input.
const maxExamples = 3

// examples names the first few items, each shortened, and says how many more there are.
func examples(items []string) string {
	const maxLen = 60
	shown := make([]string, 0, maxExamples+1)
	for _, item := range items[:min(len(items), maxExamples)] {
		if r := []rune(item); len(r) > maxLen {
			item = string(r[:maxLen-1]) + "…"
		}
		shown = append(shown, item)
	}
	if more := len(items) - len(shown); more > 0 {
		shown = append(shown, fmt.Sprintf("and %d more", more))
	}
	return strings.Join(shown, ", ")
}

// commandLine rebuilds a command line from flags, leaving the token out.
func commandLine(v verb, f purgeFlags) string {
	parts := []string{"edgecache", v.name}
	add := func(flag, value string) {
		if value != "" {
			parts = append(parts, flag, shellQuote(value))
		}
	}
	flag := func(name string, on bool) {
		if on {
			parts = append(parts, name)
		}
	}
	add("--project", f.project)
	for _, t := range f.tags {
		add("--tag", t)
	}
	add("--tags-file", f.tagsFile)
	for _, img := range f.srcImages {
		add("--srcimg", img)
	}
	add("--srcimgs-file", f.srcImagesFile)
	add("--target", f.target)
	if f.deadlineSet {
		add("--"+deadlineFlag, strconv.Itoa(f.deadline))
	}
	add("--team-id", f.teamID)
	add("--scope", f.slug)
	if f.apiURL != edgecache.DefaultBaseURL {
		add("--api-url", f.apiURL)
	}
	if f.concurrency != edgecache.DefaultBulkConcurrency {
		add("--concurrency", strconv.Itoa(f.concurrency))
	}
	add("--remaining-file", f.remainingFile)
	flag("--mock", f.mock)
	flag("--json", f.json)
	flag("--debug", f.debug)
	flag("--yes", f.yes)
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && !strings.ContainsRune("-_./:,=@", r)
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
