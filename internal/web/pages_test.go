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

	"github.com/twostep/twostep/internal/auth"
)

// allPages loads every page once, in the states a user sees them.
func allPages(t *testing.T) (*env, map[string]*page) {
	t.Helper()
	// A grace period, so the set-up page shows "Set up later" and the
	// page after it is checked too.
	e := newEnvWith(t, nil, passkeysOn(true), rememberDays(30), func(c *auth.Config) { c.GracePeriod = 14 * day })
	e.addUser("alice")
	e.addUser("bob")
	e.addUser("cara")
	b := e.browser()
	pages := map[string]*page{}
	pages["login"] = b.get("/login")
	pages["login passkey"] = b.submit("/login/passkey", nil)
	pages["help"] = b.get("/help")
	pages["not found"] = b.get("/no-such-page")
	pages["setup"] = b.login("alice", pw)
	pages["setup later"] = b.submit("/setup/later", nil)
	pages["setup/sms"] = b.get("/setup/sms")
	pages["setup/totp"] = b.submit("/setup", url.Values{"method": {"totp"}})
	pages["setup/totp wrong code"] = b.submit("/setup/totp", url.Values{"code": {"1"}})
	pages["recovery codes"] = b.submit("/setup/totp", url.Values{"code": {e.code(pages["setup/totp"].secret(t))}})
	pages["setup/passkey"] = b.get("/setup/passkey") // adding a passkey, right after the first method
	b.get("/setup/sms")                              // adding a phone, right after the first method
	pages["setup/sms code"] = b.submit("/setup/sms", url.Values{"country": {"US"}, "phone": {usPhone}})
	pages["settings"] = b.get("/settings")
	pages["sessions"] = b.get("/settings/sessions")
	pages["recovery-codes"] = b.get("/recovery-codes")
	id := regexp.MustCompile(`href="/settings/methods/([^/"]+)/remove"`).FindStringSubmatch(pages["settings"].body)[1]
	pages["remove"] = b.get("/settings/methods/" + id + "/remove")
	pages["expired form"] = b.post("/logout", url.Values{"csrf": {"stale"}})
	b.submit("/logout", nil)
	b.login("alice", pw)
	pages["verify"] = b.get("/verify")
	pages["verify wrong code"] = b.submit("/verify", url.Values{"code": {"12"}})
	pages["verify recovery"] = b.get("/verify?method=recovery")
	pages["login failed"] = e.browser().login("alice", "wrong password")
	bob := e.browser()
	bob.login("bob", pw)
	bob.submit("/setup", url.Values{"method": {"sms"}})
	bob.smsSetup("GB", "07400 123456")
	bob.get("/settings")
	bob.submit("/logout", nil)
	pages["verify sms"] = bob.login("bob", pw)
	cara, key := e.browser(), newSoftKey()
	cara.login("cara", pw)
	p := cara.submit("/setup", url.Values{"method": {"webauthn"}})
	cara.submit("/setup/passkey", url.Values{"credential": {key.create(t, p)}})
	p = cara.get("/settings")
	pages["rename"] = cara.get(regexp.MustCompile(`href="(/settings/methods/[^/"]+/rename)"`).FindStringSubmatch(p.body)[1])
	cara.submit("/logout", nil)
	pages["verify passkey"] = cara.login("cara", pw)
	e.clock.Add(30 * time.Second) // the set-up's text started the resend cooldown
	pages["verify sms sent"] = bob.submit("/verify", url.Values{"send": {"1"}})
	if pages["verify sms sent"].url.Query().Get("sent") != "1" {
		t.Fatalf("verify sms sent: %d %s\n%s", pages["verify sms sent"].status, pages["verify sms sent"].url, pages["verify sms sent"].body)
	}
	return e, pages
}

