package e2e

import (
	"encoding/json"
	"testing"

	"github.com/descope/virtualwebauthn"

	"github.com/twostep/twostep/internal/passkey/passkeytest"
	"github.com/twostep/twostep/internal/store/storetest"
)

// The three instances sit behind one public address, as behind a load
// balancer: the browser's origin is public_url's, whichever instance
// answers (nothing listens there; the software authenticator only names
// it in what it signs).
var lbRP = virtualwebauthn.RelyingParty{ID: "localhost", Name: "twostep", Origin: "http://localhost:8443"}

// TestPasskeysAcrossInstancesPostgres: three instances on one PostgreSQL
// database. A registration begun on one is finished on another; a
// passwordless sign-in likewise; and the same assertion sent to all three
// at once is accepted exactly once (the ceremony is consumed by one
// statement, docs/passkeys.md).
func TestPasskeysAcrossInstancesPostgres(t *testing.T) {
	t.Parallel()
	in := newInstance(t, storetest.PostgresDSN(t), "TWOSTEP_PUBLIC_URL="+lbRP.Origin, "TWOSTEP_WEBAUTHN_PASSWORDLESS=true")
	servers := []*server{in.start(t), in.start(t), in.start(t)}
	a, b, c := servers[0], servers[1], servers[2]
	in.AddUser(t, "pia")
	auth := virtualwebauthn.NewAuthenticator()
	cred := passkeytest.NewCredential()

	// Registration: begun on a, finished on b.
	tok := a.login(t, "pia").str(t, "token")
	begin := a.call(t, "POST", "/api/v1/setup/webauthn", nil, bearer(tok)).want(t, 200, "setup/webauthn on a")
	opts, err := virtualwebauthn.ParseAttestationOptions(string(rawField(t, begin, "options")))
	if err != nil {
		t.Fatal(err)
	}
	auth.Options.UserHandle = []byte(opts.UserID)
	b.call(t, "POST", "/api/v1/setup/webauthn/confirm", map[string]any{"ceremony": begin.str(t, "ceremony"),
		"credential": json.RawMessage(virtualwebauthn.CreateAttestationResponse(lbRP, auth, cred, *opts)), "name": "Key"},
		bearer(tok)).want(t, 200, "setup/webauthn/confirm on b")

	// The same assertion, raced to all three instances: one 200.
	tok = c.login(t, "pia").str(t, "token")
	ch := a.call(t, "POST", "/api/v1/challenge/webauthn", nil, bearer(tok)).want(t, 200, "challenge/webauthn on a")
	ao, err := virtualwebauthn.ParseAssertionOptions(string(rawField(t, ch, "options")))
	if err != nil {
		t.Fatal(err)
	}
	cred.Counter++
	body := map[string]any{"method": "webauthn", "ceremony": ch.str(t, "ceremony"),
		"credential": json.RawMessage(virtualwebauthn.CreateAssertionResponse(lbRP, auth, cred, *ao))}
	res, errs := together(len(servers)*3, func(i int) (response, error) {
		return servers[i%len(servers)].send("POST", "/api/v1/verify", body, bearer(tok))
	})
	accepted := 0
	for i, r := range res {
		switch {
		case errs[i] != nil:
			t.Fatalf("request %d: %v", i, errs[i])
		case r.status == 200:
			accepted++
		case r.status != 401 && r.status != 429:
			t.Errorf("request %d: status %d, want 200 once and 401/429 otherwise: %s", i, r.status, r.body)
		}
	}
	if accepted != 1 {
		t.Fatalf("the same assertion was accepted %d times across three instances, want exactly once", accepted)
	}

	// Passwordless: begun on c, finished on a.
	lc := c.call(t, "POST", "/api/v1/login/passkey", nil).want(t, 200, "login/passkey on c")
	lo, err := virtualwebauthn.ParseAssertionOptions(string(rawField(t, lc, "options")))
	if err != nil {
		t.Fatal(err)
	}
	cred.Counter++
	done := a.call(t, "POST", "/api/v1/login/passkey/finish", map[string]any{"ceremony": lc.str(t, "ceremony"),
		"credential": json.RawMessage(virtualwebauthn.CreateAssertionResponse(lbRP, auth, cred, *lo))}).want(t, 200, "login/passkey/finish on a")
	if m := done.obj(t); m["aal"] != "aal2" || m["next"] != "done" {
		t.Fatalf("passwordless sign-in across instances = %v", m)
	}
	b.call(t, "GET", "/api/v1/session", nil, bearer(done.str(t, "token"))).want(t, 200, "the passwordless session on b")
}

// rawField returns the JSON value of field k of the body.
func rawField(t *testing.T, r response, k string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &m); err != nil || len(m[k]) == 0 {
		t.Fatalf("body has no %q: %v: %s", k, err, r.body)
	}
	return m[k]
}
