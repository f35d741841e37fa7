package auth_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/auth/authtest"
	"github.com/twostep/twostep/internal/outcome"
	"github.com/twostep/twostep/internal/ratelimit"
	"github.com/twostep/twostep/internal/sms"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/totp"
)

var ctx = context.Background()

type fixture struct {
	t     testing.TB
	svc   *auth.Service
	deps  auth.Deps
	st    *store.Store
	clock *authtest.Clock
	cfg   auth.Config
	toks  map[string]string // session hash -> raw token, for re-reading
	sms   *fakeSMS
}

// fakeSMS records texts instead of sending them; fail makes Send fail.
type fakeSMS struct {
	mu   sync.Mutex
	sent []sms.Message
	fail bool
}

func (s *fakeSMS) Name() string { return "fake" }

func (s *fakeSMS) Send(_ context.Context, m sms.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return &sms.SendError{Msg: "We could not send the text.", Err: errors.New("gateway down")}
	}
	s.sent = append(s.sent, m)
	return nil
}

// lastCode returns the code in the last text sent (the WebOTP line's #code).
func (s *fakeSMS) lastCode(t testing.TB) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sent) == 0 {
		t.Fatal("no text sent")
	}
	body := s.sent[len(s.sent)-1].Body
	i := strings.LastIndex(body, "#")
	if i < 0 {
		t.Fatalf("no WebOTP line in %q", body)
	}
	return body[i+1:]
}

func (s *fakeSMS) count() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.sent) }

var client = auth.Client{IP: "192.0.2.1", UserAgent: "test"}

// lim is an hourly and a daily budget of n.
func lim(n int64) [2]ratelimit.Limit { return authtest.Budget(n) }

func defaultConfig() auth.Config { return authtest.Config() }

func newFixture(t testing.TB, mod func(*auth.Config)) *fixture {
	t.Helper()
	cfg := defaultConfig()
	if mod != nil {
		mod(&cfg)
	}
	fake := &fakeSMS{}
	e := authtest.New(t, cfg, fake)
	return &fixture{t: t, svc: e.Service, deps: e.Deps, st: e.Store, clock: e.Clock, cfg: cfg, toks: map[string]string{}, sms: fake}
}

const pw = "correct horse battery"

// user creates a user and returns a fresh aal1 session for them.
func (f *fixture) user(name string) auth.Current {
	f.t.Helper()
	if _, err := f.svc.CreateUser(ctx, client, name, pw); err != nil {
		f.t.Fatalf("CreateUser: %v", err)
	}
	return f.login(name)
}

func (f *fixture) login(name string) auth.Current {
	f.t.Helper()
	res, err := f.svc.Login(ctx, client, auth.Credentials{Username: name, Password: pw})
	if err != nil {
		f.t.Fatalf("Login(%s): %v", name, err)
	}
	return f.auth(res.Token)
}

func (f *fixture) auth(tok string) auth.Current {
	f.t.Helper()
	cur, err := f.svc.Authenticate(ctx, tok)
	if err != nil {
		f.t.Fatalf("Authenticate: %v", err)
	}
	f.toks[string(cur.Session.TokenHash)] = tok
	return cur
}

// reload re-reads a session from the store (after a plan change or a
// clock move).
func (f *fixture) reload(cur auth.Current) auth.Current {
	f.t.Helper()
	return f.auth(f.tokenOf(cur))
}

func (f *fixture) tokenOf(cur auth.Current) string {
	f.t.Helper()
	tok, ok := f.toks[string(cur.Session.TokenHash)]
	if !ok {
		f.t.Fatal("session not issued through the fixture")
	}
	return tok
}

// enrolTOTP sets up an authenticator app and returns its secret and the
// resulting aal2 session.
func (f *fixture) enrolTOTP(cur auth.Current) ([]byte, auth.Current, auth.Passed) {
	f.t.Helper()
	return f.enrolTOTPNamed(cur, "")
}

func (f *fixture) enrolTOTPNamed(cur auth.Current, name string) ([]byte, auth.Current, auth.Passed) {
	f.t.Helper()
	st, err := f.svc.StartTOTP(ctx, client, cur, name)
	if err != nil {
		f.t.Fatalf("StartTOTP: %v", err)
	}
	secret, err := totp.DecodeSecret(st.Secret)
	if err != nil {
		f.t.Fatal(err)
	}
	res, err := f.svc.ConfirmTOTP(ctx, client, cur, auth.Proof{FactorID: st.FactorID, Code: f.code(secret)})
	if err != nil {
		f.t.Fatalf("ConfirmTOTP: %v", err)
	}
	return secret, f.auth(res.Token), res
}

// code is the current TOTP code; step moves the clock to the next step
// first, since a step once accepted is never accepted again.
func (f *fixture) code(secret []byte) string {
	return totp.Code(secret, totp.DefaultParams(), f.clock.Now())
}

func (f *fixture) nextStep() { f.clock.Add(30 * time.Second) }

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
}

func wantRetry(t *testing.T, err, kind error) time.Duration {
	t.Helper()
	if !errors.Is(err, kind) || retryAfter(err) <= 0 {
		t.Fatalf("error = %v, want %v with Retry-After", err, kind)
	}
	return retryAfter(err)
}

// retryAfter is the wait an outcome error asks for, 0 for none.
func retryAfter(err error) time.Duration {
	var oe *outcome.Error
	if errors.As(err, &oe) {
		return oe.RetryAfter
	}
	return 0
}
