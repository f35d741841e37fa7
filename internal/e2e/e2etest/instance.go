package e2etest

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx", to read a PostgreSQL instance from outside
	_ "modernc.org/sqlite"             // driver "sqlite", to read a SQLite instance from outside

	"github.com/twostep/twostep/internal/cli"
	"github.com/twostep/twostep/internal/store/storetest"
)

// Password passes the password policy; every test user has it.
const Password = "correct horse battery staple 42"

// Instance is one twostep installation: its settings (database, key file
// and the rest, as TWOSTEP_* variables) and everything its CLI commands
// and servers write to standard error, in one log.
type Instance struct {
	Dir     string   // a temporary directory for the instance's files
	Env     []string // KEY=VALUE, sorted
	DBPath  string   // the SQLite file, "" on PostgreSQL
	DSN     string   // the PostgreSQL URL, "" on SQLite
	KeyFile string
	Log     *Log
}

// NewInstance creates an installation and migrates its database, as an
// administrator would before running other commands. database is a
// "sqlite:PATH" or PostgreSQL URL; "" is a fresh SQLite file in Dir, or a
// fresh PostgreSQL database when the suite runs on PostgreSQL
// (storetest.BackendEnv). The instance listens on a random loopback port
// and hashes passwords with small argon2 parameters; settings are
// KEY=VALUE pairs that add to or replace those.
func NewInstance(t testing.TB, database string, settings ...string) *Instance {
	t.Helper()
	dir := t.TempDir()
	in := &Instance{Dir: dir, KeyFile: filepath.Join(dir, "twostep.key"), Log: &Log{}}
	if database == "" && storetest.OnPostgres() {
		database = storetest.PostgresDSN(t)
	}
	switch {
	case database == "":
		in.DBPath = filepath.Join(dir, "twostep.db")
		database = "sqlite:" + in.DBPath
	case strings.HasPrefix(database, "postgres"):
		in.DSN = database
	case strings.HasPrefix(database, "sqlite:"):
		in.DBPath = strings.TrimPrefix(database, "sqlite:")
	}
	vars := map[string]string{
		"TWOSTEP_DATABASE":               database,
		"TWOSTEP_KEY_FILE":               in.KeyFile,
		"TWOSTEP_PASSWORD_ARGON2_MEMORY": "64",
		"TWOSTEP_PASSWORD_ARGON2_TIME":   "1",
		"TWOSTEP_LISTEN":                 "127.0.0.1:0",
	}
	for _, kv := range settings {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("setting %q is not KEY=VALUE", kv)
		}
		vars[k] = v
	}
	for k, v := range vars {
		in.Env = append(in.Env, k+"="+v)
	}
	slices.Sort(in.Env)
	// As an administrator would (or a first `twostep serve`): the
	// administrative commands tests run before starting a server work
	// only on an installation that exists.
	in.MustCLI(t, "", "migrate")
	return in
}

// CLI runs a twostep command on the instance and returns its exit code and
// standard output; standard error goes to the log (standard output is the
// command's answer, such as an invite link, not log).
func (in *Instance) CLI(t testing.TB, stdin string, args ...string) (int, string) {
	t.Helper()
	var out Log
	code := cli.RunEnv(context.Background(), args, in.Env, strings.NewReader(stdin), &out, in.Log)
	return code, out.String()
}

// MustCLI is CLI that fails the test on a non-zero exit code.
func (in *Instance) MustCLI(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	code, out := in.CLI(t, stdin, args...)
	if code != 0 {
		t.Fatalf("twostep %s: exit %d\nstdout: %s\nlog:\n%s", strings.Join(args, " "), code, out, in.Log)
	}
	return out
}

// AddUser creates a user with Password through the CLI.
func (in *Instance) AddUser(t testing.TB, name string) {
	t.Helper()
	in.MustCLI(t, Password+"\n", "user", "add", name, "--password-stdin")
}

// Start runs `twostep serve` for the instance (Serve) and returns its
// address. The server is stopped at test cleanup, or earlier by calling
// stop, which waits for it and fails the test unless it exits with 0;
// stop may be called more than once. An instance may run several servers
// at once, as instances behind a load balancer on one database do.
func (in *Instance) Start(t testing.TB) (addr string, stop func()) {
	t.Helper()
	addr, stopServe, err := Serve(in.Env, in.Log)
	if err != nil {
		t.Fatalf("%v; log:\n%s", err, in.Log)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if code := stopServe(); code != 0 {
				t.Errorf("twostep serve exited with %d after cancel (-1: did not stop within 15 s); log:\n%s", code, in.Log)
			}
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			l := in.Log.String()
			t.Logf("twostep log (end):\n%s", l[max(0, len(l)-4000):])
		}
	})
	return addr, stop
}

// OpenDB opens the instance's database from outside the server, closed at
// test cleanup.
func (in *Instance) OpenDB(t testing.TB) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite", "file:"+in.DBPath+"?_pragma=busy_timeout(10000)"
	if in.DSN != "" {
		driver, dsn = "pgx", in.DSN
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
