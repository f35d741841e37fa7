package auth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/model"
)

const day = 24 * time.Hour

// withPolicies is a fixture modifier: mfa.policies as written, parsed by
// the service's own parser (a bad one fails the test).
func withPolicies(t *testing.T, grace time.Duration, specs ...string) func(*auth.Config) {
	t.Helper()
	ps, errs := auth.ParseMFAPolicies(specs)
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	return func(c *auth.Config) { c.Policies, c.GracePeriod = ps, grace }
}

func TestParseMFAPolicy(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    auth.MFAPolicy // Text is filled in from in
		wantErr string         // a part of the error naming the key
	}{
		{in: "* required", want: auth.MFAPolicy{Group: "*", Required: true}},
		{in: "admins required methods=webauthn+totp grace=0", want: auth.MFAPolicy{Group: "admins", Required: true,
			Methods: []model.FactorType{model.FactorWebAuthn, model.FactorTOTP}, GraceSet: true}},
		{in: "staff required grace=14d", want: auth.MFAPolicy{Group: "staff", Required: true, Grace: 14 * day, GraceSet: true}},
		{in: "staff required grace=72h methods=sms", want: auth.MFAPolicy{Group: "staff", Required: true, Grace: 72 * time.Hour, GraceSet: true,
			Methods: []model.FactorType{model.FactorSMS}}},
		{in: "guests optional", want: auth.MFAPolicy{Group: "guests"}},
		{in: "guests optional grace=0", want: auth.MFAPolicy{Group: "guests", GraceSet: true}},
		{in: "admins", wantErr: "want"},
		{in: "admins sometimes", wantErr: "requirement"},
		{in: "adm,ins required", wantErr: "group"},
		{in: "admins required methods=totp+recovery", wantErr: "methods"},
		{in: "admins required methods=totp+totp", wantErr: "methods"},
		{in: "admins required methods=", wantErr: "methods"},
		{in: "admins required grace=-1d", wantErr: "grace"},
		{in: "admins required grace=400d", wantErr: "grace"},
		{in: "admins required grace=soon", wantErr: "grace"},
		{in: "admins required grace=1d grace=2d", wantErr: "grace"},
		{in: "admins required colour=blue", wantErr: "options"},
		{in: "guests optional grace=7d", wantErr: "grace"},
	} {
		got, err := auth.ParseMFAPolicy(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseMFAPolicy(%q) = %v, want an error naming %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		tc.want.Text = tc.in
		if err != nil || got.Group != tc.want.Group || got.Required != tc.want.Required || got.Grace != tc.want.Grace ||
			got.GraceSet != tc.want.GraceSet || got.Text != tc.want.Text || !equalTypes(got.Methods, tc.want.Methods) {
			t.Errorf("ParseMFAPolicy(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func equalTypes(a, b []model.FactorType) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestParseMFAPolicies: an error names the key, the policy's place and its
// text; a policy after * could never match and is an error too.
func TestParseMFAPolicies(t *testing.T) {
	_, errs := auth.ParseMFAPolicies([]string{"admins required", "staff required methods=fax", "* optional", "late required"})
	if len(errs) != 2 {
		t.Fatalf("errors = %v, want 2", errs)
	}
	for i, want := range []string{`mfa.policies[1] "staff required methods=fax": methods:`, `mfa.policies[3] "late required": group: never used`} {
		if !strings.Contains(errs[i].Error(), want) {
			t.Errorf("error %d = %q, want it to contain %q", i, errs[i], want)
		}
	}
}

// TestNoPoliciesBehaveAsBefore: without mfa.policies the implicit default
// follows mfa.required and allows every method, as before policies.
func TestNoPoliciesBehaveAsBefore(t *testing.T) {
	for _, required := range []bool{true, false} {
		f := newFixture(t, func(c *auth.Config) { c.MFARequired = required })
		cur := f.user("alice")
		p := f.svc.Policy(cur.User)
		if p.Group != "*" || p.Required != required || p.Grace != 0 || !p.Allows("totp") || !p.Allows("sms") || !p.Allows("webauthn") {
			t.Errorf("required=%v: default policy %+v", required, p)
		}
		res, err := f.svc.Login(ctx, client, auth.Credentials{Username: "alice", Password: pw})
		want := auth.NextDone
		if required {
			want = auth.NextSetup
		}
		if err != nil || res.Next != want || !res.Grace.Until.IsZero() {
			t.Errorf("required=%v: login next %q grace %+v, %v; want %q, no grace", required, res.Next, res.Grace, err, want)
		}
	}
}

// loginGrace signs name in and returns the login's grace state.
func (f *fixture) loginGrace(name string) (auth.LoginResult, auth.Current) {
	f.t.Helper()
	res, err := f.svc.Login(ctx, client, auth.Credentials{Username: name, Password: pw})
	if err != nil {
		f.t.Fatalf("Login(%s): %v", name, err)
	}
	return res, f.auth(res.Token)
}

// TestGraceTransitions walks one user's grace period on a fake clock: the
// first sign-in fixes the deadline; later sign-ins do not move it; day N
// shows the days left; after the deadline set-up is forced; an extension
// gives time again.
func TestGraceTransitions(t *testing.T) {
	f := newFixture(t, withPolicies(t, 14*day))
	if _, err := f.svc.CreateUser(ctx, client, "alice", pw); err != nil {
		t.Fatal(err)
	}
	start := f.clock.Now()
	res, cur := f.loginGrace("alice")
	wantUntil := start.Add(14 * day)
	if res.Next != auth.NextSetup || !res.Grace.Active || !res.Grace.Until.Equal(wantUntil) || res.Grace.DaysLeft != 14 {
		t.Fatalf("first sign-in: next %q grace %+v; want setup, active until %v, 14 days left", res.Next, res.Grace, wantUntil)
	}
	if n := f.auditCount(audit.GraceStarted); n != 1 {
		t.Fatalf("grace_started audited %d times, want 1", n)
	}
	if g, err := f.svc.SetUpLater(ctx, client, cur); err != nil || !g.Until.Equal(wantUntil) {
		t.Fatalf("SetUpLater: %+v, %v", g, err)
	}
	for _, tc := range []struct {
		at       time.Duration // since the first sign-in
		daysLeft int
	}{
		{1 * day, 13},
		{3*day + time.Hour, 11}, // 10 days 23 hours: 11 days, rounded up
		{13 * day, 1},
		{14*day - time.Minute, 1},
	} {
		f.clock.Add(start.Add(tc.at).Sub(f.clock.Now()))
		res, cur := f.loginGrace("alice")
		if !res.Grace.Active || !res.Grace.Until.Equal(wantUntil) || res.Grace.DaysLeft != tc.daysLeft {
			t.Errorf("day %v: grace %+v; want active until %v (not renewed), %d days left", tc.at, res.Grace, wantUntil, tc.daysLeft)
		}
		if g, err := f.svc.GraceOf(ctx, cur); err != nil || g != res.Grace {
			t.Errorf("day %v: GraceOf %+v, %v; want the login's %+v", tc.at, g, err, res.Grace)
		}
	}
	if n := f.auditCount(audit.GraceStarted); n != 1 {
		t.Fatalf("grace_started audited %d times after later sign-ins, want 1", n)
	}

	// The deadline passes: set-up is forced.
	f.clock.Add(wantUntil.Sub(f.clock.Now()))
	res, cur = f.loginGrace("alice")
	if res.Next != auth.NextSetup || res.Grace.Active || !res.Grace.Until.Equal(wantUntil) {
		t.Fatalf("at the deadline: next %q grace %+v; want setup, not active", res.Next, res.Grace)
	}
	if _, err := f.svc.SetUpLater(ctx, client, cur); !errors.Is(err, auth.ErrGraceOver) {
		t.Fatalf("SetUpLater after the deadline: %v, want grace_over", err)
	}

	// An extension after the deadline counts from now; one before it from
	// the deadline. Both are audited.
	f.clock.Add(2 * day)
	until, err := f.svc.ExtendGrace(ctx, client, "alice", "7d")
	if want := f.clock.Now().Add(7 * day).UTC().Truncate(time.Millisecond); err != nil || !until.Equal(want) {
		t.Fatalf("ExtendGrace after the deadline = %v, %v; want %v", until, err, want)
	}
	res, _ = f.loginGrace("alice")
	if !res.Grace.Active || !res.Grace.Until.Equal(until) || res.Grace.DaysLeft != 7 {
		t.Fatalf("after the extension: grace %+v; want active until %v, 7 days", res.Grace, until)
	}
	f.clock.Add(day)
	again, err := f.svc.ExtendGrace(ctx, client, "alice", "72h")
	if err != nil || !again.Equal(until.Add(72*time.Hour)) {
		t.Fatalf("ExtendGrace before the deadline = %v, %v; want %v", again, err, until.Add(72*time.Hour))
	}
	if n := f.auditCount(audit.AdminAction); n < 3 { // user_add + two extensions
		t.Fatalf("admin_action audited %d times", n)
	}
	for _, bad := range []string{"", "0", "-1d", "soon", "400d"} {
		if _, err := f.svc.ExtendGrace(ctx, client, "alice", bad); !errors.Is(err, auth.ErrInvalidInput) {
			t.Errorf("ExtendGrace(%q) = %v, want invalid_request", bad, err)
		}
	}
	if _, err := f.svc.ExtendGrace(ctx, client, "nobody", "7d"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("ExtendGrace of an unknown user = %v, want not_found", err)
	}

	// Setting up a method ends the grace period; the session is aal2.
	_, aal2, _ := f.enrolTOTP(f.login("alice"))
	if g, err := f.svc.GraceOf(ctx, aal2); err != nil || g.Active {
		t.Fatalf("after set-up: %+v, %v; want no grace", g, err)
	}
	res, _ = f.loginGrace("alice")
	if res.Next != auth.NextVerify || res.Grace.Active {
		t.Fatalf("sign-in with a method: next %q grace %+v", res.Next, res.Grace)
	}
}

// TestGraceAuditNamesExtension: the extension is admin_action with
// action=extend_grace and the new deadline.
func TestGraceAuditNamesExtension(t *testing.T) {
	f := newFixture(t, withPolicies(t, 14*day))
	f.user("alice")
	if _, err := f.svc.ExtendGrace(ctx, auth.Client{IP: "cli"}, "alice", "7d"); err != nil {
		t.Fatal(err)
	}
	es, err := f.st.AuditEvents(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	last := es[len(es)-1]
	if last.Event != audit.AdminAction || !strings.Contains(last.Detail, `"action":"extend_grace"`) || !strings.Contains(last.Detail, `"until"`) {
		t.Fatalf("last audit entry %s %s; want admin_action extend_grace with until", last.Event, last.Detail)
	}
}

// TestGracePolicyAddedLater: a user who signed in while there was no grace
// period gets one from their first sign-in after it is configured.
func TestGracePolicyAddedLater(t *testing.T) {
	f := newFixture(t, nil)
	f.user("alice")
	if res, _ := f.loginGrace("alice"); !res.Grace.Until.IsZero() {
		t.Fatalf("no grace configured: %+v", res.Grace)
	}
	f.clock.Add(30 * day)
	f.cfg.Policies, _ = auth.ParseMFAPolicies([]string{"* required grace=10d"})
	f.svc = auth.New(f.cfg, f.deps)
	added := f.clock.Now()
	f.clock.Add(5 * day) // the first sign-in after the change comes later
	first := f.clock.Now()
	res, _ := f.loginGrace("alice")
	if !res.Grace.Active || !res.Grace.Until.Equal(first.Add(10*day)) || res.Grace.DaysLeft != 10 {
		t.Fatalf("first sign-in after the policy (added %v): %+v; want until %v", added, res.Grace, first.Add(10*day))
	}
}

// TestGraceMovedBetweenGroups: a user moved to a policy of another group
// starts that policy's grace period at their next sign-in; moved to one
// without a grace period, set-up is forced at once; a policy's grace
// period shortened applies to the periods already running.
func TestGraceMovedBetweenGroups(t *testing.T) {
	f := newFixture(t, withPolicies(t, 7*day, "staff required grace=30d", "admins required grace=0"))
	f.user("alice")
	start := f.clock.Now()
	if res, _ := f.loginGrace("alice"); !res.Grace.Until.Equal(start.Add(7 * day)) {
		t.Fatalf("default policy: %+v", res.Grace)
	}
	f.clock.Add(2 * day)
	if err := f.svc.SetAttributes(ctx, client, "alice", "", []string{"staff"}); err != nil {
		t.Fatal(err)
	}
	moved := f.clock.Now()
	res, _ := f.loginGrace("alice")
	if !res.Grace.Active || !res.Grace.Until.Equal(moved.Add(30*day)) {
		t.Fatalf("moved to staff: %+v; want until %v", res.Grace, moved.Add(30*day))
	}
	f.clock.Add(day)
	if res, _ := f.loginGrace("alice"); !res.Grace.Until.Equal(moved.Add(30 * day)) {
		t.Fatalf("staff, a day later: %+v; the deadline moved", res.Grace)
	}
	if err := f.svc.SetAttributes(ctx, client, "alice", "", []string{"admins"}); err != nil {
		t.Fatal(err)
	}
	res, cur := f.loginGrace("alice")
	if res.Next != auth.NextSetup || res.Grace.Active {
		t.Fatalf("moved to admins (no grace): next %q grace %+v; want forced set-up", res.Next, res.Grace)
	}
	if _, err := f.svc.SetUpLater(ctx, client, cur); !errors.Is(err, auth.ErrGraceOver) {
		t.Fatalf("SetUpLater under admins: %v", err)
	}

	// Back in staff, whose grace period is now shortened to 2 days: the
	// start under staff stands (admins, without a grace period, fixed
	// none), and the deadline is that start + the policy's new period.
	f.cfg.Policies, _ = auth.ParseMFAPolicies([]string{"staff required grace=2d"})
	f.svc = auth.New(f.cfg, f.deps)
	if err := f.svc.SetAttributes(ctx, client, "alice", "", []string{"staff"}); err != nil {
		t.Fatal(err)
	}
	res, _ = f.loginGrace("alice")
	if !res.Grace.Active || !res.Grace.Until.Equal(moved.Add(2*day)) || res.Grace.DaysLeft != 1 {
		t.Fatalf("staff shortened to 2d, a day after the move: %+v; want until %v, 1 day left", res.Grace, moved.Add(2*day))
	}
	f.clock.Add(day)
	if res, _ = f.loginGrace("alice"); res.Grace.Active {
		t.Fatalf("past the shortened deadline: %+v", res.Grace)
	}
}

// TestGraceForwardAuth: an aal1 session of a user in grace is accepted by
// two_factor+grace rules only; after the deadline by none; a user who has
// a method is never "in grace".
func TestGraceForwardAuth(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) {
		withPolicies(t, 14*day)(c)
		c.Access = rules(t, auth.PolicyTwoFactor,
			"app.example.com/wiki two_factor+grace",
			"app.example.com/ops two_factor+grace ops",
			"app.example.com/strict strict_two_factor",
			"app.example.com/open one_factor")
	})
	f.user("alice")
	res, _ := f.loginGrace("alice")
	_, _, _ = f.enrolTOTP(f.user("bob"))
	bob := f.login("bob")
	for _, tc := range []struct {
		name, tok, path string
		want            auth.Decision
	}{
		{"grace, two_factor+grace", res.Token, "/wiki/page", auth.Allow},
		{"grace, two_factor", res.Token, "/", auth.NeedLogin},
		{"grace, strict", res.Token, "/strict", auth.NeedLogin},
		{"grace, one_factor", res.Token, "/open", auth.Allow},
		{"grace, two_factor+grace of another group", res.Token, "/ops", auth.Forbidden},
		{"has a method, aal1, two_factor+grace", f.tokenOf(bob), "/wiki", auth.NeedLogin},
	} {
		if got, _, err := f.svc.Check(ctx, tc.tok, "app.example.com", tc.path); err != nil || got != tc.want {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	// The deadline passes: the grace rule refuses (the cache holds the
	// deadline, not a verdict, so no stale second either).
	f.clock.Add(14 * day)
	if got, _, _ := f.svc.Check(ctx, res.Token, "app.example.com", "/wiki"); got != auth.NeedLogin {
		t.Fatalf("after the deadline: %v, want NeedLogin", got)
	}
	if !f.svc.AcceptsGrace("app.example.com", "/wiki") || f.svc.AcceptsGrace("app.example.com", "/") ||
		f.svc.AcceptsGrace("app.example.com", "/strict") || !f.svc.AcceptsGrace("app.example.com", "/open") {
		t.Fatal("AcceptsGrace disagrees with the rules")
	}
}

func TestParseRuleGrace(t *testing.T) {
	r, err := auth.ParseRule("wiki.example.com two_factor+grace staff")
	if err != nil || !r.Grace || r.Policy != auth.PolicyTwoFactor || r.Group != "staff" {
		t.Fatalf("two_factor+grace: %+v, %v", r, err)
	}
	if r, err := auth.ParseRule("wiki.example.com two_factor"); err != nil || r.Grace {
		t.Fatalf("two_factor keeps its meaning: %+v, %v", r, err)
	}
	for _, bad := range []string{"x.example.com one_factor+grace", "x.example.com strict_two_factor+grace", "x.example.com two_factor+grace+grace", "x.example.com +grace"} {
		if _, err := auth.ParseRule(bad); err == nil {
			t.Errorf("ParseRule(%q) accepted", bad)
		}
	}
}

// TestPolicyMethods is the policy table in the service: for each user's
// groups and each method, set-up and sign-in accept it or refuse it with
// method_not_allowed, before anything is counted or written.
func TestPolicyMethods(t *testing.T) {
	f := newPasskeyFixture(t, withPolicies(t, 0,
		"admins required methods=webauthn+totp",
		"field required methods=sms"))
	users := []struct {
		name   string
		groups []string
		allow  map[string]bool
	}{
		{"ann", []string{"admins"}, map[string]bool{"totp": true, "webauthn": true}},
		{"fred", []string{"field"}, map[string]bool{"sms": true}},
		{"both", []string{"field", "admins"}, map[string]bool{"totp": true, "webauthn": true}}, // first match: admins
		{"eve", nil, map[string]bool{"totp": true, "sms": true, "webauthn": true}},
	}
	for _, u := range users {
		f.user(u.name)
		if err := f.svc.SetAttributes(ctx, client, u.name, "", u.groups); err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{"totp", "sms", "webauthn"} {
			cur := f.login(u.name)
			_, planErr := f.svc.Plan(ctx, cur, []string{m})
			var startErr error
			switch m {
			case "totp":
				_, startErr = f.svc.StartTOTP(ctx, client, cur, "")
			case "sms":
				_, startErr = f.svc.StartSMS(ctx, client, cur, "US", usPhone)
				f.clock.Add(auth.SMSResendWait)
			case "webauthn":
				_, startErr = f.svc.StartPasskey(ctx, client, cur)
			}
			if m != "webauthn" || errors.Is(planErr, auth.ErrMethodNotAllowed) {
				// Plan lists totp and sms; a passkey is set up outside it.
				if got := planErr == nil; got != u.allow[m] && m != "webauthn" {
					t.Errorf("%s %v, Plan(%s): %v; allowed %v", u.name, u.groups, m, planErr, u.allow[m])
				}
			}
			if got := startErr == nil; got != u.allow[m] || (!got && !errors.Is(startErr, auth.ErrMethodNotAllowed)) {
				t.Errorf("%s %v, start %s: %v; allowed %v", u.name, u.groups, m, startErr, u.allow[m])
			}
			p := f.svc.Policy(cur.User)
			if p.Allows(m) != u.allow[m] {
				t.Errorf("%s: Policy.Allows(%s) = %v", u.name, m, p.Allows(m))
			}
			// Verify refuses a disallowed method before any attempt counts.
			if !u.allow[m] {
				_, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: m, Code: "123456"})
				if !errors.Is(err, auth.ErrMethodNotAllowed) {
					t.Errorf("%s: Verify(%s) = %v, want method_not_allowed", u.name, m, err)
				}
			}
		}
	}
	// Confirmations refuse too: a pending set-up begun before a move.
	cur := f.login("eve")
	st, err := f.svc.StartTOTP(ctx, client, cur, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetAttributes(ctx, client, "eve", "", []string{"field"}); err != nil {
		t.Fatal(err)
	}
	cur = f.reload(cur)
	if _, err := f.svc.ConfirmTOTP(ctx, client, cur, auth.Proof{FactorID: st.FactorID, Code: "123456"}); !errors.Is(err, auth.ErrMethodNotAllowed) {
		t.Fatalf("ConfirmTOTP after the move: %v, want method_not_allowed", err)
	}
	u, _ := f.st.UserByUsername(ctx, "eve")
	if u.MFAFailures != 0 {
		t.Fatalf("a refusal of the policy counted %d failures", u.MFAFailures)
	}
}

// TestOnlyMethodDisallowed: a user whose only method the policy no longer
// allows is sent to set up an allowed one: sign-in says "setup" and offers
// nothing, the old method and recovery codes are refused, a remembered
// browser skips nothing, and the first allowed method needs no recent
// check (as a first method); afterwards recovery codes work again.
func TestOnlyMethodDisallowed(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) {
		withPolicies(t, 0, "admins required methods=totp")(c)
		c.RememberDeviceDays = 30
	})
	cur := f.user("ann")
	st, err := f.svc.StartSMS(ctx, client, cur, "US", usPhone)
	if err != nil {
		t.Fatal(err)
	}
	_ = st
	res, err := f.svc.ConfirmSMS(ctx, client, cur, auth.Proof{Code: f.sms.lastCode(t), Remember: true})
	if err != nil {
		t.Fatal(err)
	}
	codes := res.RecoveryCodes
	device := res.Device.Token
	if err := f.svc.SetAttributes(ctx, client, "ann", "", []string{"admins"}); err != nil {
		t.Fatal(err)
	}
	lr, err := f.svc.Login(ctx, auth.Client{IP: client.IP, Device: device}, auth.Credentials{Username: "ann", Password: pw})
	if err != nil || lr.Next != auth.NextSetup || lr.AAL != model.AAL1 || len(lr.Methods) != 0 {
		t.Fatalf("sign-in with only SMS under a totp-only policy: %+v, %v; want aal1, setup, nothing offered", lr, err)
	}
	cur = f.auth(lr.Token)
	if _, err := f.svc.ChallengeSMS(ctx, client, cur, ""); !errors.Is(err, auth.ErrMethodNotAllowed) {
		t.Fatalf("ChallengeSMS: %v", err)
	}
	if _, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "recovery", Code: codes[0]}); !errors.Is(err, auth.ErrMethodNotAllowed) {
		t.Fatalf("recovery code without an allowed method: %v, want method_not_allowed", err)
	}
	if us, _ := f.svc.Usable(ctx, cur.User); len(us) != 0 {
		t.Fatalf("Usable = %v", us)
	}
	// The first allowed method is set up with the aal1 session.
	_, aal2, passed := f.enrolTOTP(cur)
	if aal2.Session.AAL != model.AAL2 || passed.RecoveryCodes != nil {
		t.Fatalf("set-up: %v, new codes %v (the old ones stand)", aal2.Session.AAL, passed.RecoveryCodes)
	}
	cur = f.login("ann")
	if _, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "recovery", Code: codes[0]}); err != nil {
		t.Fatalf("recovery code with an allowed method: %v", err)
	}
}

