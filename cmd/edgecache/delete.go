package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vercelkit/edgecache"
	"github.com/vercelkit/edgecache/edgecachetest"
)

// deleteFlags are the dangerously-delete command's flags, as parsed.
type deleteFlags struct {
	project     string
	tags        []string
	tagsFile    string
	target      string
	deadline    int
	deadlineSet bool
	teamID      string
	slug        string
	token       string
	apiURL      string
	yes         bool
	dryRun      bool
	json        bool
	mock        bool
	concurrency int
}

const deleteExamples = `  # Delete two tags in the linked project (.vercel/project.json), production only
  edgecache dangerously-delete --tag blog,products --target production --yes

  # Keep serving stale content for 60 s while revalidating, then delete
  edgecache dangerously-delete --project my-app --tag blog --revalidation-deadline-seconds 60 --yes

  # Many tags from a file (one per line), 8 requests in flight, result as JSON
  edgecache dangerously-delete --project my-app --tags-file tags.txt --concurrency 8 --json --yes

  # See what would be sent, send nothing
  edgecache dangerously-delete --project my-app --tag blog --dry-run

  # Try it with no account: an in-process fake of the endpoint
  edgecache dangerously-delete --mock --project demo --tag blog --yes`

func newDeleteCommand(e env) *cobra.Command {
	var f deleteFlags
	cmd := &cobra.Command{
		Use:   "dangerously-delete",
		Short: "Delete cache tags, so that their pages are revalidated in the foreground",
		Long: `Marks cache tags as deleted: the next request for every cache entry carrying one of them is
revalidated in the foreground, at the origin.

WARNING: one tag can cover many paths. Deleting it can send many concurrent requests to the
origin at once (a cache stampede). Use it when the origin content is gone (404/410); otherwise
pass --revalidation-deadline-seconds, so stale content is served while pages revalidate.

Defaults: --project from $VERCEL_PROJECT_ID, then projectId in .vercel/project.json;
--team-id from $VERCEL_ORG_ID, then orgId in .vercel/project.json; --token from $VERCEL_TOKEN.
More than 16 tags are sent as several requests of at most 16; duplicates are sent once.
Without --yes it asks on a terminal, and refuses (exit 2) anywhere else.`,
		Example: deleteExamples,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.deadlineSet = cmd.Flags().Changed("revalidation-deadline-seconds")
			return runDelete(cmd.Context(), e, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.project, "project", "", "project id or name (default $VERCEL_PROJECT_ID, then .vercel/project.json)")
	fl.StringArrayVar(&f.tags, "tag", nil, "tag to delete; repeatable, and each value is split on commas")
	fl.StringVar(&f.tagsFile, "tags-file", "", "file with one tag per line; - reads standard input")
	fl.StringVar(&f.target, "target", "", "environment: production or preview (default all environments)")
	fl.IntVar(&f.deadline, "revalidation-deadline-seconds", 0, "serve stale content and revalidate in the background for N seconds before deleting")
	fl.StringVar(&f.teamID, "team-id", "", "team id (default $VERCEL_ORG_ID, then .vercel/project.json)")
	fl.StringVar(&f.slug, "slug", "", "team slug")
	fl.StringVar(&f.token, "token", "", "Vercel token (default $VERCEL_TOKEN)")
	fl.StringVar(&f.apiURL, "api-url", edgecache.DefaultBaseURL, "API base URL")
	fl.BoolVarP(&f.yes, "yes", "y", false, "skip the confirmation")
	fl.BoolVar(&f.dryRun, "dry-run", false, "validate and print the requests; send nothing")
	fl.BoolVar(&f.json, "json", false, "print the result as JSON on standard output")
	fl.BoolVar(&f.mock, "mock", false, "send to an in-process fake of the endpoint: no token, no network")
	fl.IntVar(&f.concurrency, "concurrency", edgecache.DefaultBulkConcurrency, "most requests in flight at once")
	return cmd
}

func runDelete(ctx context.Context, e env, f deleteFlags) error {
	link, err := readProjectLink(e.dir)
	if err != nil {
		return err
	}
	project := firstOf(f.project, e.getenv("VERCEL_PROJECT_ID"), link.ProjectID)
	if project == "" {
		return errors.New("no project: pass --project, set VERCEL_PROJECT_ID, or run inside a linked project (.vercel/project.json)")
	}
	teamID := firstOf(f.teamID, e.getenv("VERCEL_ORG_ID"), link.teamID())
	tags, err := collectTags(f.tags, f.tagsFile, e.stdin)
	if err != nil {
		return err
	}
	if len(tags) == 0 {
		return errors.New("no tags: pass --tag TAG (repeatable, comma-separated) or --tags-file FILE")
	}
	if f.target != "" && f.target != string(edgecache.TargetProduction) && f.target != string(edgecache.TargetPreview) {
		return fmt.Errorf("--target must be production or preview, not %q (omit it for all environments)", f.target)
	}
	req := edgecache.BulkDeleteRequest{
		ProjectIDOrName: project,
		Tags:            tags,
		Target:          edgecache.Target(f.target),
		TeamID:          teamID,
		TeamSlug:        f.slug,
		Concurrency:     f.concurrency,
	}
	if f.deadlineSet {
		req.RevalidationDeadlineSeconds = edgecache.Ptr(f.deadline)
	}
	calls, err := req.Requests()
	if err != nil {
		return err
	}
	if f.concurrency < 1 {
		return fmt.Errorf("--concurrency must be at least 1, not %d", f.concurrency)
	}

	client, closeFake, err := newClient(f, e)
	if err != nil {
		return err
	}
	defer closeFake()

	if f.dryRun {
		return printDryRun(e.stdout, client, calls, f.json)
	}
	if !f.yes {
		if err := confirm(e, project, teamID, f, len(tags)); err != nil {
			return err
		}
	}
	if !f.json && e.isTerminal(e.stderr) && len(calls) > 1 {
		req.Progress = progressLine(e.stderr)
	}
	res, err := client.DangerouslyDeleteByTagsBulk(ctx, req)
	if res == nil {
		return &failure{err: err}
	}
	if req.Progress != nil {
		fmt.Fprintln(e.stderr)
	}
	if f.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if encErr := enc.Encode(res); encErr != nil {
			return &failure{err: encErr}
		}
	} else {
		printSummary(e.stdout, res, project, f)
	}
	if err != nil {
		notPurged := len(tags) - len(res.Purged)
		fmt.Fprintf(e.stderr, "edgecache: %d of %d tag(s) not purged: %s\n", notPurged, len(tags), nextStep(err))
		return reported
	}
	return nil
}

