package auth_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/passkey"
	"github.com/twostep/twostep/internal/passkey/passkeytest"
)

// The relying party of these tests, and the software authenticator
// (virtualwebauthn: EC2 keys, packed self attestation) speaking for it.
var pkRP = virtualwebauthn.RelyingParty{ID: "login.example.com", Name: "Test", Origin: "https://login.example.com"}

// newPasskeyFixture is newFixture with passkeys on (passwordless too) over
// the real protocol step.
func newPasskeyFixture(t testing.TB, mod func(*auth.Config)) *fixture {
	t.Helper()
	f := newFixture(t, func(c *auth.Config) {
		c.PublicURL = pkRP.Origin
		c.Passkeys = auth.PasskeyConfig{Passwordless: true, Timeout: 5 * time.Minute}
		if mod != nil {
			mod(c)
		}
	})
	w, err := passkey.New(passkey.Config{RPID: pkRP.ID, RPName: pkRP.Name, Origins: []string{pkRP.Origin},
		UserVerification: "preferred", Attestation: "none", Timeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	f.deps.WebAuthn = w
	f.svc = auth.New(f.cfg, f.deps)
	return f
}

// key is a software authenticator holding one credential.
type key struct {
	a    virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

func newKey() *key {
	return &key{a: virtualwebauthn.NewAuthenticator(), cred: passkeytest.NewCredential()}
}

// attest answers creation options as the browser would at origin rp.
func (k *key) attest(t testing.TB, rp virtualwebauthn.RelyingParty, c auth.Ceremony) []byte {
	t.Helper()
	o, err := virtualwebauthn.ParseAttestationOptions(string(c.Options))
	if err != nil {
		t.Fatal(err)
	}
	k.a.Options.UserHandle = []byte(o.UserID) // a discoverable credential keeps the handle
	return []byte(virtualwebauthn.CreateAttestationResponse(rp, k.a, k.cred, *o))
}

// assert answers request options as the browser would at origin rp.
func (k *key) assert(t testing.TB, rp virtualwebauthn.RelyingParty, c auth.Ceremony) []byte {
	t.Helper()
	o, err := virtualwebauthn.ParseAssertionOptions(string(c.Options))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(virtualwebauthn.CreateAssertionResponse(rp, k.a, k.cred, *o))
}

// enrolPasskey registers k for cur and returns the aal2 session.
func (f *fixture) enrolPasskey(cur auth.Current, k *key, name string) (auth.Current, auth.Passed) {
	f.t.Helper()
	c, err := f.svc.StartPasskey(ctx, client, cur)
	if err != nil {
		f.t.Fatalf("StartPasskey: %v", err)
	}
	res, err := f.svc.ConfirmPasskey(ctx, client, cur, auth.Proof{Code: c.ID, Credential: k.attest(f.t, pkRP, c), Name: name})
	if err != nil {
		f.t.Fatalf("ConfirmPasskey: %v", err)
	}
	return f.auth(res.Token), res
}

// verifyPasskey signs cur in with k as its second factor.
func (f *fixture) verifyPasskey(cur auth.Current, k *key) (auth.Passed, error) {
	f.t.Helper()
	c, err := f.svc.ChallengePasskey(ctx, client, cur)
	if err != nil {
		f.t.Fatalf("ChallengePasskey: %v", err)
	}
	k.cred.Counter++
	return f.svc.Verify(ctx, client, cur, auth.Proof{Method: "webauthn", Code: c.ID, Credential: k.assert(f.t, pkRP, c)})
}

// passkeyState is what a refused passkey must leave as it was: every
// user's factors (labels, status, last use) and credential records
// (counters, backup state).
func (f *fixture) passkeyState(users ...auth.Current) string {
	f.t.Helper()
	var b strings.Builder
	for _, u := range users {
		fs, _ := f.st.Factors(ctx, u.User.ID)
		for _, x := range fs {
			fmt.Fprintf(&b, "factor %s %s %q %s %d\n", x.ID, x.Type, x.Label, x.Status, x.LastUsedAt.UnixMilli())
		}
		ps, _ := f.st.Passkeys(ctx, u.User.ID)
		for _, p := range ps {
			fmt.Fprintf(&b, "passkey %x %s %d %v\n", p.CredentialID, p.FactorID, p.SignCount, p.BackupState)
		}
	}
	return b.String()
}

// auditCount counts the audit entries named event.
func (f *fixture) auditCount(event string) int {
	f.t.Helper()
	es, err := f.st.AuditEvents(ctx, 0, 10000)
	if err != nil {
		f.t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Event == event {
			n++
		}
	}
	return n
}

func TestPasskeysOffWithoutRelyingParty(t *testing.T) {
	f := newFixture(t, nil)
	cur := f.user("alice")
	if got := f.svc.Passkeys(); got.Enabled || got.Passwordless {
		t.Fatalf("Passkeys() = %+v without a WebAuthn relying party", got)
	}
	_, err := f.svc.StartPasskey(ctx, client, cur)
	wantErr(t, err, auth.ErrNotImplemented)
	_, err = f.svc.ChallengePasskey(ctx, client, cur)
	wantErr(t, err, auth.ErrNotImplemented)
	_, err = f.svc.StartPasskeyLogin(ctx, client)
	wantErr(t, err, auth.ErrNotImplemented)
}

func TestPasskeyRegisterAndVerify(t *testing.T) {
	f := newPasskeyFixture(t, nil)
	if got := f.svc.Passkeys(); !got.Enabled || !got.Passwordless {
		t.Fatalf("Passkeys() = %+v", got)
	}
	k := newKey()
	cur, res := f.enrolPasskey(f.user("alice"), k, "  Work laptop ")
	if res.AAL != model.AAL2 || res.Next != auth.NextDone || len(res.RecoveryCodes) != 10 {
		t.Fatalf("first passkey: %+v", res)
	}
	ms, err := f.svc.Methods(ctx, cur.User.ID)
	if err != nil || len(ms) != 1 || ms[0].Type != model.FactorWebAuthn || ms[0].Label != "Work laptop" || ms[0].CreatedAt.IsZero() {
		t.Fatalf("Methods = %+v, %v", ms, err)
	}
	if s := cur.Session; strings.Join(s.Methods, ",") != "password,webauthn" || !s.UserVerified || s.MethodFactorID != ms[0].ID {
		t.Fatalf("session after set-up: methods %v, uv %v, factor %q", s.Methods, s.UserVerified, s.MethodFactorID)
	}
	if len(cur.User.WebAuthnHandle) != 64 || bytes.Contains(cur.User.WebAuthnHandle, []byte("alice")) {
		t.Fatalf("user handle = %q, want 64 random bytes", cur.User.WebAuthnHandle)
	}

	// A second key, then sign-in with either as the second factor.
	k2 := newKey()
	_, res2 := f.enrolPasskey(cur, k2, "")
	if res2.RecoveryCodes != nil {
		t.Fatal("a second method issued recovery codes again")
	}
	for _, kk := range []*key{k, k2} {
		f.clock.Add(time.Minute)
		cur := f.login("alice")
		if strings.Join(cur.Session.Methods, ",") != "password" {
			t.Fatalf("password session methods = %v", cur.Session.Methods)
		}
		res, err := f.verifyPasskey(cur, kk)
		if err != nil || res.AAL != model.AAL2 {
			t.Fatalf("Verify webauthn = %+v, %v", res, err)
		}
		next := f.auth(res.Token).Session
		if strings.Join(next.Methods, ",") != "password,webauthn" || !next.UserVerified {
			t.Fatalf("session after passkey verify: %+v", next)
		}
	}
	// Both were set up at one instant, so look them up by name and id.
	second := byLabel(t, f, cur, "Passkey")
	if !second.LastUsedAt.Equal(f.clock.Now().UTC()) {
		t.Fatalf("the key used last: %+v", second)
	}
	ps, _ := f.st.Passkeys(ctx, cur.User.ID)
	for _, p := range ps {
		want := k.cred.Counter
		if p.FactorID == second.ID {
			want = k2.cred.Counter
		}
		if p.SignCount != want {
			t.Fatalf("stored counter %d of %s, authenticator at %d", p.SignCount, p.FactorID, want)
		}
	}
}

// Every refused passkey answer gets its outcome and changes no factor,
// credential record or session (the ceremony it spent aside, and the
// failure counted towards the back-off like a wrong code).
func TestPasskeyVerifyRefusals(t *testing.T) {
	f := newPasskeyFixture(t, func(c *auth.Config) { c.MaxFailures = 1000 })
	alice, bob := newKey(), newKey()
	aliceCur, _ := f.enrolPasskey(f.user("alice"), alice, "")
	bobCur, _ := f.enrolPasskey(f.user("bob"), bob, "")
	stranger := newKey()
	var usedCeremony auth.Ceremony
	var usedAssertion []byte
	{ // one passkey sign-in that passed, for the replays below
		cur := f.login("alice")
		c, err := f.svc.ChallengePasskey(ctx, client, cur)
		if err != nil {
			t.Fatal(err)
		}
		alice.cred.Counter = 10
		usedCeremony, usedAssertion = c, alice.assert(t, pkRP, c)
		if _, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "webauthn", Code: c.ID, Credential: usedAssertion}); err != nil {
			t.Fatal(err)
		}
	}
	// A ceremony of bob's that alice presents, kept for bob to finish after.
	var bobs struct {
		cur    auth.Current
		id     string
		answer []byte
	}
	evil := virtualwebauthn.RelyingParty{ID: pkRP.ID, Origin: "https://login.example.com.evil.example"}
	otherRP := virtualwebauthn.RelyingParty{ID: "example.org", Origin: pkRP.Origin}

	tests := []struct {
		name string
		// answer returns the ceremony id and assertion to present with
		// cur, alice's fresh aal1 session.
		answer func(t *testing.T, cur auth.Current) (string, []byte)
		want   error
		audit  string // an audit event the refusal writes, "" for none beyond verify_failed
	}{
		{"wrong origin", func(t *testing.T, cur auth.Current) (string, []byte) {
			c := f.challenge(cur)
			alice.cred.Counter++
			return c.ID, alice.assert(t, evil, c)
		}, auth.ErrInvalidCode, ""},
		{"wrong RP ID", func(t *testing.T, cur auth.Current) (string, []byte) {
			c := f.challenge(cur)
			alice.cred.Counter++
			return c.ID, alice.assert(t, otherRP, c)
		}, auth.ErrInvalidCode, ""},
		{"replayed assertion, its own ceremony again", func(t *testing.T, cur auth.Current) (string, []byte) {
			return usedCeremony.ID, usedAssertion
		}, auth.ErrCodeExpired, ""},
		{"replayed assertion in a new ceremony", func(t *testing.T, cur auth.Current) (string, []byte) {
			return f.challenge(cur).ID, usedAssertion
		}, auth.ErrInvalidCode, ""},
		{"expired ceremony", func(t *testing.T, cur auth.Current) (string, []byte) {
			c := f.challenge(cur)
			alice.cred.Counter++
			a := alice.assert(t, pkRP, c)
			f.clock.Add(5*time.Minute + time.Second)
			return c.ID, a
		}, auth.ErrCodeExpired, ""},
		{"ceremony of another session of the user", func(t *testing.T, cur auth.Current) (string, []byte) {
			c := f.challenge(f.login("alice"))
			alice.cred.Counter++
			return c.ID, alice.assert(t, pkRP, c)
		}, auth.ErrCodeExpired, ""},
		{"ceremony of another user", func(t *testing.T, cur auth.Current) (string, []byte) {
			bobs.cur = f.login("bob")
			c := f.challenge(bobs.cur)
			bob.cred.Counter++
			bobs.id, bobs.answer = c.ID, bob.assert(t, pkRP, c)
			return bobs.id, bobs.answer
		}, auth.ErrCodeExpired, ""},
		{"sign counter went back", func(t *testing.T, cur auth.Current) (string, []byte) {
			c := f.challenge(cur)
			alice.cred.Counter = 3
			return c.ID, alice.assert(t, pkRP, c)
		}, auth.ErrInvalidCode, "passkey_refused"},
		{"sign counter stood still", func(t *testing.T, cur auth.Current) (string, []byte) {
			c := f.challenge(cur)
			alice.cred.Counter = 10
			return c.ID, alice.assert(t, pkRP, c)
		}, auth.ErrInvalidCode, "passkey_refused"},
		{"unknown credential", func(t *testing.T, cur auth.Current) (string, []byte) {
			c := f.challenge(cur)
			return c.ID, stranger.assert(t, pkRP, c)
		}, auth.ErrInvalidCode, ""},
		{"another user's credential", func(t *testing.T, cur auth.Current) (string, []byte) {
			c := f.challenge(cur)
			bob.cred.Counter++
			return c.ID, bob.assert(t, pkRP, c)
		}, auth.ErrInvalidCode, ""},
		{"not a ceremony id", func(t *testing.T, cur auth.Current) (string, []byte) {
			return "123456", []byte(`{}`)
		}, auth.ErrCodeFormat, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cur := f.login("alice")
			id, answer := tc.answer(t, cur)
			before, audits := f.passkeyState(aliceCur, bobCur), f.auditCount(tc.audit)
			_, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "webauthn", Code: id, Credential: answer})
			wantErr(t, err, tc.want)
			if after := f.passkeyState(aliceCur, bobCur); after != before {
				t.Fatalf("state changed:\n%s\nwas:\n%s", after, before)
			}
			if again, err := f.svc.Authenticate(ctx, f.tokenOf(cur)); err != nil || again.Session.AAL != model.AAL1 {
				t.Fatalf("the session changed: %+v, %v", again.Session, err)
			}
			if tc.audit != "" && f.auditCount(tc.audit) != audits+1 {
				t.Fatalf("no %s audit entry", tc.audit)
			}
		})
	}

	// The foreign ceremony was left for its owner: bob finishes his.
	if _, err := f.svc.Verify(ctx, client, bobs.cur, auth.Proof{Method: "webauthn", Code: bobs.id, Credential: bobs.answer}); err != nil {
		t.Fatalf("bob's own ceremony after alice presented it: %v", err)
	}
}

