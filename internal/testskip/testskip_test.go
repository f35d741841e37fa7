package testskip

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/testkit"
)

// recorder stands in for a *testing.T so the tests can see what Skip
// reports without being skipped or failed themselves.
type recorder struct {
	testing.TB
	name    string
	errs    []string
	skipped string
}

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return r.name }
func (r *recorder) Errorf(format string, a ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, a...))
}
func (r *recorder) Skipf(format string, a ...any) { r.skipped = fmt.Sprintf(format, a...) }

func TestLine(t *testing.T) {
	tests := []struct {
		name                   string
		pkg, test, reason, how string
		want                   string
	}{
		{"plain", "internal/e2e", "TestX", "oathtool is not installed", "apt-get install -y oathtool",
			"internal/e2e\tTestX\toathtool is not installed\tapt-get install -y oathtool\n"},
		{"tabs and line breaks flattened", "p", "TestY/sub\tcase", "a\nb", "c\r\nd",
			"p\tTestY/sub case\ta b\tc  d\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Line(tt.pkg, tt.test, tt.reason, tt.how); got != tt.want {
				t.Errorf("Line = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSkip(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		file     string // TWOSTEP_TEST_SKIPS
		wantLine bool
		wantErr  bool
	}{
		{"unset: skip, record nothing", "", false, false},
		{"file: skip and record", filepath.Join(dir, "skips.tsv"), true, false},
		// The CI summary would leave the skip out: fail, do not skip quietly.
		{"unwritable: skip and report", filepath.Join(dir, "missing-dir", "skips.tsv"), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(Env, tt.file)
			r := &recorder{TB: t, name: "TestThing/case"}
			Skip(r, "thing is not installed", "apt-get install -y thing")
			if want := "skipped: thing is not installed; to run it: apt-get install -y thing"; r.skipped != want {
				t.Errorf("Skipf(%q), want %q", r.skipped, want)
			}
			if (len(r.errs) > 0) != tt.wantErr {
				t.Errorf("errors %q, want error: %v", r.errs, tt.wantErr)
			}
			b, err := os.ReadFile(tt.file)
			if !tt.wantLine {
				if err == nil {
					t.Errorf("%s was written: %q", tt.file, b)
				}
				return
			}
			if want := "internal/testskip\tTestThing/case\tthing is not installed\tapt-get install -y thing\n"; string(b) != want {
				t.Errorf("recorded %q, want %q", b, want)
			}
		})
	}
}

// TestSkipSkips checks that Skip really skips a *testing.T, and that each
// skip appends its own whole line.
func TestSkipSkips(t *testing.T) {
	file := filepath.Join(t.TempDir(), "skips.tsv")
	t.Setenv(Env, file)
	const n = 16
	skipped := make([]bool, n)
	t.Run("group", func(t *testing.T) {
		for i := range n {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				defer func() { skipped[i] = t.Skipped() }()
				Skip(t, "thing is not installed", "apt-get install -y thing")
				t.Error("Skip returned")
			})
		}
	})
	for i, s := range skipped {
		if !s {
			t.Errorf("subtest %d was not skipped", i)
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), n, b)
	}
	for i, l := range lines {
		if want := fmt.Sprintf("internal/testskip\tTestSkipSkips/group/%d\tthing is not installed\tapt-get install -y thing", i); l != want {
			t.Errorf("line %d = %q, want %q", i+1, l, want)
		}
	}
}

// TestCISummary feeds records made by Line to .ci/skip-summary, which CI
// prints at the end of its log: one group per reason, largest first, a
// test skipped in two runs counted once, and at most one screen.
func TestCISummary(t *testing.T) {
	script := filepath.Join(testkit.Root(t), ".ci", "skip-summary")
	var b strings.Builder
	for range 2 { // two go test passes skip the same tests
		b.WriteString(Line("internal/e2e", "TestA", "oathtool is not installed", "apt-get install -y oathtool"))
		b.WriteString(Line("internal/e2e", "TestB", "oathtool is not installed", "apt-get install -y oathtool"))
		b.WriteString(Line("internal/sms", "TestK", "Kannel is not installed", "apt-get install -y kannel kannel-extras"))
	}
	for i := range 10 { // more reasons than one screen shows
		b.WriteString(Line("internal/x", "TestR", fmt.Sprintf("tool%02d is not installed", i), "install it"))
	}
	file := filepath.Join(t.TempDir(), "skips.tsv")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", script, file).CombinedOutput()
	if err != nil {
		t.Fatalf("skip-summary: %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{
		"  2 tests in internal/e2e\n      missing: oathtool is not installed\n      to run:  apt-get install -y oathtool\n",
		"  ... and 6 more reasons\n",
		"ci: 13 tests skipped in all\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if first := strings.Index(got, "oathtool"); first < 0 || first > strings.Index(got, "Kannel") {
		t.Errorf("the largest group (oathtool, 2 tests) is not first:\n%s", got)
	}
	if n := strings.Count(got, "\n"); n > 24 {
		t.Errorf("summary is %d lines, more than one screen:\n%s", n, got)
	}

	empty := filepath.Join(t.TempDir(), "none.tsv")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command("sh", script, empty).CombinedOutput()
	if err != nil || string(out) != "ci: no test was skipped for a missing program or service\n" {
		t.Errorf("empty file: %v %q", err, out)
	}
}
