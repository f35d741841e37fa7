package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/e2e/e2etest"
	"github.com/twostep/twostep/internal/store/storetest"
)

// keyRotation is `twostep keys rotate` on a stopped installation (docs/deploy.md):
// every factor secret is re-encrypted under a new key, users still sign in
// with their authenticator app afterwards (so the secrets open under the new
// key), recovery codes keep working under the old key, a second run has
// nothing to do, and an unfinished rotation is finished with --resume
// without adding yet another key. No key material is ever printed.
func keyRotation(t *testing.T, database string) {
	in := newInstance(t, database)
	s := in.start(t)
	kim, lee := s.setupTOTP(t, "kim"), s.setupTOTP(t, "lee")
	s.stop()

	k1, _ := keyFile(t, in.KeyFile)
	if len(k1) != 1 {
		t.Fatalf("key file holds %d keys before rotation, want 1", len(k1))
	}
	wantStatus(t, in, map[string]string{k1[0]: "primary 2 20 0"})

	out := in.MustCLI(t, "", "keys", "rotate")
	printed := out
	ids, _ := keyFile(t, in.KeyFile)
	if len(ids) != 2 || ids[0] != k1[0] {
		t.Fatalf("key file after rotate holds %v, want %s and a new key", ids, k1[0])
	}
	if !strings.Contains(out, "added key "+ids[1]) || !strings.Contains(out, "re-encrypted 2 factor secrets under key "+ids[1]) {
		t.Fatalf("keys rotate printed:\n%s\nwant it to name the new key and 2 secrets re-encrypted", out)
	}
	// Recovery codes are keyed hashes: they stay under the old key.
	wantStatus(t, in, map[string]string{ids[0]: "old 0 20 0", ids[1]: "primary 2 0 0"})

	s = in.start(t)
	tok := s.login(t, "kim").str(t, "token")
	s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "totp", "code": kim.gen.Next(t)}, bearer(tok)).
		want(t, 200, "TOTP sign-in after rotation")
	tok = s.login(t, "lee").str(t, "token")
	s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "recovery", "code": lee.recovery[0]}, bearer(tok)).
		want(t, 200, "recovery code under the old key after rotation")
	s.stop()

	// Done means done: --resume finds nothing and adds no key.
	out = in.MustCLI(t, "", "keys", "rotate", "--resume")
	printed += out
	if !strings.Contains(out, "re-encrypted 0 factor secrets") {
		t.Fatalf("keys rotate --resume after a complete rotation printed:\n%s\nwant 0 re-encrypted", out)
	}
	if got, _ := keyFile(t, in.KeyFile); len(got) != 2 {
		t.Fatalf("rotate --resume changed the key file: %d keys", len(got))
	}

	// An unfinished rotation (a key added, nothing re-encrypted under it
	// yet, as after `keys add` or a crash): plain rotate refuses to add
	// another key, --resume finishes it.
	printed += in.MustCLI(t, "", "keys", "add")
	ids, _ = keyFile(t, in.KeyFile)
	if code, _ := in.CLI(t, "", "keys", "rotate"); code != 1 || !strings.Contains(in.Log.String(), "keys rotate --resume") {
		t.Fatalf("keys rotate with an unfinished rotation: exit %d, want 1 and advice to use --resume; log:\n%s", code, in.Log.String())
	}
	if got, _ := keyFile(t, in.KeyFile); len(got) != 3 {
		t.Fatalf("refused rotate changed the key file: %d keys, want 3", len(got))
	}
	out = in.MustCLI(t, "", "keys", "rotate", "--resume")
	printed += out
	if !strings.Contains(out, "re-encrypted 2 factor secrets under key "+ids[2]) {
		t.Fatalf("keys rotate --resume printed:\n%s\nwant 2 re-encrypted under %s", out, ids[2])
	}
	out = in.MustCLI(t, "", "keys", "status")
	printed += out
	wantStatus(t, in, map[string]string{ids[0]: "old 0 20 0", ids[1]: "unused 0 0 0", ids[2]: "primary 2 0 0"})
	if !strings.Contains(out, "key "+ids[1]+" is used by nothing") {
		t.Errorf("keys status does not say that key %s may go:\n%s", ids[1], out)
	}

	s = in.start(t)
	tok = s.login(t, "lee").str(t, "token")
	s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "totp", "code": lee.gen.Next(t)}, bearer(tok)).
		want(t, 200, "TOTP sign-in after the resumed rotation")

	_, material := keyFile(t, in.KeyFile)
	for _, m := range material {
		if strings.Contains(printed, m) || strings.Contains(in.Log.String(), m) {
			t.Fatal("key material appeared in the output or the log")
		}
	}
}

