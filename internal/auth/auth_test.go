package auth_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/password"
	"github.com/twostep/twostep/internal/ratelimit"
	"github.com/twostep/twostep/internal/token"
)

func TestLoginFailuresAreUniform(t *testing.T) {
	f := newFixture(t, nil)
	f.user("alice")
	f.user("dora")
	if err := f.svc.SetDisabled(ctx, client, "dora", true); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user, pw string
		want           error
	}{
		{"unknown user", "mallory", pw, auth.ErrInvalidCredentials},
		{"wrong password", "alice", "wrong password!", auth.ErrInvalidCredentials},
		{"disabled user, right password", "dora", pw, auth.ErrInvalidCredentials},
		{"malformed username", "no spaces allowed", pw, auth.ErrInvalidCredentials},
		{"oversized password", "alice", strings.Repeat("x", 1025), auth.ErrInvalidCredentials},
		{"empty password", "alice", "", auth.ErrInvalidInput},
		{"case-insensitive name", "ALICE", pw, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := f.svc.Login(ctx, client, auth.Credentials{Username: tc.user, Password: tc.pw})
			if tc.want == nil {
				if err != nil || res.Next != auth.NextSetup || res.AAL != model.AAL1 {
					t.Fatalf("Login = %+v, %v", res, err)
				}
				return
			}
			wantErr(t, err, tc.want)
			if res.Token != "" {
				t.Fatal("a failed login returned a token")
			}
		})
	}
}