var headings = map[string]string{
	"login":                 "Sign in to Example Corp",
	"help":                  "Help with signing in",
	"not found":             "Page not found",
	"setup":                 "Set up two-step sign-in",
	"setup later":           "Set up later",
	"setup/sms":             "Set up SMS/Text",
	"setup/sms code":        "Set up SMS/Text",
	"verify sms":            "Enter your code",
	"verify sms sent":       "Enter your code",
	"setup/totp":            "Set up your authenticator app",
	"setup/totp wrong code": "Set up your authenticator app",
	"recovery codes":        "Save your recovery codes",
	"settings":              "Your sign-in methods",
	"sessions":              "Sessions and devices",
	"recovery-codes":        "New recovery codes",
	"remove":                "Remove Authenticator app?",
	"expired form":          "Something went wrong",
	"verify":                "Enter your code",
	"verify wrong code":     "Enter your code",
	"verify recovery":       "Enter a recovery code",
	"login failed":          "Sign in to Example Corp",
	"login passkey":         "Sign in with a passkey",
	"setup/passkey":         "Set up a passkey",
	"verify passkey":        "Use your passkey",
	"rename":                "Rename Passkey",
}

// TestEveryPage checks what every page must have: its heading, a link to
// help, the CSP header, under 50 KB, nothing from another origin, and a
// label for every field.
func TestEveryPage(t *testing.T) {
	_, pages := allPages(t)
	if len(pages) != len(headings) {
		t.Fatalf("%d pages loaded, %d headings listed", len(pages), len(headings))
	}
	for name, p := range pages {
		t.Run(name, func(t *testing.T) {
			if got := p.h1(); got != headings[name] {
				t.Errorf("heading %q, want %q", got, headings[name])
			}
			if !p.has(`href="/help"`) {
				t.Error("no link to /help")
			}
			csp := p.header.Get("Content-Security-Policy")
			for _, d := range []string{"default-src 'self'", "img-src 'self' data:", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("CSP %q lacks %q", csp, d)
				}
			}
			if strings.Contains(csp, "unsafe-inline") {
				t.Errorf("CSP allows unsafe-inline: %q", csp)
			}
			if ct := p.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if n := len(p.body); n > 50<<10 {
				t.Errorf("page is %d bytes, over 50 KB", n)
			}
			checkSameOrigin(t, p.body)
			checkLabels(t, p.body)
			if strings.Contains(p.body, " style=") || strings.Contains(p.body, "<style") || regexp.MustCompile(`<script>|<script [^s]| on[a-z]+="`).MatchString(p.body) {
				t.Error("inline style or script (the CSP would block it)")
			}
		})
	}
}

var (
	attrRe  = regexp.MustCompile(`\s(src|href|action|formaction|srcset|poster|data)="([^"]*)"`)
	fieldRe = regexp.MustCompile(`<(input|select|textarea)\b[^>]*>`)
	idRe    = regexp.MustCompile(`\sid="([^"]+)"`)
	typeRe  = regexp.MustCompile(`\stype="([^"]+)"`)
)

// checkSameOrigin fails on any reference to another origin: every src,
// href and action is a path on this host, a fragment or a data: URL. The
// only exceptions are the configured support links (links the operator
// chose, not resources the page loads) and the otpauth: link that hands the
// secret to an authenticator app on the same device.
func checkSameOrigin(t *testing.T, body string) {
	t.Helper()
	for _, m := range attrRe.FindAllStringSubmatch(body, -1) {
		v := html.UnescapeString(m[2])
		switch {
		case v == contactURL || v == chatURL:
		case strings.HasPrefix(v, "data:"), strings.HasPrefix(v, "#"), strings.HasPrefix(v, "otpauth://totp/"):
		case strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//") && !strings.Contains(v, `\`):
		default:
			t.Errorf("%s=%q references another origin or is not a plain path", m[1], v)
		}
	}
	for _, s := range []string{"http://", "https://"} {
		rest := strings.ReplaceAll(body, chatURL, "")
		if strings.Contains(rest, s) {
			i := strings.Index(rest, s)
			t.Errorf("page mentions %q: …%s…", s, rest[max(0, i-60):min(len(rest), i+60)])
		}
	}
}

// checkLabels fails on a visible field without a <label for=its id>.
func checkLabels(t *testing.T, body string) {
	t.Helper()
	for _, f := range fieldRe.FindAllString(body, -1) {
		if m := typeRe.FindStringSubmatch(f); m != nil && (m[1] == "hidden" || m[1] == "submit") {
			continue
		}
		id := idRe.FindStringSubmatch(f)
		if id == nil {
			t.Errorf("field without id (so without a label): %s", f)
			continue
		}
		if !strings.Contains(body, `<label for="`+id[1]+`"`) {
			t.Errorf("field %q has no <label for>", id[1])
		}
	}
}

