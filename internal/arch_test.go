// Package internal_test guards the shape of the code: which internal
// packages may import which (README.md "Layout": cmd → cli → server →
// {web, api} → auth → {store, factor packages, leaves}), and which
// packages may reach HTTP, SQL or Redis at all, counting every package
// in between. A new package, an import against the direction, or a new
// path to one of those capabilities fails this test until the tables below
// are updated on purpose.
package internal_test

import (
	"bufio"
	"bytes"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
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
	"outcome":                 {},
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
	"sms/gateway":             {"sms"},
	"sms/gateway/kanneltest":  {"testkit", "testskip"},
	"passkey":                 {"model"},
	"notify":                  {"keyring", "model", "sms", "store"},
	"notify/mailer":           {"notify"},
	"notify/notifytest":       {},
	"passkey/passkeytest":     {},
	"testkit":                 {},
	"testskip":                {"testkit"},
	"auth":                    {"audit", "keyring", "model", "notify", "outcome", "password", "phone", "ratelimit", "sms", "store", "token", "totp"},
	"auth/authtest":           {"audit", "auth", "keyring", "password", "ratelimit", "sms", "store", "store/storetest", "totp"},
	"httpx":                   {"auth", "outcome"},
	"api":                     {"auth", "httpx", "model", "outcome", "phone"},
	"web":                     {"auth", "httpx", "model", "outcome", "phone"},
	"server":                  {"api", "auth", "httpx", "metrics", "outcome", "store", "web"},
	"cli":                     {"audit", "auth", "config", "httpx", "keyring", "metrics", "notify", "notify/mailer", "outcome", "passkey", "password", "ratelimit", "server", "sms", "sms/gateway", "store", "totp", "version", "web"},
	"e2e":                     {},
	"e2e/e2etest":             {"cli", "store/storetest", "testskip"},
}

// The capabilities the layering keeps in few hands. A path ending in
// "/..." stands for that package and every package below it.
// database/sql/driver is not among them: it holds only interfaces and
// error values (httpx reads driver.ErrBadConn to answer 503).
const (
	httpCap  = "HTTP"
	sqlCap   = "SQL"
	redisCap = "Redis"
)

var capabilities = map[string][]string{
	httpCap:  {"net/http"},
	sqlCap:   {"database/sql", "modernc.org/sqlite/...", "github.com/jackc/pgx/v5/..."},
	redisCap: {"github.com/redis/go-redis/v9/..."},
}