// challenge begins a second-factor passkey ceremony for cur.
func (f *fixture) challenge(cur auth.Current) auth.Ceremony {
	f.t.Helper()
	c, err := f.svc.ChallengePasskey(ctx, client, cur)
	if err != nil {
		f.t.Fatalf("ChallengePasskey: %v", err)
	}
	return c
}

func TestPasskeyRegistrationRefusals(t *testing.T) {
	allowed := "ee882879-721c-4913-9775-3dfcce97072a"
	f := newPasskeyFixture(t, func(c *auth.Config) { c.Passkeys.AAGUIDs = []string{allowed} })
	cur := f.user("alice")
	tests := []struct {
		name   string
		answer func(t *testing.T, k *key) (string, []byte)
		want   error
	}{
		{"model not on the allow-list", func(t *testing.T, k *key) (string, []byte) {
			c, _ := f.svc.StartPasskey(ctx, client, cur)
			return c.ID, k.attest(t, pkRP, c)
		}, auth.ErrAuthenticatorNotAllowed},
		{"model not disclosed", func(t *testing.T, k *key) (string, []byte) {
			k.a.Aaguid = [16]byte{}
			c, _ := f.svc.StartPasskey(ctx, client, cur)
			return c.ID, k.attest(t, pkRP, c)
		}, auth.ErrAuthenticatorNotAllowed},
		{"wrong origin", func(t *testing.T, k *key) (string, []byte) {
			k.a.Aaguid = [16]byte{0xee, 0x88, 0x28, 0x79, 0x72, 0x1c, 0x49, 0x13, 0x97, 0x75, 0x3d, 0xfc, 0xce, 0x97, 0x07, 0x2a}
			c, _ := f.svc.StartPasskey(ctx, client, cur)
			return c.ID, k.attest(t, virtualwebauthn.RelyingParty{ID: pkRP.ID, Origin: "https://evil.example"}, c)
		}, auth.ErrCodeMismatch},
		{"expired ceremony", func(t *testing.T, k *key) (string, []byte) {
			c, _ := f.svc.StartPasskey(ctx, client, cur)
			f.clock.Add(6 * time.Minute)
			return c.ID, k.attest(t, pkRP, c)
		}, auth.ErrCodeExpired},
		{"another session's ceremony", func(t *testing.T, k *key) (string, []byte) {
			c, _ := f.svc.StartPasskey(ctx, client, f.login("alice"))
			return c.ID, k.attest(t, pkRP, c)
		}, auth.ErrCodeExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, answer := tc.answer(t, newKey())
			before := f.passkeyState(cur)
			_, err := f.svc.ConfirmPasskey(ctx, client, cur, auth.Proof{Code: id, Credential: answer})
			wantErr(t, err, tc.want)
			if after := f.passkeyState(cur); after != before {
				t.Fatalf("state changed:\n%s", after)
			}
		})
	}
	if f.auditCount("passkey_refused") != 2 {
		t.Fatalf("passkey_refused entries = %d, want 2 (the two models)", f.auditCount("passkey_refused"))
	}
	k := newKey()
	k.a.Aaguid = [16]byte{0xee, 0x88, 0x28, 0x79, 0x72, 0x1c, 0x49, 0x13, 0x97, 0x75, 0x3d, 0xfc, 0xce, 0x97, 0x07, 0x2a}
	f.enrolPasskey(cur, k, "")

	// The same key again (its browser would not even offer it: it is in
	// the exclude list) is refused; so is adding one without a recent
	// second factor.
	cur = f.login("alice")
	res, err := f.verifyPasskey(cur, k)
	if err != nil {
		t.Fatal(err)
	}
	cur = f.auth(res.Token)
	c, err := f.svc.StartPasskey(ctx, client, cur)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := virtualwebauthn.ParseAttestationOptions(string(c.Options))
	if len(o.ExcludeCredentials) != 1 || o.ExcludeCredentials[0] != base64.RawURLEncoding.EncodeToString(k.cred.ID) {
		t.Fatalf("exclude list = %v", o.ExcludeCredentials)
	}
	_, err = f.svc.ConfirmPasskey(ctx, client, cur, auth.Proof{Code: c.ID, Credential: k.attest(t, pkRP, c)})
	wantErr(t, err, auth.ErrCodeMismatch)
	f.clock.Add(6 * time.Minute)
	_, err = f.svc.StartPasskey(ctx, client, f.reload(cur))
	wantErr(t, err, auth.ErrRecentAuthRequired)
}

