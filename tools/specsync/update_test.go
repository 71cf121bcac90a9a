package specsync

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

var vendoredOn = time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)

func fixedNow() time.Time { return vendoredOn }

// findChange returns the report entry with the given rule id.
func findChange(t *testing.T, r *Report, id string) Change {
	t.Helper()
	for _, c := range r.Changes {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("report has no %s entry; it has %+v", id, r.Changes)
	return Change{}
}

// TestUpdateAppliesUpstream is the whole flow on a copy of the repository:
// the vendored operation becomes upstream's, the report names the real
// changes with the breaking ones marked, and the regenerated api/ builds.
func TestUpdateAppliesUpstream(t *testing.T) {
	t.Parallel()
	fixture := upstreamFixture(t)
	repo := copyRepo(t)

	var out bytes.Buffer
	res, err := Update(context.Background(), Options{Repo: repo, Upstream: fixture, Now: fixedNow}, &out)
	if err != nil {
		t.Fatalf("Update: %v\n%s", err, out.String())
	}
	if !res.Written || !res.Regenerated || res.Unchanged {
		t.Fatalf("result = %+v, want written and regenerated", res)
	}

	// The vendored operation is upstream's, value for value.
	written := readFile(t, filepath.Join(repo, SpecFile))
	upstream := readFile(t, fixture)
	got, want := asJSON(t, written), asJSON(t, upstream)
	if g, w := dig(t, got, "paths", Path), dig(t, want, "paths", Path, Method); !reflect.DeepEqual(g, map[string]any{Method: w}) {
		t.Errorf("path item = %v\nwant only upstream's operation %v", g, w)
	}
	if g := dig(t, got, "paths").(map[string]any); len(g) != 1 {
		t.Errorf("paths = %v, want only %s", sortedKeys(g), Path)
	}
	for _, key := range []string{"openapi", "info", "servers", "components"} {
		if g, w := dig(t, got, key), dig(t, want, key); !reflect.DeepEqual(g, w) {
			t.Errorf("%s = %v, want upstream's %v", key, g, w)
		}
	}
	if g, w := keyOrder(t, written, "paths", Path, Method), keyOrder(t, upstream, "paths", Path, Method); !reflect.DeepEqual(g, w) {
		t.Errorf("operation keys in order %v, want upstream's order %v", g, w)
	}

	// The provenance block names the source file and the day.
	header := string(written[:bytes.Index(written, []byte("\nopenapi:"))])
	for _, line := range strings.Split(header, "\n") {
		if !strings.HasPrefix(line, "#") {
			t.Fatalf("header line %q is not a comment", line)
		}
	}
	for _, s := range []string{"vercel-openapi-edge-cache.json", "Vendored on 2031-02-03.", "oapi-codegen.yaml"} {
		if !strings.Contains(header, s) {
			t.Errorf("provenance comment lacks %q:\n%s", s, header)
		}
	}
	if strings.Contains(header, repo) || strings.Contains(header, "/shared/") {
		t.Errorf("provenance comment records a local path:\n%s", header)
	}

	// The report names the three contract changes; oasdiff grades the type
	// change and the new bound as breaking.
	r := res.Report
	typ := findChange(t, r, "request-property-type-changed")
	if !typ.Breaking || !strings.Contains(typ.Text, "revalidationDeadlineSeconds") ||
		!strings.Contains(typ.Text, "`number` to `integer`") {
		t.Errorf("type change = %+v, want breaking number -> integer on revalidationDeadlineSeconds", typ)
	}
	bound := findChange(t, r, "request-property-max-set")
	if !bound.Breaking || !strings.Contains(bound.Text, "31536000") {
		t.Errorf("max change = %+v, want breaking maximum 31536000", bound)
	}
	gone := findChange(t, r, "response-non-success-status-added")
	if !strings.Contains(gone.Text, "410") {
		t.Errorf("response change = %+v, want the 410", gone)
	}
	for _, c := range r.Changes {
		if c.Breaking != (c.Level == "error" || c.Level == "warning") {
			t.Errorf("change %s: breaking=%v at level %s", c.ID, c.Breaking, c.Level)
		}
		if strings.Contains(c.ID, "all-of") {
			t.Errorf("allOf noise in the report despite flattening: %+v", c)
		}
	}

	printed := out.String()
	for _, re := range []string{
		"(?m)^  BREAKING \\(error\\) .*`number` to `integer`.*\\[request-property-type-changed\\]$",
		"(?m)^  BREAKING \\(error\\) .*31536000.*\\[request-property-max-set\\]$",
		"(?m)^  info .*410.*\\[response-non-success-status-added\\]$",
		"(?m)^  note .*description changed:.*prefer using `invalidateByTag` instead",
	} {
		if !regexp.MustCompile(re).MatchString(printed) {
			t.Errorf("report does not match %s:\n%s", re, printed)
		}
	}
	summary := regexp.MustCompile(`(?m)^(\d+) changes, (\d+) breaking`).FindStringSubmatch(printed)
	if summary == nil || summary[1] != strconv.Itoa(len(r.Changes)) || summary[2] != strconv.Itoa(r.Breaking()) || r.Breaking() < 2 {
		t.Errorf("summary %q does not count %d changes, %d breaking", summary, len(r.Changes), r.Breaking())
	}

	// api/ was regenerated from the new spec (and Update built it).
	gen := string(readFile(t, filepath.Join(repo, APIDir, "api.gen.go")))
	if !regexp.MustCompile(`RevalidationDeadlineSeconds\s+\*int\b`).MatchString(gen) {
		t.Errorf("api.gen.go does not carry the integer deadline")
	}

	// Applying the same upstream again is a no-op.
	before := readFile(t, filepath.Join(repo, SpecFile))
	out.Reset()
	again, err := Update(context.Background(), Options{Repo: repo, Upstream: fixture}, &out)
	if err != nil {
		t.Fatalf("second Update: %v", err)
	}
	if !again.Unchanged || again.Written || len(again.Report.Changes) != 0 || !again.Report.Identical {
		t.Errorf("second Update = %+v, report %+v; want unchanged", again, again.Report)
	}
	if !bytes.Equal(before, readFile(t, filepath.Join(repo, SpecFile))) {
		t.Error("second Update rewrote openapi.yaml")
	}
}

// TestUpdateSelfIsNoChange applies the vendored spec to itself.
func TestUpdateSelfIsNoChange(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	repo := t.TempDir()
	copyFile(t, filepath.Join(root, SpecFile), filepath.Join(repo, SpecFile))
	snap, err := TakeSnapshot(repo)
	if err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	res, err := Update(context.Background(), Options{Repo: repo, Upstream: filepath.Join(root, SpecFile)}, &out)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if !res.Unchanged || res.Written || !res.Report.Identical || len(res.Report.Changes) != 0 || len(res.Report.Notes) != 0 {
		t.Errorf("self-application = %+v, report %+v; want no change", res, res.Report)
	}
	if !strings.Contains(out.String(), "0 changes, 0 breaking") {
		t.Errorf("output lacks the zero summary:\n%s", out.String())
	}
	if changed, err := snap.Changed(); err != nil || changed {
		t.Errorf("openapi.yaml changed (%v, %v)", changed, err)
	}
}

// TestUpdateDryRunWritesNothing reports upstream's changes and leaves the
// copy alone.
func TestUpdateDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	fixture := upstreamFixture(t)
	repo := copyRepo(t)
	snap, err := TakeSnapshot(repo)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := Update(context.Background(), Options{Repo: repo, Upstream: fixture, DryRun: true}, &out)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if res.Written || res.Regenerated || res.Report.Breaking() == 0 {
		t.Errorf("dry run = %+v; want a breaking report and nothing written", res)
	}
	if !strings.Contains(out.String(), "dry run: nothing written") {
		t.Errorf("output does not say the run was dry:\n%s", out.String())
	}
	if changed, err := snap.Changed(); err != nil || changed {
		t.Errorf("dry run changed the repository (%v, %v)", changed, err)
	}
}

