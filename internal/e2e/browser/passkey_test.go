package browser

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/twostep/twostep/internal/e2e/e2etest"
)

// TestPasskeys walks the passkey journey (docs/pages.md, "Passkeys and
// security keys") in headless Chromium with its virtual authenticator
// (CTAP2, internal, resident keys, user verification on, presence
// simulated): sign in with the password and set up an authenticator app,
// register a passkey from the settings page, rename it, sign out, sign in
// with the password and the passkey, sign out, sign in with the passkey
// alone; registering the same authenticator again shows the browser's
// refusal in plain words with "Use another method"; with scripts disabled
// the verification page hides the passkey button and offers the other
// methods instead.
//
// WebAuthn needs a secure context and a host name for its RP ID (an IP
// address is none), so the pages are opened as http://localhost:PORT and
// the server's public_url says the same.
func TestPasskeys(t *testing.T) {
	browserCtx := e2etest.StartChromium(t)
	port := freePort(t)
	srv := startServer(t, []string{
		"TWOSTEP_LISTEN=127.0.0.1:" + port,
		"TWOSTEP_PUBLIC_URL=http://localhost:" + port,
		"TWOSTEP_WEBAUTHN_PASSWORDLESS=true",
	}, "pat", "quinn")
	if srv.url != "http://localhost:"+port {
		t.Fatalf("server at %s, want port %s", srv.url, port)
	}
	shots := newScreenshots(t)

	p := newPerson(t, browserCtx, srv.url)
	authenticator := p.virtualAuthenticator()
	secret := p.firstSignIn("pat", nil)
	p.Press(`a.btn.primary.block`) // "I saved them, continue"
	p.wantPage("/settings", "Your sign-in methods")

	// Register a passkey from the settings page (the app was just
	// verified, so no new check is due).
	p.Press(`a[href="/setup/passkey"]`)
	p.wantPage("/setup/passkey", "Set up a passkey")
	if !p.hasAttr("#passkey-fallback", "hidden") || p.hasAttr("#passkey-button", "hidden") {
		t.Error("with scripts and a WebAuthn browser the page shows the fallback instead of the button")
	}
	shots.take(t, p.Ctx, "setup-passkey")
	p.Fill("name", "Work laptop")
	p.Press("#passkey-button")
	p.wantPage("/settings", "Your sign-in methods")
	if n := p.Text("p.notice.ok"); !strings.Contains(n, "Your new passkey is ready") {
		t.Errorf("settings notice = %q", n)
	}
	if m := p.Text("ul.methods"); !strings.Contains(m, "Work laptop") || !strings.Contains(m, "Passkey or security key") {
		t.Errorf("settings do not list the passkey: %q", m)
	}
	creds, err := chromedp.Call(p.Ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: authenticator})
	if err != nil || len(creds.Credentials) != 1 || !creds.Credentials[0].IsResidentCredential || creds.Credentials[0].RpID != "localhost" {
		t.Fatalf("virtual authenticator holds %+v (%v), want one resident credential for localhost", creds, err)
	}

	// The same authenticator again: the browser refuses (the server lists
	// it as excluded); the page says so and offers another method.
	p.open("/setup/passkey")
	p.wantPage("/setup/passkey", "Set up a passkey")
	p.click("#passkey-button")
	p.waitVisible("#passkey-error")
	if msg := p.Text("#passkey-error"); !strings.Contains(msg, "already has a passkey for your account") {
		t.Errorf("second registration on the same authenticator: %q", msg)
	}
	if p.hasAttr("[data-passkey-other]", "hidden") {
		t.Error("after the refusal, Use another method stays hidden")
	}
	if focused, _ := chromedp.Run(p.Ctx, chromedp.Evaluate[string](`document.activeElement.id`)); focused != "passkey-button" {
		t.Errorf("focus after the refusal is on %q, want the button", focused)
	}
	shots.take(t, p.Ctx, "setup-passkey-error")

	// Rename it.
	p.open("/settings")
	p.Press(`a[href$="/rename"]`)
	if h := p.Text("h1"); h != "Rename Work laptop" {
		t.Fatalf("rename page heading %q", h)
	}
	p.clear("#name")
	p.Fill("name", "Blue key")
	p.Press(`form[action$="/rename"] button[type=submit]`)
	p.wantPage("/settings", "Your sign-in methods")
	if m := p.Text("ul.methods"); !strings.Contains(m, "Blue key") || strings.Contains(m, "Work laptop") {
		t.Errorf("after renaming: %q", m)
	}

	// Password, then the passkey as the second factor.
	p.signOut()
	p.signIn("pat")
	p.wantPage("/verify", "")
	p.open("/verify?method=webauthn")
	p.wantPage("/verify", "Use your passkey")
	if !p.hasAttr("#passkey-fallback", "hidden") {
		t.Error("the no-script fallback shows although the browser can use a passkey")
	}
	shots.take(t, p.Ctx, "verify-passkey")
	p.Press("#passkey-button")
	p.wantPage("/settings", "Your sign-in methods")
	if m := p.Text("ul.methods li:has(a[href$=\"/rename\"])"); !strings.Contains(m, "Last used") {
		t.Errorf("the passkey's last use is not shown: %q", m)
	}

	// Passwordless: the button on the sign-in page, then the passkey.
	p.signOut()
	p.waitVisible(`form[action="/login/passkey"] button`)
	shots.take(t, p.Ctx, "login-passkey")
	p.Press(`form[action="/login/passkey"] button[type=submit]`)
	p.wantPage("/login/passkey", "Sign in with a passkey")
	p.Press("#passkey-button")
	p.wantPage("/settings", "Your sign-in methods")
	p.signOut()

	t.Run("without JavaScript", func(t *testing.T) {
		q := newPerson(t, browserCtx, srv.url)
		if _, err := chromedp.Call(q.Ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatal(err)
		}
		q.open("/login")
		if !q.hasAttr(`form[action="/login/passkey"]`, "hidden") {
			t.Error("Sign in with a passkey shows although scripts are off")
		}
		q.signIn("pat")
		q.open("/verify?method=webauthn")
		q.wantPage("/verify", "Use your passkey")
		if !q.hasAttr("#passkey-button", "hidden") {
			t.Error("the passkey button shows although scripts are off")
		}
		if msg := q.Text("#passkey-fallback"); !strings.Contains(msg, "Use another method") {
			t.Errorf("fallback = %q", msg)
		}
		if !q.hasAttr("details.others", "open") || !strings.Contains(q.Text("details.others"), "Authenticator app") {
			t.Errorf("Use another method is not open with the app: %q", q.Text("details.others"))
		}
		shots.take(t, q.Ctx, "verify-passkey-nojs")
		q.Press(`details.others a[href*="method=totp"]`)
		q.wantPage("/verify", "Enter your code")
		q.Fill("code", e2etest.CodeAt(t, secret, time.Now().Add(30*time.Second)))
		q.Press(`form[action="/verify"] button[type=submit]`)
		q.wantPage("/settings", "Your sign-in methods")
	})

	t.Run("a passkey as the first method", func(t *testing.T) {
		q := newPerson(t, browserCtx, srv.url)
		q.virtualAuthenticator()
		q.open("/login")
		q.signIn("quinn")
		q.wantPage("/setup", "Set up two-step sign-in")
		q.click("#method-totp") // untick the app
		q.click("#method-webauthn")
		q.Press(`form[action="/setup"] button[type=submit]`)
		q.wantPage("/setup/passkey", "Set up a passkey")
		q.Press("#passkey-button")
		q.wantPage("/setup/passkey", "Save your recovery codes")
		if n := q.Text("p.notice.ok"); !strings.Contains(n, "Your passkey is set up") {
			t.Errorf("recovery codes notice = %q", n)
		}
		q.Press(`a.btn.primary.block`)
		q.wantPage("/settings", "Your sign-in methods")
		q.signOut()
		q.signIn("quinn")
		q.wantPage("/verify", "Use your passkey") // the only method
		q.Press("#passkey-button")
		q.wantPage("/settings", "Your sign-in methods")
	})
}

// virtualAuthenticator gives the person's tab a platform authenticator
// that holds discoverable credentials and verifies its user, presence
// simulated (so no prompt waits for a touch), and returns its id.
func (p *person) virtualAuthenticator() webauthn.AuthenticatorID {
	p.T.Helper()
	if _, err := chromedp.Call(p.Ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		p.T.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(p.Ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		p.T.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

// freePort returns a loopback port free at the time of asking: the server
// must know its port before it starts, since its public_url (and so the
// passkeys' origin) names it.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return strconv.Itoa(port)
}
