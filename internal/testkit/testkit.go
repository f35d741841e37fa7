// Package testkit holds the shell scripts tests use to drive programs that
// share no code with twostep (a Kannel SMS gateway, an authenticator made
// of zbarimg and oathtool), and finds them from any package's tests. See
// README.md in this directory.
package testkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// modulePath is the module line FindRoot looks for, so a go.mod of some
// other module above or below is never taken for this repository's.
const modulePath = "github.com/twostep/twostep"

// FindRoot walks up from dir to the directory whose go.mod declares this
// module, and reports whether it found one.
func FindRoot(dir string) (string, bool) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && declares(b) {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// declares reports whether a go.mod's module line names this module.
func declares(gomod []byte) bool {
	for _, line := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == modulePath
		}
	}
	return false
}

// Root returns the repository root, found from the test's working
// directory (go test runs each package's tests in its own directory).
func Root(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, ok := FindRoot(wd)
	if !ok {
		t.Fatalf("no go.mod of %s above %s", modulePath, wd)
	}
	return root
}

// Script returns the path of one of this directory's scripts. The scripts
// are part of the repository, so a missing one fails the test rather than
// skipping it.
func Script(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(Root(t), "internal", "testkit", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("testkit script: %v", err)
	}
	return p
}
