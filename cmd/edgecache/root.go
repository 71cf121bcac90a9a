package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newRootCommand builds the command tree. Cobra gives the flag parsing, help and
// subcommands the Vercel CLI's users expect (--tag a --tag b, -y, --help with examples),
// which the standard flag package would have to imitate by hand.
func newRootCommand(e env) *cobra.Command {
	root := &cobra.Command{
		Use:   "edgecache",
		Short: "Delete Vercel Edge Cache tags, or serve a spec-validating fake of the endpoint",
		Long: `edgecache calls Vercel's POST /v1/edge-cache/dangerously-delete-by-tags.

Deleting a tag makes the next request for every page under it go to the origin in the
foreground. Many pages at once is a cache stampede: prefer a revalidation deadline, or
invalidation, unless the origin content is really gone.

Exit codes: 0 every tag purged; 1 an API or network failure (partial ones included);
2 bad usage or invalid input, with nothing sent.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%v (see %s --help)", err, cmd.CommandPath())
	})
	root.AddCommand(newDeleteCommand(e), newServeCommand(e))
	return root
}
