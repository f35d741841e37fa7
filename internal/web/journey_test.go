package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/auth"
)

var recoveryCodeRe = regexp.MustCompile(`<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>`)

// TestJourneyWithoutJavaScript walks the sign-in journey (docs/pages.md) the way a browser without
// JavaScript does: forms, redirects and cookies only.
func TestJourneyWithoutJavaScript(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice")
	b := e.browser()

	// First sign-in → set-up, the authenticator app preselected.
	p := b.login("alice", pw)
	p.want(t, http.StatusOK, "/setup", "Set up two-step sign-in")
	if !regexp.MustCompile(`id="method-totp" name="method" value="totp" checked`).MatchString(p.body) {
		t.Fatal("the authenticator app is not preselected")
	}
	if !p.has("<summary>More options</summary>") || !p.has(`value="sms"`) {
		t.Fatal("More options with SMS/Text missing")
	}

	// Continue → the app's set-up page: QR code, grouped secret, code field.
	p = b.submit("/setup", url.Values{"method": {"totp"}})
	p.want(t, http.StatusOK, "/setup/totp", "Set up your authenticator app")
	for _, s := range []string{`<img class="qr" src="data:image/png;base64,`, "KeePassXC", "Authy", `autocomplete="one-time-code"`, `href="otpauth://totp/`} {
		if !p.has(s) {
			t.Errorf("set-up page lacks %q", s)
		}
	}
	secret := p.secret(t)

	// A wrong code keeps the same QR code and secret and says why, next to
	// the field.
	p = b.submit("/setup/totp", url.Values{"code": {"000000"}})
	if p.status != http.StatusUnprocessableEntity || !p.has(`id="code-error"`) || string(p.secret(t)) != string(secret) {
		t.Fatalf("wrong set-up code: status %d\n%s", p.status, p.body)
	}

	// The right code → the recovery codes page, rendered once, 10 codes.
	p = b.submit("/setup/totp", url.Values{"code": {e.code(secret)}})
	p.want(t, http.StatusOK, "/setup/totp", "Save your recovery codes")
	codes := recoveryCodeRe.FindAllStringSubmatch(p.body, -1)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown, want 10", len(codes))
	}
	if !p.has(`download="twostep-recovery-codes.txt"`) || !p.has(`href="data:text/plain;charset=utf-8,`) {
		t.Error("no download link for the codes")
	}
	if p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("recovery codes page Cache-Control = %q, want no-store", p.header.Get("Cache-Control"))
	}

	// "I saved them" → settings with the new app.
	p = b.get("/settings?done=added")
	p.want(t, http.StatusOK, "/settings", "Your sign-in methods")
	if !p.has("Authenticator app") || !p.has("Your new authenticator app is ready.") {
		t.Fatalf("settings do not list the app:\n%s", p.body)
	}

	// Sign out → sign in → verify with the next step's code → settings.
	p = b.submit("/logout", nil)
	p.want(t, http.StatusOK, "/login", "Sign in")
	if !p.has("You are signed out.") {
		t.Error("no signed-out notice")
	}
	if p = b.get("/settings"); p.url.Path != "/login" {
		t.Fatalf("settings after sign-out: at %s, want /login", p.url)
	}
	p = b.login("alice", pw)
	p.want(t, http.StatusOK, "/verify", "Enter your code")
	if !p.has("open your authenticator app (phone or desktop)") && !p.has("Open your authenticator app (phone or desktop)") {
		t.Error("verify page lacks the hint where to find the code")
	}
	if !p.has("Use another method") || !p.has("Recovery code") {
		t.Error("verify page lacks Use another method → Recovery code")
	}
	e.clock.Add(30 * time.Second)
	p = b.submit("/verify", url.Values{"code": {e.code(secret)}})
	p.want(t, http.StatusOK, "/settings", "Your sign-in methods")

	// A recovery code works once, from "Use another method".
	b.submit("/logout", nil)
	b.login("alice", pw)
	p = b.get("/verify?method=recovery")
	p.want(t, http.StatusOK, "/verify", "Enter a recovery code")
	p = b.submit("/verify", url.Values{"code": {strings.ToUpper(codes[0][1])}})
	p.want(t, http.StatusOK, "/settings", "Your sign-in methods")
	b.submit("/logout", nil)
	b.login("alice", pw)
	b.get("/verify?method=recovery")
	p = b.submit("/verify", url.Values{"code": {codes[0][1]}})
	if p.status != http.StatusUnauthorized || !p.has("already used") {
		t.Fatalf("reused recovery code: status %d\n%s", p.status, p.body)
	}
}

