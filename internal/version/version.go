// Package version says which build of twostep is running: its version, the
// commit it was built from (and whether the tree had uncommitted changes),
// that commit's time, and the Go version.
//
// A `go build` in a git clone stamps the commit, its time and the
// modified flag into the binary by itself (runtime/debug.ReadBuildInfo).
// `go run`, `-buildvcs=false`, a source tarball and a linked git worktree
// (golang/go#58218) leave them out; release builds set them at link time:
//
//	p=github.com/twostep/twostep/internal/version
//	go build -ldflags "-X $p.Version=v1.2.0 -X $p.Commit=$(git rev-parse HEAD) -X $p.Date=$(git log -1 --format=%cI)" ./cmd/twostep
package version

import (
	"fmt"
	"regexp"
	"runtime/debug"
	"strings"
	"time"
)

// Link-time values (-ldflags "-X github.com/twostep/twostep/internal/version.Version=v1.2.0");
// each one set wins over what the Go toolchain recorded.
var (
	Version = "" // release version, e.g. v1.2.0
	Commit  = "" // full commit hash; a "+dirty" suffix marks uncommitted changes
	Date    = "" // the commit's time, RFC 3339
)

// Info describes a build.
type Info struct {
	Version   string // "v1.2.0", or "(devel)" when unknown
	Commit    string // full hash, or "" when unknown
	Modified  bool   // built from a tree with uncommitted changes
	Date      string // the commit's time, RFC 3339 in UTC, or ""
	GoVersion string // "go1.26.8", or "" when unknown
}

// Get returns the running binary's Info.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return get(bi, Version, Commit, Date)
}

// String returns Get().String(): what `twostep version` prints and the
// start-up log records.
func String() string { return Get().String() }

// pseudoRE matches a pseudo-version with no tag below it
// (v0.0.0-20261130000153-3d2032a081d5): the Go toolchain derives it from
// the commit, which Info shows anyway, so it says nothing more than "devel".
var pseudoRE = regexp.MustCompile(`^v0\.0\.0-\d{14}-[0-9a-f]{12}(\+dirty)?$`)

// get builds an Info from the build information (nil when the binary has
// none) and the link-time values, which win.
func get(bi *debug.BuildInfo, version, commit, date string) Info {
	var in Info
	if bi != nil {
		in.GoVersion = bi.GoVersion
		in.Version = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				in.Commit = s.Value
			case "vcs.time":
				in.Date = s.Value
			case "vcs.modified":
				in.Modified = s.Value == "true"
			}
		}
	}
	if version != "" {
		in.Version = version
	}
	if commit != "" {
		in.Commit, in.Modified = strings.CutSuffix(commit, "+dirty")
	}
	if date != "" {
		in.Date = date
	}
	// The toolchain writes "+dirty" into the version too; Info says it once.
	in.Version = strings.TrimSuffix(in.Version, "+dirty")
	if in.Version == "" || pseudoRE.MatchString(in.Version) {
		in.Version = "(devel)"
	}
	if t, err := time.Parse(time.RFC3339, in.Date); err == nil {
		in.Date = t.UTC().Format(time.RFC3339)
	}
	return in
}

// String formats in as one line:
//
//	twostep v1.2.0 (commit 3d2032a081d5, 2026-11-30T00:01:53Z) go1.26.8
//	twostep (devel) (commit 3d2032a081d5+dirty, 2026-11-30T00:01:53Z) go1.26.8
//	twostep (devel) (commit unknown) go1.26.8
func (in Info) String() string {
	commit := "unknown"
	if in.Commit != "" {
		commit = in.Commit[:min(12, len(in.Commit))]
		if in.Modified {
			commit += "+dirty"
		}
		if in.Date != "" {
			commit += ", " + in.Date
		}
	}
	goVersion := in.GoVersion
	if goVersion == "" {
		goVersion = "go version unknown"
	}
	return fmt.Sprintf("twostep %s (commit %s) %s", in.Version, commit, goVersion)
}
