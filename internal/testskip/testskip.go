// Package testskip skips a test that needs something from outside the
// repository — a program such as oathtool or Kannel, or a server named by an
// environment variable — and records why, so that a CI run can end with a
// list of what did not run and how to run it (`go test` shows skips only
// with -v). A test skips only when what it needs is absent; everything the
// repository itself holds is required.
package testskip

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/testkit"
)

// Env names the file Skip appends a line to; unset, Skip records nothing.
const Env = "TWOSTEP_TEST_SKIPS"

// Skip skips t, saying what is missing (reason) and how to provide it
// (howToRun). When TWOSTEP_TEST_SKIPS names a file, it first appends one
// tab-separated line to it: package directory, test name, reason, howToRun.
// Keep reason free of per-run detail (paths of temporary files, errors
// with addresses), so identical causes group together in the summary.
func Skip(t testing.TB, reason, howToRun string) {
	t.Helper()
	if path := os.Getenv(Env); path != "" {
		if err := record(path, Line(pkgDir(), t.Name(), reason, howToRun)); err != nil {
			// The summary would be wrong: say so rather than skip quietly.
			t.Errorf("testskip: recording the skip in %s (%s): %v", path, Env, err)
		}
	}
	t.Skipf("skipped: %s; to run it: %s", reason, howToRun)
}

// Line formats one record. Tabs and line breaks inside a field become
// spaces, so a record is always one line of exactly four fields.
func Line(pkg, test, reason, howToRun string) string {
	clean := strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")
	return clean.Replace(pkg) + "\t" + clean.Replace(test) + "\t" +
		clean.Replace(reason) + "\t" + clean.Replace(howToRun) + "\n"
}

// record appends line with a single write on an O_APPEND file, so the
// lines of test binaries running in parallel never interleave.
func record(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// pkgDir is the test's package directory relative to the repository root
// (go test runs a package's tests in its directory), or the absolute
// directory when the root cannot be found.
func pkgDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "?"
	}
	if root, ok := testkit.FindRoot(wd); ok {
		if rel, err := filepath.Rel(root, wd); err == nil {
			return filepath.ToSlash(rel)
		}
	}
	return wd
}