// TestWrongCodeMessageTiedToField checks the accessible error of a wrong
// code on the verify page.
func TestWrongCodeMessageTiedToField(t *testing.T) {
	e := newEnv(t)
	e.addUser("bob")
	b := e.browser()
	secret, _ := b.enrol("bob")
	b.submit("/logout", nil)
	b.login("bob", pw)
	e.clock.Add(30 * time.Second)
	wrong := "000000"
	if e.code(secret) == wrong {
		wrong = "111111"
	}
	p := b.submit("/verify", url.Values{"code": {wrong}})
	if p.status != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", p.status)
	}
	for _, s := range []string{`<p class="field-error" id="code-error">That code is not valid.`, `aria-describedby="code-hint code-error" aria-invalid="true"`} {
		if !p.has(s) {
			t.Errorf("page lacks %q\n%s", s, p.body)
		}
	}
	// Malformed input is refused without counting, with its own message.
	p = b.submit("/verify", url.Values{"code": {"12ab"}})
	if p.status != http.StatusUnprocessableEntity || !p.has("Enter the 6-digit code") {
		t.Fatalf("malformed code: %d\n%s", p.status, p.body)
	}
	// Spaces typed into a code are fine.
	c := e.code(secret)
	p = b.submit("/verify", url.Values{"code": {c[:3] + " " + c[3:]}})
	p.want(t, http.StatusOK, "/settings", "Your sign-in methods")
}

// TestTooManyWrongCodes: after the back-off starts, the page says how long
// to wait and answers 429 with Retry-After.
func TestTooManyWrongCodes(t *testing.T) {
	e := newEnv(t)
	e.addUser("carol")
	b := e.browser()
	secret, _ := b.enrol("carol")
	b.submit("/logout", nil)
	b.login("carol", pw)
	e.clock.Add(30 * time.Second)
	wrong := "000000"
	if e.code(secret) == wrong {
		wrong = "111111"
	}
	var p *page
	for range 6 {
		p = b.submit("/verify", url.Values{"code": {wrong}})
	}
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" || !p.has("wait 30 seconds") {
		t.Fatalf("after 6 wrong codes: %d Retry-After=%q\n%s", p.status, p.header.Get("Retry-After"), p.body)
	}
}

// TestRedirectKeptThroughLoginAndVerify: rd survives sign-in and
// verification, and is where the user lands.
func TestRedirectKeptThroughLoginAndVerify(t *testing.T) {
	e := newEnv(t)
	e.addUser("dave")
	b := e.browser()
	secret, _ := b.enrol("dave")
	b.submit("/logout", nil)

	// An unauthenticated visit to a protected page comes back to it.
	p := b.get("/recovery-codes")
	if p.url.Path != "/login" || p.url.Query().Get("rd") != "/recovery-codes" {
		t.Fatalf("at %s, want /login?rd=/recovery-codes", p.url)
	}
	p = b.submit("/login", url.Values{"username": {"dave"}, "password": {pw}})
	if p.url.Path != "/verify" || p.url.Query().Get("rd") != "/recovery-codes" {
		t.Fatalf("at %s, want /verify?rd=/recovery-codes", p.url)
	}
	e.clock.Add(30 * time.Second)
	p = b.submit("/verify", url.Values{"code": {e.code(secret)}})
	p.want(t, http.StatusOK, "/recovery-codes", "New recovery codes")
}

// TestOpenRedirectRefused: an rd that could leave this host is dropped at
// every step; the user lands on /settings.
func TestOpenRedirectRefused(t *testing.T) {
	e := newEnv(t)
	e.addUser("erin")
	b := e.browser()
	secret, _ := b.enrol("erin")
	for _, rd := range []string{"//evil.com", "https://evil.com", `/\evil.com`, "%2F%2Fevil.com", "/%2F/evil.com", "javascript:alert(1)", "/%5Cevil.com", "/\t/evil.com"} {
		t.Run(rd, func(t *testing.T) {
			b.get("/settings") // a page with a current sign-out form
			b.submit("/logout", nil)
			p := b.get("/login?rd=" + url.QueryEscape(rd))
			if p.has("evil.com") || p.has("javascript:") {
				t.Fatalf("login page carries the bad rd:\n%s", p.body)
			}
			form := p.form(t, "/login")
			form.Set("username", "erin")
			form.Set("password", pw)
			form.Set("rd", rd) // as if tampered with
			resp := b.noFollow("POST", "/login", form)
			if loc := resp.Header.Get("Location"); loc != "/verify" {
				t.Fatalf("after sign-in Location = %q, want /verify", loc)
			}
			p = b.get("/verify?rd=" + url.QueryEscape(rd))
			e.clock.Add(30 * time.Second)
			form = p.form(t, "/verify")
			form.Set("code", e.code(secret))
			form.Set("rd", rd)
			resp = b.noFollow("POST", "/verify", form)
			if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/settings" {
				t.Fatalf("after verify: %d Location = %q, want 303 /settings", resp.StatusCode, loc)
			}
		})
	}
}

