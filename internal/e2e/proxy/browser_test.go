package proxy

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/twostep/twostep/internal/e2e/e2etest"
)

// TestBrowserThroughNginx is the forward-auth journey once in headless
// Chromium, with JavaScript on, through nginx serving HTTPS (the production
// shape: Secure cookies for example.test): the person opens the
// application, nginx sends them to twostep's sign-in page, they enter the
// password and a code from their authenticator app, and the browser ends on
// the page they asked for, which shows that the application saw them as
// carol. After signing out on twostep's settings page, the application
// sends them to sign in again. Chromium resolves *.example.test to
// 127.0.0.1 and accepts the test's certificate.
func TestBrowserThroughNginx(t *testing.T) {
	e2etest.NeedChromium(t)
	browserJourney(t, newTLSSetup(t))
}

// TestBrowserThroughNginxPlainHTTP is the same journey over plain HTTP with
// insecure_dev_cookies, the documented development set-up.
func TestBrowserThroughNginxPlainHTTP(t *testing.T) {
	e2etest.NeedChromium(t)
	browserJourney(t, newSetup(t))
}

// TestBrowserThroughCaddy is the same journey through a real Caddy over
// plain HTTP, with docs/proxies.md's Caddyfile: there twostep itself
// answers a browser's GET with the redirect to sign in.
func TestBrowserThroughCaddy(t *testing.T) {
	e2etest.NeedChromium(t)
	browserJourney(t, newCaddySetup(t))
}

func browserJourney(t *testing.T, s *setup) {
	s.ts.AddUser(t, "carol")
	// The authenticator app was set up earlier (JSON API); the browser
	// starts without a session.
	gen := s.enrol(t, s.client(t, true), "carol")
	b := startBrowser(t)

	orig := s.front.url(appHost, "/reports/q3?view=full")
	b.Open(orig)
	b.wantAt(s.front.url(loginHost, "/login"), "Sign in to Example Corp")
	b.Fill("username", "carol")
	b.Fill("password", e2etest.Password)
	b.Press(`form[action="/login"] button[type=submit]`)
	b.wantAt(s.front.url(loginHost, "/verify"), "Enter your code")
	b.Fill("code", gen.Next(t))
	// /continue sends the browser on with a meta refresh.
	b.pressAndArrive(`form[action="/verify"] button[type=submit]`, orig)
	seenText := b.Text("#seen")
	for _, want := range []string{"Remote-User: carol", "Path: /reports/q3?view=full"} {
		if !strings.Contains(seenText, want) {
			t.Errorf("the application page lacks %q:\n%s", want, seenText)
		}
	}

	// Signing out on twostep ends access to the application too.
	b.Open(s.front.url(loginHost, "/settings"))
	b.wantAt(s.front.url(loginHost, "/settings"), "Your sign-in methods")
	b.Press(`header form[action="/logout"] button[type=submit]`)
	b.wantAt(s.front.url(loginHost, "/login"), "Sign in")
	b.Open(orig)
	b.wantAt(s.front.url(loginHost, "/login"), "Sign in to Example Corp")
}

// startBrowser starts headless Chromium (e2etest.StartChromium) with
// *.example.test resolved to 127.0.0.1, and returns a person using a tab
// with a time limit.
func startBrowser(t *testing.T) *browserUser {
	t.Helper()
	browserCtx := e2etest.StartChromium(t,
		chromedp.Flag("host-resolver-rules", "MAP *.example.test 127.0.0.1"),
		chromedp.Flag("ignore-certificate-errors", true), // the test's own certificate
		// The defaults' list plus HTTPS-Upgrades: the test hosts speak plain
		// HTTP only.
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,HttpsUpgrades"),
	)
	return &browserUser{e2etest.NewTab(t, browserCtx, 60*time.Second)}
}

// browserUser is a person using one tab.
type browserUser struct {
	*e2etest.Tab
}

// wantAt waits up to 10 s for the tab to show the page at pageURL (query
// ignored) with a heading starting with heading. A navigation that ends
// after a redirect to another host replaces the document while chromedp may
// already be querying the old one, so each look has its own short timeout.
func (b *browserUser) wantAt(pageURL, heading string) {
	b.T.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var loc, h string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.Ctx, time.Second)
		l, err1 := chromedp.Run(ctx, chromedp.Location())
		t, err2 := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("main h1")))
		cancel()
		if err1 == nil {
			loc = l
		}
		if err1 == nil && err2 == nil {
			h = strings.Join(strings.Fields(t), " ")
			if u, err := url.Parse(loc); err == nil {
				u.RawQuery = ""
				if u.String() == pageURL && strings.HasPrefix(h, heading) {
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	body, _ := chromedp.Run(b.Ctx, chromedp.TextContent(chromedp.CSS("body")))
	b.T.Fatalf("at %s with heading %q, want %s with %q\n%s", loc, h, pageURL, heading, strings.Join(strings.Fields(body), " "))
}

// pressAndArrive clicks what sel selects and waits up to 10 s until the
// tab has loaded want: the main frame committed a navigation to want and
// the load event fired after that. It is for a click that leads through a
// page that moves on by itself (/continue's meta refresh, delay 0).
// Polling the location with Runtime.evaluate instead, as this test once
// did, races that second navigation: an evaluation in flight when the
// refresh replaces the document fails with "Inspected target navigated or
// closed (-32000)". The events are read in the order Chromium sends them
// (chromedp.Listen), so a load event of the intermediate page cannot be
// taken for the final one.
func (b *browserUser) pressAndArrive(sel, want string) {
	b.T.Helper()
	arrived := make(chan struct{})
	lctx, stop := context.WithCancel(b.Ctx)
	defer stop()
	at, done := "", false // touched only by the listener, one event at a time
	err := chromedp.Listen(lctx, func(ev any) {
		switch e := ev.(type) {
		case *page.EventFrameNavigated:
			if e.Frame.ParentID == "" {
				at = e.Frame.URL
			}
		case *page.EventLoadEventFired:
			if at == want && !done {
				done = true
				close(arrived)
			}
		}
	})
	if err != nil {
		b.T.Fatalf("listen: %v", err)
	}
	if err := chromedp.Do(b.Ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)); err != nil {
		b.T.Fatalf("press %s: %v", sel, err)
	}
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		b.T.Fatalf("press %s: not at %s after 10 s", sel, want)
	case <-b.Ctx.Done():
		b.T.Fatalf("press %s: %v before arriving at %s", sel, b.Ctx.Err(), want)
	}
}
