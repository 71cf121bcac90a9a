package edgecache

import (
	"runtime/debug"
	"sync"
)

// modulePath is this module's path, as go.mod declares it.
const modulePath = "github.com/vercelkit/edgecache"

// develVersion is the version of a build that recorded none.
const develVersion = "devel"

// Version returns this module's version as the Go toolchain recorded it in the running
// program: "v0.3.0" in a program that requires edgecache v0.3.0, and in the command installed
// with `go install github.com/vercelkit/edgecache/cmd/edgecache@v0.3.0`; a pseudo-version
// (v0.0.0-…-abcdef123456, "+dirty" with uncommitted changes) when built in a git checkout;
// "devel" when the build recorded none (no VCS information, or -buildvcs=false). The default
// User-Agent carries it.
func Version() string { return buildVersion() }

// buildVersion reads the build information once: it does not change while the program runs.
var buildVersion = sync.OnceValue(func() string { return versionIn(debug.ReadBuildInfo()) })

// versionIn finds this module in a program's build information: the main module when the
// program is edgecache's own command, else one of its dependencies, through any replace.
func versionIn(info *debug.BuildInfo, ok bool) string {
	if !ok || info == nil {
		return develVersion
	}
	mod := &info.Main
	if mod.Path != modulePath {
		mod = nil
		for _, dep := range info.Deps {
			if dep.Path == modulePath {
				mod = dep
				break
			}
		}
	}
	if mod == nil {
		return develVersion
	}
	if mod.Replace != nil {
		mod = mod.Replace
	}
	if mod.Version == "" || mod.Version == "(devel)" {
		return develVersion
	}
	return mod.Version
}
