package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/api"
	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/keyring"
	"github.com/twostep/twostep/internal/password"
	"github.com/twostep/twostep/internal/ratelimit"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/totp"
)

// BenchmarkForwardAuth measures GET /api/v1/auth at handler level (the
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
				r := httptest.NewRequest("GET", "/api/v1/auth", nil)
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
func forwardAuthFixture(b *testing.B) (*http.ServeMux, string) {
	b.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.SQLite, filepath.Join(b.TempDir(), "t.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	var rules []auth.Rule
	for _, s := range []string{"app.example.test/public bypass", "app.example.test/blocked deny", "*.example.test two_factor"} {
		r, err := auth.ParseRule(s)
		if err != nil {
			b.Fatal(err)
		}
		rules = append(rules, r)
	}
	per := ratelimit.Limit{Count: 1000, Window: time.Minute}
	lim := [2]ratelimit.Limit{{Count: 100, Window: time.Hour}, {Count: 100, Window: 24 * time.Hour}}
	cfg := auth.Config{
		Issuer: "Bench", PublicURL: "http://login.example.test", MFARequired: true, InviteTTL: time.Hour,
		IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour, RecentAuth: 5 * time.Minute,
		TOTP:    totp.DefaultParams(),
		SMSHost: "login.example.test", SMSAllowedCountries: []string{"US"},
		SMSBudgets: auth.SMSBudgets{PerNumber: lim, PerUser: lim, PerIP: lim, PerCountry: lim, Global: lim},
		LoginPerIP: per, VerifyPerIP: per, VerifyPerUser: per,
		Access: auth.Access{Rules: rules, Default: auth.PolicyDeny},
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	backend := ratelimit.NewMemory(time.Now)
	svc := auth.New(cfg, auth.Deps{
		Store:   st,
		Keys:    keyring.Generate(),
		Hasher:  password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2, time.Second),
		Limiter: ratelimit.NewLimiter(backend),
		Backoff: ratelimit.NewBackoff(backend, 5, 30*time.Second, time.Hour),
		Audit:   audit.New(st, log, time.Now),
		Log:     log,
	})

	client := auth.Client{IP: "192.0.2.1", UserAgent: "bench"}
	const pw = "correct horse battery"
	if _, err := svc.CreateUser(ctx, client, "alice", pw); err != nil {
		b.Fatal(err)
	}
	res, err := svc.Login(ctx, client, "alice", pw, "")
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
	conf, err := svc.ConfirmTOTP(ctx, client, cur, setup.FactorID, totp.Code(secret, totp.DefaultParams(), time.Now()))
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	api.New(svc, log, httpx.ClientIP{}, httpx.Cookies{}).Routes(mux)
	return mux, conf.Token
}
