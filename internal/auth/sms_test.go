package auth_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/outcome"
	"github.com/twostep/twostep/internal/ratelimit"
)

const usPhone = "(201) 555-0123"

func TestStartSMSRefusesBadNumbers(t *testing.T) {
	f := newFixture(t, nil)
	cur := f.user("alice")
	tests := []struct {
		name, country, input string
	}{
		{"garbage", "US", "call me maybe"},
		{"too short", "US", "555"},
		{"too long", "US", strings.Repeat("5", 80)},
		{"country not allowed", "FR", "+33 6 12 34 56 78"},
		{"unknown country", "XX", "2015550123"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.StartSMS(ctx, client, cur, tc.country, tc.input)
			var oe *outcome.Error
			if !errors.Is(err, auth.ErrInvalidPhone) || !errors.As(err, &oe) || oe.Detail == "" {
				t.Fatalf("StartSMS(%q) = %v, want invalid_phone with a message", tc.input, err)
			}
		})
	}
	if f.sms.count() != 0 {
		t.Fatal("a text was sent for a refused number")
	}
	if fs, _ := f.st.Factors(ctx, cur.User.ID); len(fs) != 0 {
		t.Fatalf("refused numbers left factors behind: %+v", fs)
	}
}

func TestSMSThenTOTPPlan(t *testing.T) {
	f := newFixture(t, nil)
	cur := f.user("alice")
	if _, err := f.svc.Plan(ctx, cur, []string{"totp", "sms"}); err != nil {
		t.Fatal(err)
	}
	cur = f.reload(cur)
	st, err := f.svc.StartSMS(ctx, client, cur, "US", usPhone)
	if err != nil || st.Phone != "•••• 0123" || st.ExpiresIn != 5*time.Minute {
		t.Fatalf("StartSMS = %+v, %v", st, err)
	}
	if body := f.sms.sent[0].Body; !strings.HasSuffix(body, "\n\n@login.example.com #"+f.sms.lastCode(t)) || f.sms.sent[0].To != "+12015550123" {
		t.Fatalf("text = %+v", f.sms.sent[0])
	}
	res, err := f.svc.ConfirmSMS(ctx, client, cur, auth.Proof{Code: f.sms.lastCode(t)})
	if err != nil || res.Next != auth.NextSetupTOTP || len(res.RecoveryCodes) != 10 {
		t.Fatalf("ConfirmSMS = %+v, %v; want next setup_totp with recovery codes", res, err)
	}
	aal2 := f.auth(res.Token)
	f.nextStep()
	_, _, res2 := f.enrolTOTP(aal2)
	if res2.Next != auth.NextDone || res2.RecoveryCodes != nil {
		t.Fatalf("TOTP after SMS = %+v; want done and no new recovery codes", res2)
	}
	ms, _ := f.svc.Methods(ctx, cur.User.ID)
	if len(ms) != 2 || ms[0].Label != "SMS to •••• 0123" {
		t.Fatalf("methods = %+v", ms)
	}
}

// smsUser returns a user with an active phone and a fresh aal1 session.
func smsUser(t *testing.T, f *fixture) auth.Current {
	t.Helper()
	cur := f.user("alice")
	if _, err := f.svc.StartSMS(ctx, client, cur, "US", usPhone); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ConfirmSMS(ctx, client, cur, auth.Proof{Code: f.sms.lastCode(t)}); err != nil {
		t.Fatal(err)
	}
	return f.login("alice")
}

