package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", to inspect and tamper with the store

	"github.com/twostep/twostep/internal/cli"
)

const goodPassword = "correct horse battery staple"

// install is one twostep installation in a temporary directory.
type install struct {
	dir, db, keyFile string
	env              []string
}

func newInstall(t *testing.T, extraEnv ...string) *install {
	t.Helper()
	dir := t.TempDir()
	in := &install{dir: dir, db: filepath.Join(dir, "t.db"), keyFile: filepath.Join(dir, "k")}
	in.env = append([]string{
		"TWOSTEP_DATABASE=sqlite:" + in.db,
		"TWOSTEP_KEY_FILE=" + in.keyFile,
		"TWOSTEP_PASSWORD_ARGON2_MEMORY=64",
		"TWOSTEP_PASSWORD_ARGON2_TIME=1",
	}, extraEnv...)
	return in
}

// migrated creates the installation's database and key file, as the first
// `twostep serve` or `twostep migrate` does; administrative commands never
// create them.
func (in *install) migrated(t *testing.T) *install {
	t.Helper()
	in.must(t, "", "migrate")
	return in
}

// run runs one command and returns its exit code, stdout and stderr.
func (in *install) run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.RunEnv(context.Background(), args, in.env, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// must runs a command that has to succeed.
func (in *install) must(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	code, out, errs := in.run(t, stdin, args...)
	if code != 0 {
		t.Fatalf("twostep %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func (in *install) openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+in.db+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// step is a command with its standard input.
type step struct {
	args  []string
	stdin string
}

func add(name string) step {
	return step{[]string{"user", "add", name, "--password-stdin"}, goodPassword + "\n"}
}

func cmd(args ...string) step { return step{args: args} }

// TestCommands runs each command on a fresh installation after the set-up
// steps, and checks the exit code (0 ok, 1 failure, 2 usage) and output.
func TestCommands(t *testing.T) {
	t.Parallel()
	const usage = `(?s)Usage:.*twostep user add NAME`
	tests := []struct {
		name    string
		setup   []step
		args    []string
		stdin   string
		code    int
		stdout  []string // regular expressions stdout must match
		stderr  []string // regular expressions stderr must match
		noOut   []string // regular expressions stdout must not match
		extraFn func(t *testing.T, in *install)
		fresh   bool // no `migrate` before the set-up steps
	}{
		// user add and the password policy.
		{name: "add", args: []string{"user", "add", "alice", "--password-stdin"}, stdin: goodPassword + "\n",
			stdout: []string{`user alice added`}},
		{name: "add, flag first", args: []string{"user", "add", "--password-stdin", "alice"}, stdin: goodPassword,
			stdout: []string{`user alice added`}},
		{name: "add, CRLF line end", args: []string{"user", "add", "alice", "--password-stdin"}, stdin: goodPassword + "\r\n",
			stdout: []string{`user alice added`}},
		{name: "add, name normalised", args: []string{"user", "add", "Alice", "--password-stdin"}, stdin: goodPassword,
			stdout: []string{`user alice added`}},
		{name: "duplicate", setup: []step{add("alice")}, args: []string{"user", "add", "alice", "--password-stdin"}, stdin: goodPassword,
			code: 1, stderr: []string{`already exists`}},
		{name: "duplicate in other case", setup: []step{add("alice")}, args: []string{"user", "add", "ALICE", "--password-stdin"}, stdin: goodPassword,
			code: 1, stderr: []string{`already exists`}},
		{name: "common password", args: []string{"user", "add", "alice", "--password-stdin"}, stdin: "iloveyou\n",
			code: 1, stderr: []string{`password is too common`}},
		{name: "common password, other case", args: []string{"user", "add", "alice", "--password-stdin"}, stdin: "ILoveYou\n",
			code: 1, stderr: []string{`password is too common`}},
		{name: "short password", args: []string{"user", "add", "alice", "--password-stdin"}, stdin: "abc123\n",
			code: 1, stderr: []string{`password must be at least 8 characters`}},
		{name: "empty password", args: []string{"user", "add", "alice", "--password-stdin"}, stdin: "",
			code: 1, stderr: []string{`password must be at least 8 characters`}},
		{name: "newline only", args: []string{"user", "add", "alice", "--password-stdin"}, stdin: "\n",
			code: 1, stderr: []string{`password must be at least 8 characters`}},
		{name: "too long password", args: []string{"user", "add", "alice", "--password-stdin"}, stdin: strings.Repeat("x", 1025),
			code: 1, stderr: []string{`at most 1024 bytes`}},
		{name: "two-line password", args: []string{"user", "add", "alice", "--password-stdin"}, stdin: "first line\nsecond line\n",
			code: 1, stderr: []string{`single line`}},
		{name: "bad user name", args: []string{"user", "add", "al ice", "--password-stdin"}, stdin: goodPassword,
			code: 1, stderr: []string{`username may contain only`}},
		{name: "no terminal and no --password-stdin", args: []string{"user", "add", "alice"}, stdin: goodPassword,
			code: 2, stderr: []string{`--password-stdin`}},
		{name: "failed add leaves no user", setup: []step{{[]string{"user", "add", "alice", "--password-stdin"}, "short"}},
			args: []string{"user", "list"}, noOut: []string{`alice`}},

		// Unknown users.
		{name: "disable unknown", args: []string{"user", "disable", "ghost"}, code: 1, stderr: []string{`no user named "ghost"`}},
		{name: "enable unknown", args: []string{"user", "enable", "ghost"}, code: 1, stderr: []string{`no user named "ghost"`}},
		{name: "reset-mfa unknown", args: []string{"user", "reset-mfa", "ghost"}, code: 1, stderr: []string{`no user named "ghost"`}},
		{name: "set-password unknown", args: []string{"user", "set-password", "ghost", "--password-stdin"}, stdin: goodPassword,
			code: 1, stderr: []string{`no user named "ghost"`}},
		{name: "invite unknown", args: []string{"user", "invite", "ghost"}, code: 1, stderr: []string{`no user named "ghost"`}},

		// Usage errors: exit 2 and the usage text.
		{name: "no command", args: nil, code: 2, stderr: []string{`no command given`, usage}},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderr: []string{`unknown command "frobnicate"`, usage}},
		{name: "user without subcommand", args: []string{"user"}, code: 2, stderr: []string{`subcommand`, usage}},
		{name: "unknown user subcommand", args: []string{"user", "frob", "alice"}, code: 2, stderr: []string{`unknown user subcommand "frob"`, usage}},
		{name: "unknown flag", args: []string{"user", "list", "--nope"}, code: 2, stderr: []string{`nope`, usage}},
		{name: "unknown flag on add", args: []string{"user", "add", "alice", "--pasword-stdin"}, code: 2, stderr: []string{`pasword-stdin`, usage}},
		{name: "missing user name", args: []string{"user", "disable"}, code: 2, stderr: []string{`one user name`, usage}},
		{name: "extra argument", args: []string{"user", "disable", "alice", "bob"}, code: 2, stderr: []string{`one user name`, usage}},
		{name: "--password-stdin on list", args: []string{"user", "list", "--password-stdin"}, code: 2, stderr: []string{`only goes with add and set-password`, usage}},
		{name: "audit without verify", args: []string{"audit"}, code: 2, stderr: []string{`verify`, usage}},
		{name: "audit with unknown subcommand", args: []string{"audit", "check"}, code: 2, stderr: []string{`verify`, usage}},
		{name: "migrate with argument", args: []string{"migrate", "now"}, code: 2, stderr: []string{usage}},
		{name: "serve with argument", args: []string{"serve", "now"}, code: 2, stderr: []string{usage}},
		{name: "help", args: []string{"help"}, code: 0, stdout: []string{usage}},
		{name: "--help", args: []string{"user", "list", "--help"}, code: 0, stdout: []string{usage}},

		// list, disable, enable, reset-mfa, set-password, invite.
		{name: "list", setup: []step{add("alice"), add("bob"), cmd("user", "set", "bob", "--email", "bob@example.com", "--groups", "staff,admins")},
			args: []string{"user", "list"},
			stdout: []string{`(?m)^USERNAME\s+STATUS\s+METHODS\s+LAST SIGN-IN\s+E-MAIL\s+GROUPS\s+CREATED$`,
				`(?m)^alice\s+active\s+0\s+never\s+-\s+-\s+\d{4}-\d\d-\d\d$`, `(?m)^bob\s+active\s+0\s+never\s+bob@example\.com\s+staff,admins\s`}},
		{name: "list --json", setup: []step{add("alice"), cmd("user", "set", "alice", "--groups", "staff")}, args: []string{"user", "list", "--json"},
			stdout: []string{`(?m)^\{"username":"alice","status":"active","methods":0,"email":"","groups":\["staff"\],"last_login_at":null,"created_at":"\d{4}-[^"]+Z","mfa_policy":"\*"\}$`}},
		{name: "list --json, grace", setup: []step{add("alice"), cmd("user", "grace", "alice", "--extend", "3d")}, args: []string{"user", "list", "--json"},
			stdout: []string{`(?m)^\{"username":"alice",.*"mfa_policy":"\*","grace_until":"\d{4}-[^"]+Z"\}$`}},
		{name: "--json on add", args: []string{"user", "add", "alice", "--json"}, code: 2, stderr: []string{`--json only goes with list`}},
		{name: "list empty", args: []string{"user", "list"}, stdout: []string{`(?m)^USERNAME\s+STATUS`}, noOut: []string{`active`}},
		{name: "disable", setup: []step{add("alice"), add("bob")}, args: []string{"user", "disable", "Alice"},
			stdout: []string{`user alice disabled`},
			extraFn: func(t *testing.T, in *install) {
				out := in.must(t, "", "user", "list")
				if !regexp.MustCompile(`(?m)^alice\s+disabled\s`).MatchString(out) || !regexp.MustCompile(`(?m)^bob\s+active\s`).MatchString(out) {
					t.Errorf("list after disable:\n%s", out)
				}
			}},
		{name: "enable", setup: []step{add("alice"), cmd("user", "disable", "alice")}, args: []string{"user", "enable", "alice"},
			stdout: []string{`user alice enabled`},
			extraFn: func(t *testing.T, in *install) {
				if out := in.must(t, "", "user", "list"); !regexp.MustCompile(`(?m)^alice\s+active\s`).MatchString(out) {
					t.Errorf("list after enable:\n%s", out)
				}
			}},
		{name: "reset-mfa", setup: []step{add("alice")}, args: []string{"user", "reset-mfa", "alice"},
			stdout: []string{`user alice: all methods, recovery codes and sessions removed`}},
		{name: "unlock", setup: []step{add("alice")}, args: []string{"user", "unlock", "alice"},
			stdout: []string{`user alice: second-factor lock and password throttle cleared`}},
		{name: "unlock unknown", args: []string{"user", "unlock", "ghost"}, code: 1, stderr: []string{`no user named "ghost"`}},
		{name: "grace", setup: []step{add("alice")}, args: []string{"user", "grace", "alice", "--extend", "7d"},
			stdout: []string{`(?m)^user alice: may set up a second factor later until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`}},
		{name: "grace unknown", args: []string{"user", "grace", "ghost", "--extend", "7d"}, code: 1, stderr: []string{`no user named "ghost"`}},
		{name: "grace bad extend", setup: []step{add("alice")}, args: []string{"user", "grace", "alice", "--extend", "soon"},
			code: 1, stderr: []string{`extend must be days \(7d\) or hours \(72h\)`}},
		{name: "grace needs --extend", setup: []step{add("alice")}, args: []string{"user", "grace", "alice"}, code: 2, stderr: []string{`--extend`}},
		{name: "set-password", setup: []step{add("alice")}, args: []string{"user", "set-password", "alice", "--password-stdin"},
			stdin: "another good passphrase\n", stdout: []string{`user alice: password changed`}},
		{name: "set-password weak", setup: []step{add("alice")}, args: []string{"user", "set-password", "alice", "--password-stdin"},
			stdin: "12345678\n", code: 1, stderr: []string{`password is too common`}},
		{name: "invite", setup: []step{add("alice")}, args: []string{"user", "invite", "alice"},
			stdout: []string{`(?m)^https?://\S+[?&]invite=[A-Za-z0-9_-]{20,}`, `(?m)^valid until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`},
			stderr: []string{`enrollment is "password"`}},

		// migrate, version, audit verify.
		{name: "migrate", fresh: true, args: []string{"migrate"}, stdout: []string{`applied 0001_init`, `(?m)^schema at version [1-9]\d*$`}},
		{name: "migrate twice", setup: []step{cmd("migrate")}, args: []string{"migrate"}, stdout: []string{`(?m)^schema at version [1-9]\d*$`}, noOut: []string{`applied`}},
		// Administrative commands never create an installation: run in the
		// wrong directory they say so instead of reporting no users.
		{name: "user list, no database", fresh: true, args: []string{"user", "list"}, code: 1,
			stderr: []string{`no database at \S+t\.db: start .twostep serve. there first`}},
		{name: "user add, no database", fresh: true, args: []string{"user", "add", "alice", "--password-stdin"}, stdin: goodPassword,
			code: 1, stderr: []string{`no database at`}},
		{name: "unknown user subcommand", args: []string{"user", "frobnicate"}, code: 2, stderr: []string{`unknown user subcommand "frobnicate"`}},
		{name: "unknown flag", args: []string{"user", "list", "--bogus"}, code: 2, stderr: []string{`flag provided but not defined: -bogus`}},
		{name: "version with a flag", args: []string{"version", "--bogus"}, code: 2, stderr: []string{`version takes no arguments`}},
		{name: "unknown keys subcommand", args: []string{"keys", "frobnicate"}, code: 2, stderr: []string{`unknown keys subcommand`}},
		{name: "unknown audit subcommand", args: []string{"audit", "frobnicate"}, code: 2, stderr: []string{`audit needs a subcommand`}},
		{name: "database in a missing directory", fresh: true, args: []string{"migrate", "--database", "sqlite:/nonexistent-dir/t.db"}, code: 1,
			stderr: []string{`cannot open or create the database /nonexistent-dir/t\.db: .*no such file or directory`}},
		{name: "names its database", args: []string{"user", "list"}, stderr: []string{`(?m)^twostep: database sqlite:/\S+/t\.db$`}},
		{name: "version", args: []string{"version"}, stdout: []string{`^twostep `}},
		{name: "--version", args: []string{"--version"}, stdout: []string{`^twostep `}},
		{name: "audit verify", setup: []step{add("alice"), cmd("user", "disable", "alice")}, args: []string{"audit", "verify"},
			stdout: []string{`audit log intact: 2 entries`}},
		{name: "audit verify empty", args: []string{"audit", "verify"}, stdout: []string{`audit log intact: 0 entries`}},
		// Everything is older than the far future, but the newest entry
		// stays (the chain goes on from it): one goes, the prune itself is
		// audited, and the chain still verifies from the checkpoint.
		{name: "audit prune", setup: []step{add("alice"), cmd("user", "disable", "alice")},
			args:   []string{"audit", "prune", "--before", "2999-01-01"},
			stdout: []string{`audit log: 1 entries before \S+ pruned`},
			extraFn: func(t *testing.T, in *install) {
				if out := in.must(t, "", "audit", "verify"); !strings.Contains(out, "audit log intact: 2 entries") {
					t.Errorf("verify after prune: %s", out)
				}
			}},
		{name: "audit prune needs a date", args: []string{"audit", "prune"}, code: 2, stderr: []string{`--before DATE`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := newInstall(t)
			if !tc.fresh {
				in.migrated(t)
			}
			for _, s := range tc.setup {
				in.run(t, s.stdin, s.args...) // some set-ups fail on purpose
			}
			code, out, errs := in.run(t, tc.stdin, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errs)
			}
			for _, re := range tc.stdout {
				if !regexp.MustCompile(re).MatchString(out) {
					t.Errorf("stdout does not match %q:\n%s", re, out)
				}
			}
			for _, re := range tc.stderr {
				if !regexp.MustCompile(re).MatchString(errs) {
					t.Errorf("stderr does not match %q:\n%s", re, errs)
				}
			}
			for _, re := range tc.noOut {
				if regexp.MustCompile(re).MatchString(out) {
					t.Errorf("stdout matches %q:\n%s", re, out)
				}
			}
			if pw := strings.TrimSpace(tc.stdin); strings.Contains(out+errs, goodPassword) || (pw != "" && strings.Contains(out+errs, pw)) {
				t.Errorf("the password was echoed:\nstdout: %s\nstderr: %s", out, errs)
			}
			if tc.extraFn != nil {
				tc.extraFn(t, in)
			}
		})
	}
}

// TestSetPasswordTakesEffect: after set-password the old password no longer
// matches and the new one does, as seen in the stored hash changing.
func TestSetPasswordTakesEffect(t *testing.T) {
	t.Parallel()
	in := newInstall(t).migrated(t)
	in.must(t, goodPassword, "user", "add", "alice", "--password-stdin")
	db := in.openDB(t)
	hash := func() string {
		var h string
		if err := db.QueryRow(`SELECT password_hash FROM users WHERE username = 'alice'`).Scan(&h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	before := hash()
	if !strings.HasPrefix(before, "$argon2id$") {
		t.Errorf("stored hash %q is not argon2id PHC", before)
	}
	if strings.Contains(before, goodPassword) {
		t.Fatal("the password is stored in the clear")
	}
	in.must(t, "another good passphrase", "user", "set-password", "alice", "--password-stdin")
	if after := hash(); after == before {
		t.Error("set-password did not change the stored hash")
	}
}

// TestAuditVerifyDetectsTampering alters the audit table behind twostep's
// back: audit verify must fail (exit 1) and name the entry.
func TestAuditVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		sql   string
		want  string
		valid bool
	}{
		{"untouched", ``, `audit log intact: 3 entries`, true},
		{"altered user name", `UPDATE audit_log SET username = 'mallory' WHERE seq = 2`, `audit entry 2 was altered`, false},
		{"altered event", `UPDATE audit_log SET event = 'login_ok' WHERE seq = 1`, `audit entry 1 was altered`, false},
		{"altered time", `UPDATE audit_log SET at = at + 1 WHERE seq = 3`, `audit entry 3 was altered`, false},
		{"deleted entry", `DELETE FROM audit_log WHERE seq = 2`, `audit entry 2 is missing`, false},
		{"relinked entry", `UPDATE audit_log SET prev_hash = X'00' WHERE seq = 2`, `audit entry 2 does not link`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := newInstall(t).migrated(t)
			in.must(t, goodPassword, "user", "add", "alice", "--password-stdin")
			in.must(t, goodPassword, "user", "add", "bob", "--password-stdin")
			in.must(t, "", "user", "disable", "bob")
			if tc.sql != "" {
				db := in.openDB(t)
				res, err := db.Exec(tc.sql)
				if err != nil {
					t.Fatal(err)
				}
				if n, _ := res.RowsAffected(); n != 1 {
					t.Fatalf("tampering changed %d rows, want 1", n)
				}
				db.Close()
			}
			code, out, errs := in.run(t, "", "audit", "verify")
			want := 1
			if tc.valid {
				want = 0
			}
			if code != want {
				t.Fatalf("audit verify: exit %d, want %d\nstdout: %s\nstderr: %s", code, want, out, errs)
			}
			if !strings.Contains(out+errs, tc.want) {
				t.Errorf("audit verify output lacks %q:\nstdout: %s\nstderr: %s", tc.want, out, errs)
			}
		})
	}
}

// TestConfigErrors: a configuration file or environment variable that
// names no key is refused (exit 1) with the key named, and every problem
// is reported at once.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string // YAML; "" for none
		env  []string
		want []string
	}{
		{"unknown top-level key", "listen_adress: 127.0.0.1:9\n", nil, []string{"listen_adress", "unknown key"}},
		{"unknown nested key", "sms:\n  providr: file\n", nil, []string{"sms.providr", "unknown key"}},
		{"two problems at once", "listen_adress: x\ntotp:\n  digits: seven\n", nil, []string{"listen_adress", "totp.digits"}},
		{"unknown environment variable", "", []string{"TWOSTEP_LISTN=127.0.0.1:9"}, []string{"TWOSTEP_LISTN"}},
		{"bad value", "", []string{"TWOSTEP_SESSION_IDLE_TIMEOUT=30"}, []string{"session.idle_timeout"}},
		{"short admin token", "", []string{"TWOSTEP_ADMIN_TOKEN=short"}, []string{"admin_token", "at least 32"}},
		{"missing config file", "-", nil, []string{"configuration"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := newInstall(t, tc.env...)
			args := []string{"user", "list"}
			switch tc.file {
			case "":
			case "-":
				args = append(args, "--config", filepath.Join(in.dir, "missing.yaml"))
			default:
				path := filepath.Join(in.dir, "twostep.yaml")
				if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--config", path)
			}
			code, out, errs := in.run(t, "", args...)
			if code != 1 {
				t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", code, out, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
			if _, err := os.Stat(in.keyFile); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a key file was created although the configuration was refused")
			}
		})
	}

	t.Run("test-suite variables are ignored", func(t *testing.T) {
		t.Parallel()
		in := newInstall(t, "TWOSTEP_TEST_ANYTHING=1").migrated(t)
		in.must(t, "", "user", "list")
	})
}

