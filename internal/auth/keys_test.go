package auth_test

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/keyring"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/store"
)

// withKeyFile rebuilds the fixture's service on the key file at path, as a
// process started after the file changed would be.
func (f *fixture) withKeyFile(path string) {
	f.t.Helper()
	kr, err := keyring.Load(path)
	if err != nil {
		f.t.Fatal(err)
	}
	f.deps.Keys = kr
	f.svc = auth.New(f.cfg, f.deps)
}

// sealed returns every factor secret not sealed under keyID.
func (f *fixture) sealed(keyID string) []store.SealedSecret {
	f.t.Helper()
	ss, err := f.st.SecretsNotUnder(ctx, keyID, "", 100)
	if err != nil {
		f.t.Fatal(err)
	}
	return ss
}

// signIn signs alice in with her authenticator app at the next time step.
func (f *fixture) signIn(secret []byte) error {
	f.nextStep()
	cur := f.login("alice")
	v, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "totp", Code: f.code(secret)})
	if err == nil && v.AAL != model.AAL2 {
		f.t.Fatalf("Verify succeeded at %s", v.AAL)
	}
	return err
}

// TestRotateKeys: a rotation re-encrypts a TOTP secret under a new key, and
// a service started on the new key file still verifies the user's codes,
// so the re-encryption bound the secret to its factor row exactly as
// enrolment did. The same check fails for a secret bound to anything
// else, which is what makes it a test of the binding. The rotation is
// audited; a second one is refused while a key added by AddKey has not
// been rotated to, and resuming finishes it without adding a key.
func TestRotateKeys(t *testing.T) {
	f := newFixture(t, nil)
	keyFile := filepath.Join(t.TempDir(), "keys")
	if _, _, err := keyring.LoadOrCreate(keyFile); err != nil {
		t.Fatal(err)
	}
	f.withKeyFile(keyFile)
	first := f.deps.Keys.PrimaryID()
	secret, _, _ := f.enrolTOTP(f.user("alice"))

	rot, err := f.svc.RotateKeys(ctx, client, keyFile, false)
	if err != nil {
		t.Fatal(err)
	}
	if rot.Added == "" || rot.Added == first || rot.Primary != rot.Added || rot.Resealed != 1 || rot.Skipped != 0 || len(rot.Failed) != 0 {
		t.Fatalf("RotateKeys = %+v, want one secret re-encrypted under a new primary key", rot)
	}
	if left := f.sealed(rot.Primary); len(left) != 0 {
		t.Fatalf("after rotation %d secrets are not under the new key", len(left))
	}
	f.withKeyFile(keyFile)
	if err := f.signIn(secret); err != nil {
		t.Fatalf("TOTP sign-in after rotation: %v", err)
	}

	// The guard: the same secret sealed under the same key, bound to
	// something other than its row, does not verify.
	ss := f.sealed("")[0]
	for _, tc := range []struct {
		name string
		aad  func(factorID string) string
	}{
		{"another row", func(string) string { return "factor:other" }},
		{"the id alone", func(id string) string { return id }},
		{"the id with more", func(id string) string { return "factor:" + id + "x" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, wrong, err := f.deps.Keys.Seal(secret, []byte(tc.aad(ss.FactorID)))
			if err != nil {
				t.Fatal(err)
			}
			if n, err := f.st.UpdateFactorSecrets(ctx, []store.Reseal{{FactorID: ss.FactorID, OldKeyID: ss.KeyID, NewKeyID: id, Secret: wrong}}); n != 1 || err != nil {
				t.Fatalf("UpdateFactorSecrets = %d, %v", n, err)
			}
			if err := f.signIn(secret); err == nil {
				t.Fatal("a secret bound to another row verified")
			}
			// Rotation cannot open it either: it reports the factor and
			// leaves the row alone.
			id2, err := f.svc.AddKey(ctx, client, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			rot, err := f.svc.RotateKeys(ctx, client, keyFile, true)
			if err != nil || rot.Added != "" || rot.Primary != id2 || rot.Resealed != 0 || !slices.Equal(rot.Failed, []string{ss.FactorID}) {
				t.Fatalf("RotateKeys over a mis-bound secret = %+v, %v; want it reported in Failed", rot, err)
			}
			if got := f.sealed("")[0]; got.KeyID != id || string(got.Secret) != string(wrong) {
				t.Fatal("rotation changed a secret it could not open")
			}
			f.withKeyFile(keyFile)
			// Put the right one back for the next case.
			id, right, err := f.deps.Keys.Seal(secret, []byte("factor:"+ss.FactorID))
			if err != nil {
				t.Fatal(err)
			}
			if n, err := f.st.UpdateFactorSecrets(ctx, []store.Reseal{{FactorID: ss.FactorID, OldKeyID: ss.KeyID, NewKeyID: id, Secret: right}}); n != 1 || err != nil {
				t.Fatalf("UpdateFactorSecrets = %d, %v", n, err)
			}
			ss = f.sealed("")[0]
			if err := f.signIn(secret); err != nil {
				t.Fatalf("TOTP sign-in with the secret restored: %v", err)
			}
		})
	}

	// A key added but not rotated to: a plain rotation is refused and adds
	// nothing; resuming re-encrypts under it.
	added, err := f.svc.AddKey(ctx, client, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := keyring.Load(keyFile)
	if _, err := f.svc.RotateKeys(ctx, client, keyFile, false); !errors.Is(err, auth.ErrRotationUnfinished) {
		t.Fatalf("rotation with one unfinished: %v, want ErrRotationUnfinished", err)
	}
	if after, _ := keyring.Load(keyFile); len(after.IDs()) != len(before.IDs()) {
		t.Fatal("a refused rotation added a key")
	}
	rot, err = f.svc.RotateKeys(ctx, client, keyFile, true)
	if err != nil || rot.Added != "" || rot.Primary != added || rot.Resealed != 1 {
		t.Fatalf("RotateKeys(resume) = %+v, %v; want 1 re-encrypted under %s", rot, err, added)
	}
	f.withKeyFile(keyFile)
	if err := f.signIn(secret); err != nil {
		t.Fatalf("TOTP sign-in after the resumed rotation: %v", err)
	}

	// Audited: key ids and counts, never key material.
	events, err := f.st.AuditEvents(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var rotations, adds int
	for _, e := range events {
		if e.Event != "admin_action" {
			continue
		}
		rotations += strings.Count(e.Detail, `"action":"keys_rotate"`)
		adds += strings.Count(e.Detail, `"action":"keys_add"`)
	}
	// The first rotation, one resume per guard case and the last resume;
	// the refused rotation wrote nothing.
	if rotations != 5 || adds != 4 {
		t.Errorf("audited %d rotations and %d added keys, want 5 and 4", rotations, adds)
	}
}

// TestKeyStatus: each key's state says whether its line may leave the key
// file: the primary key, an old key still used by recovery codes, and an
// unused one.
func TestKeyStatus(t *testing.T) {
	f := newFixture(t, nil)
	keyFile := filepath.Join(t.TempDir(), "keys")
	if _, _, err := keyring.LoadOrCreate(keyFile); err != nil {
		t.Fatal(err)
	}
	f.withKeyFile(keyFile)
	first := f.deps.Keys.PrimaryID()
	f.enrolTOTP(f.user("alice")) // a TOTP secret and recovery codes under first
	rot, err := f.svc.RotateKeys(ctx, client, keyFile, false)
	if err != nil {
		t.Fatal(err)
	}
	second := rot.Primary
	third, err := f.svc.AddKey(ctx, client, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RotateKeys(ctx, client, keyFile, true); err != nil {
		t.Fatal(err)
	}
	ks, err := f.svc.KeyStatus(ctx, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]auth.KeyState{}
	for _, k := range ks {
		got[k.KeyID] = k.State
	}
	want := map[string]auth.KeyState{first: auth.KeyOld, second: auth.KeyUnused, third: auth.KeyPrimary}
	if len(ks) != 3 || ks[2].KeyID != third || ks[2].FactorSecrets != 1 || ks[0].RecoveryCodes == 0 {
		t.Errorf("KeyStatus = %+v, want the file's three keys in order, the secret under %s and the codes under %s", ks, third, first)
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("key %s is %q, want %q", id, got[id], w)
		}
	}
}
