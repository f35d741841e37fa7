// Package version reports the build's version and commit, read from the
// module build information the Go toolchain embeds.
package version

import (
	"fmt"
	"runtime/debug"
)

// Version is set at link time (-ldflags "-X .../version.Version=v1.2.3");
// otherwise it comes from the module information.
var Version = ""

// String returns "twostep <version> (<commit>[, modified]) <go version>".
func String() string {
	v, commit, dirty, goVersion := Version, "unknown", false, "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
				if len(commit) > 12 {
					commit = commit[:12]
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if dirty {
		commit += ", modified"
	}
	return fmt.Sprintf("twostep %s (%s) %s", v, commit, goVersion)
}
