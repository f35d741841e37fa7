package version

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/testkit"
	"github.com/twostep/twostep/internal/testskip"
)

const rev = "3d2032a081d536b50e697b678553a3cceb273ba6"

func buildInfo(version string, settings ...string) *debug.BuildInfo {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8"}
	bi.Main.Version = version
	for i := 0; i+1 < len(settings); i += 2 {
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
	}
	return bi
}

func TestGetAndString(t *testing.T) {
	vcs := []string{"vcs", "git", "vcs.revision", rev, "vcs.time", "2026-11-30T00:01:53Z", "vcs.modified", "false"}
	dirty := []string{"vcs.revision", rev, "vcs.time", "2026-11-30T00:01:53Z", "vcs.modified", "true"}
	tests := []struct {
		name                  string
		bi                    *debug.BuildInfo
		version, commit, date string // link-time values
		want                  string
	}{
		{"go run: nothing recorded", buildInfo("(devel)"), "", "", "",
			"twostep (devel) (commit unknown) go1.26.8"},
		{"no build info at all", nil, "", "", "",
			"twostep (devel) (commit unknown) go version unknown"},
		{"go build in a clone: pseudo-version", buildInfo("v0.0.0-20261130000153-3d2032a081d5", vcs...), "", "", "",
			"twostep (devel) (commit 3d2032a081d5, 2026-11-30T00:01:53Z) go1.26.8"},
		{"uncommitted changes", buildInfo("v0.0.0-20261130000153-3d2032a081d5+dirty", dirty...), "", "", "",
			"twostep (devel) (commit 3d2032a081d5+dirty, 2026-11-30T00:01:53Z) go1.26.8"},
		{"tagged commit", buildInfo("v1.2.0", vcs...), "", "", "",
			"twostep v1.2.0 (commit 3d2032a081d5, 2026-11-30T00:01:53Z) go1.26.8"},
		{"pseudo-version above a tag is kept", buildInfo("v1.2.1-0.20261130000153-3d2032a081d5", vcs...), "", "", "",
			"twostep v1.2.1-0.20261130000153-3d2032a081d5 (commit 3d2032a081d5, 2026-11-30T00:01:53Z) go1.26.8"},
		{"go install module@version", buildInfo("v1.2.0"), "", "", "",
			"twostep v1.2.0 (commit unknown) go1.26.8"},
		{"link-time values win", buildInfo("v0.0.0-20261130000153-3d2032a081d5", dirty...), "v1.3.0", "0123456789abcdef0123", "2026-12-01T10:00:00+01:00",
			"twostep v1.3.0 (commit 0123456789ab, 2026-12-01T09:00:00Z) go1.26.8"},
		{"link-time dirty commit", buildInfo("(devel)"), "v1.3.0", rev + "+dirty", "",
			"twostep v1.3.0 (commit 3d2032a081d5+dirty) go1.26.8"},
		{"short commit kept whole", buildInfo("(devel)"), "", "abc123", "",
			"twostep (devel) (commit abc123) go1.26.8"},
		{"unparsable date shown as given", buildInfo("(devel)"), "", "abc123", "yesterday",
			"twostep (devel) (commit abc123, yesterday) go1.26.8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := get(tt.bi, tt.version, tt.commit, tt.date).String(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestStampedCommit builds a program around this package the way a person
// builds twostep — go build in a git checkout — and checks that it names
// the commit, then "+dirty" after a change. The program is a copy of this
// package plus a main that prints String(), committed to a fresh
// repository: quick to build, and independent of how this tree is checked
// out (a build inside a linked git worktree records no commit at all,
// golang/go#58218).
func TestStampedCommit(t *testing.T) {
	t.Parallel()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		testskip.Skip(t, "git is not installed", "apt-get install -y git")
	}
	goPath := goCommand(t)
	src := t.TempDir()
	code, err := os.ReadFile("version.go")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"go.mod":                      "module github.com/twostep/twostep\n\ngo 1.26\n",
		"internal/version/version.go": string(code),
		"cmd/v/main.go":               "package main\n\nimport \"github.com/twostep/twostep/internal/version\"\n\nfunc main() { println(version.String()) }\n",
	} {
		p := filepath.Join(src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(gitPath, args...)
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-q", "-m", "test build")
	head := git("rev-parse", "HEAD")

	// -buildvcs=true: GOFLAGS may turn stamping off (this machine's does);
	// the flag wins, and a build that cannot stamp fails instead.
	bin := filepath.Join(t.TempDir(), "v")
	run := func() string {
		t.Helper()
		return buildAndRun(t, goPath, src, bin, "./cmd/v", []string{"-buildvcs=true"})
	}
	got := run()
	want := regexp.MustCompile(`^twostep \(devel\) \(commit ` + head[:12] + `, \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\) go1\.\d+`)
	if !want.MatchString(got) {
		t.Errorf("clean checkout: %q, want it to match %s", got, want)
	}

	if err := os.WriteFile(filepath.Join(src, "cmd", "v", "extra.txt"), []byte("uncommitted\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, want := run(), "(commit "+head[:12]+"+dirty, "; !strings.Contains(got, want) {
		t.Errorf("checkout with a change: %q, want it to contain %q", got, want)
	}
}

// TestReleaseBuild builds the real twostep with the README's release
// link-time flags and checks what `twostep version` prints.
func TestReleaseBuild(t *testing.T) {
	t.Parallel()
	goPath := goCommand(t)
	p := "github.com/twostep/twostep/internal/version"
	ldflags := "-X " + p + ".Version=v9.8.7 -X " + p + ".Commit=" + rev + " -X " + p + ".Date=2026-12-01T10:00:00+01:00"
	got := buildAndRun(t, goPath, testkit.Root(t), filepath.Join(t.TempDir(), "twostep"), "./cmd/twostep",
		[]string{"-ldflags", ldflags}, "version")
	if want := "twostep v9.8.7 (commit 3d2032a081d5, 2026-12-01T09:00:00Z) go"; !strings.HasPrefix(got, want) {
		t.Errorf("twostep version = %q, want prefix %q", got, want)
	}
}

func goCommand(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		testskip.Skip(t, "the go command is not on PATH", "put Go's bin directory on PATH")
	}
	return p
}

// buildAndRun builds pkg in dir into bin with the extra build flags, runs
// bin with args, and returns its output (stdout and stderr) trimmed.
func buildAndRun(t *testing.T, goPath, dir, bin, pkg string, flags []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(goPath, append(append([]string{"build", "-o", bin}, flags...), pkg)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", bin, args, err, out)
	}
	return strings.TrimSpace(string(out))
}