// TestSetupNeedsAChoice: unticking everything says so next to the choice.
func TestSetupNeedsAChoice(t *testing.T) {
	e := newEnv(t)
	e.addUser("gina")
	b := e.browser()
	b.login("gina", pw)
	p := b.submit("/setup", nil)
	if p.status != http.StatusUnprocessableEntity || !p.has(`aria-describedby="methods-error"`) || !p.has("Choose at least one") {
		t.Fatalf("empty choice: %d\n%s", p.status, p.body)
	}
}

// TestManageMethods: add a second app (after a fresh verification), set it
// preferred, remove one, refuse to remove the last, regenerate codes.
func TestManageMethods(t *testing.T) {
	e := newEnv(t)
	e.addUser("hank")
	b := e.browser()
	secret, _ := b.enrol("hank")

	// Adding an app needs a recent verification: stale → verify → back.
	e.clock.Add(6 * time.Minute)
	b.get("/settings")
	p := b.do(http.NewRequest("GET", e.srv.URL+"/setup/totp?name=Laptop", nil))
	if p.url.Path != "/verify" || p.url.Query().Get("why") != "recent" {
		t.Fatalf("stale add: at %s, want /verify?why=recent", p.url)
	}
	p = b.submit("/verify", url.Values{"code": {e.code(secret)}})
	p.want(t, http.StatusOK, "/setup/totp", "Set up your authenticator app")
	if p.has("Next you get recovery codes") {
		t.Error("a second app promises recovery codes")
	}
	laptop := p.secret(t)
	e.clock.Add(30 * time.Second) // the step just used to verify is spent
	p = b.submit("/setup/totp", url.Values{"code": {e.code(laptop)}})
	p.want(t, http.StatusOK, "/settings", "Your sign-in methods")
	if !p.has("Laptop") || !p.has("Your new authenticator app is ready.") {
		t.Fatalf("settings after adding:\n%s", p.body)
	}

	// Make the laptop preferred.
	ids := regexp.MustCompile(`action="/settings/methods/([^/"]+)/preferred"`).FindAllStringSubmatch(p.body, -1)
	if len(ids) != 1 {
		t.Fatalf("%d make-preferred buttons, want 1", len(ids))
	}
	p = b.submit("/settings/methods/"+ids[0][1]+"/preferred", nil)
	if !p.has("Your preferred method was changed.") {
		t.Fatalf("preferred:\n%s", p.body)
	}

	// Remove one: confirmation page, then done.
	removes := regexp.MustCompile(`href="/settings/methods/([^/"]+)/remove"`).FindAllStringSubmatch(p.body, -1)
	p = b.get("/settings/methods/" + removes[0][1] + "/remove")
	if !strings.HasPrefix(p.h1(), "Remove ") {
		t.Fatalf("remove confirmation: %q", p.h1())
	}
	p = b.submit("/settings/methods/"+removes[0][1]+"/remove", nil)
	if !p.has("The method was removed.") {
		t.Fatalf("remove:\n%s", p.body)
	}
	// The last one cannot go while MFA is required.
	last := regexp.MustCompile(`href="/settings/methods/([^/"]+)/remove"`).FindStringSubmatch(p.body)
	p = b.get("/settings/methods/" + last[1] + "/remove")
	if !p.has("This is your only sign-in method") || p.has(`<button type="submit" class="btn danger">`) {
		t.Fatalf("last method confirmation:\n%s", p.body)
	}
	resp := b.noFollow("POST", "/settings/methods/"+last[1]+"/remove", p.form(t, "/logout"))
	if loc := resp.Header.Get("Location"); loc != "/settings?error=last_factor" {
		t.Fatalf("removing the last method: Location %q", loc)
	}

	// New recovery codes, shown once.
	b.get("/recovery-codes")
	p = b.submit("/recovery-codes", nil)
	if p.h1() != "Save your recovery codes" || len(recoveryCodeRe.FindAllString(p.body, -1)) != 10 {
		t.Fatalf("regenerate:\n%s", p.body)
	}
}

