package web_test

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/passkey/passkeytest"
)

// TestPasskeyScriptAsset: passkey.js is one static file, served like the
// others (versioned URL, cached a year) and referring to no other origin;
// it is the only code that calls navigator.credentials.
func TestPasskeyScriptAsset(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.srv.URL + "/static/passkey.js")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Fatalf("passkey.js: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	js := string(body)
	for _, s := range []string{"navigator.credentials.create", "navigator.credentials.get", "PublicKeyCredential"} {
		if !strings.Contains(js, s) {
			t.Errorf("passkey.js lacks %q", s)
		}
	}
	for _, s := range []string{"http://", "https://", "fetch(", "XMLHttpRequest", "eval(", "innerHTML"} {
		if strings.Contains(js, s) {
			t.Errorf("passkey.js contains %q: it only fills a form field and submits the form", s)
		}
	}
	resp, err = http.Get(e.srv.URL + "/static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	app, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(app), "navigator.credentials") {
		t.Error("app.js calls navigator.credentials; passkey.js alone should")
	}
}

// TestPasswordlessOff: without passwordless sign-in the sign-in page
// neither offers a passkey nor loads the script, and a forged "Sign in
// with a passkey" finds no page (and begins nothing).
func TestPasswordlessOff(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	p := b.get("/login")
	if p.has(`action="/login/passkey"`) || p.has("passkey.js") {
		t.Fatalf("sign-in page offers a passkey although passwordless sign-in is off:\n%s", p.body)
	}
	form := p.form(t, "/login")
	for _, path := range []string{"/login/passkey", "/login/passkey/finish"} {
		p = b.post(path, url.Values{"csrf": form["csrf"]})
		if p.status != http.StatusNotFound || p.has("data-passkey-options") {
			t.Errorf("%s with passwordless sign-in off: %d\n%s", path, p.status, p.body)
		}
	}
}

// pageRP is the relying party of the test servers with passkeys on; the
// software authenticator answers as a browser on its origin would.
var pageRP = virtualwebauthn.RelyingParty{ID: "localhost", Name: "Example Corp", Origin: "http://localhost"}

// passkeysOn is the service's passkey configuration for newEnvWith.
func passkeysOn(passwordless bool) *auth.PasskeyConfig {
	return &auth.PasskeyConfig{Passwordless: passwordless, Timeout: 5 * time.Minute}
}

// softKey is a passkey in a software authenticator (a test double from
// github.com/descope/virtualwebauthn that answers as browser and
// authenticator together): it answers a page's ceremony with the JSON
// passkey.js would put in the credential field.
type softKey struct {
	a    virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

func newSoftKey() *softKey {
	return &softKey{a: virtualwebauthn.NewAuthenticator(), cred: passkeytest.NewCredential()}
}

// create answers the registration ceremony on p.
func (k *softKey) create(t *testing.T, p *page) string {
	t.Helper()
	o, err := virtualwebauthn.ParseAttestationOptions(p.passkeyOptions(t))
	if err != nil {
		t.Fatalf("registration options on %s: %v", p.url, err)
	}
	k.a.Options.UserHandle = []byte(o.UserID) // returned at passwordless sign-in
	resp := virtualwebauthn.CreateAttestationResponse(pageRP, k.a, k.cred, *o)
	k.a.AddCredential(k.cred)
	return resp
}

// get answers the assertion ceremony on p.
func (k *softKey) get(t *testing.T, p *page) string {
	t.Helper()
	o, err := virtualwebauthn.ParseAssertionOptions(p.passkeyOptions(t))
	if err != nil {
		t.Fatalf("assertion options on %s: %v", p.url, err)
	}
	return virtualwebauthn.CreateAssertionResponse(pageRP, k.a, k.cred, *o)
}

var (
	// passkeyOptionsRe finds the options a passkey form hands to passkey.js.
	passkeyOptionsRe = regexp.MustCompile(`data-passkey-options="([^"]*)"`)
	// ceremonyRe finds the ceremony id of a passkey form.
	ceremonyRe = regexp.MustCompile(`<input type="hidden" name="ceremony" value="([^"]+)">`)
	// hiddenButtonRe is the passkey button as rendered: hidden until
	// passkey.js knows the browser can use a passkey.
	hiddenButtonRe = regexp.MustCompile(`<button type="submit" class="btn primary block" id="passkey-button" aria-describedby="passkey-error" data-passkey-only hidden>`)
)

// passkeyOptions returns the options JSON of the page's passkey form.
func (p *page) passkeyOptions(t *testing.T) string {
	t.Helper()
	m := passkeyOptionsRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no passkey form on %s (%d):\n%s", p.url, p.status, p.body)
	}
	return html.UnescapeString(m[1])
}

