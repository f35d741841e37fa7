package internal_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/testkit"
	"github.com/twostep/twostep/internal/testskip"
)

// The repository must stand on its own: a fresh clone on another machine
// builds, tests and reads completely. So no tracked file may name a path
// outside it — a directory of the machine it was written on, a folder
// beside the checkout, or a relative path that climbs above the root.

// outsidePatterns are the kinds of outside path the test looks for. Each
// pattern starts at a token boundary, so URL paths such as
// https://example.com/home/ or /public/../admin are not taken for files.
// The literals are split so that this file does not match itself.
var outsidePatterns = []struct {
	kind string
	re   *regexp.Regexp
}{
	{"machine path", regexp.MustCompile(`(?:^|[^\w.~/-])/(?:` + "wo" + `rk|ro` + `ot|ho` + `me)/[^\s"'` + "`" + `)]*`)},
	{"temporary path", regexp.MustCompile(`(?:^|[^\w.~/-])/t` + `mp/[^\s"'` + "`" + `)]*`)},
	{"sibling checkout", regexp.MustCompile(`(?:\.\./|\b)sha` + `red/(?:testkit|vectors|hooks|SPEC\.md|STYLE\.md)\b|\.\./sha` + `red\b`)},
}

// climbRE finds a relative path made of leading "../" steps; it must not
// climb above the repository root from the directory of the file that
// names it (Go tests run in their package directory, Markdown links
// resolve from the document's).
var climbRE = regexp.MustCompile(`(?:^|[^\w./-])((?:\.\./)+)`)

// allowedOutside lists the outside paths that are not data the project
// depends on, each with the reason. A stale entry fails the test too, so
// the list only ever holds what is needed.
var allowedOutside = []struct{ file, kind, why string }{
	// Load-generator instructions: each command builds the binaries it
	// then runs into /tmp (go build -o /tmp/twostep …); nothing is read
	// from there that the same commands did not write.
	{"bench/README.md", "temporary path", "commands build their own binaries into /tmp"},
	{"docs/benchmarks.md", "temporary path", "the recorded commands build their own binaries into /tmp"},
}

func TestNoPathOutsideRepository(t *testing.T) {
	root := testkit.Root(t)
	if _, err := exec.LookPath("git"); err != nil {
		testskip.Skip(t, "git is not installed", "apt-get install -y git (this test lists tracked files with git ls-files)")
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		testskip.Skip(t, "the source tree is not a git checkout", "run the tests in a clone of the repository")
	}
	files := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(files) < 50 {
		t.Fatalf("git ls-files listed %d files; expected the whole repository", len(files))
	}

	used := make([]bool, len(allowedOutside))
	isAllowed := func(file, kind string) bool {
		for i, a := range allowedOutside {
			if a.file == file && a.kind == kind {
				used[i] = true
				return true
			}
		}
		return false
	}
	scanned := 0
	for _, file := range files {
		data, err := readTracked(root, file)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if data == nil || file == "internal/standalone_test.go" { // binary; this file names the patterns
			continue
		}
		scanned++
		depth := 0
		if dir := path.Dir(file); dir != "." {
			depth = strings.Count(dir, "/") + 1
		}
		for n, line := range strings.Split(string(data), "\n") {
			for _, p := range outsidePatterns {
				for _, m := range p.re.FindAllString(line, -1) {
					if !isAllowed(file, p.kind) {
						t.Errorf("%s:%d: %s %q: keep what the project needs inside the repository", file, n+1, p.kind, strings.TrimSpace(m))
					}
				}
			}
			for _, m := range climbRE.FindAllStringSubmatch(line, -1) {
				if up := strings.Count(m[1], "../"); up > depth {
					t.Errorf("%s:%d: %q climbs %d directories from %s, above the repository root", file, n+1, m[1], up, path.Dir(file))
				}
			}
		}
	}
	if scanned < 50 {
		t.Errorf("scanned %d text files; expected the whole repository", scanned)
	}
	for i, a := range allowedOutside {
		if !used[i] {
			t.Errorf("allowedOutside entry %s (%s) matches nothing: remove it", a.file, a.kind)
		}
	}
}

// TestOutsidePatterns checks the patterns on lines they must and must not
// flag, so a pattern that silently stops matching fails here.
func TestOutsidePatterns(t *testing.T) {
	tests := []struct {
		line string
		kind string // "" = nothing to flag
	}{
		{"cd /" + "work/main", "machine path"},
		{`script := "/` + `work/shared/testkit/x.sh"`, "machine path"},
		{"GOCACHE=/" + "root/.cache/go-build", "machine path"},
		{"see /" + "home/alice/notes", "machine path"},
		{"go build -o /" + "tmp/twostep ./cmd/twostep", "temporary path"},
		{"[SPEC](../" + "shared/SPEC.md)", "sibling checkout"},
		{"expects " + "shared/testkit beside the repository", "sibling checkout"},
		{"https://example.com/home/ and https://example.com/work/", ""},
		{"GET /public/../admin is normalised", ""},
		{"/usr/bin/chromium and /etc/twostep/config.yaml", ""},
		{"t.TempDir() and $(mktemp -d)", ""},
		{"the shared/ folder of another project", ""},
	}
	for _, tt := range tests {
		got := ""
		for _, p := range outsidePatterns {
			if p.re.MatchString(tt.line) {
				got = p.kind
				break
			}
		}
		if got != tt.kind {
			t.Errorf("%q: flagged as %q, want %q", tt.line, got, tt.kind)
		}
	}

	climbs := []struct {
		line string
		up   int // the largest climb found; 0 = none
	}{
		{"[bench](../bench/README.md)", 1},
		{`const docsPath = "../../docs/configuration.md"`, 2},
		{`"../../../x/y.tsv"`, 3},
		{"/public/../admin and #/../x", 0},
		{`-X .../version.Version=v1`, 0},
		{`filepath.Join(dir, "..")`, 0},
	}
	for _, tt := range climbs {
		got := 0
		for _, m := range climbRE.FindAllStringSubmatch(tt.line, -1) {
			got = max(got, strings.Count(m[1], "../"))
		}
		if got != tt.up {
			t.Errorf("%q: climb %d, want %d", tt.line, got, tt.up)
		}
	}
}

// readTracked returns a tracked file's contents, or nil for a binary file
// (a NUL byte in its first 8 KiB, as git decides), whose bytes name no path.
// A file deleted but not yet committed is skipped the same way.
func readTracked(root, file string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(file)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0 {
		return nil, nil
	}
	return data, nil
}
