package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/twostep/twostep/internal/api"
	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/auth/authtest"
	"github.com/twostep/twostep/internal/httpx"
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
// mux and the token of an aal2 session (password, then an authenticator app).
func forwardAuthFixture(b testing.TB) (*http.ServeMux, string) {
	b.Helper()
	return forwardAuthFixtureCookies(b, httpx.Cookies{})
}

// forwardAuthFixtureCookies is forwardAuthFixture with the given cookie
// settings (Secure: the __Host- names of an https deployment).
func forwardAuthFixtureCookies(b testing.TB, cookies httpx.Cookies) (*http.ServeMux, string) {
	b.Helper()
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
	tok := e.SignedIn(b, "alice")
	mux := http.NewServeMux()
	api.New(e.Service, e.Log, httpx.ClientIP{}, cookies).Routes(mux)
	return mux, tok
}