// ceremony returns the ceremony id of the page's passkey form.
func (p *page) ceremony(t *testing.T) string {
	t.Helper()
	m := ceremonyRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no ceremony on %s:\n%s", p.url, p.body)
	}
	return m[1]
}

// wantFallback fails unless the page renders the passkey form for the
// script only: the button hidden, the reason and "Use another method"
// shown, and passkey.js loaded.
func (p *page) wantFallback(t *testing.T) {
	t.Helper()
	if !hiddenButtonRe.MatchString(p.body) || !p.has(`id="passkey-fallback" data-passkey-fallback>`) ||
		!p.has("Use another method") || !p.has(`/static/passkey.js?v=`) {
		t.Errorf("%s: the passkey button is not hidden behind the script, or the fallback is missing:\n%s", p.url, p.body)
	}
}

// TestPasskeyJourney walks the passkey pages as a browser without
// JavaScript would post them, with a software authenticator in place of
// passkey.js and the browser: a passkey chosen with the app (the passkey
// first, its recovery codes, then the app), a sign-in with password and
// passkey, a replayed answer, a key that is not the user's, and the
// methods offered around it.
func TestPasskeyJourney(t *testing.T) {
	e := newEnvWith(t, nil, passkeysOn(false), rememberDays(30))
	e.addUser("alice")
	b := e.browser()
	key := newSoftKey()

	p := b.login("alice", pw)
	p.want(t, http.StatusOK, "/setup", "Set up two-step sign-in")
	if !p.has(`<div class="choice" data-passkey-only hidden>`) || !p.has(`value="webauthn"`) || !p.has("Passkey or security key") {
		t.Fatalf("the choice does not offer a passkey (for the script to show):\n%s", p.body)
	}
	p = b.submit("/setup", url.Values{"method": {"webauthn", "totp"}})
	p.want(t, http.StatusOK, "/setup/passkey", "Set up a passkey")
	p.wantFallback(t)
	if !p.has(`<p class="step">Then: the authenticator app</p>`) || !p.has(`id="remember"`) || !p.has("Next you get recovery codes") {
		t.Errorf("first passkey: the plan, the remember box or the recovery codes promise is missing:\n%s", p.body)
	}
	if !p.has(`<p data-passkey-other><a class="btn secondary" href="/setup">Use another method</a></p>`) {
		t.Errorf("Use another method does not lead back to the choice:\n%s", p.body)
	}

	// A ceremony answered by no authenticator: the page again, a new
	// ceremony, the sentence next to the button.
	first := p.ceremony(t)
	p = b.submit("/setup/passkey", url.Values{"name": {"Work laptop"}, "credential": {`{"id":"x"}`}})
	p.want(t, http.StatusUnprocessableEntity, "/setup/passkey", "Set up a passkey")
	if !p.has(`<p class="field-error" id="passkey-error" role="alert"`) || strings.Contains(between(p.body, `id="passkey-error"`, "</p>"), " hidden") ||
		!p.has(`value="Work laptop"`) || p.ceremony(t) == first {
		t.Fatalf("refused registration: %d\n%s", p.status, p.body)
	}

	// The right answer: recovery codes, then the app (the plan goes on).
	p = b.submit("/setup/passkey", url.Values{"name": {"Work laptop"}, "credential": {key.create(t, p)}, "remember": {"1"}})
	p.want(t, http.StatusOK, "/setup/passkey", "Save your recovery codes")
	if !p.has("Your passkey is set up.") || !p.has(`href="/setup/totp"`) || len(recoveryCodeRe.FindAllString(p.body, -1)) != 10 {
		t.Fatalf("after the first passkey:\n%s", p.body)
	}
	if !hasCookie(p.header, "twostep_device") {
		t.Error("Remember this device was ticked, but no device cookie was set")
	}
	p = b.get("/setup/totp")
	p.want(t, http.StatusOK, "/setup/totp", "Set up your authenticator app")
	secret := p.secret(t)
	p = b.submit("/setup/totp", url.Values{"code": {e.code(secret)}})
	p.want(t, http.StatusOK, "/settings", "Your sign-in methods")
	if !p.has("Work laptop") || !p.has("Passkey or security key · Added") || !p.has(`/rename">Rename`) {
		t.Fatalf("settings do not list the passkey:\n%s", p.body)
	}

	// Password, then the passkey, in another browser (this one is
	// remembered and would skip the second factor).
	b.submit("/logout", nil)
	e.clock.Add(time.Minute)
	b = e.browser()
	b.login("alice", pw)
	p = b.get("/verify?method=webauthn")
	p.want(t, http.StatusOK, "/verify", "Use your passkey")
	p.wantFallback(t)
	if !p.has(`<details class="others" open data-passkey-close>`) || !p.has(">Authenticator app</a>") || !p.has(">Recovery code</a>") {
		t.Errorf("verify: Use another method is not open with the app and recovery codes:\n%s", p.body)
	}
	answer := key.get(t, p)
	form := p.form(t, "/verify")
	form.Set("credential", answer)
	p = b.post("/verify", form)
	p.want(t, http.StatusOK, "/settings", "Your sign-in methods")

	// The same answer again, in a new sign-in: its ceremony is used up.
	b.submit("/logout", nil)
	b.login("alice", pw)
	p = b.get("/verify?method=webauthn")
	form.Set("csrf", p.form(t, "/verify").Get("csrf")) // this session's form token
	p = b.post("/verify", form)
	p.want(t, http.StatusUnauthorized, "/verify", "Use your passkey")
	if !p.has("This passkey request has expired or was already used.") || p.ceremony(t) == form.Get("ceremony") {
		t.Errorf("replayed answer: %d\n%s", p.status, p.body)
	}
	// A key that is not alice's.
	other := newSoftKey()
	other.a.AddCredential(other.cred)
	p = b.submit("/verify", url.Values{"credential": {other.get(t, p)}})
	p.want(t, http.StatusUnauthorized, "/verify", "Use your passkey")
	if !p.has("Your passkey or security key was not accepted.") {
		t.Errorf("a stranger's key: %d\n%s", p.status, p.body)
	}
	// The passkey is among the others when another method is shown.
	p = b.get("/verify?method=totp")
	if !p.has(">Passkey or security key</a>") || p.has("passkey.js") {
		t.Errorf("verify by app: the passkey is not offered, or the page loads the passkey script:\n%s", p.body)
	}
	p = b.submit("/verify", url.Values{"code": {e.code(secret)}})
	p.want(t, http.StatusOK, "/settings", "Your sign-in methods")
}