// TestKeyFile: the key file is created on first use with mode 0600 (the
// database too), a key file others can read is refused, and once the
// database holds data sealed with a key, a missing or different key file
// stops every command instead of stranding that data.
func TestKeyFile(t *testing.T) {
	t.Parallel()

	t.Run("created private", func(t *testing.T) {
		t.Parallel()
		in := newInstall(t).migrated(t)
		in.must(t, goodPassword, "user", "add", "alice", "--password-stdin")
		for _, p := range []string{in.keyFile, in.db} {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if perm := st.Mode().Perm(); perm != 0o600 {
				t.Errorf("%s has mode %04o, want 0600", filepath.Base(p), perm)
			}
		}
		if _, err := keyID(t, in.keyFile); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("readable by others refused", func(t *testing.T) {
		t.Parallel()
		in := newInstall(t).migrated(t)
		in.must(t, "", "user", "list")
		if err := os.Chmod(in.keyFile, 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, errs := in.run(t, "", "user", "list")
		if code != 1 || !strings.Contains(errs, "chmod 600") {
			t.Fatalf("world-readable key file: exit %d, stderr %q; want 1 and a chmod hint", code, errs)
		}
	})

	t.Run("missing or foreign key with sealed data", func(t *testing.T) {
		t.Parallel()
		in := newInstall(t).migrated(t)
		in.must(t, goodPassword, "user", "add", "alice", "--password-stdin")
		id, err := keyID(t, in.keyFile)
		if err != nil {
			t.Fatal(err)
		}
		// A recovery code keyed with the installation's key, as set-up
		// stores it (only its MAC and key id reach the database).
		db := in.openDB(t)
		if _, err := db.Exec(`INSERT INTO recovery_codes (id, user_id, key_id, code_hash, created_at)
			SELECT 'rc1', id, $1, X'0102', $2 FROM users WHERE username = 'alice'`, id, time.Now().UnixMilli()); err != nil {
			t.Fatal(err)
		}
		db.Close()
		original, err := os.ReadFile(in.keyFile)
		if err != nil {
			t.Fatal(err)
		}

		// Missing: refused, named, and not silently re-created.
		if err := os.Remove(in.keyFile); err != nil {
			t.Fatal(err)
		}
		code, _, errs := in.run(t, "", "user", "list")
		if code != 1 || !strings.Contains(errs, "is missing") || !strings.Contains(errs, id) {
			t.Fatalf("missing key file: exit %d, stderr %q; want 1 naming the missing file and key %s", code, errs, id)
		}
		if _, err := os.Stat(in.keyFile); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("a new key file was created over sealed data (stat: %v)", err)
		}

		// Foreign: another installation's key file.
		other := newInstall(t).migrated(t)
		foreign, err := os.ReadFile(other.keyFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(in.keyFile, foreign, 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errs = in.run(t, "", "user", "list")
		if code != 1 || !strings.Contains(errs, id) {
			t.Fatalf("foreign key file: exit %d, stderr %q; want 1 naming key %s", code, errs, id)
		}

		// Restored: works again.
		if err := os.WriteFile(in.keyFile, original, 0o600); err != nil {
			t.Fatal(err)
		}
		in.must(t, "", "user", "list")
	})
}

// TestKeyFileCheckedBeforeDatabase: a key file that cannot be used stops
// migrate and serve before a database is created (a refused key file once
// left a new, migrated database behind).
func TestKeyFileCheckedBeforeDatabase(t *testing.T) {
	t.Parallel()
	for name, prepare := range map[string]func(in *install) error{
		"readable by others": func(in *install) error { return os.WriteFile(in.keyFile, []byte("garbage\n"), 0o644) },
		"garbage":            func(in *install) error { return os.WriteFile(in.keyFile, []byte("garbage\n"), 0o600) },
		"directory missing": func(in *install) error {
			in.env = append(in.env, "TWOSTEP_KEY_FILE="+filepath.Join(in.dir, "nope", "k"))
			return nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := newInstall(t)
			if err := prepare(in); err != nil {
				t.Fatal(err)
			}
			if code, _, errs := in.run(t, "", "migrate"); code != 1 || !strings.Contains(errs, "key") {
				t.Fatalf("migrate: exit %d, stderr %q; want 1 about the key file", code, errs)
			}
			if _, err := os.Stat(in.db); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("a database was created although the key file was refused (stat: %v)", err)
			}
		})
	}
}

// keyID returns the id of the first key in a key file.
func keyID(t *testing.T, path string) (string, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, _, _ := strings.Cut(line, " ")
		if !regexp.MustCompile(`^[0-9a-f]{8}$`).MatchString(id) {
			t.Fatalf("key file line starts with %q, not a key id", id)
		}
		return id, nil
	}
	return "", errors.New("no key in the key file")
}

// TestInviteLink: the invite link is built on public_url and carries the
// user name and a token.
func TestInviteLink(t *testing.T) {
	t.Parallel()
	in := newInstall(t, "TWOSTEP_PUBLIC_URL=https://login.example.com", "TWOSTEP_ENROLLMENT=invite").migrated(t)
	in.must(t, goodPassword, "user", "add", "alice", "--password-stdin")
	code, out, errs := in.run(t, "", "user", "invite", "alice")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if _, rest, _ := strings.Cut(errs, "\n"); !strings.HasPrefix(errs, "twostep: database ") || rest != "" {
		t.Errorf("user invite with enrollment: invite and public_url set wrote more than the database line to stderr: %q", errs)
	}
	link, _, _ := strings.Cut(out, "\n")
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "https" || u.Host != "login.example.com" || u.Query().Get("username") != "alice" || len(u.Query().Get("invite")) < 40 {
		t.Errorf("invite link %q: want https://login.example.com/...?username=alice&invite=<token>", link)
	}
	// Two invites are two different tokens.
	_, out2, _ := in.run(t, "", "user", "invite", "alice")
	if link2, _, _ := strings.Cut(out2, "\n"); link2 == link {
		t.Error("two invites gave the same link")
	}

	// Without public_url the link uses the listen address, and the
	// command says so (the server may be reached elsewhere).
	in = newInstall(t, "TWOSTEP_LISTEN=127.0.0.1:9443", "TWOSTEP_ENROLLMENT=invite").migrated(t)
	in.must(t, goodPassword, "user", "add", "alice", "--password-stdin")
	code, out, errs = in.run(t, "", "user", "invite", "alice")
	if code != 0 || !strings.HasPrefix(out, "http://127.0.0.1:9443/login?") || !strings.Contains(errs, "public_url is not set") {
		t.Errorf("invite without public_url: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
}

// TestPolicyConfigError: a bad mfa.policies entry stops start-up with an
// error naming the key, the policy's place and text, and the part that is
// wrong; every bad policy is reported.
func TestPolicyConfigError(t *testing.T) {
	t.Parallel()
	in := newInstall(t, "TWOSTEP_MFA_POLICIES=admins required methods=totp+fax,staff sometimes")
	code, out, errs := in.run(t, "", "migrate")
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", code, out, errs)
	}
	for _, w := range []string{`mfa.policies[0] "admins required methods=totp+fax": methods:`, `mfa.policies[1] "staff sometimes": requirement:`} {
		if !strings.Contains(errs, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errs)
		}
	}
}
