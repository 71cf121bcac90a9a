package main

import (
	"archive/zip"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestInstalledVersion installs the command the way a user does, `go install
// github.com/vercelkit/edgecache/cmd/edgecache@v0.3.0`, from a module proxy on disk that
// serves this checkout as v0.3.0, and wants --version to say v0.3.0: the version comes from
// the build, not from a constant someone must remember to bump. It stays offline: the
// dependencies come from the local module cache, itself a valid GOPROXY.
func TestInstalledVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("installs the command into a fresh module cache (several seconds)")
	}
	const (
		modulePath = "github.com/vercelkit/edgecache"
		version    = "v0.3.0"
	)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	files, err := exec.CommandContext(t.Context(), "git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Skipf("not a git checkout (%v): this test packs the checkout's files into a module", err)
	}
	modCache, err := exec.CommandContext(t.Context(), "go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}

	tmp := t.TempDir()
	proxy := filepath.Join(tmp, "proxy", modulePath, "@v")
	if err := os.MkdirAll(proxy, 0o750); err != nil {
		t.Fatal(err)
	}
	goMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	// Sorted and compacted: during a merge, git lists a conflicted file once per stage.
	names := strings.Split(strings.TrimSuffix(string(files), "\x00"), "\x00")
	slices.Sort(names)
	zipped := moduleZip(t, root, modulePath+"@"+version, slices.Compact(names))
	for name, data := range map[string][]byte{
		"list":            []byte(version + "\n"),
		version + ".info": []byte(`{"Version":"` + version + `","Time":"2026-12-01T00:00:00Z"}`),
		version + ".mod":  goMod,
		version + ".zip":  zipped,
	} {
		if err := os.WriteFile(filepath.Join(proxy, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	bin := filepath.Join(tmp, "bin")
	install := exec.CommandContext(t.Context(), "go", "install", modulePath+"/cmd/edgecache@"+version)
	install.Env = append(os.Environ(),
		"GOPROXY=file://"+filepath.Join(tmp, "proxy")+",file://"+filepath.Join(strings.TrimSpace(string(modCache)), "cache", "download"),
		"GOMODCACHE="+filepath.Join(tmp, "modcache"), // never the shared cache: it would keep a v0.3.0 that was never released
		"GOFLAGS=-modcacherw", "GOSUMDB=off", "GOPRIVATE=", "GONOPROXY=", "GOWORK=off", "GOTOOLCHAIN=local", "GOBIN="+bin)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("go install: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(t.Context(), filepath.Join(bin, "edgecache"), "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "edgecache " + version + " (OpenAPI document "; !strings.HasPrefix(string(out), want) {
		t.Errorf("--version printed %q, want it to begin %q", out, want)
	}
}

// moduleZip packs the files git knows of (tracked, or new and not ignored) of the module at root, as they are in the working tree,
// into a module zip whose entries begin with prefix ("path@version/"). Nested modules (tools/)
// are left out, as the go command leaves them out of a module.
func moduleZip(t *testing.T, root, prefix string, files []string) []byte {
	t.Helper()
	var nested []string
	for _, f := range files {
		if filepath.Base(f) == "go.mod" && f != "go.mod" {
			nested = append(nested, filepath.Dir(f)+"/")
		}
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
files:
	for _, f := range files {
		for _, n := range nested {
			if strings.HasPrefix(f, n) {
				continue files
			}
		}
		data, err := os.ReadFile(filepath.Join(root, f))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the working tree, not yet in git
		}
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(prefix + "/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
