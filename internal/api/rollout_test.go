package api_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/api"
	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/auth/authtest"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/passkey"
	"github.com/twostep/twostep/internal/sms"
)

const (
	rolloutPW    = "correct horse battery"
	rolloutAdmin = "0123456789abcdef0123456789abcdef"
	day          = 24 * time.Hour
)

// rolloutAPI is the API over a service with passkeys on, the given
// mfa.policies and grace period, and access rules for app.example.com
// (/wiki accepts a grace period); users are created with their groups.
func rolloutAPI(t *testing.T, grace time.Duration, policies []string, users map[string][]string) (*http.ServeMux, *authtest.Clock) {
	t.Helper()
	cfg := authtest.Config()
	cfg.PublicURL = apiRP.Origin
	cfg.AdminToken = rolloutAdmin
	cfg.Passkeys = auth.PasskeyConfig{Timeout: 5 * time.Minute}
	ps, errs := auth.ParseMFAPolicies(policies)
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	cfg.Policies, cfg.GracePeriod = ps, grace
	for _, s := range []string{"app.example.com/wiki two_factor+grace", "app.example.com two_factor"} {
		r, err := auth.ParseRule(s)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Access.Rules = append(cfg.Access.Rules, r)
	}
	e := authtest.New(t, cfg, sms.NewConsole(sms.ConsoleConfig{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	w, err := passkey.New(passkey.Config{RPID: apiRP.ID, RPName: apiRP.Name, Origins: []string{apiRP.Origin},
		UserVerification: "preferred", Attestation: "none", Timeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	e.Deps.WebAuthn = w
	svc := auth.New(cfg, e.Deps)
	c := auth.Client{IP: "192.0.2.1"}
	for name, groups := range users {
		if _, err := svc.CreateUser(context.Background(), c, name, rolloutPW); err != nil {
			t.Fatal(err)
		}
		if err := svc.SetAttributes(context.Background(), c, name, "", groups); err != nil {
			t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	api.New(svc, slog.New(slog.NewTextHandler(io.Discard, nil)), httpx.ClientIP{}, httpx.Cookies{}).Routes(mux)
	return mux, e.Clock
}

type loginJSON struct {
	Token string `json:"token"`
	Next  string `json:"next"`
	Grace *struct {
		Active   bool      `json:"active"`
		Until    time.Time `json:"until"`
		DaysLeft int       `json:"days_left"`
	} `json:"grace"`
	Error struct {
		Code string `json:"code"`
	} `json:"error"`
}

func apiLogin(t *testing.T, mux http.Handler, name string) loginJSON {
	t.Helper()
	var out loginJSON
	if st := call(t, mux, "POST", "/api/v1/login", "", map[string]string{"username": name, "password": rolloutPW}, &out); st != 200 {
		t.Fatalf("login %s: %d", name, st)
	}
	return out
}

// TestAPIPolicyTable: each (groups, method) pair through the API: the
// set-up plan and the set-up calls accept an allowed method and refuse any
// other with 403 method_not_allowed, and so does verify.
func TestAPIPolicyTable(t *testing.T) {
	users := map[string][]string{"ann": {"admins"}, "fred": {"field"}, "eve": nil}
	mux, clock := rolloutAPI(t, 0, []string{"admins required methods=webauthn+totp", "field required methods=sms"}, users)
	allowed := map[string]map[string]bool{
		"ann":  {"totp": true, "webauthn": true},
		"fred": {"sms": true},
		"eve":  {"totp": true, "sms": true, "webauthn": true},
	}
	for name := range users {
		for _, m := range []string{"totp", "sms", "webauthn"} {
			tok := apiLogin(t, mux, name).Token
			var out loginJSON
			var st int
			switch m {
			case "totp":
				st = call(t, mux, "POST", "/api/v1/setup/totp", tok, nil, &out)
			case "sms":
				st = call(t, mux, "POST", "/api/v1/setup/sms", tok, map[string]string{"country": "US", "phone": "(201) 555-0123"}, &out)
				clock.Add(auth.SMSResendWait)
			case "webauthn":
				st = call(t, mux, "POST", "/api/v1/setup/webauthn", tok, nil, &out)
			}
			if allowed[name][m] != (st == 200) || (st != 200 && (st != 403 || out.Error.Code != "method_not_allowed")) {
				t.Errorf("%s, setup/%s: %d %q; allowed %v", name, m, st, out.Error.Code, allowed[name][m])
			}
			if m != "webauthn" {
				out = loginJSON{}
				st = call(t, mux, "POST", "/api/v1/setup/plan", tok, map[string][]string{"methods": {m}}, &out)
				if allowed[name][m] != (st == 200) || (st != 200 && out.Error.Code != "method_not_allowed") {
					t.Errorf("%s, setup/plan [%s]: %d %q; allowed %v", name, m, st, out.Error.Code, allowed[name][m])
				}
			}
			if !allowed[name][m] {
				out = loginJSON{}
				st = call(t, mux, "POST", "/api/v1/verify", tok, map[string]string{"method": m, "code": "123456"}, &out)
				if st != 403 || out.Error.Code != "method_not_allowed" {
					t.Errorf("%s, verify %s: %d %q; want 403 method_not_allowed", name, m, st, out.Error.Code)
				}
			}
		}
	}
}

// forward asks forward-auth (nginx's endpoint) about url with tok.
func forward(t *testing.T, mux http.Handler, tok, url string) int {
	t.Helper()
	r := httptest.NewRequest("GET", "/api/v1/auth/auth-request", nil)
	r.RemoteAddr = "192.0.2.7:1234"
	r.Header.Set("X-Original-URL", url)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w.Code
}

// TestAPIGrace: the login answer and GET /api/v1/session show the grace
// period; POST /api/v1/setup/later answers it, and grace_over after the
// deadline; forward-auth lets the session into the application that
// accepts a grace period only; the admin call extends the deadline.
func TestAPIGrace(t *testing.T) {
	mux, clock := rolloutAPI(t, 14*day, nil, map[string][]string{"alice": nil})
	start := clock.Now()
	in := apiLogin(t, mux, "alice")
	if in.Next != "setup" || in.Grace == nil || !in.Grace.Active || in.Grace.DaysLeft != 14 || !in.Grace.Until.Equal(start.Add(14*day)) {
		t.Fatalf("login: %+v %+v", in, in.Grace)
	}
	var sess loginJSON
	if st := call(t, mux, "GET", "/api/v1/session", in.Token, nil, &sess); st != 200 || sess.Grace == nil || *sess.Grace != *in.Grace {
		t.Fatalf("GET /session: %d %+v", st, sess.Grace)
	}
	var later loginJSON
	if st := call(t, mux, "POST", "/api/v1/setup/later", in.Token, nil, &later); st != 200 || later.Grace == nil || later.Grace.DaysLeft != 14 {
		t.Fatalf("setup/later: %d %+v", st, later.Grace)
	}
	if st := forward(t, mux, in.Token, "https://app.example.com/wiki/x"); st != 200 {
		t.Fatalf("forward-auth, grace rule: %d", st)
	}
	if st := forward(t, mux, in.Token, "https://app.example.com/"); st != 401 {
		t.Fatalf("forward-auth, two_factor rule: %d, want 401", st)
	}

	clock.Add(15 * day)
	in = apiLogin(t, mux, "alice")
	var over loginJSON
	if st := call(t, mux, "POST", "/api/v1/setup/later", in.Token, nil, &over); st != 403 || over.Error.Code != "grace_over" {
		t.Fatalf("setup/later after the deadline: %d %q", st, over.Error.Code)
	}
	if st := forward(t, mux, in.Token, "https://app.example.com/wiki/x"); st != 401 {
		t.Fatalf("forward-auth after the deadline: %d, want 401", st)
	}

	// The admin call: the token is required, the body is checked.
	var ext struct {
		Until time.Time `json:"grace_until"`
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if st := call(t, mux, "POST", "/api/v1/admin/users/alice/grace", "", map[string]string{"extend": "7d"}, nil); st != 401 {
		t.Fatalf("without the admin token: %d", st)
	}
	if st := call(t, mux, "POST", "/api/v1/admin/users/alice/grace", rolloutAdmin, map[string]string{"extend": "soon"}, &ext); st != 400 || ext.Error.Code != "invalid_request" {
		t.Fatalf("extend=soon: %d %q", st, ext.Error.Code)
	}
	if st := call(t, mux, "POST", "/api/v1/admin/users/nobody/grace", rolloutAdmin, map[string]string{"extend": "7d"}, nil); st != 404 {
		t.Fatalf("unknown user: %d", st)
	}
	if st := call(t, mux, "POST", "/api/v1/admin/users/alice/grace", rolloutAdmin, map[string]string{"extend": "7d"}, &ext); st != 200 || !ext.Until.Equal(clock.Now().Add(7*day).Truncate(time.Millisecond)) {
		t.Fatalf("extend 7d: %d %v", st, ext.Until)
	}
	clock.Add(2 * time.Second) // past the forward-auth cache
	if st := forward(t, mux, in.Token, "https://app.example.com/wiki/x"); st != 200 {
		t.Fatalf("forward-auth after the extension: %d", st)
	}
	if st := call(t, mux, "GET", "/api/v1/session", in.Token, nil, &sess); st != 200 || sess.Grace == nil || sess.Grace.DaysLeft != 7 {
		t.Fatalf("GET /session after the extension: %d %+v", st, sess.Grace)
	}
}
