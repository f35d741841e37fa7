package browser

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/twostep/twostep/internal/e2e/e2etest"
)

// TestHostedPages walks the sign-in journey (docs/pages.md) in headless Chromium: first sign-in, set-up
// of an authenticator app (the test reads the key the page shows and
// computes the code itself), recovery codes, sign-out, sign-in, verify,
// settings; a wrong code; the same journey with JavaScript disabled; the
// "both methods" path with SMS/Text first (country search, a refused
// number, the code read from the file provider's texts); SMS/Text set-up
// and sign-in without JavaScript; and "Remember this device". One browser
// serves all subtests, each in its own browser context (its own cookies).
func TestHostedPages(t *testing.T) {
	browserCtx := e2etest.StartChromium(t)
	srv := startServer(t, nil, "alice", "bob", "carol", "dave", "erin", "frank")
	shots := newScreenshots(t)

	t.Run("SMS set-up without JavaScript", func(t *testing.T) {
		p := newPerson(t, browserCtx, srv.url)
		if _, err := chromedp.Call(p.Ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatal(err)
		}
		p.open("/login")
		p.signIn("frank")
		p.wantPage("/setup", "Set up two-step sign-in")
		p.click(`details.more > summary`) // <details> opens without scripts
		p.waitVisible("#method-sms")
		p.click("#method-totp") // untick the app
		p.click("#method-sms")
		p.Press(`form[action="/setup"] button[type=submit]`)
		p.wantPage("/setup/sms", "Set up SMS/Text")
		if !p.hasAttr(".country-filter", "hidden") {
			t.Error("the country search shows although scripts are off (it needs JavaScript)")
		}
		// Germany, the configured default, is not allowed here: the first
		// allowed country is preselected.
		if v := p.value("#country"); v != "US" {
			t.Errorf("preselected country = %q, want US", v)
		}
		p.Fill("phone", "(201) 555-0123")
		p.Press(`form[action="/setup/sms"] button[type=submit]`)
		p.wantPage("/setup/sms", "Set up SMS/Text")
		if sent := p.Text("#sent"); !strings.Contains(sent, "•••• 0123") {
			t.Errorf("code step says %q", sent)
		}
		// Without scripts "Resend code" is enabled; pressed too early it sends
		// nothing and says how long to wait.
		if p.hasAttr("#resend", "disabled") {
			t.Error("Resend is disabled without JavaScript")
		}
		n := len(srv.outbox.All(t))
		p.Press("#resend")
		if msg := p.Text("#resend-error"); !strings.Contains(msg, "Wait") || !strings.Contains(msg, "seconds before asking for a new code") {
			t.Errorf("early resend: %q", msg)
		}
		if got := len(srv.outbox.All(t)); got != n {
			t.Errorf("early resend sent a text (%d → %d)", n, got)
		}
		p.Fill("code", srv.smsCode(t))
		p.Press(`form[action="/setup/sms/confirm"] button[type=submit]`)
		p.wantPage("/setup/sms/confirm", "Save your recovery codes")
		if n := p.Text("p.notice.ok"); !strings.Contains(n, "Your phone is set up") {
			t.Errorf("recovery codes notice = %q", n)
		}
		p.Press(`a.btn.primary.block`)
		p.wantPage("/settings", "Your sign-in methods")
		if m := p.Text("ul.methods"); !strings.Contains(m, "SMS to •••• 0123") || !strings.Contains(m, "Change phone") {
			t.Errorf("settings: %q", m)
		}
		p.signOut()
	})

	t.Run("journey", func(t *testing.T) {
		p := newPerson(t, browserCtx, srv.url)
		p.open("/login")
		p.wantPage("/login", "Sign in to Example Corp")
		shots.take(t, p.Ctx, "login")
		secret := p.firstSignIn("alice", shots)
		if p.hasAttr(`[data-copy="codes"]`, "hidden") {
			t.Error("the copy button stays hidden although JavaScript runs")
		}
		// The download link (a data: URL, allowed by the CSP) saves the codes.
		if txt := p.download(`a[download="twostep-recovery-codes.txt"]`); strings.Count(txt, "-") < 10 || !strings.Contains(txt, "alice") {
			t.Errorf("downloaded codes file:\n%s", txt)
		}

		p.Press(`a.btn.primary.block`) // "I saved them, continue"
		p.wantPage("/settings", "Your sign-in methods")
		if !strings.Contains(p.Text("ul.methods"), "Authenticator app") {
			t.Fatalf("settings do not list the app: %q", p.Text("ul.methods"))
		}
		shots.take(t, p.Ctx, "settings")

		p.signOut()
		p.signIn("alice")
		p.wantPage("/verify", "Enter your code")
		if hint := p.Text("#code-hint"); !strings.Contains(hint, "Open your authenticator app (phone or desktop)") {
			t.Errorf("verify hint = %q", hint)
		}
		if others := p.Text("details.others"); !strings.Contains(others, "Use another method") {
			t.Errorf("no Use another method: %q", others)
		}
		shots.take(t, p.Ctx, "verify")
		// A code is accepted once per time step: use the next step's code
		// (the server accepts ±1 step).
		p.Fill("code", e2etest.CodeAt(t, secret, time.Now().Add(30*time.Second)))
		p.Press(`form[action="/verify"] button[type=submit]`)
		p.wantPage("/settings", "Your sign-in methods")
		if m := p.Text("ul.methods"); !strings.Contains(m, "Authenticator app") || !strings.Contains(m, "Last used") {
			t.Errorf("settings after verify: %q", m)
		}
		localTimes(t, p)

		p.open("/help")
		p.wantPage("/help", "Help with signing in")
		for _, s := range []string{"knowledge", "possession", "inherence", "KeePassXC", "closed in 2024", "recovery code",
			"a new 6-digit code every 30 seconds"} {
			if !strings.Contains(p.Text("main"), s) {
				t.Errorf("help lacks %q", s)
			}
		}
		// People read this page, not engineers: no protocol names or
		// command-line tools (docs/pages.md has those).
		for _, s := range []string{"RFC", "oathtool", "(TOTP"} {
			if strings.Contains(p.Text("main"), s) {
				t.Errorf("help shows %q to end users", s)
			}
		}
		if href := p.attr(`#contact a[href^="mailto:"]`, "href"); href != contactURL {
			t.Errorf("Contact us = %q", href)
		}
		shots.take(t, p.Ctx, "help")
	})

	t.Run("wrong code shows the error next to the field", func(t *testing.T) {
		p := newPerson(t, browserCtx, srv.url)
		secret := p.firstSignIn("bob", nil)
		p.Press(`a.btn.primary.block`)
		p.signOut()
		p.signIn("bob")
		next := e2etest.CodeAt(t, secret, time.Now().Add(30*time.Second))
		wrong := "000000"
		if wrong == next || wrong == e2etest.CodeAt(t, secret, time.Now()) {
			wrong = "999999"
		}
		p.Fill("code", wrong)
		p.Press(`form[action="/verify"] button[type=submit]`)
		p.wantPage("/verify", "Enter your code")
		if msg := p.Text("#code-error"); !strings.Contains(msg, "That code is not valid") {
			t.Errorf("error text = %q", msg)
		}
		if d := p.attr("#code", "aria-describedby"); !strings.Contains(d, "code-error") {
			t.Errorf("code field aria-describedby = %q, want it to name code-error", d)
		}
		if inv := p.attr("#code", "aria-invalid"); inv != "true" {
			t.Errorf("aria-invalid = %q", inv)
		}
		shots.take(t, p.Ctx, "verify-error")
		p.Fill("code", next)
		p.Press(`form[action="/verify"] button[type=submit]`)
		p.wantPage("/settings", "Your sign-in methods")
	})

	t.Run("journey without JavaScript", func(t *testing.T) {
		p := newPerson(t, browserCtx, srv.url)
		if _, err := chromedp.Call(p.Ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatal(err)
		}
		secret := p.firstSignIn("carol", nil)
		if !p.hasAttr(`[data-copy="codes"]`, "hidden") {
			t.Error("the copy button shows although scripts are off (it needs JavaScript)")
		}
		p.Press(`a.btn.primary.block`)
		p.wantPage("/settings", "Your sign-in methods")
		p.signOut()
		p.signIn("carol")
		p.wantPage("/verify", "Enter your code")
		p.Fill("code", e2etest.CodeAt(t, secret, time.Now().Add(30*time.Second)))
		p.Press(`form[action="/verify"] button[type=submit]`)
		p.wantPage("/settings", "Your sign-in methods")
		// Without the script the server's reading stays, its zone named.
		if last := p.Text(`time[data-local="datetime"]`); !lastUsedRE.MatchString(last) || !strings.HasSuffix(last, " UTC") {
			t.Errorf("last use without JavaScript = %q, want the server's time in UTC", last)
		}
	})

	t.Run("sign-in ends at the application it started from", func(t *testing.T) {
		backToApp(t, browserCtx, srv)
	})

	t.Run("both methods set up SMS first", func(t *testing.T) {
		p := newPerson(t, browserCtx, srv.url)
		p.open("/login")
		p.signIn("dave")
		p.wantPage("/setup", "Set up two-step sign-in")
		p.click(`details.more > summary`) // "More options"
		p.waitVisible("#method-sms")
		p.click("#method-sms")
		shots.take(t, p.Ctx, "setup-both")
		p.Press(`form[action="/setup"] button[type=submit]`)
		p.wantPage("/setup/sms", "Set up SMS/Text")
		if step := p.Text("p.step"); !strings.Contains(step, "Step 1 of 2") {
			t.Errorf("step = %q", step)
		}
		// The country search narrows the list; the example follows.
		p.waitVisible("#country-search")
		p.Fill("country-search", "United K")
		if v := p.value("#country"); v != "GB" {
			t.Fatalf("after searching for United K the country is %q, want GB", v)
		}
		if ex := p.Text("#phone-example"); ex != "07400 123456" {
			t.Errorf("example for GB = %q", ex)
		}
		shots.take(t, p.Ctx, "setup-sms")
		// A number that cannot be right: the message next to the field.
		p.Fill("phone", "12")
		p.Press(`form[action="/setup/sms"] button[type=submit]`)
		p.wantPage("/setup/sms", "Set up SMS/Text")
		if msg := p.Text("#phone-error"); msg == "" {
			t.Error("no message next to the number")
		}
		if d := p.attr("#phone", "aria-describedby"); !strings.Contains(d, "phone-error") {
			t.Errorf("number field aria-describedby = %q", d)
		}
		if v := p.value("#country"); v != "GB" {
			t.Errorf("country after the error = %q, want GB kept", v)
		}
		shots.take(t, p.Ctx, "setup-sms-error")
		p.clear("#phone")
		p.Fill("phone", "07400 123456")
		p.Press(`form[action="/setup/sms"] button[type=submit]`)
		p.wantPage("/setup/sms", "Set up SMS/Text")
		// With scripts, Resend waits out the cooldown with a countdown.
		if !p.hasAttr("#resend", "disabled") || !strings.Contains(p.Text("#resend"), " s)") {
			t.Errorf("Resend during the cooldown: disabled=%v text=%q", p.hasAttr("#resend", "disabled"), p.Text("#resend"))
		}
		shots.take(t, p.Ctx, "setup-sms-code")
		p.Fill("code", srv.smsCode(t))
		p.Press(`form[action="/setup/sms/confirm"] button[type=submit]`)
		p.wantPage("/setup/sms/confirm", "Save your recovery codes")
		p.Press(`a.btn.primary.block`) // on to the app
		p.wantPage("/setup/totp", "Set up your authenticator app")
		secret := p.Text("#secret")
		p.Fill("code", e2etest.CodeAt(t, secret, time.Now()))
		p.Press(`form[action="/setup/totp"] button[type=submit]`)
		p.wantPage("/settings", "Your sign-in methods")
		if m := p.Text("ul.methods"); !strings.Contains(m, "SMS to •••• 3456") || !strings.Contains(m, "Authenticator app") {
			t.Errorf("settings after both: %q", m)
		}
		// Signing in again offers the phone under "Use another method".
		p.signOut()
		p.signIn("dave")
		p.wantPage("/verify", "Enter your code")
		p.click(`details.others > summary`)
		if others := p.Text("details.others"); !strings.Contains(others, "SMS/Text to •••• 3456") {
			t.Errorf("Use another method = %q", others)
		}
		p.Press(`details.others a[href*="method=sms"]`)
		p.wantPage("/verify", "Enter your code")
		if hint := p.Text("#send-hint"); !strings.Contains(hint, "•••• 3456") {
			t.Errorf("send hint = %q", hint)
		}
	})

	t.Run("remember this device", func(t *testing.T) {
		rsrv := startServer(t, []string{"TWOSTEP_REMEMBER_DEVICE_DAYS=30"}, "gail")
		p := newPerson(t, browserCtx, rsrv.url)
		secret := p.firstSignIn("gail", nil)
		p.Press(`a.btn.primary.block`)
		p.signOut()
		p.signIn("gail")
		p.wantPage("/verify", "Enter your code")
		if l := p.Text(`label[for="remember"]`); l != "Remember this device for 30 days" {
			t.Errorf("checkbox label = %q", l)
		}
		p.click("#remember")
		p.Fill("code", e2etest.CodeAt(t, secret, time.Now().Add(30*time.Second)))
		p.Press(`form[action="/verify"] button[type=submit]`)
		p.wantPage("/settings", "Your sign-in methods")
		p.signOut()
		p.signIn("gail") // straight in: no code
		p.wantPage("/settings", "Your sign-in methods")
		p.Press(`a[href="/settings/sessions"]`)
		p.wantPage("/settings/sessions", "Sessions and devices")
		if d := p.Text("#devices"); !strings.Contains(d, "This browser") || !strings.Contains(d, "Headless Chrome on Linux") {
			t.Errorf("remembered browsers = %q", d)
		}
		shots.take(t, p.Ctx, "settings-remembered")
		p.Press(`#devices form[action$="/forget"] button[type=submit]`)
		p.wantPage("/settings/sessions", "Sessions and devices")
		p.signOut()
		p.signIn("gail")
		p.wantPage("/verify", "Enter your code")
	})

	t.Run("sign in with SMS", func(t *testing.T) {
		p := newPerson(t, browserCtx, srv.url)
		before := len(srv.outbox.All(t))
		p.open("/login")
		p.signIn("frank")
		p.wantPage("/verify", "Enter your code")
		if hint := p.Text("#send-hint"); !strings.Contains(hint, "We will send a text") || !strings.Contains(hint, "•••• 0123") {
			t.Errorf("before sending: %q", hint)
		}
		n := len(srv.outbox.All(t))
		if n != before {
			t.Fatalf("loading /verify sent %d texts", n-before)
		}
		shots.take(t, p.Ctx, "verify-sms")
		// The set-up's code was used, so it holds no cooldown: the text goes
		// at once.
		p.Press(`form[action="/verify"] button[name="send"]`)
		p.wantPage("/verify", "Enter your code")
		if ts := srv.outbox.All(t); len(ts) != n+1 || ts[n].To != "+12015550123" {
			t.Fatalf("Send code: texts %+v, want one more, to frank", ts)
		}
		if hint := p.Text("#code-hint"); !strings.Contains(hint, "We sent a text to •••• 0123") {
			t.Errorf("after sending: %q", hint)
		}
		p.Fill("code", srv.smsCode(t))
		p.Press(`form[action="/verify"] button[type=submit]`)
		p.wantPage("/settings", "Your sign-in methods")
	})
}