func TestLoginPerIPLimit(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) { c.LoginPerIP = ratelimit.Limit{Count: 3, Window: time.Minute} })
	if _, err := f.svc.CreateUser(ctx, client, "alice", pw); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := f.svc.Login(ctx, client, auth.Credentials{Username: "alice", Password: "wrong password!"}); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	_, err := f.svc.Login(ctx, client, auth.Credentials{Username: "alice", Password: pw})
	wantRetry(t, err, auth.ErrRateLimited)
	other := client
	other.IP = "198.51.100.2"
	if _, err := f.svc.Login(ctx, other, auth.Credentials{Username: "alice", Password: pw}); err != nil {
		t.Fatalf("another IP is limited too: %v", err)
	}
	f.clock.Add(time.Minute)
	if _, err := f.svc.Login(ctx, client, auth.Credentials{Username: "alice", Password: pw}); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestSessionTimeouts(t *testing.T) {
	f := newFixture(t, nil)
	f.user("alice")
	tok, err := f.svc.Login(ctx, client, auth.Credentials{Username: "alice", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	// Idle: 31 minutes without a request ends the session.
	f.clock.Add(31 * time.Minute)
	if _, err := f.svc.Authenticate(ctx, tok.Token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("idle session accepted: %v", err)
	}
	// Absolute: a session used every 20 minutes still ends after 12 hours.
	res, err := f.svc.Login(ctx, client, auth.Credentials{Username: "alice", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	for elapsed := time.Duration(0); elapsed < 12*time.Hour-20*time.Minute; elapsed += 20 * time.Minute {
		f.clock.Add(20 * time.Minute)
		if _, err := f.svc.Authenticate(ctx, res.Token); err != nil {
			t.Fatalf("active session refused after %v: %v", elapsed, err)
		}
	}
	f.clock.Add(40 * time.Minute)
	if _, err := f.svc.Authenticate(ctx, res.Token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("session past the absolute timeout accepted: %v", err)
	}
	for _, bad := range []string{"", "nonsense", strings.Repeat("a", 500)} {
		if _, err := f.svc.Authenticate(ctx, bad); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("token %q: %v", bad, err)
		}
	}
}

func TestEnrolAndVerify(t *testing.T) {
	f := newFixture(t, nil)
	cur := f.user("alice")

	steps, err := f.svc.Plan(ctx, cur, []string{"totp", "sms"})
	if err != nil || strings.Join(steps, ",") != "sms,totp" {
		t.Fatalf("Plan = %v, %v; want sms first", steps, err)
	}
	cur = f.reload(cur)
	if _, err := f.svc.StartTOTP(ctx, client, cur, ""); !errors.Is(err, auth.ErrPlanOrder) {
		t.Fatalf("TOTP before SMS in a both-plan: %v", err)
	}
	for _, bad := range [][]string{nil, {"email"}, {"totp", "totp"}, {"totp", "sms", "totp"}} {
		if _, err := f.svc.Plan(ctx, cur, bad); !errors.Is(err, auth.ErrInvalidInput) {
			t.Fatalf("Plan(%v) = %v, want invalid input", bad, err)
		}
	}
	if _, err := f.svc.Plan(ctx, cur, []string{"totp"}); err != nil {
		t.Fatal(err)
	}
	cur = f.reload(cur)

	secret, aal2, res := f.enrolTOTP(cur)
	if res.AAL != model.AAL2 || len(res.RecoveryCodes) != auth.RecoveryCodeCount || res.Next != auth.NextDone {
		t.Fatalf("confirm = %+v", res)
	}
	if _, err := f.svc.Authenticate(ctx, f.tokenOf(cur)); err == nil {
		t.Fatal("the aal1 token still works after rotation to aal2")
	}
	if aal2.Session.AAL != model.AAL2 {
		t.Fatalf("session aal = %s", aal2.Session.AAL)
	}

	// Returning user: the code of the step used at set-up is a replay.
	login, err := f.svc.Login(ctx, client, auth.Credentials{Username: "alice", Password: pw})
	if err != nil || login.Next != auth.NextVerify || len(login.Methods) != 1 || !login.Methods[0].Preferred {
		t.Fatalf("login = %+v, %v", login, err)
	}
	cur = f.auth(login.Token)
	_, err = f.svc.Verify(ctx, client, cur, auth.Proof{Method: "totp", Code: f.code(secret)})
	wantErr(t, err, auth.ErrInvalidCode)
	f.nextStep()
	v, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "totp", Code: f.code(secret)})
	if err != nil || v.AAL != model.AAL2 {
		t.Fatalf("Verify = %+v, %v", v, err)
	}
	if got := f.auth(v.Token); got.Session.AAL != model.AAL2 {
		t.Fatalf("verified session aal = %s", got.Session.AAL)
	}
}

func TestBackoffAfterFiveFailures(t *testing.T) {
	f := newFixture(t, nil)
	secret, _, _ := f.enrolTOTP(f.user("alice"))
	f.nextStep()
	cur := f.login("alice")
	for range 5 {
		_, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "totp", Code: "000000"})
		wantErr(t, err, auth.ErrInvalidCode)
	}
	// The 6th attempt is refused whatever the code, with Retry-After.
	_, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "totp", Code: f.code(secret)})
	if wait := wantRetry(t, err, auth.ErrTooManyAttempts); wait > 30*time.Second {
		t.Fatalf("first back-off = %v, want 30s", wait)
	}
	f.clock.Add(31 * time.Second)
	if _, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "totp", Code: f.code(secret)}); err != nil {
		t.Fatalf("correct code after the back-off: %v", err)
	}
	// Success resets the count: one more failure does not lock.
	cur = f.login("alice")
	_, err = f.svc.Verify(ctx, client, cur, auth.Proof{Method: "totp", Code: "000000"})
	wantErr(t, err, auth.ErrInvalidCode)
	f.nextStep()
	if _, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "totp", Code: f.code(secret)}); err != nil {
		t.Fatalf("after reset: %v", err)
	}
	events, _ := f.st.AuditEvents(ctx, 0, 1000)
	if !hasEvent(events, "lockout") {
		t.Fatal("no lockout in the audit log")
	}
}

func TestVerifyPerUserBudget(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) { c.VerifyPerUser = ratelimit.Limit{Count: 3, Window: time.Minute} })
	f.enrolTOTP(f.user("alice")) // the set-up confirmation is attempt 1
	cur := f.login("alice")
	for range 2 {
		_, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "totp", Code: "000000"})
		wantErr(t, err, auth.ErrInvalidCode)
	}
	_, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "totp", Code: "000000"})
	wantRetry(t, err, auth.ErrTooManyAttempts)
}