func TestSMSSignInCodes(t *testing.T) {
	f := newFixture(t, nil)
	cur := smsUser(t, f)
	sent := f.sms.count()

	var err error
	// Expired: a code older than 5 minutes.
	f.clock.Add(time.Minute)
	if _, err := f.svc.ChallengeSMS(ctx, client, cur, ""); err != nil {
		t.Fatal(err)
	}
	if f.sms.count() != sent+1 {
		t.Fatal("challenge sent no text")
	}
	code := f.sms.lastCode(t)
	f.clock.Add(5*time.Minute + time.Second)
	cur = f.login("alice")
	_, err = f.svc.Verify(ctx, client, cur, auth.Proof{Method: "sms", Code: code})
	wantErr(t, err, auth.ErrCodeExpired)

	// Old code after resend: refused; the new one works once.
	if _, err := f.svc.ChallengeSMS(ctx, client, cur, ""); err != nil {
		t.Fatal(err)
	}
	old := f.sms.lastCode(t)
	_, err = f.svc.ChallengeSMS(ctx, client, cur, "")
	if wait := wantRetry(t, err, auth.ErrRateLimited); wait > 30*time.Second {
		t.Fatalf("resend cooldown = %v", wait)
	}
	f.clock.Add(31 * time.Second)
	if _, err := f.svc.ChallengeSMS(ctx, client, cur, ""); err != nil {
		t.Fatalf("resend after the cooldown: %v", err)
	}
	fresh := f.sms.lastCode(t)
	if old != fresh {
		_, err = f.svc.Verify(ctx, client, cur, auth.Proof{Method: "sms", Code: old})
		wantErr(t, err, auth.ErrInvalidCode)
	}
	v, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "sms", Code: fresh})
	if err != nil {
		t.Fatalf("fresh code: %v", err)
	}
	_, err = f.svc.Verify(ctx, client, f.auth(v.Token), auth.Proof{Method: "sms", Code: fresh})
	wantErr(t, err, auth.ErrCodeExpired) // single use
}

func TestSMSAttemptLimit(t *testing.T) {
	f := newFixture(t, nil)
	cur := smsUser(t, f)
	f.clock.Add(time.Minute)
	if _, err := f.svc.ChallengeSMS(ctx, client, cur, ""); err != nil {
		t.Fatal(err)
	}
	code := f.sms.lastCode(t)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for range auth.SMSMaxAttempts {
		_, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "sms", Code: wrong})
		wantErr(t, err, auth.ErrInvalidCode)
	}
	f.clock.Add(31 * time.Second) // past the user's back-off
	_, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "sms", Code: code})
	wantErr(t, err, auth.ErrCodeExpired) // 6th attempt: the code is spent
}

func TestSMSSendFailure(t *testing.T) {
	f := newFixture(t, nil)
	cur := f.user("alice")
	f.sms.fail = true
	_, err := f.svc.StartSMS(ctx, client, cur, "US", usPhone)
	var se *outcome.Error
	if !errors.As(err, &se) || !errors.Is(err, auth.ErrSMSFailed) || se.Detail == "" {
		t.Fatalf("StartSMS with a failing gateway = %v", err)
	}
	if fs, _ := f.st.Factors(ctx, cur.User.ID); len(fs) != 0 {
		t.Fatalf("a failed send left a factor: %+v", fs)
	}
	f.sms.fail = false
	if _, err := f.svc.StartSMS(ctx, client, cur, "US", usPhone); err != nil {
		t.Fatalf("retry right after a failed send: %v (a failed send must not hold the cooldown)", err)
	}
	events, _ := f.st.AuditEvents(ctx, 0, 100)
	if !hasEvent(events, "code_send_failed") || !hasEvent(events, "code_sent") {
		t.Fatal("sends not audited")
	}
}

func TestSMSPumping(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) {
		c.SMSBudgets.PerIP = [2]ratelimit.Limit{{Count: 20, Window: time.Hour}, {Count: 50, Window: 24 * time.Hour}}
		c.SMSBudgets.PerUser = lim(1000)
	})
	cur := f.user("alice")
	refused := 0
	for i := range 1000 {
		f.clock.Add(31 * time.Second) // past the resend cooldown: only the budget may refuse
		_, err := f.svc.StartSMS(ctx, client, cur, "US", fmt.Sprintf("+1 201 555 %04d", i))
		if err != nil {
			wantRetry(t, err, auth.ErrRateLimited)
			refused++
		}
	}
	// 1000 tries over 8.6 hours: the hourly budget (20) refills, the daily
	// one (50) does not.
	if sent := f.sms.count(); sent != 50 || refused != 950 {
		t.Fatalf("sent %d, refused %d; want 50 and 950", sent, refused)
	}
	if fs, _ := f.st.Factors(ctx, cur.User.ID); len(fs) != 1 {
		t.Fatalf("refused sends changed state: %d factors, want the 1 pending phone", len(fs))
	}
}

