package web_test

import (
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A German mobile number (the example the page shows for Germany) and a US
// one; both countries are allowed in the test instance.
const (
	dePhone  = "01512 3456789"
	deMasked = "•••• 6789"
	usPhone  = "(201) 555-0123"
	usMasked = "•••• 0123"
)

// smsSetup takes a signed-in user from the SMS step's number form to the
// confirmed phone and returns the page it lands on (the recovery codes for
// a first method).
func (b *browser) smsSetup(country, number string) *page {
	b.e.t.Helper()
	p := b.submit("/setup/sms", url.Values{"country": {country}, "phone": {number}})
	if p.status != http.StatusOK || !p.has(`id="sent"`) {
		b.e.t.Fatalf("send: %d at %s\n%s", p.status, p.url, p.body)
	}
	return b.submit("/setup/sms/confirm", url.Values{"code": {b.e.smsCode()}})
}

// TestBothMethodsSMSFirst walks the journey's "both" path without JavaScript:
// SMS/Text first (the server enforces the order), a refused number with its
// message next to the field, the code, the recovery codes, then the app.
func TestBothMethodsSMSFirst(t *testing.T) {
	e := newEnv(t)
	e.addUser("frank")
	b := e.browser()
	b.login("frank", pw)
	p := b.submit("/setup", url.Values{"method": {"totp", "sms"}})
	p.want(t, http.StatusOK, "/setup/sms", "Set up SMS/Text")
	for _, s := range []string{"Step 1 of 2", `<option value="DE" data-example="01512 3456789" selected>Germany (+49)</option>`,
		`<option value="GB" data-example="07400 123456">United Kingdom (+44)</option>`, `id="country-search"`,
		"For example: <span id=\"phone-example\">01512 3456789</span>", "Send verification code", "Use an authenticator app instead"} {
		if !p.has(s) {
			t.Errorf("SMS step lacks %q", s)
		}
	}
	if p.has(`value="FR"`) {
		t.Error("the list offers a country texts may not be sent to")
	}
	// The server enforces the order: the app's step sends back to SMS.
	if p = b.get("/setup/totp"); p.url.Path != "/setup/sms" {
		t.Fatalf("app set-up before SMS: at %s, want /setup/sms", p.url)
	}

	// A number that is not a mobile number: the service's sentence next to
	// the field, nothing sent.
	for _, bad := range []struct{ country, phone, want string }{
		{"DE", "030 123456", "mobile"},
		{"US", "555", "short"},
		{"DE", "call me", "number"},
		{"DE", "+33 6 12 34 56 78", "France"},
	} {
		p = b.submit("/setup/sms", url.Values{"country": {bad.country}, "phone": {bad.phone}})
		if p.status != http.StatusUnprocessableEntity || !p.has(`id="phone-error"`) || !p.has(`aria-invalid="true"`) ||
			!strings.Contains(strings.ToLower(p.body[strings.Index(p.body, `id="phone-error"`):][:300]), strings.ToLower(bad.want)) {
			t.Fatalf("number %q: %d\n%s", bad.phone, p.status, p.body)
		}
		if !p.has(`value="`+bad.phone+`"`) && !strings.Contains(bad.phone, " ") {
			t.Errorf("number %q not kept in the field", bad.phone)
		}
	}
	if n := len(e.texts()); n != 0 {
		t.Fatalf("%d texts sent for refused numbers", n)
	}

	// Send → the code step.
	p = b.submit("/setup/sms", url.Values{"country": {"DE"}, "phone": {dePhone}})
	p.want(t, http.StatusOK, "/setup/sms", "Set up SMS/Text")
	for _, s := range []string{"We sent a text with a 6-digit code to <strong>" + deMasked + "</strong>", `autocomplete="one-time-code"`,
		`inputmode="numeric"`, "Resend code", `data-wait="30"`, "Use a different number", "Step 1 of 2"} {
		if !p.has(s) {
			t.Errorf("code step lacks %q", s)
		}
	}
	if len(e.texts()) != 1 {
		t.Fatalf("%d texts, want 1", len(e.texts()))
	}
	// A wrong code, next to the field.
	p = b.submit("/setup/sms/confirm", url.Values{"code": {"000000"}})
	if e.smsCode() == "000000" {
		t.Skip("the random code was 000000")
	}
	if p.status != http.StatusUnprocessableEntity || !p.has(`id="code-error"`) || !p.has("Check the text message") || !p.has(deMasked) {
		t.Fatalf("wrong code: %d\n%s", p.status, p.body)
	}
	p = b.submit("/setup/sms/confirm", url.Values{"code": {"12 34"}})
	if p.status != http.StatusUnprocessableEntity || !p.has("Enter the 6-digit code from the text message.") {
		t.Fatalf("malformed code: %d\n%s", p.status, p.body)
	}
	// The right code (spaces allowed) → recovery codes, then the app.
	code := e.smsCode()
	p = b.submit("/setup/sms/confirm", url.Values{"code": {code[:3] + " " + code[3:]}})
	p.want(t, http.StatusOK, "/setup/sms/confirm", "Save your recovery codes")
	if !p.has("Your phone is set up") || len(recoveryCodeRe.FindAllString(p.body, -1)) != 10 || !p.has(`href="/setup/totp"`) {
		t.Fatalf("recovery codes after SMS:\n%s", p.body)
	}
	p = b.get("/setup/totp")
	p.want(t, http.StatusOK, "/setup/totp", "Set up your authenticator app")
	p = b.submit("/setup/totp", url.Values{"code": {e.code(p.secret(t))}})
	p.want(t, http.StatusOK, "/settings", "Your sign-in methods")
	if !p.has("SMS to "+deMasked) || !p.has("Authenticator app") || p.has("Save your recovery codes") {
		t.Fatalf("settings after both:\n%s", p.body)
	}
}

// TestSMSResend: "Resend code" inside the 30-second cooldown sends nothing
// and says how long to wait; after it, a new code replaces the old one.
func TestSMSResend(t *testing.T) {
	e := newEnv(t)
	e.addUser("gus")
	b := e.browser()
	b.login("gus", pw)
	b.submit("/setup", url.Values{"method": {"sms"}})
	b.submit("/setup/sms", url.Values{"country": {"US"}, "phone": {usPhone}})
	first := e.smsCode()
	e.clock.Add(10 * time.Second)
	p := b.submit("/setup/sms", nil) // the resend form: country, number, resend=1
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") != "20" || !p.has("Wait 20 seconds before asking for a new code.") ||
		!p.has(`id="resend-error"`) || !p.has(`data-wait="20"`) || !p.has(usMasked) {
		t.Fatalf("early resend: %d Retry-After %q\n%s", p.status, p.header.Get("Retry-After"), p.body)
	}
	if n := len(e.texts()); n != 1 {
		t.Fatalf("early resend sent a text: %d texts", n)
	}
	e.clock.Add(20 * time.Second)
	p = b.submit("/setup/sms", nil)
	if p.status != http.StatusOK || len(e.texts()) != 2 || !p.has(`data-wait="30"`) {
		t.Fatalf("resend after the cooldown: %d, %d texts\n%s", p.status, len(e.texts()), p.body)
	}
	if second := e.smsCode(); second != first {
		p = b.submit("/setup/sms/confirm", url.Values{"code": {first}})
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("the old code after a resend: %d", p.status)
		}
	}
	p = b.submit("/setup/sms/confirm", url.Values{"code": {e.smsCode()}})
	p.want(t, http.StatusOK, "/setup/sms/confirm", "Save your recovery codes")
}

