package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/twostep/twostep/internal/api"
	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/auth/authtest"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/passkey"
	"github.com/twostep/twostep/internal/passkey/passkeytest"
)

var apiRP = virtualwebauthn.RelyingParty{ID: "login.example.com", Name: "Test", Origin: "https://login.example.com"}

// passkeyAPI is the API over a service with passkeys on (passwordless
// too), and alice, who has none yet.
func passkeyAPI(t *testing.T) *http.ServeMux {
	t.Helper()
	cfg := authtest.Config()
	cfg.PublicURL = apiRP.Origin
	cfg.Passkeys = auth.PasskeyConfig{Passwordless: true, Timeout: 5 * time.Minute}
	e := authtest.New(t, cfg, nil)
	w, err := passkey.New(passkey.Config{RPID: apiRP.ID, RPName: apiRP.Name, Origins: []string{apiRP.Origin},
		UserVerification: "preferred", Attestation: "none", Timeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	e.Deps.WebAuthn = w
	svc := auth.New(cfg, e.Deps)
	if _, err := svc.CreateUser(context.Background(), auth.Client{IP: "192.0.2.1"}, "alice", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.New(svc, slog.New(slog.NewTextHandler(io.Discard, nil)), httpx.ClientIP{}, httpx.Cookies{}).Routes(mux)
	return mux
}

// call sends a JSON request with the bearer token tok and decodes the
// answer into out (when not nil); it returns the status.
func call(t *testing.T, mux http.Handler, method, path, tok string, in any, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	r := httptest.NewRequest(method, path, body)
	r.RemoteAddr = "192.0.2.7:1234"
	if in != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	if out != nil {
		if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
		}
	}
	return w.Code
}

type ceremonyJSON struct {
	Ceremony string          `json:"ceremony"`
	Options  json.RawMessage `json:"options"`
}

type tokenJSON struct {
	Token         string   `json:"token"`
	AAL           string   `json:"aal"`
	Next          string   `json:"next"`
	RecoveryCodes []string `json:"recovery_codes"`
	Methods       []struct {
		ID, Type, Label string
		CreatedAt       time.Time  `json:"created_at"`
		LastUsedAt      *time.Time `json:"last_used_at"`
	} `json:"methods"`
}

type errorJSON struct {
	Error struct{ Code, Message string } `json:"error"`
}

// TestPasskeyAPI walks the documented calls (docs/api.md) with a software
// authenticator: set-up, sign-in with password and passkey, rename,
// passwordless sign-in, and a refused ceremony's answer.
func TestPasskeyAPI(t *testing.T) {
	mux := passkeyAPI(t)
	a := virtualwebauthn.NewAuthenticator()
	cred := passkeytest.NewCredential()
	login := func() tokenJSON {
		var res tokenJSON
		if code := call(t, mux, "POST", "/api/v1/login", "", map[string]string{"username": "alice", "password": "correct horse battery"}, &res); code != 200 {
			t.Fatalf("login: %d", code)
		}
		return res
	}
	first := login()

	var c ceremonyJSON
	if code := call(t, mux, "POST", "/api/v1/setup/webauthn", first.Token, nil, &c); code != 200 || c.Ceremony == "" {
		t.Fatalf("setup/webauthn: %d %+v", code, c)
	}
	o, err := virtualwebauthn.ParseAttestationOptions(string(c.Options))
	if err != nil {
		t.Fatalf("options %s: %v", c.Options, err)
	}
	a.Options.UserHandle = []byte(o.UserID)
	var set tokenJSON
	code := call(t, mux, "POST", "/api/v1/setup/webauthn/confirm", first.Token, map[string]any{"ceremony": c.Ceremony,
		"credential": json.RawMessage(virtualwebauthn.CreateAttestationResponse(apiRP, a, cred, *o)), "name": "YubiKey"}, &set)
	if code != 200 || set.AAL != "aal2" || set.Next != "done" || len(set.RecoveryCodes) != 10 {
		t.Fatalf("setup/webauthn/confirm: %d %+v", code, set)
	}
	var session tokenJSON
	call(t, mux, "GET", "/api/v1/session", set.Token, nil, &session)
	if len(session.Methods) != 1 || session.Methods[0].Type != "webauthn" || session.Methods[0].Label != "YubiKey" ||
		session.Methods[0].CreatedAt.IsZero() || session.Methods[0].LastUsedAt == nil {
		t.Fatalf("session methods = %+v", session.Methods)
	}
	factorID := session.Methods[0].ID

	// Password, then the passkey as the second factor.
	second := login()
	if second.Next != "verify" {
		t.Fatalf("login next = %q", second.Next)
	}
	var vc ceremonyJSON
	if code := call(t, mux, "POST", "/api/v1/challenge/webauthn", second.Token, nil, &vc); code != 200 {
		t.Fatalf("challenge/webauthn: %d", code)
	}
	ao, err := virtualwebauthn.ParseAssertionOptions(string(vc.Options))
	if err != nil {
		t.Fatal(err)
	}
	cred.Counter++
	assertion := json.RawMessage(virtualwebauthn.CreateAssertionResponse(apiRP, a, cred, *ao))
	var verified tokenJSON
	if code := call(t, mux, "POST", "/api/v1/verify", second.Token, map[string]any{"method": "webauthn", "ceremony": vc.Ceremony,
		"credential": assertion}, &verified); code != 200 || verified.AAL != "aal2" {
		t.Fatalf("verify webauthn: %d %+v", code, verified)
	}
	// The same answer again: its ceremony is spent.
	var refused errorJSON
	third := login()
	if code := call(t, mux, "POST", "/api/v1/verify", third.Token, map[string]any{"method": "webauthn", "ceremony": vc.Ceremony,
		"credential": assertion}, &refused); code != 401 || refused.Error.Code != "code_expired" || !strings.Contains(refused.Error.Message, "passkey") {
		t.Fatalf("replayed verify: %d %+v", code, refused)
	}

	if code := call(t, mux, "PATCH", "/api/v1/factors/"+factorID, verified.Token, map[string]string{"name": "Blue key"}, nil); code != 204 {
		t.Fatalf("rename: %d", code)
	}
	var fs struct{ Factors []struct{ Label string } }
	call(t, mux, "GET", "/api/v1/factors", verified.Token, nil, &fs)
	if len(fs.Factors) != 1 || fs.Factors[0].Label != "Blue key" {
		t.Fatalf("factors after rename = %+v", fs)
	}

	// Passwordless.
	var lc ceremonyJSON
	if code := call(t, mux, "POST", "/api/v1/login/passkey", "", nil, &lc); code != 200 {
		t.Fatalf("login/passkey: %d", code)
	}
	lo, err := virtualwebauthn.ParseAssertionOptions(string(lc.Options))
	if err != nil {
		t.Fatal(err)
	}
	cred.Counter++
	var pl tokenJSON
	if code := call(t, mux, "POST", "/api/v1/login/passkey/finish", "", map[string]any{"ceremony": lc.Ceremony,
		"credential": json.RawMessage(virtualwebauthn.CreateAssertionResponse(apiRP, a, cred, *lo))}, &pl); code != 200 ||
		pl.AAL != "aal2" || pl.Next != "done" || pl.Token == "" {
		t.Fatalf("login/passkey/finish: %d %+v", code, pl)
	}
	var who struct{ User struct{ Username string } }
	if call(t, mux, "GET", "/api/v1/session", pl.Token, nil, &who); who.User.Username != "alice" {
		t.Fatalf("passwordless session is %+v", who)
	}
}
