package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is tools/cmd/update-spec/../../..
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "openapi.yaml")); err != nil {
		t.Fatalf("no openapi.yaml at the repository root %s: %v", root, err)
	}
	return root
}

// specOnlyRepo is a repository copy holding just the given repository file
// as openapi.yaml, enough for runs that stop before regeneration.
func specOnlyRepo(t *testing.T, from string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), from))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "openapi.yaml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// upstreamFixture is specsync's copy of the upstream Edge Cache group.
func upstreamFixture(t *testing.T) string {
	t.Helper()
	return filepath.Join(repoRoot(t), "tools", "specsync", "testdata", "vercel-openapi-edge-cache.json")
}

func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-repo", "."},
		{"-upstream", "x.json", "extra"},
		{"-no-such-flag"},
	} {
		code, out, errOut := runCmd(args...)
		if code != 2 || out != "" || !strings.Contains(errOut, "usage: update-spec") && !strings.Contains(errOut, "flag provided but not defined") {
			t.Errorf("run(%q) = %d, stdout %q, stderr %q; want 2 and usage", args, code, out, errOut)
		}
	}
}

func TestFailuresAreOneLine(t *testing.T) {
	repo := specOnlyRepo(t, "openapi.yaml")
	missingOp := filepath.Join(t.TempDir(), "upstream.json")
	if err := os.WriteFile(missingOp, []byte(`{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// The group with an example kin-openapi rejects, in an error that spans
	// several lines.
	group, err := os.ReadFile(upstreamFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	invalid := filepath.Join(t.TempDir(), "invalid.json")
	bad := strings.Replace(string(group), `"type": "string",
              "example": "team_1a2b3c4d5e6f7g8h9i0j1k2l"`, `"type": "string",
              "example": 12`, 1)
	if bad == string(group) {
		t.Fatal("fixture edit did not apply")
	}
	if err := os.WriteFile(invalid, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		upstream, says string
	}{
		{filepath.Join(repo, "absent.json"), "read upstream document"},
		{missingOp, `operation not found: no operation has operationId "invalidateByTags", "dangerouslyDeleteByTags", "invalidateBySrcImages", "dangerouslyDeleteBySrcImages"`},
		{invalid, "not a valid OpenAPI 3 document: invalid paths"},
	} {
		code, _, errOut := runCmd("-repo", repo, "-upstream", tc.upstream)
		if code != 1 || !strings.HasPrefix(errOut, "update-spec: ") || !strings.Contains(errOut, tc.says) ||
			strings.Count(errOut, "\n") != 1 {
			t.Errorf("-upstream %s: exit %d, stderr %q; want 1 and one line saying %q", filepath.Base(tc.upstream), code, errOut, tc.says)
		}
	}
}

func TestDryRun(t *testing.T) {
	repo := specOnlyRepo(t, filepath.Join("testdata", "seed", "openapi.yaml"))
	before, err := os.ReadFile(filepath.Join(repo, "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd("-repo", repo, "-upstream", upstreamFixture(t), "-dry-run")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, s := range []string{
		"invalidateByTags (POST /v1/edge-cache/invalidate-by-tags): added",
		"BREAKING (error)", "`number` to `integer`", "31536000", "`410`",
		"What breaks for this client:", "402: invalidateBySrcImages, dangerouslyDeleteBySrcImages",
		" breaking", "dry run: nothing written",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	after, err := os.ReadFile(filepath.Join(repo, "openapi.yaml"))
	if err != nil || !bytes.Equal(before, after) {
		t.Errorf("dry run changed openapi.yaml (%v)", err)
	}
}

func TestSelfApplicationIsNoChange(t *testing.T) {
	repo := specOnlyRepo(t, "openapi.yaml")
	code, out, errOut := runCmd("-repo", repo, "-upstream", filepath.Join(repoRoot(t), "openapi.yaml"))
	if code != 0 || errOut != "" || !strings.Contains(out, "0 changes, 0 breaking") || !strings.Contains(out, "nothing written") {
		t.Errorf("exit %d, stdout %q, stderr %q; want a clean no-change run", code, out, errOut)
	}
}