// TestPolicyRequiredPerGroup: optional and required per group, for
// sign-in, forward-auth and removing the last method.
func TestPolicyRequiredPerGroup(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) {
		withPolicies(t, 0, "guests optional")(c)
		c.Access = rules(t, auth.PolicyTwoFactor)
	})
	f.user("gus")
	if err := f.svc.SetAttributes(ctx, client, "gus", "", []string{"guests"}); err != nil {
		t.Fatal(err)
	}
	f.user("ann")
	g, _ := f.loginGrace("gus")
	a, _ := f.loginGrace("ann")
	if g.Next != auth.NextDone || a.Next != auth.NextSetup {
		t.Fatalf("next: guest %q, other %q", g.Next, a.Next)
	}
	if got, _, _ := f.svc.Check(ctx, g.Token, "app.example.com", "/"); got != auth.Allow {
		t.Fatalf("optional, no method, two_factor: %v", got)
	}
	if got, _, _ := f.svc.Check(ctx, a.Token, "app.example.com", "/"); got != auth.NeedLogin {
		t.Fatalf("required, no method, two_factor: %v", got)
	}
	// The last method may go under an optional policy, not a required one.
	for name, want := range map[string]error{"gus": nil, "ann": auth.ErrLastFactor} {
		_, aal2, _ := f.enrolTOTP(f.login(name))
		fs, _ := f.svc.Methods(ctx, aal2.User.ID)
		if err := f.svc.RemoveFactor(ctx, client, aal2, fs[0].ID); !errors.Is(err, want) && (want != nil || err != nil) {
			t.Errorf("%s removes the last method: %v, want %v", name, err, want)
		}
	}
}

