package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/keyring"
	"github.com/twostep/twostep/internal/metrics"
	"github.com/twostep/twostep/internal/password"
	"github.com/twostep/twostep/internal/ratelimit"
	"github.com/twostep/twostep/internal/server"
	"github.com/twostep/twostep/internal/sms"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/totp"
)

var ctx = context.Background()

const pw = "correct horse battery"

// Support links configured in every test instance: user-configured links,
// the only absolute URLs a page may contain.
const (
	contactURL = "mailto:help@example.com"
	chatURL    = "https://chat.example.com/room"
)

// clock is a settable test clock shared by the service and the limiter, so
// "the next TOTP step" is a clock move, not a 30-second sleep.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// env is a twostep server (API and pages, through server.Handler with all
// its middleware) on a fresh SQLite database. Texts go to a file (the
// file provider), one JSON line each.
type env struct {
	t       *testing.T
	svc     *auth.Service
	clock   *clock
	srv     *httptest.Server
	smsFile string
}

// newEnv starts a server; mods adjust the service configuration.
func newEnv(t *testing.T, mods ...func(*auth.Config)) *env {
	t.Helper()
	st, err := store.Open(ctx, store.SQLite, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// Mid-window, so the next step is 30 s away rather than at a boundary.
	c := &clock{t: time.Unix(1_800_000_015, 0)}
	per := func(n int64) ratelimit.Limit { return ratelimit.Limit{Count: n, Window: time.Minute} }
	budget := func(n int64) [2]ratelimit.Limit {
		return [2]ratelimit.Limit{{Count: n, Window: time.Hour}, {Count: n, Window: 24 * time.Hour}}
	}
	smsFile := filepath.Join(t.TempDir(), "sms.jsonl")
	sender, err := sms.NewFile(sms.FileConfig{Path: smsFile, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	backend := ratelimit.NewMemory(c.now)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := auth.Config{
		Issuer: "Test", PublicURL: "http://127.0.0.1", MFARequired: true, InviteTTL: time.Hour,
		IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour, RecentAuth: 5 * time.Minute,
		TOTP:       totp.DefaultParams(),
		LoginPerIP: per(1000), VerifyPerIP: per(1000), VerifyPerUser: per(1000),
		SMSHost: "login.example.com", SMSAllowedCountries: []string{"US", "GB", "DE"},
		SMSBudgets: auth.SMSBudgets{PerNumber: budget(100), PerUser: budget(100), PerIP: budget(100), PerCountry: budget(1000), Global: budget(1000)},
	}
	for _, m := range mods {
		m(&cfg)
	}
	svc := auth.New(cfg, auth.Deps{
		SMS:     sender,
		Store:   st,
		Keys:    keyring.Generate(),
		Hasher:  password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2, time.Second),
		Limiter: ratelimit.NewLimiter(backend),
		Backoff: ratelimit.NewBackoff(backend, 5, 30*time.Second, time.Hour),
		Audit:   audit.New(st, log, c.now),
		Log:     log,
		Now:     c.now,
	})
	h := server.Handler(svc, st, log, server.Options{Metrics: metrics.New(), Pages: server.Pages{
		BrandName: "Example Corp", AccentColor: "#0f766e", ContactURL: contactURL, ChatURL: chatURL, DefaultCountry: "DE",
	}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, svc: svc, clock: c, srv: srv, smsFile: smsFile}
}

// texts returns the bodies of the texts sent so far, oldest first.
func (e *env) texts() []string {
	e.t.Helper()
	data, err := os.ReadFile(e.smsFile)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	var bodies []string
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var m struct{ To, Body string }
		if err := json.Unmarshal(line, &m); err != nil {
			e.t.Fatalf("sms file line %q: %v", line, err)
		}
		bodies = append(bodies, m.Body)
	}
	return bodies
}

// smsCode is the code of the last text: after the last '#' (the WebOTP line).
func (e *env) smsCode() string {
	e.t.Helper()
	ts := e.texts()
	if len(ts) == 0 {
		e.t.Fatal("no text sent")
	}
	body := ts[len(ts)-1]
	return body[strings.LastIndex(body, "#")+1:]
}

// addUser creates a user with password pw.
func (e *env) addUser(name string) {
	e.t.Helper()
	if _, err := e.svc.CreateUser(ctx, auth.Client{IP: "192.0.2.1"}, name, pw); err != nil {
		e.t.Fatal(err)
	}
}

// browser is one person's browser without JavaScript: a cookie jar and
// forms posted as a browser would post them.
type browser struct {
	e    *env
	c    *http.Client
	page *page // the last page loaded
}

// page is a loaded page.
type page struct {
	url    *url.URL // after redirects
	status int
	header http.Header
	body   string
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar}}
}

