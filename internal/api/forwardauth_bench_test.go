package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/twostep/twostep/internal/api"
	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/auth/authtest"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/totp"
)

// BenchmarkForwardAuth measures GET /api/v1/auth/auth-request at handler level (the
// api.Routes mux, no network): a real service on SQLite in a temporary
// directory, as internal/auth's fixture builds it, with the rules.
//
//   - aal2: a signed-in user's check passes (200 with Remote-* headers);
//     after the first request the session comes from the in-process cache.
//   - cookieless: no session at all (401), the anonymous path.
//   - unknown-token: a well-formed token that names no session (401); every
//     check asks the database, since only existing sessions are cached.
//   - bypass: a path whose rule needs no sign-in (200).
//
// Run: go test -run '^$' -bench ForwardAuth -benchmem ./internal/api/
func BenchmarkForwardAuth(b *testing.B) {
	mux, tok := forwardAuthFixture(b)
	cases := []struct {
		name   string
		path   string
		header func(*http.Request)
		want   int
	}{
		{"aal2", "/page", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: httpx.SessionCookie, Value: tok}) }, http.StatusOK},
		{"aal2-bearer", "/page", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }, http.StatusOK},
		{"cookieless", "/page", func(*http.Request) {}, http.StatusUnauthorized},
		{"unknown-token", "/page", func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: httpx.SessionCookie, Value: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
		}, http.StatusUnauthorized},
		{"bypass", "/public/x", func(*http.Request) {}, http.StatusOK},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := httptest.NewRequest("GET", "/api/v1/auth/auth-request", nil)
				r.Header.Set("X-Original-URL", "http://app.example.test"+tc.path)
				tc.header(r)
				for pb.Next() {
					w := httptest.NewRecorder()
					mux.ServeHTTP(w, r)
					if w.Code != tc.want {
						b.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
					}
				}
			})
		})
	}
}

// forwardAuthFixture builds the service and the API routes and returns the
// mux and the token of an aal2 session (password, then an authenticator app
// confirmed with a code computed here).
func forwardAuthFixture(b testing.TB) (*http.ServeMux, string) {
	b.Helper()
	ctx := context.Background()
	var rules []auth.Rule
	for _, s := range []string{"app.example.test/public bypass", "app.example.test/blocked deny",
		"app.example.test/admin two_factor admins", "*.example.test two_factor"} {
		r, err := auth.ParseRule(s)
		if err != nil {
			b.Fatal(err)
		}
		rules = append(rules, r)
	}
	cfg := authtest.Config()
	cfg.Issuer, cfg.PublicURL = "Bench", "http://login.example.test"
	cfg.Access = auth.Access{Rules: rules, Default: auth.PolicyDeny}
	e := authtest.New(b, cfg, nil)
	svc := e.Service

	client := auth.Client{IP: "192.0.2.1", UserAgent: "bench"}
	const pw = "correct horse battery"
	if _, err := svc.CreateUser(ctx, client, "alice", pw); err != nil {
		b.Fatal(err)
	}
	res, err := svc.Login(ctx, client, auth.Credentials{Username: "alice", Password: pw})
	if err != nil {
		b.Fatal(err)
	}
	cur, err := svc.Authenticate(ctx, res.Token)
	if err != nil {
		b.Fatal(err)
	}
	setup, err := svc.StartTOTP(ctx, client, cur, "")
	if err != nil {
		b.Fatal(err)
	}
	secret, err := totp.DecodeSecret(setup.Secret)
	if err != nil {
		b.Fatal(err)
	}
	conf, err := svc.ConfirmTOTP(ctx, client, cur, auth.Proof{FactorID: setup.FactorID, Code: totp.Code(secret, totp.DefaultParams(), e.Clock.Now())})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	api.New(svc, e.Log, httpx.ClientIP{}, httpx.Cookies{}).Routes(mux)
	return mux, conf.Token
}