func TestSMSSetupCooldown(t *testing.T) {
	f := newFixture(t, nil)
	cur := f.user("alice")
	if _, err := f.svc.StartSMS(ctx, client, cur, "US", usPhone); err != nil {
		t.Fatal(err)
	}
	// Starting again (even with another number) within 30 s sends nothing.
	_, err := f.svc.StartSMS(ctx, client, cur, "US", "(201) 555-0199")
	wantRetry(t, err, auth.ErrRateLimited)
	if f.sms.count() != 1 {
		t.Fatalf("texts sent = %d, want 1", f.sms.count())
	}
	f.clock.Add(31 * time.Second)
	if _, err := f.svc.StartSMS(ctx, client, cur, "US", "(201) 555-0199"); err != nil {
		t.Fatalf("after the cooldown: %v", err)
	}
}

func TestSMSSignInRightAfterSetup(t *testing.T) {
	f := newFixture(t, nil)
	cur := smsUser(t, f) // the set-up code was just used
	if _, err := f.svc.ChallengeSMS(ctx, client, cur, ""); err != nil {
		t.Fatalf("a used code held the resend cooldown: %v", err)
	}
	// An unused code still does.
	_, err := f.svc.ChallengeSMS(ctx, client, cur, "")
	wantRetry(t, err, auth.ErrRateLimited)
}

// TestParallelSMSSetupsSendOneText: ten set-ups started at once by one
// user send exactly one text; the others are told to wait, and none fails
// (the review saw four texts and a foreign-key error answered 500).
func TestParallelSMSSetupsSendOneText(t *testing.T) {
	f := newFixture(t, nil)
	cur := f.user("alice")
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Go(func() { _, errs[i] = f.svc.StartSMS(ctx, client, cur, "US", fmt.Sprintf("(201) 555-01%02d", 20+i)) })
	}
	wg.Wait()
	var ok int
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, auth.ErrRateLimited):
		default:
			t.Errorf("set-up %d: %v, want success or ErrRateLimited", i, err)
		}
	}
	if ok != 1 || f.sms.count() != 1 {
		t.Fatalf("%d set-ups succeeded and %d texts went, want 1 and 1", ok, f.sms.count())
	}
	if fs, _ := f.st.Factors(ctx, cur.User.ID); len(fs) != 1 {
		t.Fatalf("%d pending phones left, want 1", len(fs))
	}
	// After the cooldown a new set-up (say, a corrected number) goes.
	f.clock.Add(auth.SMSResendWait)
	if _, err := f.svc.StartSMS(ctx, client, cur, "US", usPhone); err != nil {
		t.Fatalf("after the cooldown: %v", err)
	}
}

// TestFailedSMSSetupHoldsNoCooldown: a set-up whose text could not be sent
// leaves nothing behind, not even its cooldown.
func TestFailedSMSSetupHoldsNoCooldown(t *testing.T) {
	f := newFixture(t, nil)
	cur := f.user("alice")
	f.sms.fail = true
	if _, err := f.svc.StartSMS(ctx, client, cur, "US", usPhone); !errors.Is(err, auth.ErrSMSFailed) {
		t.Fatalf("with the gateway down: %v", err)
	}
	f.sms.fail = false
	if _, err := f.svc.StartSMS(ctx, client, cur, "US", usPhone); err != nil {
		t.Fatalf("retry right after a failed send: %v", err)
	}
}
