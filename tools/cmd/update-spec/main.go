// Command update-spec vendors a newer upstream revision of Vercel's Edge
// Cache group (the four operations specsync.Operations names) into
// openapi.yaml, prints what changed per operation (breaking changes marked,
// as graded by oasdiff) and what that breaks for this client, and
// regenerates api/.
//
// Usage (normally through `make update-spec UPSTREAM=FILE`):
//
//	update-spec -repo DIR -upstream FILE [-dry-run] [-skip-generate]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/vercelkit/edgecache/tools/specsync"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit status, 2 for a
// usage error and 1 for a failed update.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("update-spec", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := specsync.Options{}
	fs.StringVar(&opts.Repo, "repo", "..", "repository root (holds openapi.yaml, gen.go and api/)")
	fs.StringVar(&opts.Upstream, "upstream", "", "upstream OpenAPI document, JSON or YAML (required)")
	fs.BoolVar(&opts.DryRun, "dry-run", false, "print the change report and write nothing")
	fs.BoolVar(&opts.SkipGenerate, "skip-generate", false, "write openapi.yaml but do not regenerate api/")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: update-spec -upstream FILE [-repo DIR] [-dry-run] [-skip-generate]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if opts.Upstream == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "update-spec: -upstream FILE is required and no arguments are taken")
		fs.Usage()
		return 2
	}

	if _, err := specsync.Update(ctx, opts, stdout); err != nil {
		fmt.Fprintf(stderr, "update-spec: %s\n", oneLine(err.Error()))
		return 1
	}
	return 0
}

// oneLine folds a multi-line error (kin-openapi's validation errors span
// lines) into the single line the command promises.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
