package passkey_test

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/passkey"
	"github.com/twostep/twostep/internal/passkey/passkeytest"
)

var _ auth.WebAuthn = (*passkey.WebAuthn)(nil)

var rp = virtualwebauthn.RelyingParty{ID: "login.example.com", Name: "Test", Origin: "https://login.example.com"}

func newWebAuthn(t *testing.T, uv string) *passkey.WebAuthn {
	t.Helper()
	w, err := passkey.New(passkey.Config{RPID: rp.ID, RPName: rp.Name, Origins: []string{rp.Origin},
		UserVerification: uv, Attestation: "none", Timeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// register runs a registration with a software authenticator speaking for
// the relying party as, and returns the record and the credential.
func register(t *testing.T, w *passkey.WebAuthn, as virtualwebauthn.RelyingParty, a virtualwebauthn.Authenticator, handle []byte) (model.Passkey, virtualwebauthn.Credential, error) {
	t.Helper()
	opts, st, err := w.BeginRegistration(handle, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	ao, err := virtualwebauthn.ParseAttestationOptions(string(opts))
	if err != nil {
		t.Fatal(err)
	}
	if ao.RelyingPartyID != rp.ID || ao.UserID != string(handle) || ao.UserName != "alice" {
		t.Fatalf("creation options name %q, %q, %q", ao.RelyingPartyID, ao.UserID, ao.UserName)
	}
	cred := passkeytest.NewCredential()
	p, err := w.FinishRegistration(handle, st, []byte(virtualwebauthn.CreateAttestationResponse(as, a, cred, *ao)))
	return p, cred, err
}

func TestRegisterAndAssert(t *testing.T) {
	w := newWebAuthn(t, "preferred")
	handle := make([]byte, 64)
	rand.Read(handle)
	a := virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: handle})
	p, cred, err := register(t, w, rp, a, handle)
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	if string(p.CredentialID) != string(cred.ID) || len(p.PublicKey) == 0 || string(p.AAGUID) != string(a.Aaguid[:]) || !p.UserVerified {
		t.Fatalf("record = %+v", p)
	}
	cred.Counter = 5
	a.AddCredential(cred)

	assert := func(as virtualwebauthn.RelyingParty, discoverable bool) (model.PasskeyAssertion, error) {
		var opts, st []byte
		var err error
		if discoverable {
			opts, st, err = w.BeginDiscoverable()
		} else {
			opts, st, err = w.BeginLogin(handle, []model.Passkey{p})
		}
		if err != nil {
			t.Fatal(err)
		}
		ao, err := virtualwebauthn.ParseAssertionOptions(string(opts))
		if err != nil {
			t.Fatal(err)
		}
		resp := []byte(virtualwebauthn.CreateAssertionResponse(as, a, cred, *ao))
		if discoverable {
			return w.FinishDiscoverable(st, resp, func(h []byte) ([]model.Passkey, error) {
				if string(h) != string(handle) {
					return nil, model.ErrRefused
				}
				return []model.Passkey{p}, nil
			})
		}
		return w.FinishLogin(handle, []model.Passkey{p}, st, resp)
	}
	for _, discoverable := range []bool{false, true} {
		got, err := assert(rp, discoverable)
		if err != nil || string(got.CredentialID) != string(cred.ID) || got.SignCount != 5 || !got.UserVerified {
			t.Fatalf("assertion (discoverable %v) = %+v, %v", discoverable, got, err)
		}
	}
	tests := []struct {
		name string
		as   virtualwebauthn.RelyingParty
	}{
		{"another origin", virtualwebauthn.RelyingParty{ID: rp.ID, Origin: "https://evil.example"}},
		{"another RP ID", virtualwebauthn.RelyingParty{ID: "evil.example", Origin: rp.Origin}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, discoverable := range []bool{false, true} {
				if _, err := assert(tc.as, discoverable); !errors.Is(err, model.ErrRefused) {
					t.Fatalf("assertion (discoverable %v): %v, want ErrRefused", discoverable, err)
				}
			}
			if _, _, err := register(t, w, tc.as, a, handle); !errors.Is(err, model.ErrRefused) {
				t.Fatalf("registration: %v, want ErrRefused", err)
			}
		})
	}
}

// A passwordless assertion needs user verification whatever the
// configuration says for second factors.
func TestDiscoverableRequiresUserVerification(t *testing.T) {
	w := newWebAuthn(t, "preferred")
	handle := []byte("0123456789abcdef0123456789abcdef")
	a := virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: handle})
	p, cred, err := register(t, w, rp, a, handle)
	if err != nil {
		t.Fatal(err)
	}
	a.Options.UserNotVerified = true
	for _, discoverable := range []bool{false, true} {
		var opts, st []byte
		if discoverable {
			opts, st, err = w.BeginDiscoverable()
		} else {
			opts, st, err = w.BeginLogin(handle, []model.Passkey{p})
		}
		if err != nil {
			t.Fatal(err)
		}
		ao, _ := virtualwebauthn.ParseAssertionOptions(string(opts))
		resp := []byte(virtualwebauthn.CreateAssertionResponse(rp, a, cred, *ao))
		var got model.PasskeyAssertion
		if discoverable {
			got, err = w.FinishDiscoverable(st, resp, func([]byte) ([]model.Passkey, error) { return []model.Passkey{p}, nil })
			if !errors.Is(err, model.ErrRefused) {
				t.Fatalf("passwordless without user verification: %+v, %v", got, err)
			}
		} else if got, err = w.FinishLogin(handle, []model.Passkey{p}, st, resp); err != nil || got.UserVerified {
			t.Fatalf("second factor without user verification (preferred): %+v, %v", got, err)
		}
	}
}

func TestNewRefusesBadSettings(t *testing.T) {
	for _, c := range []passkey.Config{
		{RPID: rp.ID, RPName: "x", Origins: []string{rp.Origin}, UserVerification: "discouraged", Attestation: "none"},
		{RPID: rp.ID, RPName: "x", Origins: []string{rp.Origin}, UserVerification: "required", Attestation: "enterprise"},
		{RPID: rp.ID, RPName: "x", UserVerification: "required", Attestation: "none"},
	} {
		if _, err := passkey.New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}
