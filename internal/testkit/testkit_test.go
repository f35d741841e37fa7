package testkit

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFindRoot(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(filepath.Dir(wd)) // this package is internal/testkit
	other := t.TempDir()
	// A go.mod of another module is not this repository's root.
	if err := os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Nor is one that merely starts like it.
	prefix := t.TempDir()
	if err := os.WriteFile(filepath.Join(prefix, "go.mod"), []byte("module "+modulePath+"-fork\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		dir    string
		want   string
		wantOK bool
	}{
		{"package dir", wd, root, true},
		{"root itself", root, root, true},
		{"relative", ".", root, true},
		{"other module", other, "", false},
		{"module path prefix", prefix, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := FindRoot(tt.dir)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("FindRoot(%q) = %q, %v; want %q, %v", tt.dir, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// Every script the README documents is present and executable.
func TestScripts(t *testing.T) {
	for _, name := range []string{"kannel-up.sh", "kannel-down.sh", "totp-chain.sh"} {
		fi, err := os.Stat(Script(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable (mode %v)", name, fi.Mode())
		}
	}
}