// The same assertion sent ten times at once is accepted once, as a second
// factor and as a passwordless sign-in.
func TestPasskeyRace(t *testing.T) {
	f := newPasskeyFixture(t, nil)
	k := newKey()
	f.enrolPasskey(f.user("alice"), k, "")
	run := func(try func() error) int {
		var ok atomic.Int64
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if try() == nil {
					ok.Add(1)
				}
			}()
		}
		wg.Wait()
		return int(ok.Load())
	}
	cur := f.login("alice")
	c := f.challenge(cur)
	k.cred.Counter++
	a := k.assert(t, pkRP, c)
	if n := run(func() error {
		_, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "webauthn", Code: c.ID, Credential: a})
		return err
	}); n != 1 {
		t.Fatalf("second-factor assertion accepted %d times, want 1", n)
	}
	lc, err := f.svc.StartPasskeyLogin(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	k.cred.Counter++
	la := k.assert(t, pkRP, lc)
	var sessions sync.Map
	if n := run(func() error {
		res, err := f.svc.PasskeyLogin(ctx, client, lc.ID, la)
		if err == nil {
			sessions.Store(res.Token, true)
		}
		return err
	}); n != 1 {
		t.Fatalf("passwordless assertion accepted %d times, want 1", n)
	}
}

func TestPasswordlessLogin(t *testing.T) {
	f := newPasskeyFixture(t, nil)
	k := newKey()
	cur, _ := f.enrolPasskey(f.user("alice"), k, "")
	login := func(k *key, rp virtualwebauthn.RelyingParty) (auth.LoginResult, error) {
		c, err := f.svc.StartPasskeyLogin(ctx, client)
		if err != nil {
			t.Fatal(err)
		}
		var o struct {
			PublicKey struct {
				UserVerification string `json:"userVerification"`
				Allow            []any  `json:"allowCredentials"`
			} `json:"publicKey"`
		}
		if err := jsonUnmarshal(c.Options, &o); err != nil || o.PublicKey.UserVerification != "required" || o.PublicKey.Allow != nil {
			t.Fatalf("passwordless options %s (%v): want user verification required and no user named", c.Options, err)
		}
		k.cred.Counter++
		return f.svc.PasskeyLogin(ctx, client, c.ID, k.assert(t, rp, c))
	}
	res, err := login(k, pkRP)
	if err != nil || res.AAL != model.AAL2 || res.Next != auth.NextDone || len(res.Methods) != 1 || res.Known == "" {
		t.Fatalf("PasskeyLogin = %+v, %v", res, err)
	}
	s := f.auth(res.Token)
	if s.User.ID != cur.User.ID || strings.Join(s.Session.Methods, ",") != "webauthn" || !s.Session.UserVerified || !f.svc.Recent(s) {
		t.Fatalf("passwordless session = %+v", s.Session)
	}

	failedBefore := f.auditCount("login_failed")
	noUV := *k
	noUV.a.Options.UserNotVerified = true
	disabled := newKey()
	f.enrolPasskey(f.user("dora"), disabled, "")
	if err := f.svc.SetDisabled(ctx, client, "dora", true); err != nil {
		t.Fatal(err)
	}
	stranger := newKey()
	stranger.a.Options.UserHandle = cur.User.WebAuthnHandle // claims to be alice's
	back := *k
	tests := []struct {
		name string
		k    *key
		rp   virtualwebauthn.RelyingParty
	}{
		{"no user verification", &noUV, pkRP},
		{"disabled account", disabled, pkRP},
		{"unknown credential with alice's handle", stranger, pkRP},
		{"wrong origin", k, virtualwebauthn.RelyingParty{ID: pkRP.ID, Origin: "https://evil.example"}},
		{"counter went back", &back, pkRP},
	}
	back.cred.Counter = 0 // login adds one: 1, below the stored value
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.passkeyState(cur)
			res, err := login(tc.k, tc.rp)
			wantErr(t, err, auth.ErrInvalidCode)
			if res.Token != "" || f.passkeyState(cur) != before {
				t.Fatalf("a refused sign-in gave %+v or changed state", res)
			}
		})
	}
	if got := f.auditCount("login_failed") - failedBefore; got != len(tests) {
		t.Fatalf("login_failed entries = %d, want %d", got, len(tests))
	}
	_, err = f.svc.PasskeyLogin(ctx, client, "not-a-ceremony", []byte("{}"))
	wantErr(t, err, auth.ErrCodeFormat)

	off := newPasskeyFixture(t, func(c *auth.Config) { c.Passkeys.Passwordless = false })
	_, err = off.svc.StartPasskeyLogin(ctx, client)
	wantErr(t, err, auth.ErrNotImplemented)
	_, err = off.svc.PasskeyLogin(ctx, client, strings.Repeat("a", 43), []byte("{}"))
	wantErr(t, err, auth.ErrNotImplemented)
}