// nextStep says what to do about a failed purge, from the first failure's kind.
func nextStep(err error) string {
	switch {
	case errors.Is(err, edgecache.ErrUnauthorized):
		return "the token was refused; check --token or VERCEL_TOKEN"
	case errors.Is(err, edgecache.ErrForbidden):
		return "the token may not act on this project; check the token's scope and --team-id or --slug"
	case errors.Is(err, edgecache.ErrNotFound):
		return "no such project or team; check --project and --team-id"
	case errors.Is(err, edgecache.ErrRateLimited):
		return "rate limited; wait a minute and rerun (deleting a tag twice is harmless)"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "interrupted; rerun to finish (deleting a tag twice is harmless)"
	default:
		return "rerun later to retry them (deleting a tag twice is harmless)"
	}
}

// newClient makes the client for the real API, or for an in-process fake with --mock. The
// returned func closes the fake; it is a no-op otherwise.
func newClient(f deleteFlags, e env) (*edgecache.Client, func(), error) {
	if f.mock {
		fake := edgecachetest.NewServer()
		c, err := fake.NewClient()
		if err != nil {
			fake.Close()
			return nil, nil, err
		}
		return c, fake.Close, nil
	}
	token := firstOf(f.token, e.getenv("VERCEL_TOKEN"))
	if token == "" {
		if !f.dryRun {
			return nil, nil, errors.New("no token: pass --token or set VERCEL_TOKEN (create one at https://vercel.com/account/tokens), or try --mock")
		}
		// A dry run sends nothing, so it needs no real credential to show the requests.
		token = "dry-run"
	}
	c, err := edgecache.New(token, edgecache.WithBaseURL(f.apiURL), edgecache.WithUserAgent("edgecache-cli/"+edgecache.Version))
	if err != nil {
		return nil, nil, fmt.Errorf("--api-url: %w", err)
	}
	return c, func() {}, nil
}

// collectTags gathers --tag values (split on commas) and the lines of --tags-file.
func collectTags(flagTags []string, file string, stdin io.Reader) ([]string, error) {
	var tags []string
	for _, v := range flagTags {
		tags = append(tags, strings.Split(v, ",")...)
	}
	if file == "" {
		return tags, nil
	}
	var r io.Reader = stdin
	if file != "-" {
		fh, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("--tags-file: %w", err)
		}
		defer fh.Close()
		r = fh
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		tags = append(tags, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--tags-file %s: %w", file, err)
	}
	return tags, nil
}

// confirm asks on a terminal and refuses elsewhere, printing the command to rerun.
func confirm(e env, project, teamID string, f deleteFlags, tagCount int) error {
	if !e.isTerminal(e.stdin) {
		return fmt.Errorf("refusing to delete %d tags without confirmation in a non-interactive shell; rerun with --yes: %s", tagCount, rerunCommand(f))
	}
	target := f.target
	if target == "" {
		target = "all environments"
	}
	team := firstOf(teamID, f.slug, "(personal account)")
	fmt.Fprintf(e.stderr, "Project: %s\nTeam:    %s\nTarget:  %s\nTags:    %d\n\n", project, team, target, tagCount)
	fmt.Fprintln(e.stderr, "WARNING: deleting a tag sends the next request of every page under it to the origin,")
	fmt.Fprintln(e.stderr, "in the foreground. Many pages at once is a cache stampede.")
	fmt.Fprintf(e.stderr, "Delete %d tags? [y/N] ", tagCount)
	answer, _ := bufio.NewReader(e.stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return errors.New("aborted: nothing was deleted")
}

// rerunCommand rebuilds the command line with --yes, leaving the token out.
func rerunCommand(f deleteFlags) string {
	parts := []string{"edgecache", "dangerously-delete"}
	add := func(flag, v string) {
		if v != "" {
			parts = append(parts, flag, shellQuote(v))
		}
	}
	add("--project", f.project)
	for _, t := range f.tags {
		add("--tag", t)
	}
	add("--tags-file", f.tagsFile)
	add("--target", f.target)
	if f.deadlineSet {
		add("--revalidation-deadline-seconds", strconv.Itoa(f.deadline))
	}
	add("--team-id", f.teamID)
	add("--slug", f.slug)
	if f.apiURL != edgecache.DefaultBaseURL {
		add("--api-url", f.apiURL)
	}
	if f.concurrency != edgecache.DefaultBulkConcurrency {
		add("--concurrency", strconv.Itoa(f.concurrency))
	}
	if f.mock {
		parts = append(parts, "--mock")
	}
	if f.json {
		parts = append(parts, "--json")
	}
	return strings.Join(append(parts, "--yes"), " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:,=@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