// TestSMSSetupProblems: an expired code, a failing provider, a code posted
// when no phone waits for one.
func TestSMSSetupProblems(t *testing.T) {
	e := newEnv(t)
	e.addUser("hal")
	b := e.browser()
	b.login("hal", pw)
	b.get("/setup/sms")
	b.submit("/setup/sms", url.Values{"country": {"US"}, "phone": {usPhone}})
	e.clock.Add(6 * time.Minute)
	p := b.submit("/setup/sms/confirm", url.Values{"code": {e.smsCode()}})
	if p.status != http.StatusUnprocessableEntity || !p.has("This code has expired or was already used. Press Resend code") {
		t.Fatalf("expired code: %d\n%s", p.status, p.body)
	}

	// The provider fails: the sentence next to the field, nothing kept.
	if err := os.Remove(e.smsFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(e.smsFile, 0o700); err != nil { // appending to a directory fails
		t.Fatal(err)
	}
	b.get("/setup/sms")
	p = b.submit("/setup/sms", url.Values{"country": {"US"}, "phone": {usPhone}})
	if p.status != http.StatusBadGateway || !p.has(`id="phone-error"`) || !p.has("could not send the text") {
		t.Fatalf("failing provider: %d\n%s", p.status, p.body)
	}
	if err := os.Remove(e.smsFile); err != nil {
		t.Fatal(err)
	}

	// No phone waiting for a code: back to the number, with a notice.
	p = b.post("/setup/sms/confirm", url.Values{"csrf": p.form(t, "/setup/sms")["csrf"], "code": {"123456"}})
	p.want(t, http.StatusOK, "/setup/sms", "Set up SMS/Text")
	if !p.has("Your earlier code had ended") {
		t.Fatalf("confirm without a phone:\n%s", p.body)
	}
}

// smsUser signs a new user in and sets up SMS/Text only; the browser is
// left on the settings page.
func smsUser(t *testing.T, e *env, name string) *browser {
	t.Helper()
	e.addUser(name)
	b := e.browser()
	b.login(name, pw)
	b.submit("/setup", url.Values{"method": {"sms"}})
	p := b.smsSetup("DE", dePhone)
	p.want(t, http.StatusOK, "/setup/sms/confirm", "Save your recovery codes")
	b.get("/settings")
	return b
}

// TestVerifyWithSMS: signing in with SMS/Text sends a text only when asked,
// then takes the code from it.
func TestVerifyWithSMS(t *testing.T) {
	e := newEnv(t)
	b := smsUser(t, e, "ida")
	b.submit("/logout", nil)
	sent := len(e.texts())
	e.clock.Add(time.Minute)

	p := b.login("ida", pw)
	p.want(t, http.StatusOK, "/verify", "Enter your code")
	if !p.has("We will send a text with a 6-digit code to "+deMasked) || p.has("We sent a text") || p.has(`id="code"`) {
		t.Fatalf("verify before sending:\n%s", p.body)
	}
	// Loading the page (even with sent=1) never sends a text.
	b.get("/verify")
	b.get("/verify?method=sms&sent=1")
	if n := len(e.texts()); n != sent {
		t.Fatalf("GET /verify sent %d texts", n-sent)
	}
	b.get("/verify")
	p = b.submit("/verify", url.Values{"send": {"1"}})
	p.want(t, http.StatusOK, "/verify", "Enter your code")
	if p.url.Query().Get("sent") != "1" || !p.has("We sent a text to "+deMasked) || !p.has(`autocomplete="one-time-code"`) || len(e.texts()) != sent+1 {
		t.Fatalf("after Send code (%d texts): %s\n%s", len(e.texts())-sent, p.url, p.body)
	}
	// Resend too early: nothing sent, how long to wait.
	p = b.submit("/verify", url.Values{"send": {"1"}, "sent": {"1"}}) // as the "Resend code" form posts
	if p.status != http.StatusTooManyRequests || !p.has("Wait 30 seconds before asking for a new code.") || len(e.texts()) != sent+1 {
		t.Fatalf("early resend: %d, %d texts\n%s", p.status, len(e.texts())-sent, p.body)
	}
	if !p.has(`id="code"`) {
		t.Error("the code field went away after an early resend")
	}
	// A wrong code, then the right one.
	wrong := "000000"
	if e.smsCode() == wrong {
		wrong = "111111"
	}
	p = b.submit("/verify", url.Values{"code": {wrong}})
	if p.status != http.StatusUnauthorized || !p.has("Check the text message") || !p.has(`id="code"`) {
		t.Fatalf("wrong code: %d\n%s", p.status, p.body)
	}
	p = b.submit("/verify", url.Values{"code": {e.smsCode()}})
	p.want(t, http.StatusOK, "/settings", "Your sign-in methods")
}

// TestVerifyOffersEveryPhone: with an app and a phone, "Use another method"
// lists the phone by its masked number.
func TestVerifyOffersEveryPhone(t *testing.T) {
	e := newEnv(t)
	e.addUser("jo")
	b := e.browser()
	secret, _ := b.enrol("jo")
	// Add a phone from the settings page (fresh verification first).
	e.clock.Add(6 * time.Minute)
	p := b.get("/setup/sms")
	if p.url.Path != "/verify" || p.url.Query().Get("why") != "recent" || p.url.Query().Get("rd") != "/setup/sms" {
		t.Fatalf("stale add phone: at %s", p.url)
	}
	p = b.submit("/verify", url.Values{"code": {e.code(secret)}})
	p.want(t, http.StatusOK, "/setup/sms", "Set up SMS/Text")
	if p.has("Remember this device") {
		t.Error("remember offered while the feature is off")
	}
	p = b.smsSetup("US", usPhone)
	p.want(t, http.StatusOK, "/settings", "Your sign-in methods")
	if !p.has("Your phone is ready.") || !p.has("SMS to "+usMasked) {
		t.Fatalf("after adding a phone:\n%s", p.body)
	}
	b.submit("/logout", nil)
	p = b.login("jo", pw)
	if !p.has("Open your authenticator app") || !p.has("SMS/Text to "+usMasked) {
		t.Fatalf("verify with app and phone:\n%s", p.body)
	}
	m := regexp.MustCompile(`href="(/verify\?method=sms[^"]*)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatal("no link to the phone")
	}
	p = b.get(strings.ReplaceAll(m[1], "&amp;", "&"))
	if !p.has("We will send a text with a 6-digit code to " + usMasked) {
		t.Fatalf("phone chosen:\n%s", p.body)
	}
}

// TestChangePhone: "Change phone" adds the new number and removes the old
// one once the new one works.
func TestChangePhone(t *testing.T) {
	e := newEnv(t)
	b := smsUser(t, e, "kim")
	p := b.get("/settings")
	m := regexp.MustCompile(`href="/setup/sms\?replace=([^"]+)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no Change phone:\n%s", p.body)
	}
	p = b.get("/setup/sms?replace=" + m[1])
	p.want(t, http.StatusOK, "/setup/sms", "Set up SMS/Text")
	if !p.has(`name="replace" value="`+m[1]+`"`) || !p.has(`href="/settings">Cancel`) {
		t.Fatalf("change phone form:\n%s", p.body)
	}
	e.clock.Add(time.Minute)
	p = b.smsSetup("US", usPhone)
	p.want(t, http.StatusOK, "/settings", "Your sign-in methods")
	if !p.has("Your phone number was changed.") || !p.has("SMS to "+usMasked) || p.has("SMS to "+deMasked) {
		t.Fatalf("after changing the phone:\n%s", p.body)
	}
}