// reach says, for every internal package, which capabilities the
// dependency closure of its non-test files may contain, and through which
// packages only: every import chain from the package to the capability
// must pass through one of them. The package itself in the list lets it
// import the capability directly; a capability not named may not be
// reached at all. Gateways are internal package names or, with a dot, full
// import paths.
//
// What the entries mean: leaves stay pure; only store speaks SQL and only
// ratelimit (and cli, which dials the client) speaks Redis; the service
// layer (auth) reaches no HTTP at all, so every front end shares its
// rules: it sends texts through the sms.Sender interface, and the HTTP
// gateways behind it (sms/gateway) are wired in by cli alone; likewise it
// checks passkeys through its WebAuthn interface, and the go-webauthn
// implementation behind it (passkey) is wired in by cli.
var reach = map[string]map[string][]string{
	"model":                   {},
	"outcome":                 {},
	"version":                 {},
	"token":                   {},
	"keyring":                 {},
	"totp":                    {},
	"password":                {},
	"phone":                   {},
	"config":                  {},
	"testkit":                 {},
	"testskip":                {},
	"sms":                     {},
	"sms/gateway/kanneltest":  {},
	"e2e":                     {},
	"store":                   {sqlCap: {"store"}},
	"audit":                   {sqlCap: {"store"}},
	"ratelimit":               {redisCap: {"ratelimit"}},
	"ratelimit/ratelimittest": {redisCap: {"ratelimit"}},
	"sms/gateway":             {httpCap: {"sms/gateway"}},
	// notify speaks SQL through store only; its SMTP client (go-mail, in
	// notify/mailer) reaches no HTTP, and only cli imports it.
	"notify":        {sqlCap: {"store"}},
	"notify/mailer": {sqlCap: {"store"}},
	// The SMTP receiver of tests (go-smtp) reaches nothing.
	"notify/notifytest": {},
	// go-webauthn's packages import net/http (its Finish* helpers read an
	// *http.Request); passkey itself does not, and uses only the
	// parse-from-bytes functions.
	"passkey":             {httpCap: {"github.com/go-webauthn/webauthn/webauthn", "github.com/go-webauthn/webauthn/protocol"}},
	"passkey/passkeytest": {},
	"auth":                {sqlCap: {"store"}, redisCap: {"ratelimit"}},
	"store/storetest":     {sqlCap: {"store/storetest"}}, // creates a database per test
	"auth/authtest":       {sqlCap: {"store", "store/storetest"}, redisCap: {"ratelimit"}},
	// metrics serves /metrics; prometheus' collectors name sql.DBStats.
	"metrics": {httpCap: {"metrics"}, sqlCap: {"github.com/prometheus/client_golang/prometheus/collectors"}},
	"httpx":   {httpCap: {"httpx"}, sqlCap: {"store"}, redisCap: {"ratelimit"}},
	"api":     {httpCap: {"api"}, sqlCap: {"store"}, redisCap: {"ratelimit"}},
	"web":     {httpCap: {"web"}, sqlCap: {"store"}, redisCap: {"ratelimit"}},
	"server":  {httpCap: {"server"}, sqlCap: {"store", "metrics"}, redisCap: {"ratelimit"}},
	"cli":     {httpCap: {"cli"}, sqlCap: {"store", "metrics"}, redisCap: {"cli"}},
	// The black-box harness drives the server as a client and reads its
	// database from outside.
	"e2e/e2etest": {httpCap: {"e2e/e2etest"}, sqlCap: {"e2e/e2etest"}, redisCap: {"cli"}},
}

// importFiles maps, for every internal package, each import path its
// non-test files use to the first file that imports it, for messages.
type importFiles map[string]map[string]string

// TestImportDirection checks every non-test file's internal imports
// against the allowed table.
func TestImportDirection(t *testing.T) {
	files := parseImports(t)
	for pkg, imps := range files {
		rules, known := allowed[pkg]
		if !known {
			t.Errorf("package internal/%s has no entry in arch_test.go's allowed table: add one on purpose", pkg)
			continue
		}
		for imp, file := range imps {
			if dep, ok := strings.CutPrefix(imp, module); ok && !slices.Contains(rules, dep) {
				t.Errorf("%s imports internal/%s, against the allowed direction", file, dep)
			}
		}
	}
	for pkg := range allowed {
		if _, ok := files[pkg]; !ok && pkg != "e2e" {
			t.Errorf("allowed table names internal/%s, which has no Go files: remove the entry", pkg)
		}
	}
}

// TestReach checks the whole non-test dependency closure of every internal
// package against the reach table, as `go list -deps` computes it, so a
// capability cannot come in through a package in between.
func TestReach(t *testing.T) {
	graph := importGraph(t)
	files := parseImports(t)
	for path := range graph {
		pkg, ok := strings.CutPrefix(path, module)
		if !ok {
			continue
		}
		if _, hasFiles := files[pkg]; !hasFiles {
			continue // test files only: nothing is linked into a binary
		}
		if _, known := reach[pkg]; !known {
			t.Errorf("package internal/%s has no entry in arch_test.go's reach table: add one on purpose", pkg)
		}
	}
	for pkg, caps := range reach {
		if _, ok := graph[module+pkg]; !ok {
			t.Errorf("reach table names internal/%s, which is not a package: remove the entry", pkg)
			continue
		}
		for cp, banned := range capabilities {
			gateways, permitted := caps[cp]
			if permitted && slices.Contains(gateways, pkg) {
				continue // the package owns the capability
			}
			chain := findChain(graph, module+pkg, banned, gateways)
			if chain == nil {
				continue
			}
			via := "not at all"
			if permitted {
				via = "only through " + strings.Join(gateways, ", ")
			}
			t.Errorf("internal/%s reaches %s (%s), which it may reach %s:\n\t%s\n\t(%s imports %s)",
				pkg, chain[len(chain)-1], cp, via, showChain(chain), files[pkg][chain[1]], short(chain[1]))
		}
	}
}