// TestPasskeyFromSettings: adding a passkey later needs a recent second
// factor (verify, then back); it offers neither recovery codes nor the
// remember box; renaming checks the name; removing needs a recent check
// too, and the only method cannot go.
func TestPasskeyFromSettings(t *testing.T) {
	e := newEnvWith(t, nil, passkeysOn(false), rememberDays(30))
	e.addUser("bea")
	b := e.browser()
	secret, _ := b.enrol("bea")
	p := b.get("/settings")
	if !p.has(`<a class="btn secondary" href="/setup/passkey">Add a passkey or security key</a>`) {
		t.Fatalf("settings do not offer a passkey:\n%s", p.body)
	}
	e.clock.Add(6 * time.Minute)
	p = b.get("/setup/passkey")
	if p.url.Path != "/verify" || p.url.Query().Get("why") != "recent" || p.url.Query().Get("rd") != "/setup/passkey" {
		t.Fatalf("stale add: at %s, want /verify?why=recent&rd=/setup/passkey", p.url)
	}
	p = b.submit("/verify", url.Values{"code": {e.code(secret)}})
	p.want(t, http.StatusOK, "/setup/passkey", "Set up a passkey")
	if p.has(`id="remember"`) || p.has("recovery codes") || !p.has(`<a class="btn secondary" href="/settings">Use another method</a>`) {
		t.Errorf("adding a passkey: remember box, recovery codes or the way back:\n%s", p.body)
	}
	key := newSoftKey()
	p = b.submit("/setup/passkey", url.Values{"name": {"Blue key"}, "credential": {key.create(t, p)}})
	p.want(t, http.StatusOK, "/settings", "Your sign-in methods")
	if !p.has("Your new passkey is ready.") || !p.has("Blue key") {
		t.Fatalf("after adding:\n%s", p.body)
	}

	// Rename: a name over 64 characters is refused next to the field.
	id := regexp.MustCompile(`href="/settings/methods/([^/"]+)/rename"`).FindStringSubmatch(p.body)[1]
	p = b.get("/settings/methods/" + id + "/rename")
	p.want(t, http.StatusOK, "/settings/methods/"+id+"/rename", "Rename Blue key")
	p = b.submit("/settings/methods/"+id+"/rename", url.Values{"name": {strings.Repeat("n", 65)}})
	p.want(t, http.StatusUnprocessableEntity, "/settings/methods/"+id+"/rename", "Rename Blue key")
	if !p.has(`id="name-error"`) || !p.has(`aria-invalid="true"`) || !p.has("Name must be at most 64 characters.") {
		t.Errorf("refused name:\n%s", p.body)
	}
	p = b.submit("/settings/methods/"+id+"/rename", url.Values{"name": {"Keyring"}})
	p.want(t, http.StatusOK, "/settings", "Your sign-in methods")
	if !p.has("The name was changed.") || !p.has("Keyring") || p.has("Blue key") {
		t.Errorf("after renaming:\n%s", p.body)
	}
	if p = b.get("/settings/methods/nosuchmethodnosuchmethod12/rename"); p.url.RawQuery != "error=not_found" {
		t.Errorf("renaming no method: at %s", p.url)
	}

	// Removing the app needs a fresh check: the passkey gives it.
	e.clock.Add(6 * time.Minute)
	app := regexp.MustCompile(`href="/settings/methods/([^/"]+)/remove"`).FindAllStringSubmatch(p.body, -1)
	var appID string
	for _, m := range app {
		if m[1] != id {
			appID = m[1]
		}
	}
	resp := b.noFollow("POST", "/settings/methods/"+appID+"/remove", p.form(t, "/logout"))
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/verify?why=recent") {
		t.Fatalf("stale removal: Location %q", loc)
	}
	p = b.get("/verify?method=webauthn&why=recent&rd=" + url.QueryEscape("/settings/methods/"+appID+"/remove"))
	p.want(t, http.StatusOK, "/verify", "Confirm it's you")
	if !p.has("For your security, confirm it's you again before changing your sign-in methods.") {
		t.Errorf("recent check by passkey:\n%s", p.body)
	}
	p = b.submit("/verify", url.Values{"credential": {key.get(t, p)}})
	p.want(t, http.StatusOK, "/settings/methods/"+appID+"/remove", "Remove")
	p = b.submit("/settings/methods/"+appID+"/remove", nil)
	if !p.has("The method was removed.") {
		t.Fatalf("removing the app:\n%s", p.body)
	}
	// The passkey is now the only method: it stays.
	p = b.get("/settings/methods/" + id + "/remove")
	if !p.has("This is your only sign-in method") {
		t.Errorf("last method:\n%s", p.body)
	}
	// And it is what /verify offers first.
	b.submit("/logout", nil)
	p = b.login("bea", pw)
	p.want(t, http.StatusOK, "/verify", "Use your passkey")
}

