package specsync

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
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

// TestUpdateAppliesUpstream is the whole flow on a copy of the repository
// whose openapi.yaml is the seed: the spec becomes upstream's Edge Cache
// group, the report names the real changes per operation and what breaks
// for this client, and the regenerated api/ builds.
func TestUpdateAppliesUpstream(t *testing.T) {
	t.Parallel()
	fixture := upstreamFixture(t)
	repo := copyRepo(t, seedSpec(t))

	var out bytes.Buffer
	res, err := Update(context.Background(), Options{Repo: repo, Upstream: fixture, Now: fixedNow}, &out)
	if err != nil {
		t.Fatalf("Update: %v\n%s", err, out.String())
	}
	if !res.Written || !res.Regenerated || res.Unchanged {
		t.Fatalf("result = %+v, want written and regenerated", res)
	}

	// The vendored group is upstream's, value for value and in its order.
	written := readFile(t, filepath.Join(repo, SpecFile))
	upstream := readFile(t, fixture)
	if got, want := asJSON(t, written), asJSON(t, upstream); !reflect.DeepEqual(got, want) {
		t.Errorf("written spec differs from upstream's group:\n%s", written)
	}
	for _, at := range [][]string{nil, {"paths"}, {"paths", "/v1/edge-cache/invalidate-by-src-images", "post"}} {
		if g, w := keyOrder(t, written, at...), keyOrder(t, upstream, at...); !reflect.DeepEqual(g, w) {
			t.Errorf("keys at %v in order %v, want upstream's order %v", at, g, w)
		}
	}

	// The provenance block names the source file, the group and the day.
	header := string(written[:bytes.Index(written, []byte("\nopenapi:"))])
	for _, line := range strings.Split(header, "\n") {
		if !strings.HasPrefix(line, "#") {
			t.Fatalf("header line %q is not a comment", line)
		}
	}
	for _, s := range append([]string{"vercel-openapi-edge-cache.json", "Edge Cache group", "Vendored on 2031-02-03.", "oapi-codegen.yaml"}, group...) {
		if !strings.Contains(header, s) {
			t.Errorf("provenance comment lacks %q:\n%s", s, header)
		}
	}
	if strings.Contains(header, repo) || strings.Contains(header, "/shared/") || strings.Contains(header, "testdata") {
		t.Errorf("provenance comment records a local path:\n%s", header)
	}

	checkSeedToUpstreamReport(t, res.Report, out.String())

	// api/ was regenerated from the new spec (and Update built it): four
	// typed client methods and an integer deadline.
	gen := string(readFile(t, filepath.Join(repo, APIDir, "api.gen.go")))
	for _, re := range []string{
		`RevalidationDeadlineSeconds\s+\*int\b`,
		`func \(c \*ClientWithResponses\) InvalidateByTagsWithResponse\(`,
		`func \(c \*ClientWithResponses\) DangerouslyDeleteByTagsWithResponse\(`,
		`func \(c \*ClientWithResponses\) InvalidateBySrcImagesWithResponse\(`,
		`func \(c \*ClientWithResponses\) DangerouslyDeleteBySrcImagesWithResponse\(`,
	} {
		if !regexp.MustCompile(re).MatchString(gen) {
			t.Errorf("api.gen.go does not match %s", re)
		}
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

// checkSeedToUpstreamReport holds what the seed-to-upstream report must say.
func checkSeedToUpstreamReport(t *testing.T, r *Report, printed string) {
	t.Helper()
	// Three operations are new; dangerouslyDeleteByTags changed.
	status := map[string]Operation{}
	for _, o := range r.Operations {
		status[o.ID] = o
	}
	for _, id := range group {
		want := "added"
		if id == ddbt {
			want = "changed"
		}
		if got := status[id].Status; got != want {
			t.Errorf("%s: status %q, want %q", id, got, want)
		}
	}
	if ids := operationIDs(r.Operations); !reflect.DeepEqual(ids, group) {
		t.Errorf("operations listed as %v, want the group in order %v", ids, group)
	}
	var added []string
	for _, c := range r.Changes {
		if c.ID == "endpoint-added" {
			added = append(added, c.OperationID)
		}
	}
	if want := []string{"invalidateByTags", "invalidateBySrcImages", "dangerouslyDeleteBySrcImages"}; !sameSet(added, want) {
		t.Errorf("endpoint-added for %v, want %v", added, want)
	}

	// oasdiff grades the type change and the new bound as breaking, both on
	// dangerouslyDeleteByTags; the 410 is new there.
	typ := findChange(t, r, "request-property-type-changed")
	if !typ.Breaking || typ.OperationID != ddbt || !strings.Contains(typ.Text, "revalidationDeadlineSeconds") ||
		!strings.Contains(typ.Text, "`number` to `integer`") {
		t.Errorf("type change = %+v, want breaking number -> integer on revalidationDeadlineSeconds", typ)
	}
	bound := findChange(t, r, "request-property-max-set")
	if !bound.Breaking || bound.OperationID != ddbt || !strings.Contains(bound.Text, "31536000") {
		t.Errorf("max change = %+v, want breaking maximum 31536000", bound)
	}
	gone := findChange(t, r, "response-non-success-status-added")
	if gone.OperationID != ddbt || !strings.Contains(gone.Text, "410") {
		t.Errorf("response change = %+v, want the 410 on %s", gone, ddbt)
	}
	if r.Breaking() != 2 {
		t.Errorf("%d breaking changes, want 2: %+v", r.Breaking(), r.Changes)
	}
	for _, c := range r.Changes {
		if c.Breaking != (c.Level == "error" || c.Level == "warning") {
			t.Errorf("change %s: breaking=%v at level %s", c.ID, c.Breaking, c.Level)
		}
		if strings.Contains(c.ID, "all-of") {
			t.Errorf("allOf noise in the report despite flattening: %+v", c)
		}
	}

	// For this client: 410 on all four, 402 on the src-images two.
	for id, want := range map[string][]string{
		"invalidateByTags":             {"410"},
		ddbt:                           {"410"},
		"invalidateBySrcImages":        {"402", "410"},
		"dangerouslyDeleteBySrcImages": {"402", "410"},
	} {
		if got := status[id].NewErrorStatuses; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: new error statuses %v, want %v", id, got, want)
		}
	}

	for _, re := range []string{
		"(?m)^invalidateByTags \\(POST /v1/edge-cache/invalidate-by-tags\\): added; error statuses 400, 401, 403, 404, 410$",
		"(?m)^dangerouslyDeleteByTags \\(POST /v1/edge-cache/dangerously-delete-by-tags\\): changed, 2 breaking$",
		"(?m)^invalidateBySrcImages \\(POST /v1/edge-cache/invalidate-by-src-images\\): added; error statuses 400, 401, 402, 403, 404, 410$",
		"(?m)^dangerouslyDeleteBySrcImages \\(POST /v1/edge-cache/dangerously-delete-by-src-images\\): added; error statuses 400, 401, 402, 403, 404, 410$",
		"(?m)^  BREAKING \\(error\\) .*`number` to `integer`.*\\[request-property-type-changed\\]$",
		"(?m)^  BREAKING \\(error\\) .*31536000.*\\[request-property-max-set\\]$",
		"(?m)^  info .*410.*\\[response-non-success-status-added\\]$",
		"(?m)^  note .*description changed:.*prefer using `invalidateByTag` instead",
		"(?m)^What breaks for this client:$",
		"(?m)^    invalidateBySrcImages$",
		"(?m)^    dangerouslyDeleteByTags: the `revalidationDeadlineSeconds` request property's max was set to `31536000.00`$",
		"(?m)^    402: invalidateBySrcImages, dangerouslyDeleteBySrcImages$",
		"(?m)^    410: invalidateByTags, dangerouslyDeleteByTags, invalidateBySrcImages, dangerouslyDeleteBySrcImages$",
	} {
		if !regexp.MustCompile(re).MatchString(printed) {
			t.Errorf("report does not match %s:\n%s", re, printed)
		}
	}
	summary := regexp.MustCompile(`(?m)^(\d+) changes, (\d+) breaking`).FindStringSubmatch(printed)
	if summary == nil || summary[1] != strconv.Itoa(len(r.Changes)) || summary[2] != strconv.Itoa(r.Breaking()) {
		t.Errorf("summary %q does not count %d changes, %d breaking", summary, len(r.Changes), r.Breaking())
	}
}

func operationIDs(ops []Operation) []string {
	var ids []string
	for _, o := range ops {
		ids = append(ids, o.ID)
	}
	return ids
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestVendoredSpecIsTheToolOutput: the committed openapi.yaml is exactly
// what update-spec makes of the upstream fixture on the day it records, so
// nobody edited it by hand.
func TestVendoredSpecIsTheToolOutput(t *testing.T) {
	t.Parallel()
	vendored := readFile(t, filepath.Join(repoRoot(t), SpecFile))
	m := regexp.MustCompile(`(?m)^# Vendored on (\d{4}-\d{2}-\d{2})\.$`).FindSubmatch(vendored)
	if m == nil {
		t.Fatalf("openapi.yaml has no provenance date:\n%.600s", vendored)
	}
	day, err := time.Parse(time.DateOnly, string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	want := Render(mustExtract(t, readFile(t, upstreamFixture(t))), Provenance{Source: "vercel-openapi-edge-cache.json", Date: day})
	if !bytes.Equal(vendored, want) {
		t.Errorf("openapi.yaml is not update-spec's output for the upstream fixture; rerun `make update-spec UPSTREAM=...`")
	}
}

// TestSeedFixtureIsUntouched: the seed's document stays the seed's
// one-operation text; the tool only ever reads it.
func TestSeedFixtureIsUntouched(t *testing.T) {
	t.Parallel()
	seed := seedSpec(t)
	if !bytes.Contains(seed, []byte("# Vendored from ../shared/seed/dangerously-delete-by-tag.md")) {
		t.Errorf("testdata/seed/openapi.yaml lost its seed provenance")
	}
	paths := dig(t, asJSON(t, seed), "paths").(map[string]any)
	if got := sortedKeys(paths); !reflect.DeepEqual(got, []string{ddbtPath}) {
		t.Errorf("seed paths = %v, want only %s", got, ddbtPath)
	}
}

// TestUpdateSelfIsNoChange applies the vendored spec to itself.
func TestUpdateSelfIsNoChange(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	repo := specOnlyRepo(t, readFile(t, filepath.Join(root, SpecFile)))
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
	for _, o := range res.Report.Operations {
		if o.Status != "unchanged" || len(o.NewErrorStatuses) != 0 {
			t.Errorf("operation %+v, want unchanged", o)
		}
	}
	if ids := operationIDs(res.Report.Operations); !reflect.DeepEqual(ids, group) {
		t.Errorf("operations %v, want the group %v", ids, group)
	}
	for _, want := range []string{"no change: ", "What breaks for this client:\n  nothing", "0 changes, 0 breaking", "nothing written"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
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
	repo := specOnlyRepo(t, seedSpec(t))
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
	repo := copyRepo(t, seedSpec(t))
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
		{"missing operations", write("other.json", `{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/v1/other":{"post":{"responses":{"200":{"description":""}}}}}}`),
			ErrOperationNotFound, `no operation has operationId "invalidateByTags", "dangerouslyDeleteByTags", "invalidateBySrcImages", "dangerouslyDeleteBySrcImages"`},
		{"one missing", write("three.yaml", multiOperationWithout(t, "dangerouslyDeleteBySrcImages")),
			ErrOperationNotFound, `no operation has operationId "dangerouslyDeleteBySrcImages"`},
		{"not OpenAPI", write("swagger.yaml", "swagger: \"2.0\"\ninfo: {title: t, version: \"1\"}\npaths: {}\n"), ErrInvalidSpec, "swagger"},
		{"unparsable", write("broken.json", `{"openapi": "3.0.3", "paths": {`), ErrInvalidSpec, "parse JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := specOnlyRepo(t, readFile(t, filepath.Join(root, SpecFile)))
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
	repo := specOnlyRepo(t, seedSpec(t))

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
	spec, err := Extract(upstream, group)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// TestUpstreamFixtureIsTheReference keeps testdata's copy byte-identical to
// the shared reference, where a checkout has it beside the repository.
func TestUpstreamFixtureIsTheReference(t *testing.T) {
	t.Parallel()
	ref := filepath.Join(repoRoot(t), "..", "shared", "reference", "vercel-openapi-edge-cache.json")
	want, err := os.ReadFile(ref)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("no shared reference beside the repository (%s)", ref)
	} else if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, upstreamFixture(t)), want) {
		t.Errorf("testdata/vercel-openapi-edge-cache.json differs from %s", ref)
	}
}