// TestUpdateRestoresOnFailedBuild makes the generated code fail to build and
// checks that openapi.yaml and api/ come back byte for byte.
func TestUpdateRestoresOnFailedBuild(t *testing.T) {
	t.Parallel()
	fixture := upstreamFixture(t)
	repo := copyRepo(t)
	// Upstream's integer deadline meets a Go type that does not exist, so
	// generation succeeds and `go build ./api/` fails.
	cfgPath := filepath.Join(repo, "oapi-codegen.yaml")
	var cfg map[string]any
	if err := yaml.Unmarshal(readFile(t, cfgPath), &cfg); err != nil {
		t.Fatal(err)
	}
	oo, _ := cfg["output-options"].(map[string]any)
	if oo == nil {
		oo = map[string]any{}
		cfg["output-options"] = oo
	}
	tm, _ := oo["type-mapping"].(map[string]any)
	if tm == nil {
		tm = map[string]any{}
		oo["type-mapping"] = tm
	}
	tm["integer"] = map[string]any{"default": map[string]any{"type": "NoSuchGoType"}}
	broken, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, broken, 0o644); err != nil {
		t.Fatal(err)
	}
	snap, err := TakeSnapshot(repo)
	if err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	res, err := Update(context.Background(), Options{Repo: repo, Upstream: fixture}, &out)
	if !errors.Is(err, ErrRegenerate) {
		t.Fatalf("Update error = %v, want ErrRegenerate\n%s", err, out.String())
	}
	if !strings.Contains(err.Error(), "go build ./api/") || !strings.Contains(err.Error(), "restored the previous openapi.yaml and api/") {
		t.Errorf("error %q does not name the failed step and the restore", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
	if !strings.Contains(out.String(), "NoSuchGoType") {
		t.Errorf("compiler output not shown:\n%s", out.String())
	}
	if res == nil || res.Written || res.Regenerated {
		t.Errorf("result = %+v, want nothing kept", res)
	}
	if changed, err := snap.Changed(); err != nil || changed {
		t.Errorf("openapi.yaml or api/ not restored (%v, %v)", changed, err)
	}
}

// TestUpdateErrors covers the failures that must stop before anything is
// written, each with one clear line.
func TestUpdateErrors(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name     string
		upstream string
		is       error
		says     string
	}{
		{"unreadable", filepath.Join(dir, "absent.json"), os.ErrNotExist, "read upstream document"},
		{"missing operation", write("other.json", `{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/v1/other":{"post":{"responses":{"200":{"description":""}}}}}}`),
			ErrOperationNotFound, "POST " + Path},
		{"not OpenAPI", write("swagger.yaml", "swagger: \"2.0\"\ninfo: {title: t, version: \"1\"}\npaths: {}\n"), ErrInvalidSpec, "swagger"},
		{"unparsable", write("broken.json", `{"openapi": "3.0.3", "paths": {`), ErrInvalidSpec, "parse JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := t.TempDir()
			copyFile(t, filepath.Join(root, SpecFile), filepath.Join(repo, SpecFile))
			snap, err := TakeSnapshot(repo)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			_, err = Update(context.Background(), Options{Repo: repo, Upstream: tc.upstream}, &out)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error = %v, want %v mentioning %q", err, tc.is, tc.says)
			}
			if changed, _ := snap.Changed(); changed || out.Len() != 0 {
				t.Errorf("failed update changed the repository or printed a report: %q", out.String())
			}
		})
	}
}

// TestUpdateSkipGenerate writes the spec and leaves api/ to `make generate`.
func TestUpdateSkipGenerate(t *testing.T) {
	t.Parallel()
	fixture := upstreamFixture(t)
	repo := t.TempDir()
	copyFile(t, filepath.Join(repoRoot(t), SpecFile), filepath.Join(repo, SpecFile))

	var out bytes.Buffer
	res, err := Update(context.Background(), Options{Repo: repo, Upstream: fixture, SkipGenerate: true, Now: fixedNow}, &out)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if !res.Written || res.Regenerated {
		t.Errorf("result = %+v, want written, not regenerated", res)
	}
	if _, err := os.Stat(filepath.Join(repo, APIDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("api/ appeared: %v", err)
	}
	if !strings.Contains(out.String(), "make generate") {
		t.Errorf("output does not say to regenerate:\n%s", out.String())
	}
	same, err := SameDocument(readFile(t, filepath.Join(repo, SpecFile)), mustExtract(t, readFile(t, fixture)))
	if err != nil || !same {
		t.Errorf("written spec is not the extracted operation (%v)", err)
	}
}

func mustExtract(t *testing.T, upstream []byte) []byte {
	t.Helper()
	spec, err := Extract(upstream, Path, Method)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}