func TestRenameAndRemovePasskey(t *testing.T) {
	f := newPasskeyFixture(t, nil)
	k1, k2 := newKey(), newKey()
	cur, _ := f.enrolPasskey(f.user("alice"), k1, "Phone")
	cur, _ = f.enrolPasskey(cur, k2, "Laptop")
	bob, _ := f.enrolPasskey(f.user("bob"), newKey(), "")
	id1, id2 := byLabel(t, f, cur, "Phone").ID, byLabel(t, f, cur, "Laptop").ID
	tests := []struct {
		name, id, label string
		cur             auth.Current
		want            error
		wantLabel       string
	}{
		{"rename", id1, "  Security key ", cur, nil, "Security key"},
		{"a name taken by another method", id1, "Laptop", cur, nil, "Laptop 2"},
		{"the same name", id2, "Laptop", cur, nil, "Laptop"},
		{"empty", id1, "   ", cur, auth.ErrInvalidInput, ""},
		{"too long", id1, strings.Repeat("x", 65), cur, auth.ErrInvalidInput, ""},
		{"another user's", id1, "mine", bob, auth.ErrNotFound, ""},
		{"malformed id", "../x", "x", cur, auth.ErrNotFound, ""},
		{"at aal1", id1, "x", f.login("alice"), auth.ErrAAL2Required, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := f.st.Factor(ctx, cur.User.ID, tc.id)
			err := f.svc.RenameFactor(ctx, client, tc.cur, tc.id, tc.label)
			wantErr(t, err, tc.want)
			after, _ := f.st.Factor(ctx, cur.User.ID, tc.id)
			if tc.want == nil && after.Label != tc.wantLabel || tc.want != nil && after.Label != before.Label {
				t.Fatalf("label = %q (was %q)", after.Label, before.Label)
			}
		})
	}
	if err := f.svc.RemoveFactor(ctx, client, cur, id1); err != nil {
		t.Fatal(err)
	}
	if ps, _ := f.st.Passkeys(ctx, cur.User.ID); len(ps) != 1 || ps[0].FactorID != id2 {
		t.Fatalf("passkeys after removal = %+v", ps)
	}
	wantErr(t, f.svc.RemoveFactor(ctx, client, cur, id2), auth.ErrLastFactor)
	// A removed passkey no longer signs in.
	lc, _ := f.svc.StartPasskeyLogin(ctx, client)
	k1.cred.Counter++
	_, err := f.svc.PasskeyLogin(ctx, client, lc.ID, k1.assert(t, pkRP, lc))
	wantErr(t, err, auth.ErrInvalidCode)
	if !slices.ContainsFunc(mustMethods(t, f, cur), func(m model.Factor) bool { return m.ID == id2 }) {
		t.Fatal("the remaining passkey is gone")
	}
}

// byLabel is cur's method named label.
func byLabel(t *testing.T, f *fixture, cur auth.Current, label string) model.Factor {
	t.Helper()
	ms := mustMethods(t, f, cur)
	i := slices.IndexFunc(ms, func(m model.Factor) bool { return m.Label == label })
	if i < 0 {
		t.Fatalf("no method named %q in %+v", label, ms)
	}
	return ms[i]
}

func mustMethods(t *testing.T, f *fixture, cur auth.Current) []model.Factor {
	t.Helper()
	ms, err := f.svc.Methods(ctx, cur.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// The session records every method that passed, for the password and the
// codes too.
func TestSessionRecordsMethods(t *testing.T) {
	f := newFixture(t, nil)
	secret, cur, _ := f.enrolTOTP(f.user("alice"))
	if got := strings.Join(cur.Session.Methods, ","); got != "password,totp" || cur.Session.UserVerified || cur.Session.MethodFactorID == "" {
		t.Fatalf("after TOTP set-up: %+v", cur.Session)
	}
	f.nextStep()
	res, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "totp", Code: f.code(secret)})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.auth(res.Token).Session.Methods, ","); got != "password,totp" {
		t.Fatalf("a second TOTP pass recorded %q, want each method once", got)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