func TestMalformedCodesDoNotCount(t *testing.T) {
	f := newFixture(t, nil)
	secret, _, _ := f.enrolTOTP(f.user("alice"))
	cur := f.login("alice")
	for _, code := range []string{"", "12345", "123 456", "12345a", "１２３４５６", "123456789", "-12345"} {
		_, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "totp", Code: code})
		wantErr(t, err, auth.ErrCodeFormat)
	}
	for _, code := range []string{"", "abc", "aaaaa-aaaaa-a", "0oooo-11111"} {
		_, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "recovery", Code: code})
		wantErr(t, err, auth.ErrCodeFormat)
	}
	_, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "email", Code: "123456"})
	wantErr(t, err, auth.ErrInvalidInput)
	_, err = f.svc.Verify(ctx, client, cur, auth.Proof{Method: "sms", Code: "123456"})
	wantErr(t, err, auth.ErrNoFactor) // alice has no phone
	_, err = f.svc.Verify(ctx, client, cur, auth.Proof{Method: "webauthn", Code: "123456"})
	wantErr(t, err, auth.ErrNotImplemented)
	f.nextStep()
	if _, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "totp", Code: f.code(secret)}); err != nil {
		t.Fatalf("malformed codes counted towards back-off: %v", err)
	}
}

func TestRecoveryCodes(t *testing.T) {
	f := newFixture(t, nil)
	_, aal2, res := f.enrolTOTP(f.user("alice"))
	code := res.RecoveryCodes[3]
	for _, variant := range []string{code, strings.ToUpper(code), strings.ReplaceAll(code, "-", " ")} {
		cur := f.login("alice")
		_, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "recovery", Code: variant})
		if variant == code {
			if err != nil {
				t.Fatalf("recovery code refused: %v", err)
			}
			continue
		}
		wantErr(t, err, auth.ErrInvalidCode) // used once already
	}
	fresh, err := f.svc.RegenerateRecoveryCodes(ctx, client, aal2)
	if err != nil || len(fresh) != auth.RecoveryCodeCount {
		t.Fatalf("regenerate = %v, %v", fresh, err)
	}
	cur := f.login("alice")
	_, err = f.svc.Verify(ctx, client, cur, auth.Proof{Method: "recovery", Code: res.RecoveryCodes[5]})
	wantErr(t, err, auth.ErrInvalidCode) // old set died
	if _, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "recovery", Code: fresh[0]}); err != nil {
		t.Fatalf("new code refused: %v", err)
	}
}

func TestRecentAuthAndLastFactor(t *testing.T) {
	f := newFixture(t, nil)
	secret, aal2, _ := f.enrolTOTP(f.user("alice"))
	fs, _ := f.svc.Methods(ctx, aal2.User.ID)
	first := fs[0].ID
	wantErr(t, f.svc.RemoveFactor(ctx, client, aal2, first), auth.ErrLastFactor)

	f.clock.Add(6 * time.Minute)
	aal2 = f.reload(aal2)
	wantErr(t, f.svc.RemoveFactor(ctx, client, aal2, first), auth.ErrRecentAuthRequired)
	_, err := f.svc.RegenerateRecoveryCodes(ctx, client, aal2)
	wantErr(t, err, auth.ErrRecentAuthRequired)
	_, err = f.svc.StartTOTP(ctx, client, aal2, "Laptop")
	wantErr(t, err, auth.ErrRecentAuthRequired) // a further factor needs a fresh check

	v, err := f.svc.Verify(ctx, client, aal2, auth.Proof{Method: "totp", Code: f.code(secret)})
	if err != nil {
		t.Fatal(err)
	}
	fresh := f.auth(v.Token)
	f.nextStep() // a step accepted for a user is never accepted again, whichever app
	_, second, _ := f.enrolTOTPNamed(fresh, "Laptop")
	fs, _ = f.svc.Methods(ctx, fresh.User.ID)
	if len(fs) != 2 || fs[1].Label != "Laptop" {
		t.Fatalf("methods = %+v", fs)
	}
	if err := f.svc.RemoveFactor(ctx, client, second, first); err != nil {
		t.Fatalf("remove one of two: %v", err)
	}
	wantErr(t, f.svc.RemoveFactor(ctx, client, second, first), auth.ErrNotFound)
	wantErr(t, f.svc.SetPreferred(ctx, client, second, "nope"), auth.ErrNotFound)
	// IDs PostgreSQL cannot read as text name nothing: not found, not a
	// database error (found by FuzzAPIJSON).
	for _, id := range []string{"\x00", "\xff", strings.Repeat("\x00", 26)} {
		wantErr(t, f.svc.RemoveFactor(ctx, client, second, id), auth.ErrNotFound)
		wantErr(t, f.svc.SetPreferred(ctx, client, second, id), auth.ErrNotFound)
		wantErr(t, f.svc.ForgetDevice(ctx, client, second, id), auth.ErrNotFound)
		if _, err := f.svc.ConfirmTOTP(ctx, client, second, auth.Proof{FactorID: id, Code: "123456"}); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("ConfirmTOTP(factor %q) = %v, want not found", id, err)
		}
	}
	if err := f.svc.SetPreferred(ctx, client, second, fs[1].ID); err != nil {
		t.Fatal(err)
	}
}

