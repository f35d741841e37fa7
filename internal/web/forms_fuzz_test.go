package web_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/auth/authtest"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/sms"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/token"
	"github.com/twostep/twostep/internal/totp"
	"github.com/twostep/twostep/internal/web"
)

// formRoutes are the form posts of the pages; {id} is filled in from the
// input, or with the signed-in user's authenticator app when it is empty.
var formRoutes = []string{
	"/login", "/logout", "/setup", "/setup/totp", "/setup/sms", "/setup/sms/confirm", "/verify",
	"/settings/methods/{id}/preferred", "/settings/methods/{id}/remove", "/recovery-codes", "/settings/devices/{id}/forget",
	"/settings/methods/{id}/rename", "/setup/passkey", "/login/passkey", "/login/passkey/finish",
	// New forms go last, so a saved input's route byte keeps naming its form.
	"/settings/sessions/{id}/end", "/settings/sessions/end-others",
	"/setup/later",
}

// Who posts (the input's who byte, modulo 4): nobody, a password-only
// session without a second factor, a password-only session with an
// authenticator app, and that user after the second factor.
const (
	formNobody = iota
	formNoFactor
	formAAL1
	formAAL2
	formWhoCount
)

// How the form token is sent (the input's token byte, modulo 4).
const (
	tokenAsFuzzed  = iota // only what the fuzzed body holds
	tokenOtherSess        // the valid token of another user's session appended
	tokenInQuery          // the valid token in the URL's query, not the body
	tokenValid            // the valid token appended (valid unless the body already holds a csrf field)
	tokenModeCount
)

