package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vercelkit/edgecache"
)

// verb is one of the two purge commands. They share every flag and step; only the
// operation, the deadline and the words differ.
type verb struct {
	name     string // the subcommand
	deletes  bool   // dangerously-delete rather than invalidate
	ask      string // "Invalidate", in the prompt
	done     string // "Invalidated", in the summary
	short    string
	long     string
	examples string
}

var invalidateVerb = verb{
	name: "invalidate",
	ask:  "Invalidate",
	done: "Invalidated",
	short: "Mark tags or source images as stale: pages are served stale while they revalidate " +
		"in the background (recommended)",
	long: `Marks cache tags, or source images, as stale: the next request for every cache entry under
them is served the stale content while the entry revalidates in the background. Nothing waits
for the origin, so this is the safe way to refresh content, and the one to use by default.

Use dangerously-delete instead only when the content is gone from the origin (it answers 404
or 410) and must not be served stale even once.`,
	examples: `  # Invalidate two tags in the linked project (.vercel/project.json), production only
  edgecache invalidate --tag blog,products --target production --yes

  # Invalidate a source image's transformed images (never split on commas)
  edgecache invalidate --project my-app --srcimg /images/hero.png --yes

  # Many tags from a file (one per line), keep what is left if anything fails
  edgecache invalidate --project my-app --tags-file tags.txt --remaining-file left.txt --yes

  # See what would be sent, send nothing; or try it with no account
  edgecache invalidate --project my-app --tag blog --dry-run
  edgecache invalidate --mock --project demo --tag blog --yes`,
}

var deleteVerb = verb{
	name:    "dangerously-delete",
	deletes: true,
	ask:     "Delete",
	done:    "Deleted",
	short:   "Mark tags or source images as deleted, so that their pages wait for the origin",
	long: `Marks cache tags, or source images, as deleted: the next request for every cache entry under
them is revalidated in the foreground, at the origin.

WARNING: one tag can cover many paths. Deleting it can send many concurrent requests to the
origin at once (a cache stampede). Use it when the origin content is gone (404/410); otherwise
use invalidate, or pass --revalidation-deadline-seconds, so stale content is served while pages
revalidate until the deadline.`,
	examples: `  # Delete a tag whose pages are gone from the origin, production only
  edgecache dangerously-delete --tag old-campaign --target production --yes

  # Keep serving stale content for 60 s while revalidating, then delete
  edgecache dangerously-delete --project my-app --tag blog --revalidation-deadline-seconds 60 --yes

  # Delete the transformed images of removed source images, from a file, as JSON
  edgecache dangerously-delete --project my-app --srcimgs-file gone.txt --json --yes

  # Try it with no account: an in-process fake of the API
  edgecache dangerously-delete --mock --project demo --tag blog --yes`,
}

// purgeFlags are a purge command's flags, as parsed.
type purgeFlags struct {
	project       string
	tags          []string
	tagsFile      string
	srcImages     []string
	srcImagesFile string
	target        string
	deadline      int
	deadlineSet   bool
	teamID        string
	slug          string
	token         string
	apiURL        string
	yes           bool
	dryRun        bool
	json          bool
	mock          bool
	debug         bool
	concurrency   int
	remainingFile string
}

// deadlineFlag is the one flag that only dangerously-delete takes.
const deadlineFlag = "revalidation-deadline-seconds"