func TestInviteEnrollment(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) { c.InviteOnly = true })
	if _, err := f.svc.CreateUser(ctx, client, "bob", pw); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Login(ctx, client, auth.Credentials{Username: "bob", Password: pw})
	wantErr(t, err, auth.ErrInviteRequired)
	link, inv, _, err := f.svc.Invite(ctx, client, "bob")
	if err != nil || !strings.Contains(link, "invite="+inv) {
		t.Fatalf("Invite = %q, %v", link, err)
	}
	_, err = f.svc.Login(ctx, client, auth.Credentials{Username: "bob", Password: "wrong password!", Invite: inv})
	wantErr(t, err, auth.ErrInvalidCredentials) // a wrong password does not burn the invite
	_, err = f.svc.Login(ctx, client, auth.Credentials{Username: "bob", Password: pw, Invite: token.New()})
	wantErr(t, err, auth.ErrInviteRequired)
	res, err := f.svc.Login(ctx, client, auth.Credentials{Username: "bob", Password: pw, Invite: inv})
	if err != nil || res.Next != auth.NextSetup {
		t.Fatalf("login with invite = %+v, %v", res, err)
	}
	_, err = f.svc.Login(ctx, client, auth.Credentials{Username: "bob", Password: pw, Invite: inv})
	wantErr(t, err, auth.ErrInviteRequired) // single use

	_, late, _, err := f.svc.Invite(ctx, client, "bob")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(2 * time.Hour)
	_, err = f.svc.Login(ctx, client, auth.Credentials{Username: "bob", Password: pw, Invite: late})
	wantErr(t, err, auth.ErrInviteRequired) // expired

	// Once a factor is active, the password plus that factor is enough.
	_, inv2, _, _ := f.svc.Invite(ctx, client, "bob")
	res, _ = f.svc.Login(ctx, client, auth.Credentials{Username: "bob", Password: pw, Invite: inv2})
	f.enrolTOTP(f.auth(res.Token))
	if res, err := f.svc.Login(ctx, client, auth.Credentials{Username: "bob", Password: pw}); err != nil || res.Next != auth.NextVerify {
		t.Fatalf("login after set-up = %+v, %v", res, err)
	}
}

func TestAdminActionsEndSessions(t *testing.T) {
	f := newFixture(t, nil)
	_, aal2, _ := f.enrolTOTP(f.user("alice"))
	tok := f.tokenOf(aal2)
	if err := f.svc.SetDisabled(ctx, client, "alice", true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, tok); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("disabled user's session still works: %v", err)
	}
	if err := f.svc.SetDisabled(ctx, client, "alice", false); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ResetMFA(ctx, client, "alice"); err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.Login(ctx, client, auth.Credentials{Username: "alice", Password: pw})
	if err != nil || res.Next != auth.NextSetup {
		t.Fatalf("after reset-mfa: %+v, %v", res, err)
	}
	wantErr(t, f.svc.ResetMFA(ctx, client, "nobody"), auth.ErrNotFound)
	_, err = f.svc.CreateUser(ctx, client, "alice", pw)
	wantErr(t, err, auth.ErrUserExists)
	_, err = f.svc.CreateUser(ctx, client, "eve", "short")
	wantErr(t, err, auth.ErrInvalidInput)
	_, err = f.svc.CreateUser(ctx, client, "bad name", pw)
	wantErr(t, err, auth.ErrInvalidInput)
}