// TestPasswordlessSignIn: with webauthn.passwordless the sign-in page
// offers "Sign in with a passkey" for the script to show; loading it
// stores nothing, pressing it begins one ceremony, and the passkey alone
// signs in at aal2. A key of nobody is refused with a new ceremony, and
// without the sign-in form's cookie nothing begins.
func TestPasswordlessSignIn(t *testing.T) {
	e := newEnvWith(t, nil, passkeysOn(true))
	e.addUser("cleo")
	b := e.browser()
	key := newSoftKey()
	b.login("cleo", pw)
	p := b.submit("/setup", url.Values{"method": {"webauthn"}})
	p.want(t, http.StatusOK, "/setup/passkey", "Set up a passkey")
	if p.has(`class="step"`) {
		t.Errorf("a passkey alone announces a next step:\n%s", p.body)
	}
	p = b.submit("/setup/passkey", url.Values{"credential": {key.create(t, p)}})
	p.want(t, http.StatusOK, "/setup/passkey", "Save your recovery codes")
	b.submit("/logout", nil)

	ceremonies := func() int64 {
		// Counted by deleting every ceremony "expired" a year from now:
		// the ones counted are gone.
		n, err := e.st.DeleteExpiredCeremonies(ctx, e.clock.Now().Add(365*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	ceremonies()
	p = b.get("/login?rd=%2Fhelp")
	if !p.has(`<form method="post" action="/login/passkey" class="passkey-login" data-passkey-only hidden>`) || !p.has("passkey.js") {
		t.Fatalf("sign-in page without Sign in with a passkey:\n%s", p.body)
	}
	if n := ceremonies(); n != 0 || p.has("data-passkey-options") {
		t.Fatalf("loading the sign-in page began %d ceremonies", n)
	}
	b.submit("/login/passkey", nil)
	if n := ceremonies(); n != 1 {
		t.Fatalf("pressing Sign in with a passkey began %d ceremonies, want 1", n)
	}
	b.get("/login?rd=%2Fhelp")
	p = b.submit("/login/passkey", nil)
	p.want(t, http.StatusOK, "/login/passkey", "Sign in with a passkey")
	p.wantFallback(t)
	if !p.has(`data-passkey-focus`) || !p.has(`<a class="btn secondary" href="/login?rd=%2fhelp">Use another method</a>`) {
		t.Errorf("passkey step:\n%s", p.body)
	}

	// A key nobody registered: refused, and a new ceremony to try again.
	stranger := newSoftKey()
	stranger.a.Options.UserHandle = []byte("nobody")
	stranger.a.AddCredential(stranger.cred)
	first := p.ceremony(t)
	p = b.submit("/login/passkey/finish", url.Values{"credential": {stranger.get(t, p)}})
	p.want(t, http.StatusUnauthorized, "/login/passkey/finish", "Sign in with a passkey")
	if !p.has("Your passkey or security key was not accepted.") || p.ceremony(t) == first {
		t.Errorf("a stranger's key: %d\n%s", p.status, p.body)
	}
	p = b.submit("/login/passkey/finish", url.Values{"credential": {key.get(t, p)}})
	p.want(t, http.StatusOK, "/help", "Help with signing in")
	if p = b.get("/settings"); p.url.Path != "/settings" {
		t.Fatalf("after the passkey alone: at %s, want the settings (aal2)", p.url)
	}

	// Without the sign-in form's cookie (another site's form, an expired
	// page) nothing begins or finishes.
	other := e.browser()
	for _, path := range []string{"/login/passkey", "/login/passkey/finish"} {
		p = other.post(path, url.Values{"csrf": {strings.Repeat("A", 43)}, "ceremony": {"x"}, "credential": {"{}"}})
		if p.status != http.StatusForbidden || !p.has("This form has expired") || p.has("data-passkey-options") {
			t.Errorf("%s without the sign-in cookie: %d\n%s", path, p.status, p.body)
		}
	}
}

// between returns the text of s from the first from up to the next to.
func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i:]
	if j := strings.Index(s, to); j >= 0 {
		return s[:j]
	}
	return s
}

// hasCookie reports whether a response set a cookie named name.
func hasCookie(h http.Header, name string) bool {
	for _, c := range h.Values("Set-Cookie") {
		if strings.HasPrefix(c, name+"=") && !strings.HasPrefix(c, name+"=;") {
			return true
		}
	}
	return false
}