// TestReachCatchesIndirectImports makes sure the chain search sees past
// the first hop and stops at gateways, on a small made-up graph.
func TestReachCatchesIndirectImports(t *testing.T) {
	graph := map[string][]string{
		module + "a":                     {module + "b", "strings"},
		module + "b":                     {module + "c"},
		module + "c":                     {"net/http"},
		"net/http":                       {"net/http/internal"},
		"net/http/internal":              nil,
		"strings":                        nil,
		module + "d":                     {"github.com/jackc/pgx/v5/stdlib"},
		"github.com/jackc/pgx/v5/stdlib": nil,
	}
	tests := []struct {
		from     string
		banned   []string
		gateways []string
		want     string // the chain, "" for none
	}{
		{"a", capabilities[httpCap], nil, "a → b → c → net/http"},
		{"a", capabilities[httpCap], []string{"b"}, ""},
		{"a", capabilities[httpCap], []string{"c"}, ""},
		{"a", capabilities[sqlCap], nil, ""},
		{"d", capabilities[sqlCap], nil, "d → github.com/jackc/pgx/v5/stdlib"},
		{"d", capabilities[httpCap], nil, ""},
	}
	for _, tc := range tests {
		got := ""
		if chain := findChain(graph, module+tc.from, tc.banned, tc.gateways); chain != nil {
			got = showChain(chain)
		}
		if got != tc.want {
			t.Errorf("findChain(%s, %v, via %v) = %q, want %q", tc.from, tc.banned, tc.gateways, got, tc.want)
		}
	}
}

// parseImports reads the imports of every non-test Go file below
// internal/ with go/parser, so messages can name the file.
func parseImports(t *testing.T) importFiles {
	t.Helper()
	files := importFiles{}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		if pkg == "." {
			return nil
		}
		if files[pkg] == nil {
			files[pkg] = map[string]string{}
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if _, seen := files[pkg][p]; !seen {
				files[pkg][p] = "internal/" + filepath.ToSlash(path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// importGraph returns the imports of the non-test files of every package
// in the closure of internal/..., standard library and modules included.
func importGraph(t *testing.T) map[string][]string {
	t.Helper()
	// go test puts its own Go first on PATH.
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	cmd := exec.Command(goBin, "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, stderr.String())
	}
	graph := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 0 {
			graph[fields[0]] = fields[1:]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(graph[module+"auth"]) == 0 {
		t.Fatalf("go list -deps returned no imports for internal/auth:\n%s", out)
	}
	return graph
}

// findChain returns the shortest import chain from the package from to a
// package matching banned that passes through none of gateways, or nil.
func findChain(graph map[string][]string, from string, banned, gateways []string) []string {
	blocked := map[string]bool{}
	for _, g := range gateways {
		if !strings.Contains(g, ".") {
			g = module + g
		}
		blocked[g] = true
	}
	parent := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p != from && matches(p, banned) {
			var chain []string
			for ; p != ""; p = parent[p] {
				chain = append(chain, p)
			}
			slices.Reverse(chain)
			return chain
		}
		if p != from && blocked[p] {
			continue
		}
		for _, q := range graph[p] {
			if _, seen := parent[q]; !seen {
				parent[q] = p
				queue = append(queue, q)
			}
		}
	}
	return nil
}

// matches reports whether the import path p is one of patterns.
func matches(p string, patterns []string) bool {
	for _, pat := range patterns {
		if base, ok := strings.CutSuffix(pat, "/..."); ok {
			if p == base || strings.HasPrefix(p, base+"/") {
				return true
			}
		} else if p == pat {
			return true
		}
	}
	return false
}

// showChain writes a chain as "auth → sms → net/http".
func showChain(chain []string) string {
	names := make([]string, len(chain))
	for i, p := range chain {
		names[i] = short(p)
	}
	return strings.Join(names, " → ")
}

// short names an internal package without the module prefix.
func short(p string) string {
	if s, ok := strings.CutPrefix(p, module); ok {
		return s
	}
	return p
}