// backToApp signs in from an application behind forward-auth (rd is an
// absolute URL on a host an access rule names) and checks that the browser
// ends there.
func backToApp(t *testing.T, browserCtx context.Context, srv *server) {
	p := newPerson(t, browserCtx, srv.url)
	secret := p.firstSignIn("erin", nil)
	p.Press(`a.btn.primary.block`)
	p.signOut()
	app := strings.Replace(srv.url, "localhost", "127.0.0.1", 1) + "/help?from=app"
	p.open("/login?rd=" + url.QueryEscape(app))
	p.signIn("erin")
	p.wantPage("/verify", "Enter your code")
	p.Fill("code", e2etest.CodeAt(t, secret, time.Now().Add(30*time.Second)))
	p.Press(`form[action="/verify"] button[type=submit]`)
	// /continue sends the browser on with a meta refresh.
	deadline := time.Now().Add(5 * time.Second)
	for {
		loc, err := chromedp.Run(p.Ctx, chromedp.Location())
		// Asked while the meta refresh navigates, Chromium answers that
		// the page went away: still on the way, ask again.
		if err != nil && !(strings.Contains(err.Error(), "Inspected target navigated or closed") && time.Now().Before(deadline)) {
			t.Fatal(err)
		}
		if err == nil && loc == app {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still at %s, want %s", loc, app)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// firstSignIn signs a new user in, keeps the preselected authenticator app,
// adds it with the key the page shows, and returns that key. The browser is
// left on the recovery codes page. With shots, it photographs each page.
func (p *person) firstSignIn(user string, shots *screenshots) string {
	p.T.Helper()
	p.open("/login")
	p.signIn(user)
	p.wantPage("/setup", "Set up two-step sign-in")
	if !p.hasAttr("#method-totp", "checked") {
		p.T.Error("Authenticator App is not preselected")
	}
	if shots != nil {
		shots.take(p.T, p.Ctx, "setup")
	}
	p.Press(`form[action="/setup"] button[type=submit]`)
	p.wantPage("/setup/totp", "Set up your authenticator app")
	secret := p.Text("#secret")
	if len(strings.ReplaceAll(secret, " ", "")) != 32 {
		p.T.Fatalf("secret on the page = %q", secret)
	}
	if shots != nil {
		shots.take(p.T, p.Ctx, "setup-totp")
	}
	p.Fill("code", e2etest.CodeAt(p.T, secret, time.Now()))
	p.Press(`form[action="/setup/totp"] button[type=submit]`)
	p.wantPage("/setup/totp", "Save your recovery codes")
	codes, err := chromedp.Run(p.Ctx, chromedp.Nodes(chromedp.CSSAll("ol.codes li")))
	if err != nil || len(codes) != 10 {
		p.T.Fatalf("recovery codes: %d shown (%v), want 10", len(codes), err)
	}
	if shots != nil {
		shots.take(p.T, p.Ctx, "recovery-codes")
	}
	return secret
}

func (p *person) signIn(user string) {
	p.T.Helper()
	p.Fill("username", user)
	p.Fill("password", e2etest.Password)
	p.Press(`form[action="/login"] button[type=submit]`)
}

func (p *person) signOut() {
	p.T.Helper()
	p.Press(`header form[action="/logout"] button[type=submit]`)
	p.wantPage("/login", "Sign in")
}

// open navigates to path on the person's server (Tab.Open takes a whole
// URL).
func (p *person) open(path string) {
	p.T.Helper()
	p.Open(p.base + path)
}

// download clicks a download link and returns the saved file's contents.
func (p *person) download(sel string) string {
	p.T.Helper()
	dir := p.T.TempDir()
	events := chromedp.BrowserEvents(p.Ctx, browser.DownloadProgress)
	_, err := chromedp.CallBrowser(p.Ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior:         browser.SetDownloadBehaviorBehaviorAllowAndName,
		BrowserContextID: chromedp.FromContext(p.Ctx).BrowserContextID,
		DownloadPath:     dir,
		EventsEnabled:    new(true),
	})
	if err != nil {
		p.T.Fatalf("download behaviour: %v", err)
	}
	p.click(sel)
	for ev, err := range events {
		if err != nil {
			p.T.Fatalf("download of %s: %v", sel, err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			data, err := os.ReadFile(filepath.Join(dir, ev.GUID))
			if err != nil {
				p.T.Fatalf("downloaded file: %v", err)
			}
			return string(data)
		case browser.DownloadProgressStateCanceled:
			p.T.Fatalf("download of %s was cancelled", sel)
		}
	}
	p.T.Fatalf("no download from %s", sel)
	return ""
}

// click clicks what sel selects, without waiting for a page.
func (p *person) click(sel string) {
	p.T.Helper()
	if err := chromedp.Do(p.Ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)); err != nil {
		p.T.Fatalf("click %s: %v", sel, err)
	}
}

func (p *person) waitVisible(sel string) {
	p.T.Helper()
	if err := chromedp.Do(p.Ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		p.T.Fatalf("wait for %s: %v", sel, err)
	}
}

// value is the current value of a form field.
func (p *person) value(sel string) string {
	p.T.Helper()
	v, err := chromedp.Run(p.Ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		p.T.Fatalf("value of %s: %v", sel, err)
	}
	return v
}

// clear empties a text field.
func (p *person) clear(sel string) {
	p.T.Helper()
	if err := chromedp.Do(p.Ctx, chromedp.Clear(chromedp.CSS(sel))); err != nil {
		p.T.Fatalf("clear %s: %v", sel, err)
	}
}

func (p *person) attr(sel, name string) string {
	p.T.Helper()
	a, err := chromedp.Run(p.Ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil {
		p.T.Fatalf("attribute %s of %s: %v", name, sel, err)
	}
	return a.Value
}

func (p *person) hasAttr(sel, name string) bool {
	p.T.Helper()
	a, err := chromedp.Run(p.Ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil {
		p.T.Fatalf("attribute %s of %s: %v", name, sel, err)
	}
	return a.Exists
}

// wantPage fails unless the tab shows path with heading (a prefix).
func (p *person) wantPage(path, heading string) {
	p.T.Helper()
	loc, err := chromedp.Run(p.Ctx, chromedp.Location())
	if err != nil {
		p.T.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		p.T.Fatal(err)
	}
	h := p.Text("h1")
	if u.Path != path || !strings.HasPrefix(h, heading) {
		body, _ := chromedp.Run(p.Ctx, chromedp.TextContent(chromedp.CSS("main")))
		p.T.Fatalf("at %s with heading %q, want %s with %q\n%s", loc, h, path, heading, strings.Join(strings.Fields(body), " "))
	}
}

// lastUsedRE is the form of a time of day on the pages, from the server or
// the script: 29 Nov 2026 at 14:03 ZONE.
var lastUsedRE = regexp.MustCompile(`^(\d{1,2} [A-Z][a-z]{2} \d{4}) at (\d\d):(\d\d) (\S+)$`)

// localTimes reloads the settings page in a browser set to Tokyo time
// (UTC+9 all year) and checks that the script rewrote the last use in that
// zone, naming it, and kept the server's UTC reading as the tooltip.
func localTimes(t *testing.T, p *person) {
	t.Helper()
	if _, err := chromedp.Call(p.Ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"}); err != nil {
		t.Fatal(err)
	}
	p.open("/settings")
	p.wantPage("/settings", "Your sign-in methods")
	sel := `ul.methods time[data-local="datetime"]`
	at, err := time.Parse(time.RFC3339, p.attr(sel, "datetime"))
	if err != nil {
		t.Fatalf("datetime attribute: %v", err)
	}
	tokyo := at.In(time.FixedZone("JST", 9*3600))
	want := tokyo.Format("2 Jan 2006 at 15:04") + " GMT+9"
	if got := p.Text(sel); got != want && got != tokyo.Format("2 Jan 2006 at 15:04")+" JST" {
		t.Errorf("last use in Tokyo = %q, want %q", got, want)
	}
	if title := p.attr(sel, "title"); title != at.UTC().Format("2 Jan 2006 at 15:04")+" UTC" {
		t.Errorf("tooltip = %q, want the server's reading in UTC", title)
	}
}
