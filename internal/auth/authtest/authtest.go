// Package authtest builds a real auth.Service for the tests of the packages
// that use it (auth, web, api): a fresh SQLite store, a generated keyring,
// cheap argon2id, an in-memory limiter and a settable clock — the wiring the
// CLI does, minus the configuration file.
package authtest

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/keyring"
	"github.com/twostep/twostep/internal/password"
	"github.com/twostep/twostep/internal/ratelimit"
	"github.com/twostep/twostep/internal/sms"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/store/storetest"
	"github.com/twostep/twostep/internal/totp"
)

// Clock is a settable clock shared by the service and the limiter, so "the
// next TOTP step" or "after the back-off" is a clock move, not a sleep.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts mid-way through a 30-s TOTP window, so the next step is
// 30 s away rather than at a boundary.
func NewClock() *Clock { return &Clock{t: time.Unix(1_800_000_015, 0)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Add moves the clock on.
func (c *Clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Budget is an hourly and a daily SMS budget of n.
func Budget(n int64) [2]ratelimit.Limit {
	return [2]ratelimit.Limit{{Count: n, Window: time.Hour}, {Count: n, Window: 24 * time.Hour}}
}

// Config is a test configuration: MFA required, limits high enough not to
// interfere, SMS to US, GB and DE with roomy budgets.
func Config() auth.Config {
	per := func(n int64) ratelimit.Limit { return ratelimit.Limit{Count: n, Window: time.Minute} }
	return auth.Config{
		Issuer: "Test", PublicURL: "http://127.0.0.1:8080", MFARequired: true, InviteTTL: time.Hour,
		IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour, RecentAuth: 5 * time.Minute,
		TOTP:       totp.DefaultParams(),
		LoginPerIP: per(1000), VerifyPerIP: per(1000), VerifyPerUser: per(1000),
		LoginPerAccount: per(1000), LoginPerKnownBrowser: per(1000),
		MaxFailures: 5, LockAfter: 100, BackoffBase: 30 * time.Second, BackoffMax: time.Hour,
		SMSHost: "login.example.com", SMSAllowedCountries: []string{"US", "GB", "DE"},
		SMSBudgets: auth.SMSBudgets{PerNumber: Budget(100), PerUser: Budget(100), PerIP: Budget(100), PerCountry: Budget(1000), Global: Budget(1000)},
	}
}

// Env is a service with its parts, for tests that look behind it.
type Env struct {
	Service *auth.Service
	Deps    auth.Deps // what Service was built with, to build another
	Store   *store.Store
	Clock   *Clock
	Log     *slog.Logger // discards
}

// New builds the service with cfg, sending texts through sender, on a
// fresh database (SQLite, or PostgreSQL under storetest.BackendEnv). Per-
// client limits count in memory, per-account ones in the database, as on a
// single SQLite instance.
func New(t testing.TB, cfg auth.Config, sender sms.Sender) Env {
	t.Helper()
	return NewOn(t, cfg, sender, storetest.New(t))
}

// NewOn is New on the store st (e.g. storetest.NewCounting's).
func NewOn(t testing.TB, cfg auth.Config, sender sms.Sender, st *store.Store) Env {
	t.Helper()
	c := NewClock()
	backend := ratelimit.NewMemory(c.Now)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := auth.Deps{
		SMS:      sender,
		Store:    st,
		Keys:     keyring.Generate(),
		Hasher:   password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2, time.Second),
		Limiter:  ratelimit.NewLimiter(backend),
		Accounts: ratelimit.NewLimiter(st.Counters(c.Now)),
		Audit:    audit.New(st, log, c.Now),
		Log:      log,
		Now:      c.Now,
	}
	return Env{Service: auth.New(cfg, d), Deps: d, Store: st, Clock: c, Log: log}
}

// SignedIn creates user name with a password and an authenticator app
// (confirmed with a code computed here) and returns the token of the aal2
// session the confirmation gives: a user all of whose checks pass.
func (e Env) SignedIn(t testing.TB, name string) string {
	t.Helper()
	tok, _ := e.SignedInTOTP(t, name)
	return tok
}

// SignedInTOTP is SignedIn that also returns the app's secret, to compute
// later codes with.
func (e Env) SignedInTOTP(t testing.TB, name string) (string, []byte) {
	t.Helper()
	ctx := context.Background()
	client := auth.Client{IP: "192.0.2.1", UserAgent: "test"}
	const pw = "correct horse battery"
	if _, err := e.Service.CreateUser(ctx, client, name, pw); err != nil {
		t.Fatal(err)
	}
	res, err := e.Service.Login(ctx, client, auth.Credentials{Username: name, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := e.Service.Authenticate(ctx, res.Token)
	if err != nil {
		t.Fatal(err)
	}
	setup, err := e.Service.StartTOTP(ctx, client, cur, "")
	if err != nil {
		t.Fatal(err)
	}
	secret, err := totp.DecodeSecret(setup.Secret)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := e.Service.ConfirmTOTP(ctx, client, cur, auth.Proof{FactorID: setup.FactorID, Code: totp.Code(secret, totp.DefaultParams(), e.Clock.Now())})
	if err != nil {
		t.Fatal(err)
	}
	return conf.Token, secret
}