// FuzzFormPost posts fuzzed url-encoded bodies to every form of the pages
// (formRoutes, passkeys on), as every kind of signed-in user or nobody, with the form
// token missing, wrong, another session's, in the query string, or right.
//
// Invariants: no panic (the mux has no recovery) and no 5xx. And without
// the form token of the very session that posts (double-submit cookie
// for /login), nothing changes (ASVS V4.2.2, OWASP CSRF cheat sheet): no
// audit event, no sign-in, the victims' methods, recovery codes,
// remembered browsers, sessions and accounts as they were, and no text
// sent. Posts with the right token act on separate users with fresh
// sessions, so they can change anything without disturbing the victims.
func FuzzFormPost(f *testing.F) {
	bodies := []string{
		"", "username=alice&password=correct+horse+battery", "username=alice&password=correct+horse+battery&rd=%2F%2Fevil.com",
		"method=totp", "method=sms&method=totp&rd=https%3A%2F%2Fapp.example.com%2F", "code=123456", "code=123+456&remember=1",
		"country=US&phone=%28201%29+555-0123", "country=DE&phone=01512+3456789&resend=1", "code=000000&method=totp",
		"method=recovery&code=abcde-fghjk", "method=sms&send=1&phone=x", "csrf=&csrf=x", "csrf=" + strings.Repeat("A", 43),
		"%zz=1", "a=%", strings.Repeat("a=1&", 500), "name=Laptop&code=1", "replace=x&country=ZZ&phone=1", "rd=javascript:alert(1)",
	}
	// Few seeds, each a different shape: the fuzzer varies route, user
	// and token mode (one byte each) itself, and a short run in CI has to
	// get through all seeds before it mutates any.
	for i, b := range bodies {
		f.Add(uint8(i%len(formRoutes)), uint8(i%formWhoCount), uint8(i%tokenModeCount), b, "")
	}
	for route := range formRoutes {
		for mode := range tokenModeCount {
			f.Add(uint8(route), uint8((route+mode)%formWhoCount), uint8(mode), "", "")
		}
	}
	for _, id := range []string{"x", "../../logout", "%2e%2e", "\x00"} {
		f.Add(uint8(8), uint8(formAAL2), uint8(tokenAsFuzzed), "", id)
		f.Add(uint8(8), uint8(formAAL2), uint8(tokenValid), "", id)
	}

	fx := newFormFuzzFixture(f)
	f.Fuzz(func(t *testing.T, route, who, mode uint8, body, id string) {
		fx.clock.Add(25 * time.Hour) // past every window and back-off the last input may have filled
		path := formRoutes[int(route)%len(formRoutes)]
		w := int(who) % formWhoCount
		m := int(mode) % tokenModeCount

		// The posting session: a victim's, or a playground user's when the
		// right token is to be sent.
		var tok, factorID, other string
		if m == tokenValid {
			tok, factorID = fx.playground(t, w)
		} else {
			tok, factorID = fx.victims[w], fx.aliceFactor
			other, _ = fx.playground(t, formAAL2)
		}
		// The sign-in form's double-submit cookie: 43 characters, like the
		// pages' own. want is the one form token that passes.
		const loginCookie = "LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL"
		want := ""
		signIn := path == "/login" || strings.HasPrefix(path, "/login/passkey")
		switch {
		case signIn:
			want = loginCookie
		case tok != "":
			want = formToken(tok)
		}
		if strings.Contains(path, "{id}") {
			if id == "" {
				id = factorID
			}
			path = strings.Replace(path, "{id}", url.PathEscape(id), 1)
		}
		target := path
		switch m {
		case tokenOtherSess:
			body += "&csrf=" + url.QueryEscape(formToken(other))
		case tokenInQuery:
			target += "?csrf=" + url.QueryEscape(want)
		case tokenValid:
			body += "&csrf=" + url.QueryEscape(want)
		}
		// The reading of the body the pages use (Request.ParseForm):
		// valid only when its first csrf field is the right token.
		form, _ := url.ParseQuery(body)
		valid := want != "" && form.Get("csrf") == want

		before := fx.snapshot(t)
		r := httptest.NewRequest("POST", target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.RemoteAddr = "192.0.2.9:1234"
		if tok != "" {
			r.AddCookie(&http.Cookie{Name: httpx.SessionCookie, Value: tok})
		}
		if signIn {
			r.AddCookie(&http.Cookie{Name: "twostep_login", Value: loginCookie})
		}
		rec := httptest.NewRecorder()
		fx.mux.ServeHTTP(rec, r)
		if rec.Code >= 500 {
			t.Fatalf("POST %s (%q): status %d: %s", path, body, rec.Code, rec.Body)
		}
		if valid {
			return
		}
		if changed := before.diff(fx.snapshot(t)); changed != "" {
			t.Fatalf("POST %s (%q) without a valid form token changed state (status %d): %s", target, body, rec.Code, changed)
		}
		for _, c := range rec.Result().Cookies() {
			if c.Name == httpx.SessionCookie && c.MaxAge >= 0 {
				t.Fatalf("POST %s (%q) without a valid form token set a session cookie", path, body)
			}
		}
	})
}

// formToken is the pages' form token for the session with token tok,
// computed here from its definition (internal/web/csrf.go): HMAC-SHA256
// of a fixed label keyed by the session token. newFormFuzzFixture checks
// it against a rendered page, so a change of format fails loudly instead
// of turning every "valid" post into an invalid one.
func formToken(tok string) string {
	m := hmac.New(sha256.New, []byte(tok))
	m.Write([]byte("twostep form token v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// formFuzzFixture is a service on a fresh database with remembered
// devices on and texts written to a file, the pages' routes, and two sets
// of users: victims with long-lived sessions, which posts without a valid
// token must leave alone, and a playground for posts with one.
type formFuzzFixture struct {
	mux         *http.ServeMux
	st          *store.Store
	clock       *authtest.Clock
	smsFile     string
	victims     [formWhoCount]string // session tokens by who ("" for nobody)
	victimIDs   []string             // alice and nofactor
	aliceFactor string
	pat, newbie model.User // playground users: with an authenticator app, without
	patFactor   string
	auditSeq    int64 // the last audit event seen by snapshot
}

func newFormFuzzFixture(tb testing.TB) *formFuzzFixture {
	tb.Helper()
	ctx := context.Background()
	smsFile := filepath.Join(tb.TempDir(), "sms.jsonl")
	sender, err := sms.NewFile(sms.FileConfig{Path: smsFile})
	if err != nil {
		tb.Fatal(err)
	}
	cfg := authtest.Config()
	// Sessions that outlive the clock moving 25 hours per input, and a
	// second factor that stays recent for the victims' aal2 session.
	cfg.IdleTimeout, cfg.AbsoluteTimeout, cfg.RecentAuth = 100*365*24*time.Hour, 100*365*24*time.Hour, 100*365*24*time.Hour
	cfg.RememberDeviceDays = 30
	cfg.Access = auth.Access{Rules: []auth.Rule{{Host: "app.example.com", Policy: auth.PolicyTwoFactor}}}
	// Passkeys on, passwordless too, so their forms are fuzzed as well.
	cfg.PublicURL, cfg.Passkeys = pageRP.Origin, *passkeysOn(true)
	e := authtest.New(tb, cfg, sender)
	svc := withPasskeys(tb, e, cfg)
	fx := &formFuzzFixture{st: e.Store, clock: e.Clock, smsFile: smsFile}
	c := auth.Client{IP: "192.0.2.1", UserAgent: "fuzz"}
	users := map[string]model.User{}
	for _, name := range []string{"alice", "nofactor", "pat", "newbie"} {
		u, err := svc.CreateUser(ctx, c, name, "correct horse battery")
		if err != nil {
			tb.Fatal(err)
		}
		users[name] = u
	}
	fx.pat, fx.newbie = users["pat"], users["newbie"]
	fx.victimIDs = []string{users["alice"].ID, users["nofactor"].ID}
	fx.aliceFactor = enrolTOTP(tb, e, users["alice"])
	fx.patFactor = enrolTOTP(tb, e, users["pat"])
	fx.victims[formNoFactor] = storeSession(tb, e.Store, users["nofactor"], model.AAL1, e.Clock.Now())
	fx.victims[formAAL1] = storeSession(tb, e.Store, users["alice"], model.AAL1, e.Clock.Now())
	fx.victims[formAAL2] = storeSession(tb, e.Store, users["alice"], model.AAL2, e.Clock.Now())

	fx.mux = http.NewServeMux()
	web.New(svc, e.Log, web.Options{}).Routes(fx.mux)

	// The form token computed here must be the one the pages hand out.
	r := httptest.NewRequest("GET", "/settings", nil)
	r.AddCookie(&http.Cookie{Name: httpx.SessionCookie, Value: fx.victims[formAAL2]})
	w := httptest.NewRecorder()
	fx.mux.ServeHTTP(w, r)
	if m := csrfField.FindStringSubmatch(w.Body.String()); w.Code != http.StatusOK || m == nil || m[1] != formToken(fx.victims[formAAL2]) {
		tb.Fatalf("GET /settings: %d, form token %v, want %s", w.Code, m, formToken(fx.victims[formAAL2]))
	}
	return fx
}

var csrfField = regexp.MustCompile(`<input type="hidden" name="csrf" value="([^"]*)">`)

// enrolTOTP sets up an authenticator app for u through the service and
// returns its factor ID.
func enrolTOTP(tb testing.TB, e authtest.Env, u model.User) string {
	tb.Helper()
	ctx := context.Background()
	c := auth.Client{IP: "192.0.2.1", UserAgent: "fuzz"}
	cur, err := e.Service.Authenticate(ctx, storeSession(tb, e.Store, u, model.AAL1, e.Clock.Now()))
	if err != nil {
		tb.Fatal(err)
	}
	st, err := e.Service.StartTOTP(ctx, c, cur, "")
	if err != nil {
		tb.Fatal(err)
	}
	secret, err := totp.DecodeSecret(st.Secret)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := e.Service.ConfirmTOTP(ctx, c, cur, auth.Proof{FactorID: st.FactorID, Code: totp.Code(secret, totp.DefaultParams(), e.Clock.Now())}); err != nil {
		tb.Fatal(err)
	}
	return st.FactorID
}

// storeSession writes a new session of u at aal to the store, as the
// service's sign-in leaves it, and returns its token: signing in through
// the service for every input would spend the fuzzing time on argon2.
func storeSession(tb testing.TB, st *store.Store, u model.User, aal model.AAL, now time.Time) string {
	tb.Helper()
	tok := token.New()
	ss := model.Session{TokenHash: token.Hash(tok), UserID: u.ID, AAL: aal, CreatedAt: now, LastSeenAt: now}
	if aal == model.AAL2 {
		ss.AAL2At = now
	}
	if err := st.CreateSession(context.Background(), ss); err != nil {
		tb.Fatal(err)
	}
	return tok
}

// playground returns a fresh session of a playground user for who, and
// that user's authenticator app ("" when none).
func (fx *formFuzzFixture) playground(t *testing.T, who int) (string, string) {
	now := fx.clock.Now()
	switch who {
	case formNoFactor:
		return storeSession(t, fx.st, fx.newbie, model.AAL1, now), ""
	case formAAL1:
		return storeSession(t, fx.st, fx.pat, model.AAL1, now), fx.patFactor
	case formAAL2:
		return storeSession(t, fx.st, fx.pat, model.AAL2, now), fx.patFactor
	}
	return "", fx.patFactor
}

// state is what a post could change, as the store shows it: the audit
// log's length, the victims' accounts, methods, recovery codes, remembered
// browsers and sessions (without the idle timer, which every signed-in
// request moves), the number of users and the bytes of texts sent.
type state struct {
	Audit    int64 // seq of the last event
	Users    []model.User
	Factors  [][]model.Factor
	Codes    []int
	Devices  [][]store.Device
	Sessions []model.Session
	Texts    int64
}

func (fx *formFuzzFixture) snapshot(t *testing.T) state {
	t.Helper()
	ctx := context.Background()
	var s state
	for {
		events, err := fx.st.AuditEvents(ctx, fx.auditSeq, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) == 0 {
			break
		}
		fx.auditSeq = events[len(events)-1].Seq
	}
	s.Audit = fx.auditSeq
	us, err := fx.st.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Users = us
	for _, id := range fx.victimIDs {
		fs, err := fx.st.Factors(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		s.Factors = append(s.Factors, fs)
		codes, err := fx.st.UnusedRecoveryCodes(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		s.Codes = append(s.Codes, len(codes))
		ds, err := fx.st.ListDevices(ctx, id, fx.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		s.Devices = append(s.Devices, ds)
	}
	for _, tok := range fx.victims[1:] {
		ss, err := fx.st.Session(ctx, token.Hash(tok))
		if err != nil && !errors.Is(err, model.ErrNotFound) {
			t.Fatal(err)
		}
		ss.LastSeenAt = time.Time{} // zero for a session that is gone
		s.Sessions = append(s.Sessions, ss)
	}
	if fi, err := os.Stat(fx.smsFile); err == nil {
		s.Texts = fi.Size()
	}
	return s
}

// diff names the parts of the state that differ in b ("" when none).
func (a state) diff(b state) string {
	var out []string
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, fmt.Sprintf("%s %+v → %+v", va.Type().Field(i).Name, va.Field(i), vb.Field(i)))
		}
	}
	return strings.Join(out, "; ")
}
