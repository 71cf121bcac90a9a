package specsync

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"
)

// repoFiles are what `go generate ./...` and `go build ./api/` need in a
// copy of the repository: the generator runs from tools/go.mod, and the
// root package runs the generator (gen.go) and embeds openapi.yaml (spec.go).
var repoFiles = []string{
	"openapi.yaml", "oapi-codegen.yaml", "gen.go", "spec.go", "go.mod", "go.sum",
	"tools/go.mod", "tools/go.sum",
}

// repoRoot is the repository this package lives in: tools/specsync/../..
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"openapi.yaml", "gen.go", "spec.go", "tools/go.mod"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Fatalf("repository root %s is missing %s: %v", root, f, err)
		}
	}
	return root
}

// upstreamFixture is the upstream Edge Cache group as @vercel/sdk 1.28.35
// ships it: a byte copy of shared/reference/vercel-openapi-edge-cache.json,
// kept here so that the tests run on a fresh clone
// (TestUpstreamFixtureIsTheReference keeps the copy honest).
func upstreamFixture(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "vercel-openapi-edge-cache.json"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// seedSpec is the seed's one-operation document, kept unchanged in the
// repository as a fixture.
func seedSpec(t *testing.T) []byte {
	t.Helper()
	return readFile(t, filepath.Join(repoRoot(t), "testdata", "seed", SpecFile))
}

// copyRepo copies what regeneration needs into a temporary directory, with
// spec as its openapi.yaml, so that tests never touch the real openapi.yaml
// or api/.
func copyRepo(t *testing.T, spec []byte) string {
	t.Helper()
	src, dst := repoRoot(t), t.TempDir()
	for _, f := range repoFiles {
		copyFile(t, filepath.Join(src, f), filepath.Join(dst, f))
	}
	if err := os.WriteFile(filepath.Join(dst, SpecFile), spec, 0o644); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(filepath.Join(src, APIDir), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		copyFile(t, p, filepath.Join(dst, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// specOnlyRepo is a repository copy holding just spec as openapi.yaml,
// enough for runs that stop before regeneration.
func specOnlyRepo(t *testing.T, spec []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, SpecFile), spec, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// asJSON decodes YAML or JSON and normalises it through encoding/json, so
// that values decoded from either syntax compare equal (ints vs float64).
func asJSON(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("parse: %v", err)
	}
	return normalise(t, v)
}

func normalise(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return out
}

// dig walks decoded JSON by keys.
func dig(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("at %q: not an object: %T", k, v)
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("key %q missing (have %v)", k, sortedKeys(m))
		}
	}
	return v
}

// keyOrder lists a YAML/JSON document's mapping keys at keys, in document order.
func keyOrder(t *testing.T, data []byte, keys ...string) []string {
	t.Helper()
	yt, err := newYAMLTree(data)
	if err != nil {
		t.Fatal(err)
	}
	names, ok, err := yt.keys(keys)
	if err != nil || !ok {
		t.Fatalf("no mapping at %v: %v", keys, err)
	}
	return names
}
