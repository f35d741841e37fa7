// Package browser drives twostep's hosted pages in a real headless Chromium
// through github.com/chromedp/chromedp: the server runs in-process through
// the command-line entry point (cli.RunEnv "serve") on a fresh SQLite
// database, and the tests act as a person with a browser and an
// authenticator app. They skip with a message when /usr/bin/chromium is
// missing. The package has test files only.
package browser

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/twostep/twostep/internal/e2e/e2etest"
	"github.com/twostep/twostep/internal/testkit"
)

const (
	contactURL = "mailto:help@example.com"
	chatURL    = "https://chat.example.com/support"
)

// server is a running twostep instance.
type server struct {
	*e2etest.Instance
	url    string         // http://localhost:PORT
	outbox e2etest.Outbox // the texts of the file SMS provider
}

// startServer runs "twostep serve" in-process on a random port with small
// argon2 parameters, branding and support links, texts written to a file
// (only to US and GB numbers), and stops it when the test ends. extra are
// further TWOSTEP_* settings; users are created with e2etest.Password.
func startServer(t *testing.T, extra []string, users ...string) *server {
	t.Helper()
	outbox := e2etest.Outbox{Path: filepath.Join(t.TempDir(), "sms.jsonl")}
	settings := []string{
		"TWOSTEP_ISSUER=Example Corp",
		"TWOSTEP_SUPPORT_CONTACT_URL=" + contactURL,
		"TWOSTEP_SUPPORT_CHAT_URL=" + chatURL,
		"TWOSTEP_SMS_DEFAULT_COUNTRY=DE",
		"TWOSTEP_SMS_PROVIDER=file",
		"TWOSTEP_SMS_FILE=" + outbox.Path,
		"TWOSTEP_SMS_ALLOWED_COUNTRIES=US,GB",
		// The pages are opened as localhost; 127.0.0.1 plays an application
		// behind forward-auth that sign-in returns to.
		"TWOSTEP_ACCESS_RULES=127.0.0.1 two_factor",
	}
	in := e2etest.NewInstance(t, "", append(settings, extra...)...)
	for _, u := range users {
		in.AddUser(t, u)
	}
	addr, _ := in.Start(t)
	_, port, _ := strings.Cut(addr, ":")
	return &server{Instance: in, url: "http://localhost:" + port, outbox: outbox}
}

// person is someone using one tab of the browser on the server at base.
type person struct {
	*e2etest.Tab
	base string
}

// newPerson opens a fresh, isolated tab (new browser context: no cookies)
// with a time limit, for the server at base.
func newPerson(t *testing.T, browserCtx context.Context, base string) *person {
	return &person{Tab: e2etest.NewTab(t, browserCtx, 30*time.Second), base: base}
}

// smsCode is the code of the last text: after the last '#', the WebOTP line.
func (s *server) smsCode(t *testing.T) string {
	t.Helper()
	ts := s.outbox.All(t)
	if len(ts) == 0 {
		t.Fatal("no text sent")
	}
	body := ts[len(ts)-1].Body
	return body[strings.LastIndex(body, "#")+1:]
}

// screenshots saves full-page PNGs of the current page at desktop and phone
// widths into dir, and into TWOSTEP_SCREENSHOTS_DIR for the names listed in
// keep, or for all with TWOSTEP_SCREENSHOTS_ALL=1 (a relative
// TWOSTEP_SCREENSHOTS_DIR is taken from the repository root).
type screenshots struct {
	dir  string
	keep map[string]bool
	docs string
}

func newScreenshots(t *testing.T) *screenshots {
	s := &screenshots{dir: t.TempDir(), keep: map[string]bool{
		"login-desktop": true, "setup-desktop": true, "setup-totp-desktop": true, "recovery-codes-desktop": true,
		"verify-desktop": true, "settings-desktop": true, "setup-totp-phone": true, "verify-error-phone": true,
		"setup-sms-desktop": true, "setup-sms-error-phone": true, "setup-sms-code-desktop": true, "verify-sms-phone": true,
		"settings-remembered-desktop": true,
	}}
	t.Logf("screenshots in %s", s.dir)
	if d := os.Getenv("TWOSTEP_SCREENSHOTS_DIR"); d != "" {
		if !filepath.IsAbs(d) {
			d = filepath.Join(testkit.Root(t), d)
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		s.docs = d
		t.Logf("selected screenshots also go to %s", d)
	}
	return s
}

// take captures the current page at 1280 and 375 px wide, then restores the
// desktop width.
func (s *screenshots) take(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	for _, v := range []struct {
		suffix string
		w, h   int64
		mobile bool
	}{{"desktop", 1280, 800, false}, {"phone", 375, 812, true}} {
		opts := []chromedp.EmulateViewportOption{}
		if v.mobile {
			opts = append(opts, chromedp.EmulateMobile)
		}
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(v.w, v.h, opts...)); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		file := name + "-" + v.suffix + ".png"
		if err := os.WriteFile(filepath.Join(s.dir, file), png, 0o644); err != nil {
			t.Fatal(err)
		}
		if s.docs != "" && (s.keep[name+"-"+v.suffix] || os.Getenv("TWOSTEP_SCREENSHOTS_ALL") == "1") {
			if err := os.WriteFile(filepath.Join(s.docs, file), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Usable at 320 px (WCAG 1.4.10 reflow, the width of 1280 px at 400 %
	// zoom): nothing may scroll sideways.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(320, 640, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if width > 320 {
		t.Errorf("%s: at 320 px the page is %d px wide and scrolls sideways", name, width)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatal(err)
	}
}