func newPurgeCommand(e env, v verb) *cobra.Command {
	var f purgeFlags
	cmd := &cobra.Command{
		Use:   v.name + " (--tag TAG | --srcimg IMAGE) [flags]",
		Short: v.short,
		Long: v.long + `

Defaults: --project from $VERCEL_PROJECT_ID, then projectId in .vercel/project.json; the team
from $VERCEL_ORG_ID, then orgId in .vercel/project.json (sent only when it is a team's id,
"team_…"); $VERCEL_PROJECT_ID and $VERCEL_ORG_ID count only together. --token from
$VERCEL_TOKEN. Items are trimmed and sent once each, in requests of at most 16 tags or 8 source
images. --tags-file and --srcimgs-file take one item per line (at most 1,000,000 lines and
64 MiB; a leading byte-order mark is dropped). Without --yes it asks on a terminal, and refuses
(exit 2) anywhere else; answering anything but y or yes cancels it (exit 0, nothing sent).

Exit codes: 0 everything purged, or canceled at the prompt; 1 an API or network failure
(partial ones included); 2 bad usage or invalid input, with nothing sent; 130 or 143 when
SIGINT or SIGTERM ended it.`,
		Example: v.examples,
		Args:    noPositionalItems,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.deadlineSet = cmd.Flags().Changed(deadlineFlag)
			return runPurge(cmd.Context(), e, v, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.project, "project", "", "project id or name (default $VERCEL_PROJECT_ID, then .vercel/project.json)")
	fl.StringArrayVar(&f.tags, "tag", nil, "cache tag; repeatable, and each value is split on commas")
	fl.StringVar(&f.tagsFile, "tags-file", "", "file with one tag per line; - reads standard input")
	fl.StringArrayVar(&f.srcImages, "srcimg", nil, "source image, such as /images/hero.png; repeatable, never split on commas")
	fl.StringVar(&f.srcImagesFile, "srcimgs-file", "", "file with one source image per line; - reads standard input")
	fl.StringVar(&f.target, "target", "", "tags only: production or preview (default all environments)")
	fl.IntVar(&f.deadline, deadlineFlag, 0, "serve stale content and revalidate in the background for N seconds (at most a year) before deleting")
	if !v.deletes {
		// Known but hidden, so that using it earns a message that explains, not "unknown flag".
		_ = fl.MarkHidden(deadlineFlag)
	}
	fl.StringVar(&f.teamID, "team-id", "", "team id, team_… (default $VERCEL_ORG_ID, then .vercel/project.json); not with --scope")
	fl.StringVar(&f.slug, "scope", "", "team slug, as in vercel --scope; not with --team-id")
	fl.StringVar(&f.slug, "slug", "", "team slug (the same as --scope)")
	fl.StringVarP(&f.token, "token", "t", "", "Vercel token (default $VERCEL_TOKEN)")
	fl.StringVar(&f.apiURL, "api-url", edgecache.DefaultBaseURL, "API base URL; plain http only to this machine (loopback)")
	fl.BoolVarP(&f.yes, "yes", "y", false, "skip the confirmation")
	fl.BoolVar(&f.dryRun, "dry-run", false, "validate and print the requests; send nothing")
	fl.BoolVar(&f.json, "json", false, "print the result as JSON on standard output")
	fl.BoolVar(&f.mock, "mock", false, "send to an in-process fake of the API: no token, no network")
	fl.BoolVar(&f.debug, "debug", false, "log each retry and rate-limit wait on standard error")
	fl.IntVar(&f.concurrency, "concurrency", edgecache.DefaultBulkConcurrency, "most requests in flight at once")
	fl.StringVar(&f.remainingFile, "remaining-file", "", "write every item not purged to this file, one per line, ready for --tags-file or --srcimgs-file")
	return cmd
}

// noPositionalItems refuses arguments that are not flags. Tags and source images are given by
// flag, so a bare word is most likely one of them: the error says which flag takes it.
func noPositionalItems(_ *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	suggestion := make([]string, 0, 2*len(args))
	for _, arg := range args {
		flag := tagKind.flag
		if looksLikeImage(arg) {
			flag = imageKind.flag
		}
		suggestion = append(suggestion, flag, shellQuote(arg))
	}
	return fmt.Errorf("unexpected argument %q: tags and source images are given by flag; did you mean %s?",
		args[0], strings.Join(suggestion, " "))
}

// looksLikeImage guesses whether an argument names a source image rather than a tag: a path
// or a URL.
func looksLikeImage(arg string) bool {
	return strings.HasPrefix(arg, "/") || strings.Contains(arg, "://")
}

// checkUsage refuses flag combinations that cannot make one request, and returns what the
// purge acts on.
func checkUsage(v verb, f purgeFlags) (itemKind, error) {
	hasTags := len(f.tags) > 0 || f.tagsFile != ""
	hasImages := len(f.srcImages) > 0 || f.srcImagesFile != ""
	switch {
	case hasTags && hasImages:
		return itemKind{}, errors.New("cannot use both tags (--tag, --tags-file) and source images (--srcimg, --srcimgs-file); run once for each")
	case !hasTags && !hasImages:
		return itemKind{}, errors.New("the --tag or --srcimg option is required (or --tags-file / --srcimgs-file)")
	case f.deadlineSet && !v.deletes:
		return itemKind{}, errors.New("--revalidation-deadline-seconds applies to dangerously-delete only: invalidate already serves stale content while pages revalidate")
	case hasImages && f.target != "":
		return itemKind{}, errors.New("--target applies to tags only: the source-image operations act on every environment")
	case f.teamID != "" && f.slug != "":
		// The API takes both, and which one wins is Vercel's to decide: name the team once.
		return itemKind{}, fmt.Errorf("--team-id %s and --scope %s both name the team: give one, --team-id by id or --scope by slug",
			shellQuote(f.teamID), shellQuote(f.slug))
	case f.concurrency < 1:
		return itemKind{}, fmt.Errorf("--concurrency must be at least 1, not %d", f.concurrency)
	case (f.tagsFile == "-" || f.srcImagesFile == "-") && !f.yes && !f.dryRun:
		return itemKind{}, errors.New("standard input holds the items, so it cannot answer the confirmation: pass --yes")
	}
	if hasImages {
		return imageKind, nil
	}
	return tagKind, nil
}

func runPurge(ctx context.Context, e env, v verb, f purgeFlags) error {
	kind, err := checkUsage(v, f)
	if err != nil {
		return err
	}
	if f.remainingFile != "" {
		// Checked now, so that a typo does not surface only at the end of a long purge. The
		// file itself is written at the end: it may be the input file, as when finishing.
		if dir, err := os.Stat(filepath.Dir(f.remainingFile)); err != nil || !dir.IsDir() {
			return fmt.Errorf("--remaining-file %s: no such directory %s", f.remainingFile, filepath.Dir(f.remainingFile))
		}
	}
	sc, err := resolveScope(e, f.project, f.teamID, f.slug)
	if err != nil {
		return err
	}
	values, file := f.tags, f.tagsFile
	if kind == imageKind {
		values, file = f.srcImages, f.srcImagesFile
	}
	items, fromFile, err := collectItems(ctx, kind, values, file, e.stdin)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return fmt.Errorf("no %s: %s %s holds none", kind.many, kind.fileFlag, file)
	}
	req := v.request(kind, sc, items, f)
	// Split applies every rule of the library before anything is sent, and gives the
	// requests and the distinct items that the prompt and the summary count.
	calls, err := edgecache.Split(req)
	if err != nil {
		return fileLineError(err, v, kind, sc, f, items, fromFile, file)
	}
	var distinct []string
	for _, call := range calls {
		distinct = append(distinct, itemsOf(call)...)
	}

	client, closeClient, err := newClient(f, e)
	if err != nil {
		return err
	}
	defer closeClient()

	if f.dryRun {
		return printDryRun(e.stdout, client, calls, f.json)
	}
	if !f.yes {
		err := confirm(ctx, e, v, kind, sc, f, distinct)
		if errors.Is(err, errCanceled) {
			// A person said no: as with vercel, that is a cancel, not a failure.
			fmt.Fprintln(e.stderr, "Canceled: nothing was sent.")
			return nil
		}
		if err != nil {
			return err
		}
	}
	opts := edgecache.BulkOptions{Concurrency: f.concurrency}
	var progress *progressDisplay
	if len(calls) > 1 {
		progress = newProgressDisplay(e, kind)
		opts.Progress = progress.update
	}
	res, err := client.Bulk(ctx, req, opts)
	if progress != nil {
		progress.finish()
	}
	if f.json {
		if encErr := writeJSON(e.stdout, res); encErr != nil {
			return &failure{err: encErr}
		}
	} else {
		printSummary(e.stdout, v, kind, sc, f, res, len(distinct))
	}
	if f.remainingFile != "" {
		if writeErr := writeRemaining(f.remainingFile, res); writeErr != nil {
			fmt.Fprintf(e.stderr, "edgecache: --remaining-file: %v\n", writeErr)
			f.remainingFile = "" // the finishing advice cannot point at it
			if err == nil {
				return errReported
			}
		}
	}
	if err == nil {
		return nil
	}
	left := len(distinct) - len(res.Purged)
	fmt.Fprintf(e.stderr, "edgecache: %d of %s not purged: %s.\n", left, kind.count(len(distinct)), reason(ctx, err, f, time.Now()))
	if line := finishLine(v, kind, f, left, transient(ctx, err)); line != "" {
		fmt.Fprintln(e.stderr, line)
	}
	return errReported
}

