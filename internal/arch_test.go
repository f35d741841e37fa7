// Package internal_test guards the shape of the code: which internal
// packages may import which (README.md "Layout": cmd → cli → server →
// {web, api} → auth → {store, factor packages, leaves}). A new package, or an import
// against the direction, fails this test until the table below is updated
// on purpose.
package internal_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/twostep/twostep/internal/"

// allowed lists, for every internal package, the internal packages its
// non-test files may import.
var allowed = map[string][]string{
	"model":                   {},
	"version":                 {},
	"metrics":                 {},
	"token":                   {},
	"keyring":                 {},
	"totp":                    {},
	"password":                {},
	"ratelimit":               {},
	"ratelimit/ratelimittest": {"ratelimit"},
	"config":                  {},
	"store":                   {"model"},
	"store/storetest":         {"model", "store", "testskip"},
	"audit":                   {"keyring", "model", "store"},
	"phone":                   {},
	"sms":                     {},
	"sms/kanneltest":          {"testkit", "testskip"},
	"testkit":                 {},
	"testskip":                {"testkit"},
	"auth":                    {"audit", "keyring", "model", "password", "phone", "ratelimit", "sms", "store", "token", "totp"},
	"auth/authtest":           {"audit", "auth", "keyring", "password", "ratelimit", "sms", "store", "store/storetest", "totp"},
	"httpx":                   {"auth"},
	"api":                     {"auth", "httpx", "model", "phone"},
	"web":                     {"auth", "httpx", "model", "phone"},
	"server":                  {"api", "auth", "httpx", "metrics", "store", "web"},
	"cli":                     {"audit", "auth", "config", "httpx", "keyring", "metrics", "password", "ratelimit", "server", "sms", "store", "totp", "version"},
	"e2e":                     {},
	"e2e/e2etest":             {"cli"},
}

// forbiddenStd lists standard-library imports a package must not use: the
// service layer stays free of HTTP so every front end shares its rules.
var forbiddenStd = map[string][]string{
	"auth":  {"net/http"},
	"store": {"net/http"},
	"model": {"net/http", "database/sql"},
}

func TestImportDirection(t *testing.T) {
	seen := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		if pkg == "." {
			return nil
		}
		seen[pkg] = true
		rules, known := allowed[pkg]
		if !known {
			t.Errorf("package internal/%s has no entry in arch_test.go's allowed table: add one on purpose", pkg)
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if dep, ok := strings.CutPrefix(p, module); ok && !slices.Contains(rules, dep) {
				t.Errorf("%s imports internal/%s, against the allowed direction", path, dep)
			}
			if slices.Contains(forbiddenStd[pkg], p) {
				t.Errorf("%s imports %s, which package %s must not use", path, p, pkg)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for pkg := range allowed {
		if !seen[pkg] && pkg != "e2e" {
			t.Errorf("allowed table names internal/%s, which has no Go files: remove the entry", pkg)
		}
	}
}