// TestCodeFieldsAttributes: every code field helps phones and password
// managers.
func TestCodeFieldsAttributes(t *testing.T) {
	_, pages := allPages(t)
	for _, name := range []string{"setup/totp", "verify", "setup/sms code", "verify sms sent"} {
		p := pages[name]
		n := 0
		for _, f := range fieldRe.FindAllString(p.body, -1) {
			if !strings.Contains(f, `class="code"`) {
				continue
			}
			n++
			for _, a := range []string{`autocomplete="one-time-code"`, `inputmode="numeric"`, `pattern="[0-9]*"`} {
				if !strings.Contains(f, a) {
					t.Errorf("%s: code field %s lacks %s", name, f, a)
				}
			}
		}
		if n != 1 {
			t.Errorf("%s has %d code fields, want 1", name, n)
		}
	}
	login := pages["login"]
	for _, a := range []string{`autocomplete="username"`, `autocomplete="current-password"`} {
		if !login.has(a) {
			t.Errorf("login lacks %s", a)
		}
	}
}

// TestLoginFailureSameForUnknownUser: a wrong password and an unknown user
// get the same status and the same page.
func TestLoginFailureSameForUnknownUser(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice")
	wrong := e.browser().login("alice", "not the password")
	unknown := e.browser().login("nobody", "not the password")
	malformed := e.browser().login("no such user!", "not the password")
	errRe := regexp.MustCompile(`<p class="notice error" id="form-error" role="alert">([^<]*)</p>`)
	want := errRe.FindStringSubmatch(wrong.body)
	if want == nil || want[1] != "The username or password is not correct." {
		t.Fatalf("wrong password message: %v\n%s", want, wrong.body)
	}
	for _, p := range []*page{unknown, malformed} {
		got := errRe.FindStringSubmatch(p.body)
		if p.status != wrong.status || got == nil || got[1] != want[1] {
			t.Errorf("unknown user: %d %v, want %d %v", p.status, got, wrong.status, want)
		}
	}
	if wrong.status != http.StatusUnauthorized || strings.Contains(wrong.body, "not the password") {
		t.Errorf("status %d; the password must never be echoed", wrong.status)
	}
	// Both fields point at the message.
	if strings.Count(wrong.body, `aria-invalid="true" aria-describedby="form-error"`) != 2 {
		t.Errorf("fields not tied to the message:\n%s", wrong.body)
	}
}

// TestHome redirects to sign-in or settings.
func TestHome(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice")
	b := e.browser()
	if p := b.get("/"); p.url.Path != "/login" {
		t.Fatalf("signed out: / → %s", p.url)
	}
	b.enrol("alice")
	if p := b.get("/"); p.url.Path != "/settings" {
		t.Fatalf("signed in: / → %s", p.url)
	}
}

// TestStaticAssets: versioned, cacheable for a year, revalidated by ETag,
// and the brand colour arrives as a stylesheet.
func TestStaticAssets(t *testing.T) {
	e := newEnv(t)
	login := e.browser().get("/login")
	links := regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(login.body, -1)
	if len(links) != 3 {
		t.Fatalf("%d static links, want app.css, brand.css, app.js", len(links))
	}
	for _, l := range links {
		u := html.UnescapeString(l[1])
		resp, err := http.Get(e.srv.URL + u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || resp.Header.Get("ETag") == "" {
			t.Errorf("%s: %d Cache-Control %q ETag %q", u, resp.StatusCode, resp.Header.Get("Cache-Control"), resp.Header.Get("ETag"))
		}
		if strings.Contains(string(body), "http://") || strings.Contains(string(body), "https://") || strings.Contains(string(body), "@import") {
			t.Errorf("%s references another origin", u)
		}
		if strings.Contains(u, "brand.css") && !strings.Contains(string(body), "--accent:#0f766e") {
			t.Errorf("brand.css = %s", body)
		}
		req, _ := http.NewRequest("GET", e.srv.URL+u, nil)
		req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("%s revalidation: %d, want 304", u, resp.StatusCode)
		}
	}
}
