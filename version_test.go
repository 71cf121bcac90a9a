package edgecache_test

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/vercelkit/edgecache"
)

// Version is this module's version as the build recorded it, wherever the module sits in
// the program: so that `go install …/cmd/edgecache@v0.3.0` reports v0.3.0, and a program
// that requires v0.3.0 sends it in its User-Agent. cmd/edgecache's TestInstalledVersion
// installs the command at a version, from a module proxy on disk, and runs --version.
func TestVersionIn(t *testing.T) {
	const path = "github.com/vercelkit/edgecache"
	cases := []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"the command, installed at a version", &debug.BuildInfo{Main: debug.Module{Path: path, Version: "v0.3.0"}}, "v0.3.0"},
		{"the command, built in a checkout", &debug.BuildInfo{Main: debug.Module{Path: path, Version: "v0.3.1-0.20261206155100-59576e6abcde+dirty"}}, "v0.3.1-0.20261206155100-59576e6abcde+dirty"},
		{"the command, built without VCS information", &debug.BuildInfo{Main: debug.Module{Path: path, Version: "(devel)"}}, "devel"},
		{"a program that requires it", &debug.BuildInfo{Main: debug.Module{Path: "example.com/app", Version: "v1.0.0"},
			Deps: []*debug.Module{{Path: "golang.org/x/time", Version: "v0.16.0"}, {Path: path, Version: "v0.3.0"}}}, "v0.3.0"},
		{"a program that replaces it by another version", &debug.BuildInfo{Main: debug.Module{Path: "example.com/app"},
			Deps: []*debug.Module{{Path: path, Version: "v0.3.0", Replace: &debug.Module{Path: "example.com/fork", Version: "v0.3.1"}}}}, "v0.3.1"},
		{"a program that replaces it by a directory", &debug.BuildInfo{Main: debug.Module{Path: "example.com/app"},
			Deps: []*debug.Module{{Path: path, Version: "v0.3.0", Replace: &debug.Module{Path: "../edgecache"}}}}, "devel"},
		{"a module of the same prefix is another module", &debug.BuildInfo{Main: debug.Module{Path: path + "/tools", Version: "v9.9.9"}}, "devel"},
		{"no build information", nil, "devel"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := edgecache.VersionIn(tc.info, tc.info != nil); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	// The running test binary: whatever it recorded, the answer is a version or "devel",
	// fit for a User-Agent product token.
	if v := edgecache.Version(); v == "" || strings.ContainsAny(v, " ()/") {
		t.Errorf("Version() = %q", v)
	}
}
