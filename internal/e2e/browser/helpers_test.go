// Package browser drives twostep's hosted pages in a real headless Chromium
// through github.com/chromedp/chromedp: the server runs in-process through
// the command-line entry point (cli.RunEnv "serve") on a fresh SQLite
// database, and the tests act as a person with a browser and an
// authenticator app. They skip with a message when /usr/bin/chromium is
// missing. The package has test files only.
package browser

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/twostep/twostep/internal/cli"
	"github.com/twostep/twostep/internal/e2e/e2etest"
	"github.com/twostep/twostep/internal/store/storetest"
	"github.com/twostep/twostep/internal/testkit"
	"github.com/twostep/twostep/internal/testskip"
)

const (
	chromiumPath = "/usr/bin/chromium"
	password     = "correct horse battery staple 42"
	contactURL   = "mailto:help@example.com"
	chatURL      = "https://chat.example.com/support"
)

// server is a running twostep instance.
type server struct {
	url     string // http://localhost:PORT
	env     []string
	log     *e2etest.Log
	smsFile string // where the file SMS provider appends its texts
}

// startServer runs "twostep serve" in-process on a random port with small
// argon2 parameters, branding and support links, texts written to a file
// (only to US and GB numbers), and stops it when the test ends. extra are
// further TWOSTEP_* settings.
func startServer(t *testing.T, extra []string, users ...string) *server {
	t.Helper()
	dir := t.TempDir()
	smsFile := filepath.Join(dir, "sms.jsonl")
	env := []string{
		"TWOSTEP_LISTEN=127.0.0.1:0",
		"TWOSTEP_DATABASE=" + database(t, dir),
		"TWOSTEP_KEY_FILE=" + filepath.Join(dir, "k"),
		"TWOSTEP_PASSWORD_ARGON2_MEMORY=64",
		"TWOSTEP_PASSWORD_ARGON2_TIME=1",
		"TWOSTEP_ISSUER=Example Corp",
		"TWOSTEP_SUPPORT_CONTACT_URL=" + contactURL,
		"TWOSTEP_SUPPORT_CHAT_URL=" + chatURL,
		"TWOSTEP_SMS_DEFAULT_COUNTRY=DE",
		"TWOSTEP_SMS_PROVIDER=file",
		"TWOSTEP_SMS_FILE=" + smsFile,
		"TWOSTEP_SMS_ALLOWED_COUNTRIES=US,GB",
		// The pages are opened as localhost; 127.0.0.1 plays an application
		// behind forward-auth that sign-in returns to.
		"TWOSTEP_ACCESS_RULES=127.0.0.1 two_factor",
	}
	env = append(env, extra...)
	s := &server{env: env, log: &e2etest.Log{}, smsFile: smsFile}
	if code := cli.RunEnv(context.Background(), []string{"migrate"}, env, strings.NewReader(""), s.log, s.log); code != 0 {
		t.Fatalf("migrate: exit %d\n%s", code, s.log)
	}
	for _, u := range users {
		if code := cli.RunEnv(context.Background(), []string{"user", "add", u, "--password-stdin"}, env, strings.NewReader(password+"\n"), s.log, s.log); code != 0 {
			t.Fatalf("user add %s: exit %d\n%s", u, code, s.log)
		}
	}
	addr, stop, err := e2etest.Serve(env, s.log)
	if err != nil {
		t.Fatalf("%v:\n%s", err, s.log)
	}
	t.Cleanup(func() {
		if stop() == -1 {
			t.Error("server did not stop within 15 s")
		}
	})
	_, port, _ := strings.Cut(addr, ":")
	s.url = "http://localhost:" + port
	return s
}

// database is a fresh SQLite file, or a fresh PostgreSQL database when the
// suite runs on PostgreSQL (storetest.BackendEnv).
func database(t *testing.T, dir string) string {
	if storetest.OnPostgres() {
		return storetest.PostgresDSN(t)
	}
	return "sqlite:" + filepath.Join(dir, "t.db")
}

// startBrowser starts one headless Chromium for the whole test; each
// subtest opens its own isolated browser context (own cookies) in it.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		testskip.Skip(t, "Chromium is not installed ("+chromiumPath+" missing)", "apt-get install -y chromium")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return browserCtx
}

// tab opens a fresh, isolated tab (new browser context: no cookies) with a
// time limit.
func tab(t *testing.T, browserCtx context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	ctx, cancelTimeout := context.WithTimeout(ctx, 30*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	return ctx
}

// texts returns the texts the server sent so far (the file provider's JSON
// lines), oldest first.
func (s *server) texts(t *testing.T) []smsLine {
	t.Helper()
	data, err := os.ReadFile(s.smsFile)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []smsLine
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var l smsLine
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("sms file line %q: %v", line, err)
		}
		out = append(out, l)
	}
	return out
}

// smsLine is one text of the file provider.
type smsLine struct {
	To     string    `json:"to"`
	Body   string    `json:"body"`
	SentAt time.Time `json:"sent_at"`
}

// smsCode is the code of the last text: after the last '#', the WebOTP line.
func (s *server) smsCode(t *testing.T) string {
	t.Helper()
	ts := s.texts(t)
	if len(ts) == 0 {
		t.Fatal("no text sent")
	}
	body := ts[len(ts)-1].Body
	return body[strings.LastIndex(body, "#")+1:]
}

// totpCode is RFC 6238 (HMAC-SHA1, 6 digits, 30 s) written out here, so the
// test checks the server against an independent implementation.
func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.ReplaceAll(secret, " ", "")))
	if err != nil {
		t.Fatalf("secret %q: %v", secret, err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/30))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000)
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
func (s *screenshots) take(t *testing.T, ctx context.Context, name string) {
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
