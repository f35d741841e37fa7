package browser

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/twostep/twostep/internal/e2e/e2etest"
)

// TestGracePage walks the grace period (docs/rollout.md) in Chromium at
// 320 px: a user without a method may choose "Set up later (14 days
// left)"; towards an application whose access rule accepts a grace period
// the browser goes on to it, and forward-auth lets the session in there
// and not into an application that does not accept one; without
// JavaScript, choosing it towards such an application shows the page that
// says it needs set-up now, which leads back to set-up.
func TestGracePage(t *testing.T) {
	browserCtx := e2etest.StartChromium(t)
	srv := startServer(t, []string{
		"TWOSTEP_MFA_GRACE_PERIOD=336h",
		// 127.0.0.1 plays the applications: /help accepts a grace period,
		// the rest is two_factor.
		"TWOSTEP_ACCESS_RULES=127.0.0.1/help two_factor+grace,127.0.0.1 two_factor",
	}, "gina", "hank")
	app := strings.Replace(srv.url, "localhost", "127.0.0.1", 1)

	narrow := func(p *person) {
		t.Helper()
		if err := chromedp.Do(p.Ctx, chromedp.EmulateViewport(320, 640, chromedp.EmulateMobile)); err != nil {
			t.Fatal(err)
		}
	}
	noSideways := func(p *person, name string) {
		t.Helper()
		width, err := chromedp.Run(p.Ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if err != nil {
			t.Fatal(err)
		}
		if width > 320 {
			t.Errorf("%s: at 320 px the page is %d px wide and scrolls sideways", name, width)
		}
	}

	t.Run("set up later, on to an application that accepts it", func(t *testing.T) {
		p := newPerson(t, browserCtx, srv.url)
		narrow(p)
		target := app + "/help?from=app"
		p.open("/login?rd=" + url.QueryEscape(target))
		p.signIn("gina")
		p.wantPage("/setup", "Set up two-step sign-in")
		if r := p.Text("#grace-reminder"); !strings.Contains(r, "14 days left") {
			t.Errorf("reminder = %q", r)
		}
		later := `form[action="/setup/later"] button[type=submit]`
		if b := p.Text(later); b != "Set up later (14 days left)" {
			t.Errorf("button = %q", b)
		}
		noSideways(p, "setup with grace")
		p.Press(later)
		waitLocation(t, p, target)

		// Forward-auth, asked as a proxy would about this browser's session
		// (its cookie is twostep's, so ask from twostep's origin).
		p.open("/help")
		ask := func(original string) int {
			t.Helper()
			st, err := chromedp.Run(p.Ctx, chromedp.Evaluate[int](
				`fetch("/api/v1/auth/auth-request", {headers: {"X-Original-URL": `+jsString(original)+`}}).then(r => r.status)`,
				chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		if st := ask(app + "/help/page"); st != 200 {
			t.Errorf("forward-auth, grace application: %d, want 200", st)
		}
		if st := ask(app + "/admin"); st != 401 {
			t.Errorf("forward-auth, two_factor application: %d, want 401", st)
		}
	})

	t.Run("without JavaScript, refused by an application that needs set-up now", func(t *testing.T) {
		p := newPerson(t, browserCtx, srv.url)
		if _, err := chromedp.Call(p.Ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatal(err)
		}
		narrow(p)
		p.open("/login?rd=" + url.QueryEscape(app+"/admin"))
		p.signIn("hank")
		p.wantPage("/setup", "Set up two-step sign-in")
		p.Press(`form[action="/setup/later"] button[type=submit]`)
		p.wantPage("/setup/later", "Set up later")
		if m := p.Text("main"); !strings.Contains(m, "needs two-step sign-in now") || !strings.Contains(m, "14 days left") {
			t.Errorf("later page: %q", m)
		}
		noSideways(p, "setup later")
		p.Press(`main a.btn.primary`)
		p.wantPage("/setup", "Set up two-step sign-in")
	})
}

// waitLocation waits (bounded) until the tab is at want: /continue sends
// the browser on with a meta refresh.
func waitLocation(t *testing.T, p *person, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		loc, err := chromedp.Run(p.Ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		if loc == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still at %s, want %s", loc, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// jsString quotes s as a JavaScript string literal (s is a URL built here).
func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