func TestAdminToken(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) { c.AdminToken = strings.Repeat("s", 40) })
	for tok, want := range map[string]error{strings.Repeat("s", 40): nil, strings.Repeat("s", 39): auth.ErrBadToken, "": auth.ErrBadToken} {
		if err := f.svc.AuthorizeToken(ctx, client, auth.AdminToken, tok); !errors.Is(err, want) {
			t.Fatalf("AuthorizeToken(%q) = %v, want %v", tok, err, want)
		}
	}
	for _, kind := range []auth.TokenKind{auth.AdminToken, auth.MetricsToken} {
		if err := newFixture(t, nil).svc.AuthorizeToken(ctx, client, kind, ""); !errors.Is(err, auth.ErrBadToken) {
			t.Fatalf("empty %s token accepted when none is configured: %v", kind, err)
		}
	}
	// The metrics token does not open the admin API, nor the reverse.
	f = newFixture(t, func(c *auth.Config) { c.AdminToken, c.MetricsToken = strings.Repeat("a", 40), strings.Repeat("m", 40) })
	if err := f.svc.AuthorizeToken(ctx, client, auth.AdminToken, strings.Repeat("m", 40)); !errors.Is(err, auth.ErrBadToken) {
		t.Fatalf("metrics token opened the admin API: %v", err)
	}
}

// TestAdminTokenThrottled: wrong operator tokens are throttled per client
// and audited (the review sent 50 wrong tokens without a trace); a client
// that used up its allowance is refused before the token is compared, even
// a right one; other clients are not affected; 50 right tokens at once
// are never throttled.
func TestAdminTokenThrottled(t *testing.T) {
	good := strings.Repeat("s", 40)
	f := newFixture(t, func(c *auth.Config) {
		c.AdminToken = good
		c.AdminPerIP = ratelimit.Limit{Count: 5, Window: time.Minute}
	})
	// Right tokens are not counted: automation is never throttled.
	for range 20 {
		if err := f.svc.AuthorizeToken(ctx, client, auth.AdminToken, good); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		if err := f.svc.AuthorizeToken(ctx, client, auth.AdminToken, fmt.Sprintf("guess-%d", i)); !errors.Is(err, auth.ErrBadToken) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	_, err := 0, f.svc.AuthorizeToken(ctx, client, auth.AdminToken, good)
	wantRetry(t, err, auth.ErrRateLimited)
	if err := f.svc.AuthorizeToken(ctx, auth.Client{IP: "192.0.2.99"}, auth.AdminToken, good); err != nil {
		t.Fatalf("another client: %v", err)
	}
	events, _ := f.st.AuditEvents(ctx, 0, 1000)
	var failed, limited int
	for _, e := range events {
		switch e.Event {
		case "token_failed":
			failed++
		case "rate_limited":
			limited++
		}
	}
	if failed != 5 || limited != 1 {
		t.Fatalf("audit: %d token_failed (want 5), %d rate_limited (want 1)", failed, limited)
	}
	f.clock.Add(time.Minute)
	if err := f.svc.AuthorizeToken(ctx, client, auth.AdminToken, good); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range errs {
		wg.Go(func() { errs[i] = f.svc.AuthorizeToken(ctx, client, auth.AdminToken, good) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("parallel right token %d: %v", i, err)
		}
	}
}

func hasEvent(es []model.AuditEvent, name string) bool {
	for _, e := range es {
		if e.Event == name {
			return true
		}
	}
	return false
}

func TestLoginUpgradesOldHashes(t *testing.T) {
	f := newFixture(t, nil)
	// A hash made with other (older) parameters than the fixture's hasher.
	old, err := password.NewHasher(password.Params{Memory: 32, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1, time.Second).Hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	u, err := f.svc.CreateUser(ctx, client, "alice", pw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.SetPassword(ctx, u.ID, old); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Login(ctx, client, auth.Credentials{Username: "alice", Password: pw}); err != nil {
		t.Fatal(err)
	}
	got, _ := f.st.UserByID(ctx, u.ID)
	if got.PasswordHash == old || !strings.HasPrefix(got.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash not upgraded: %s", got.PasswordHash)
	}
	if _, err := f.svc.Login(ctx, client, auth.Credentials{Username: "alice", Password: pw}); err != nil {
		t.Fatalf("login with the upgraded hash: %v", err)
	}
}
