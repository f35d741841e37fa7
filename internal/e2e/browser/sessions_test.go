package browser

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/twostep/twostep/internal/e2e/e2etest"
)

// TestSessionsPageSignsOutAnotherBrowser: one person signed in in two
// browser contexts (two browsers as far as twostep can tell). The first,
// with JavaScript disabled, opens "Sessions and devices" from the settings,
// sees both sessions (this one marked "This device"), checks the page at
// 320 px, and signs the other out with its "Sign out" button; the other's
// next page load is refused and lands on the sign-in page.
func TestSessionsPageSignsOutAnotherBrowser(t *testing.T) {
	browserCtx := e2etest.StartChromium(t)
	srv := startServer(t, nil, "hana")
	shots := newScreenshots(t)

	here := newPerson(t, browserCtx, srv.url)
	if _, err := chromedp.Call(here.Ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	secret := here.firstSignIn("hana", nil)
	here.Press(`a.btn.primary.block`)
	here.wantPage("/settings", "Your sign-in methods")

	there := newPerson(t, browserCtx, srv.url)
	there.open("/login")
	there.signIn("hana")
	there.wantPage("/verify", "Enter your code")
	// The set-up used this step's code; a code is accepted once per step.
	there.Fill("code", e2etest.CodeAt(t, secret, time.Now().Add(30*time.Second)))
	there.Press(`form[action="/verify"] button[type=submit]`)
	there.wantPage("/settings", "Your sign-in methods")
	there.open("/settings/sessions")
	there.wantPage("/settings/sessions", "Sessions and devices")
	if n := strings.Count(there.Text("#sessions"), "This device"); n != 1 {
		t.Errorf(`"This device" %d times on the other browser's page`, n)
	}

	here.Press(`a[href="/settings/sessions"]`)
	here.wantPage("/settings/sessions", "Sessions and devices")
	items, err := chromedp.Run(here.Ctx, chromedp.Nodes(chromedp.CSSAll("#sessions li.method")))
	if err != nil || len(items) != 2 {
		t.Fatalf("%d sessions listed (%v), want 2", len(items), err)
	}
	if list := here.Text("#sessions ul.sessions"); strings.Count(list, "This device") != 1 || !strings.Contains(list, "IP address 127.0.0.1") ||
		!strings.Contains(list, "Headless Chrome on Linux") || !strings.Contains(list, "Last active") {
		t.Errorf("sessions = %q", list)
	}
	// The button names what it signs out for screen readers.
	if b := here.Text(`form[action$="/end"] button`); !strings.HasPrefix(b, "Sign out Headless Chrome on Linux, last active") {
		t.Errorf("Sign out button reads %q", b)
	}
	shots.take(t, here.Ctx, "sessions") // includes the 320 px reflow check

	here.Press(`form[action$="/end"] button[type=submit]`)
	here.wantPage("/settings/sessions", "Sessions and devices")
	if n := here.Text("p.notice.ok"); !strings.Contains(n, "That session was signed out") {
		t.Errorf("notice = %q", n)
	}
	if strings.Contains(here.Text("main"), "Sign out all other sessions") {
		t.Error("Sign out all other sessions is offered with no other session left")
	}

	// The other browser's next page load is refused: back to sign-in.
	there.open("/settings")
	there.wantPage("/login", "Sign in")

	// This browser is still signed in.
	here.open("/settings")
	here.wantPage("/settings", "Your sign-in methods")
}