// TestFormTokenRequired: a signed-in POST without the session's form token
// is refused even when the browser sends no Origin or Sec-Fetch-Site.
func TestFormTokenRequired(t *testing.T) {
	e := newEnv(t)
	e.addUser("ivy")
	b := e.browser()
	b.login("ivy", pw)
	p := b.post("/setup", url.Values{"method": {"totp"}})
	if p.status != http.StatusForbidden || !p.has("This form has expired") {
		t.Fatalf("POST without token: %d\n%s", p.status, p.body)
	}
	p = b.post("/setup", url.Values{"method": {"totp"}, "csrf": {"forged"}})
	if p.status != http.StatusForbidden {
		t.Fatalf("POST with a forged token: %d", p.status)
	}
	// The sign-in form needs its double-submit cookie too.
	other := e.browser()
	p = other.post("/login", url.Values{"username": {"ivy"}, "password": {pw}, "csrf": {strings.Repeat("A", 43)}})
	if p.status != http.StatusForbidden || p.url.Path != "/login" {
		t.Fatalf("sign-in without the cookie: %d at %s", p.status, p.url)
	}
}

// TestInviteLink: with enrollment: invite, the set-up link an administrator
// issues opens the sign-in page with the name filled in, and its token
// travels with the form; without it the first sign-in is refused.
func TestInviteLink(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.InviteOnly = true })
	e.addUser("jane")
	p := e.browser().login("jane", pw)
	if p.status != http.StatusForbidden || !p.has("set-up link") {
		t.Fatalf("first sign-in without a link: %d\n%s", p.status, p.body)
	}
	link, _, _, err := e.svc.Invite(ctx, auth.Client{}, "jane")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link)
	b := e.browser()
	p = b.get("/login?" + u.RawQuery)
	if !p.has(`value="jane"`) || !p.has("Welcome!") {
		t.Fatalf("invite page:\n%s", p.body)
	}
	p = b.submit("/login", url.Values{"password": {pw}, "username": {"jane"}})
	p.want(t, http.StatusOK, "/setup", "Set up two-step sign-in")
}

// TestRedirectToProtectedApp: a sign-in that started at an application
// behind forward-auth ends there, through /continue (a 303 from the POST to
// another origin would break the CSP's form-action 'self').
func TestRedirectToProtectedApp(t *testing.T) {
	rule, err := auth.ParseRule("app.example.com two_factor")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *auth.Config) { c.Access = auth.Access{Rules: []auth.Rule{rule}} })
	e.addUser("kim")
	b := e.browser()
	secret, _ := b.enrol("kim")
	b.get("/settings")
	b.submit("/logout", nil)
	app := "http://app.example.com/reports?q=1"
	b.get("/login?rd=" + url.QueryEscape(app))
	p := b.submit("/login", url.Values{"username": {"kim"}, "password": {pw}})
	if p.url.Path != "/verify" || p.url.Query().Get("rd") != app {
		t.Fatalf("at %s, want /verify?rd=%s", p.url, app)
	}
	e.clock.Add(30 * time.Second)
	form := p.form(t, "/verify")
	form.Set("code", e.code(secret))
	resp := b.noFollow("POST", "/verify", form)
	if loc := resp.Header.Get("Location"); loc != "/continue?rd="+url.QueryEscape(app) {
		t.Fatalf("after verify Location = %q", loc)
	}
	p = b.get("/continue?rd=" + url.QueryEscape(app))
	p.want(t, http.StatusOK, "/continue", "Signed in")
	if !p.has(`<meta http-equiv="refresh" content="0; url=http://app.example.com/reports?q=1">`) || !p.has(`href="http://app.example.com/reports?q=1"`) {
		t.Fatalf("continue page:\n%s", p.body)
	}
	// A host no rule names is not followed.
	if p = b.get("/continue?rd=" + url.QueryEscape("http://evil.example/")); p.url.Path != "/settings" {
		t.Fatalf("continue to an unknown host: at %s", p.url)
	}
}