// request builds the one request that holds every item; Split and Bulk cut it up.
func (v verb) request(k itemKind, s scope, items []string, f purgeFlags) edgecache.Request {
	var deadline *int
	if f.deadlineSet {
		deadline = edgecache.Ptr(f.deadline)
	}
	switch {
	case k == imageKind && v.deletes:
		return edgecache.DangerouslyDeleteBySrcImagesRequest{ProjectIDOrName: s.project, SrcImages: items,
			RevalidationDeadlineSeconds: deadline, TeamID: s.teamID, TeamSlug: s.slug}
	case k == imageKind:
		return edgecache.InvalidateBySrcImagesRequest{ProjectIDOrName: s.project, SrcImages: items,
			TeamID: s.teamID, TeamSlug: s.slug}
	case v.deletes:
		return edgecache.DangerouslyDeleteByTagsRequest{ProjectIDOrName: s.project, Tags: edgecache.TagList(items...),
			Target: edgecache.Target(f.target), RevalidationDeadlineSeconds: deadline, TeamID: s.teamID, TeamSlug: s.slug}
	default:
		return edgecache.InvalidateByTagsRequest{ProjectIDOrName: s.project, Tags: edgecache.TagList(items...),
			Target: edgecache.Target(f.target), TeamID: s.teamID, TeamSlug: s.slug}
	}
}