// TestPolicyRefusesPasskeys: a user whose policy no longer allows passkeys
// gets no passkey challenge, and no passwordless sign-in (refused and
// audited as login_failed method_not_allowed); the password sign-in sends
// them to set up an allowed method.
func TestPolicyRefusesPasskeys(t *testing.T) {
	f := newPasskeyFixture(t, withPolicies(t, 0, "field required methods=totp+sms"))
	k := newKey()
	f.enrolPasskey(f.user("pat"), k, "Laptop")
	if err := f.svc.SetAttributes(ctx, client, "pat", "", []string{"field"}); err != nil {
		t.Fatal(err)
	}
	res, cur := f.loginGrace("pat")
	if res.Next != auth.NextSetup || len(res.Methods) != 0 {
		t.Fatalf("password sign-in: next %q, methods %v", res.Next, res.Methods)
	}
	if _, err := f.svc.ChallengePasskey(ctx, client, cur); !errors.Is(err, auth.ErrMethodNotAllowed) {
		t.Fatalf("ChallengePasskey: %v, want method_not_allowed", err)
	}
	c, err := f.svc.StartPasskeyLogin(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	k.cred.Counter++
	before := f.auditCount(audit.LoginFailed)
	if _, err := f.svc.PasskeyLogin(ctx, client, c.ID, k.assert(t, pkRP, c)); !errors.Is(err, auth.ErrMethodNotAllowed) {
		t.Fatalf("passwordless sign-in: %v, want method_not_allowed", err)
	}
	if f.auditCount(audit.LoginFailed) != before+1 {
		t.Fatal("the refused passwordless sign-in was not audited")
	}
}