// get loads path, following redirects.
func (b *browser) get(path string) *page {
	b.e.t.Helper()
	return b.do(http.NewRequest("GET", b.e.srv.URL+path, nil))
}

// post submits a form to path, following redirects.
func (b *browser) post(path string, form url.Values) *page {
	b.e.t.Helper()
	req, err := http.NewRequest("POST", b.e.srv.URL+path, strings.NewReader(form.Encode()))
	if err == nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return b.do(req, err)
}

// submit fills in the form of the last page whose action is action: its
// hidden fields plus fields, as a browser would send them.
func (b *browser) submit(action string, fields url.Values) *page {
	b.e.t.Helper()
	form := b.page.form(b.e.t, action)
	for k, v := range fields {
		form[k] = v
	}
	return b.post(action, form)
}

func (b *browser) do(req *http.Request, err error) *page {
	b.e.t.Helper()
	if err != nil {
		b.e.t.Fatal(err)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	b.page = &page{url: resp.Request.URL, status: resp.StatusCode, header: resp.Header, body: string(body)}
	return b.page
}

// noFollow sends one request without following a redirect and returns the
// response (body closed).
func (b *browser) noFollow(method, path string, form url.Values) *http.Response {
	b.e.t.Helper()
	c := *b.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.e.srv.URL+path, body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// login signs in through the form and returns the page it lands on.
func (b *browser) login(user, password string) *page {
	b.e.t.Helper()
	b.get("/login")
	return b.submit("/login", url.Values{"username": {user}, "password": {password}})
}

// enrol takes a fresh user from sign-in through the authenticator app set-up
// and returns the secret and the recovery codes page.
func (b *browser) enrol(user string) ([]byte, *page) {
	b.e.t.Helper()
	if p := b.login(user, pw); p.url.Path != "/setup" {
		b.e.t.Fatalf("after first sign-in: at %s, want /setup", p.url)
	}
	p := b.submit("/setup", url.Values{"method": {"totp"}})
	if p.url.Path != "/setup/totp" {
		b.e.t.Fatalf("after choosing the app: at %s, want /setup/totp", p.url)
	}
	secret := p.secret(b.e.t)
	return secret, b.submit("/setup/totp", url.Values{"code": {b.e.code(secret)}})
}

// code is the TOTP code at the test clock.
func (e *env) code(secret []byte) string {
	return totp.Code(secret, totp.DefaultParams(), e.clock.now())
}

var (
	formRe   = regexp.MustCompile(`(?s)<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>`)
	hiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	secretRe = regexp.MustCompile(`<code class="secret" id="secret"[^>]*>([A-Z2-7 ]+)</code>`)
	h1Re     = regexp.MustCompile(`(?s)<h1>(.*?)</h1>`)
)

// form returns the hidden fields of the page's form with action.
func (p *page) form(t *testing.T, action string) url.Values {
	t.Helper()
	for _, m := range formRe.FindAllStringSubmatch(p.body, -1) {
		if html.UnescapeString(m[1]) != action {
			continue
		}
		v := url.Values{}
		for _, h := range hiddenRe.FindAllStringSubmatch(m[2], -1) {
			v.Add(h[1], html.UnescapeString(h[2]))
		}
		return v
	}
	t.Fatalf("page %s has no form with action %q:\n%s", p.url, action, p.body)
	return nil
}

// secret reads the authenticator-app key the set-up page shows.
func (p *page) secret(t *testing.T) []byte {
	t.Helper()
	m := secretRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no secret on %s:\n%s", p.url, p.body)
	}
	s, err := totp.DecodeSecret(m[1])
	if err != nil {
		t.Fatalf("secret %q: %v", m[1], err)
	}
	return s
}

// h1 returns the page's heading.
func (p *page) h1() string {
	m := h1Re.FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func (p *page) has(s string) bool { return strings.Contains(p.body, s) }

// want fails unless the page is at path with status and heading.
func (p *page) want(t *testing.T, status int, path, heading string) {
	t.Helper()
	if p.status != status || p.url.Path != path || !strings.Contains(p.h1(), heading) {
		t.Fatalf("at %s (%d, %q), want %s (%d, heading %q)\n%s", p.url, p.status, p.h1(), path, status, heading, p.body)
	}
}