// itemsOf is the tags or source images one request carries.
func itemsOf(req edgecache.Request) []string {
	switch r := req.(type) {
	case edgecache.InvalidateByTagsRequest:
		return r.Tags.Values()
	case edgecache.DangerouslyDeleteByTagsRequest:
		return r.Tags.Values()
	case edgecache.InvalidateBySrcImagesRequest:
		return r.SrcImages
	case edgecache.DangerouslyDeleteBySrcImagesRequest:
		return r.SrcImages
	}
	return nil
}

// reason says why items were not purged, and what to do about it first.
func reason(ctx context.Context, err error, f purgeFlags, now time.Time) string {
	if sig, ok := errors.AsType[interrupted](context.Cause(ctx)); ok {
		return sig.Error()
	}
	switch {
	case errors.Is(err, edgecache.ErrUnauthorized):
		return "the token was refused; check --token or VERCEL_TOKEN"
	case errors.Is(err, edgecache.ErrForbidden):
		return "the token may not act on this project or team; check the token's scope, and --team-id or --scope"
	case errors.Is(err, edgecache.ErrNotFound) && f.apiURL != edgecache.DefaultBaseURL && !f.mock:
		return fmt.Sprintf("404 Not Found from --api-url %s; check that it is the API's base URL, and --project", f.apiURL)
	case errors.Is(err, edgecache.ErrNotFound):
		return "404 Not Found: no such project or team; check --project, and --team-id or --scope"
	case errors.Is(err, edgecache.ErrPaymentRequired):
		return "402 Payment Required: the team's plan does not cover this operation"
	case errors.Is(err, edgecache.ErrGone):
		return "410 Gone: Vercel no longer serves this operation; update edgecache"
	case errors.Is(err, edgecache.ErrRateLimited):
		return rateLimitedReason(err, now)
	case isPlainHTTPAnswer(err):
		return fmt.Sprintf("--api-url %s speaks https, but the server answered in plain http; use an http:// URL for a local server", f.apiURL)
	}
	return "the API or the network failed (see above)"
}

