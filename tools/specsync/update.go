package specsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"
)

// ErrRegenerate reports that api/ could not be regenerated or built from the
// new spec; Update has restored openapi.yaml and api/ by then.
var ErrRegenerate = errors.New("regenerating api/ failed")

// Options configures Update.
type Options struct {
	// Repo is the repository root, which holds openapi.yaml, gen.go and api/.
	Repo string
	// Upstream is the upstream OpenAPI document, JSON or YAML.
	Upstream string
	// DryRun prints the report and writes nothing.
	DryRun bool
	// SkipGenerate writes openapi.yaml but leaves api/ alone.
	SkipGenerate bool
	// GoCmd is the go binary used to regenerate; "go" when empty.
	GoCmd string
	// Now dates the provenance comment; time.Now when nil.
	Now func() time.Time
}

// Result says what Update did.
type Result struct {
	Report *Report
	// Unchanged is true when the extracted spec holds the same data as the
	// vendored one, in which case nothing is written.
	Unchanged bool
	// Written is true when openapi.yaml was replaced (and kept).
	Written bool
	// Regenerated is true when api/ was regenerated and built.
	Regenerated bool
}

// Update vendors the Edge Cache group from opts.Upstream into opts.Repo: extract
// and validate, report the changes against the current openapi.yaml on out,
// write the new spec, regenerate api/ and build it. If regeneration or the
// build fails, the previous openapi.yaml and api/ are put back.
func Update(ctx context.Context, opts Options, out io.Writer) (*Result, error) {
	upstream, err := os.ReadFile(opts.Upstream)
	if err != nil {
		return nil, fmt.Errorf("read upstream document: %w", err)
	}
	spec, err := Extract(upstream, edgeCacheGroup[:])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(opts.Upstream), err)
	}
	specPath := filepath.Join(opts.Repo, SpecFile)
	current, err := os.ReadFile(specPath)
	if err != nil {
		return nil, fmt.Errorf("read vendored spec: %w", err)
	}

	report, err := Diff(current, spec)
	if err != nil {
		return nil, err
	}
	res := &Result{Report: report}
	fmt.Fprintf(out, "Changes from %s to %s (the Edge Cache group, %d operations; oasdiff %s, allOf flattened):\n",
		SpecFile, filepath.Base(opts.Upstream), len(edgeCacheGroup), oasdiffVersion())
	if err := report.Write(out); err != nil {
		return nil, fmt.Errorf("print report: %w", err)
	}

	if res.Unchanged, err = SameDocument(current, spec); err != nil {
		return nil, err
	}
	switch {
	case res.Unchanged:
		fmt.Fprintf(out, "%s already holds these operations; nothing written\n", SpecFile)
		return res, nil
	case opts.DryRun:
		fmt.Fprintln(out, "dry run: nothing written")
		return res, nil
	}

	snap, err := TakeSnapshot(opts.Repo)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	rendered := Render(spec, Provenance{Source: filepath.Base(opts.Upstream), Date: now().UTC()})
	if err := WriteSpec(opts.Repo, rendered); err != nil {
		return nil, errors.Join(err, restoreNote(snap))
	}
	res.Written = true
	if abs, err := filepath.Abs(specPath); err == nil {
		specPath = abs // "../openapi.yaml" means little in a log
	}
	fmt.Fprintf(out, "wrote %s\n", specPath)
	if opts.SkipGenerate {
		fmt.Fprintf(out, "skipped regeneration: run `make generate` before committing\n")
		return res, nil
	}

	if err := Regenerate(ctx, opts.Repo, opts.GoCmd); err != nil {
		res.Written = false
		var cmdErr *CommandError
		if errors.As(err, &cmdErr) && len(cmdErr.Output) > 0 {
			fmt.Fprintf(out, "%s", cmdErr.Output)
		}
		if rerr := snap.Restore(); rerr != nil {
			return res, fmt.Errorf("%w: %w; restoring the previous %s and %s/ failed too, restore them by hand: %w",
				ErrRegenerate, err, SpecFile, APIDir, rerr)
		}
		return res, fmt.Errorf("%w: %w; restored the previous %s and %s/", ErrRegenerate, err, SpecFile, APIDir)
	}
	res.Regenerated = true
	fmt.Fprintf(out, "regenerated %s/ and built it (go generate ./..., go build ./%s/)\n", APIDir, APIDir)
	if report.Breaking() > 0 {
		fmt.Fprintln(out, "next: bring the wrapper in line with \"What breaks for this client\" and run `make test` (see docs/spec-updates.md)")
	}
	return res, nil
}

func restoreNote(snap *Snapshot) error {
	if err := snap.Restore(); err != nil {
		return err
	}
	return fmt.Errorf("restored the previous %s", SpecFile)
}

// oasdiffVersion names the oasdiff module this binary was built with, so a
// report can be traced to the rules that graded it.
func oasdiffVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range bi.Deps {
			if dep.Path == "github.com/oasdiff/oasdiff" {
				return dep.Version
			}
		}
	}
	return "(unknown version)"
}