func TestKeyRotationSQLite(t *testing.T) {
	t.Parallel()
	keyRotation(t, "")
}

func TestKeyRotationPostgres(t *testing.T) {
	t.Parallel()
	keyRotation(t, storetest.PostgresDSN(t))
}

// TestBackupRestoreSQLite is docs/deploy.md's SQLite backup: a copy made
// with VACUUM INTO while the server runs restores, together with the key
// file, into a working installation; the copy holds no secret in the clear,
// and without the key file twostep refuses to start on it rather than
// make the secrets unreadable.
func TestBackupRestoreSQLite(t *testing.T) {
	sqliteOnly(t, "TestKeyRotationPostgres")
	t.Parallel()
	in := newInstance(t, "")
	s := in.start(t)
	kim := s.setupTOTP(t, "kim")
	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := in.OpenDB(t).Exec(`VACUUM INTO '` + backup + `'`); err != nil {
		t.Fatal(err)
	}
	s.stop()
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, e2etest.DecodeSecret(t, kim.secret)) || bytes.Contains(data, []byte(kim.secret)) {
		t.Fatal("the database backup holds the TOTP secret in the clear")
	}
	keyData, err := os.ReadFile(in.KeyFile)
	if err != nil {
		t.Fatal(err)
	}

	restored := newInstance(t, "")
	if err := os.WriteFile(restored.DBPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	// A new machine: only the database was restored (newInstance made a
	// key file of its own).
	if err := os.Remove(restored.KeyFile); err != nil {
		t.Fatal(err)
	}
	if code, _ := restored.CLI(t, "", "user", "list"); code != 1 || !strings.Contains(restored.Log.String(), "restore the key file from your backup") {
		t.Fatalf("a restored database without its key file: exit %d, want 1 and a request to restore the key file; log:\n%s", code, restored.Log.String())
	}
	if err := os.WriteFile(restored.KeyFile, keyData, 0o600); err != nil {
		t.Fatal(err)
	}
	s = restored.start(t)
	tok := s.login(t, "kim").str(t, "token")
	s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "totp", "code": kim.gen.Next(t)}, bearer(tok)).
		want(t, 200, "TOTP sign-in on the restored backup")
}

// keyFile returns the key ids and the base64 key material of the key file,
// in file order.
func keyFile(t *testing.T, path string) (ids, material []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && !strings.HasPrefix(f[0], "#") {
			ids, material = append(ids, f[0]), append(material, f[1])
		}
	}
	return ids, material
}

var statusRowRE = regexp.MustCompile(`(?m)^([0-9a-f]{8})\s+(primary|old|unused|missing from key file)\s+(\d+)\s+(\d+)\s+(\d+)\s*$`)

// wantStatus runs `keys status` and checks its table: key id → "state
// factor-secrets recovery-codes sms-codes", one row per key and no other.
func wantStatus(t *testing.T, in *instance, want map[string]string) {
	t.Helper()
	out := in.MustCLI(t, "", "keys", "status")
	got := map[string]string{}
	for _, m := range statusRowRE.FindAllStringSubmatch(out, -1) {
		got[m[1]] = strings.Join(m[2:], " ")
	}
	if len(got) != len(want) {
		t.Fatalf("keys status:\n%s\nwant rows %v", out, want)
	}
	for id, w := range want {
		if got[id] != w {
			t.Fatalf("keys status row %s = %q, want %q; output:\n%s", id, got[id], w, out)
		}
	}
}