// rateLimitedReason names the wait the server asked for, when it said: the 429's Retry-After,
// or the reset of its limit block or X-RateLimit headers.
func rateLimitedReason(err error, now time.Time) string {
	var wait time.Duration
	total := 0
	walkErrors(err, func(e error) {
		apiErr, ok := e.(*edgecache.APIError) //nolint:errorlint // walkErrors visits each level of the tree
		if !ok || apiErr.StatusCode != http.StatusTooManyRequests {
			return
		}
		w := apiErr.RetryAfter
		if rl := apiErr.RateLimit; rl != nil {
			if reset := time.UnixMilli(max(rl.ResetMs, rl.Reset*1000)); w == 0 && reset.After(now) {
				w = reset.Sub(now)
			}
			total = max(total, rl.Total)
		}
		wait = max(wait, w)
	})
	if wait == 0 {
		return "rate limited; wait a minute before finishing (Vercel counts requests in one-minute windows)"
	}
	limit := ""
	if total > 0 {
		limit = fmt.Sprintf(" (%d requests a window)", total)
	}
	return fmt.Sprintf("rate limited%s; the limit resets in %s, at %s: finish after that", limit, humanDuration(wait), now.Add(wait).Format(time.TimeOnly))
}

// walkErrors calls visit on err and every error it wraps.
func walkErrors(err error, visit func(error)) {
	if err == nil {
		return
	}
	visit(err)
	switch e := err.(type) { //nolint:errorlint // a walk of the tree, not a match
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			walkErrors(inner, visit)
		}
	case interface{ Unwrap() error }:
		walkErrors(e.Unwrap(), visit)
	}
}

// transient reports whether running the purge again can finish it as it is: after a signal,
// a rate limit, a server fault or a network error, but not after a refusal that would meet
// every request again (a bad token or scope, a plan, a project, an operation, a certificate).
func transient(ctx context.Context, err error) bool {
	if _, ok := errors.AsType[interrupted](context.Cause(ctx)); ok {
		return true
	}
	permanent := false
	walkErrors(err, func(e error) {
		switch e := e.(type) { //nolint:errorlint // each error of the tree in turn
		case *edgecache.APIError:
			permanent = permanent || !e.Temporary()
		case *edgecache.TransportError:
			permanent = permanent || !e.Temporary()
		}
	})
	return !permanent
}

// finishLine tells the user how to finish the job: after a transient failure, to run it again,
// or the command to run on what is left; after one that a rerun meets again, that command
// once the cause is fixed, if the items left are in a file.
func finishLine(v verb, k itemKind, f purgeFlags, left int, transient bool) string {
	if f.remainingFile == "" {
		if !transient {
			return ""
		}
		return fmt.Sprintf("To finish, rerun the same command (purging twice is harmless), or add --remaining-file FILE to keep the %s left in a file.", k.count(left))
	}
	rest := f
	rest.tags, rest.tagsFile, rest.srcImages, rest.srcImagesFile = nil, "", nil, ""
	if k == imageKind {
		rest.srcImagesFile = f.remainingFile
	} else {
		rest.tagsFile = f.remainingFile
	}
	if !transient {
		return fmt.Sprintf("Once that is fixed, finish with (the %s left are in %s): %s", k.count(left), f.remainingFile, commandLine(v, rest))
	}
	return fmt.Sprintf("To finish (the %s left are in %s): %s", k.count(left), f.remainingFile, commandLine(v, rest))
}

// writeRemaining writes every item not purged, one per line: failed, interrupted (whose
// outcome is unknown: purging again is harmless) or never sent.
func writeRemaining(path string, res *edgecache.BulkResult) error {
	var b strings.Builder
	for _, fb := range res.Failed {
		for _, item := range fb.Items {
			b.WriteString(item + "\n")
		}
	}
	for _, item := range slices.Concat(res.Interrupted, res.NotAttempted) {
		b.WriteString(item + "\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
