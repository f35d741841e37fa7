package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/auth/authtest"
	"github.com/twostep/twostep/internal/metrics"
	"github.com/twostep/twostep/internal/passkey"
	"github.com/twostep/twostep/internal/server"
	"github.com/twostep/twostep/internal/sms"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/totp"
	"github.com/twostep/twostep/internal/web"
)

var ctx = context.Background()

const pw = "correct horse battery"

// Support links configured in every test instance: user-configured links,
// the only absolute URLs a page may contain.
const (
	contactURL = "mailto:help@example.com"
	chatURL    = "https://chat.example.com/room"
)

// env is a twostep server (API and pages, through server.Handler with all
// its middleware) on a fresh SQLite database. Texts go to a file (the
// file provider), one JSON line each.
type env struct {
	t       *testing.T
	totp    totp.Params // the service's parameters for new apps
	svc     *auth.Service
	st      *store.Store
	clock   *authtest.Clock
	srv     *httptest.Server
	smsFile string
}

// newEnv starts a server; mods adjust the service configuration.
func newEnv(t *testing.T, mods ...func(*auth.Config)) *env {
	t.Helper()
	return newEnvPages(t, nil, mods...)
}

// newEnvPages is newEnv with the page options adjusted by pages (nil: the
// defaults every test uses).
func newEnvPages(t *testing.T, pages func(*web.Options), mods ...func(*auth.Config)) *env {
	t.Helper()
	return newEnvWith(t, pages, nil, mods...)
}

// newEnvWith is newEnv with the page options adjusted by pages and, when
// passkeys is not nil, passkeys on: the relying party is pageRP (the
// service's public_url is its origin), so a software authenticator
// (passkey_test.go) can answer the pages' ceremonies.
func newEnvWith(t *testing.T, pages func(*web.Options), passkeys *auth.PasskeyConfig, mods ...func(*auth.Config)) *env {
	t.Helper()
	smsFile := filepath.Join(t.TempDir(), "sms.jsonl")
	sender, err := sms.NewFile(sms.FileConfig{Path: smsFile})
	if err != nil {
		t.Fatal(err)
	}
	cfg := authtest.Config()
	cfg.PublicURL = "http://127.0.0.1"
	for _, m := range mods {
		m(&cfg)
	}
	if passkeys != nil {
		cfg.PublicURL, cfg.Passkeys = pageRP.Origin, *passkeys
	}
	e := authtest.New(t, cfg, sender)
	svc, st, log, c := e.Service, e.Store, e.Log, e.Clock
	if passkeys != nil {
		svc = withPasskeys(t, e, cfg)
	}
	po := web.Options{
		Brand: web.Brand{Name: "Example Corp", AccentColor: "#0f766e"}, Support: web.Support{ContactURL: contactURL, ChatURL: chatURL}, DefaultCountry: "DE",
	}
	if pages != nil {
		pages(&po)
	}
	h := server.Handler(svc, st, log, server.Options{Metrics: metrics.New(), Pages: po})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, totp: cfg.TOTP, svc: svc, st: st, clock: c, srv: srv, smsFile: smsFile}
}

// withPasskeys returns e's service rebuilt with cfg and passkeys on for
// pageRP (cfg's public_url must be its origin).
func withPasskeys(tb testing.TB, e authtest.Env, cfg auth.Config) *auth.Service {
	tb.Helper()
	w, err := passkey.New(passkey.Config{RPID: pageRP.ID, RPName: pageRP.Name, Origins: []string{pageRP.Origin},
		UserVerification: "preferred", Attestation: "none", Timeout: 5 * time.Minute})
	if err != nil {
		tb.Fatal(err)
	}
	e.Deps.WebAuthn = w
	return auth.New(cfg, e.Deps)
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

// code is the authenticator app's code at the test clock.
func (e *env) code(secret []byte) string {
	return totp.Code(secret, e.totp, e.clock.Now())
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
