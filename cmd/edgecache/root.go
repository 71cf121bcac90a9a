package main

import (
	"errors"
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/spf13/cobra"

	"github.com/vercelkit/edgecache"
)

// newRootCommand builds the command tree. Cobra gives the flag parsing, help and
// subcommands the Vercel CLI's users expect (--tag a --tag b, -y, --help with examples),
// which the standard flag package would have to imitate by hand.
func newRootCommand(e env) *cobra.Command {
	root := &cobra.Command{
		Use:   "edgecache",
		Short: "Invalidate or delete Vercel Edge Cache entries by tag or source image, or serve a fake of the API",
		Long: `edgecache calls Vercel's Edge Cache API, as ` + "`vercel cache`" + ` does.

  invalidate          marks tags or source images as stale: their pages are served stale
                      while they revalidate in the background. The one to use by default.
  dangerously-delete  marks them as deleted: the next request for every page under them
                      waits for the origin, which for many pages is a cache stampede. For
                      content that is gone from the origin.

Exit codes: 0 everything purged, or canceled at the prompt; 1 an API or network failure
(partial ones included); 2 bad usage or invalid input, with nothing sent; 130 or 143 when
SIGINT or SIGTERM ended it.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// --version is a flag of our own rather than cobra's Version field, so that the embedded
	// document is parsed only when asked for, not at every start.
	showVersion := root.Flags().Bool("version", false, "print the version and the OpenAPI document's version")
	root.RunE = func(cmd *cobra.Command, _ []string) error {
		if *showVersion {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "edgecache "+version())
			return err
		}
		return cmd.Help()
	}
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath())
	})
	root.AddCommand(newPurgeCommand(e, invalidateVerb), newPurgeCommand(e, deleteVerb), newServeCommand(e), newCacheHint())
	return root
}

// newCacheHint catches the Vercel CLI's word order, `edgecache cache invalidate …`, which
// would otherwise be an unknown command, and says what to type instead. It is hidden from
// --help, and its arguments are never repeated: they may hold a token.
func newCacheHint() *cobra.Command {
	return &cobra.Command{
		Use:                "cache",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 && (args[0] == invalidateVerb.name || args[0] == deleteVerb.name) {
				return fmt.Errorf(`drop "cache": edgecache %s takes the same flags as vercel cache %s`, args[0], args[0])
			}
			return errors.New(`edgecache has no "cache" command: its commands are vercel cache's without "cache" (invalidate, dangerously-delete), and serve; see edgecache --help`)
		},
	}
}

// version is the module's version and the version of the OpenAPI document it was built from,
// which says which state of Vercel's API the command speaks.
func version() string {
	specVersion := "unknown"
	if doc, err := openapi3.NewLoader().LoadFromData(edgecache.OpenAPISpec); err == nil && doc.Info != nil {
		specVersion = doc.Info.Version
	}
	return fmt.Sprintf("%s (OpenAPI document %s)", edgecache.Version(), specVersion)
}
