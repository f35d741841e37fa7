package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/store"
)

// Run runs the contract suite against fresh stores made by newStore. Every
// backend's test calls it, so all backends promise the same behaviour.
func Run(t *testing.T, newStore func(testing.TB) *store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, *store.Store)
	}{
		{"Migrate", testMigrate},
		{"Users", testUsers},
		{"TOTPStepReplay", testTOTPStep},
		{"RotationRefusedWritesNothing", testRotationRefused},
		{"MFAAttempts", testMFAAttempts},
		{"AuditPrune", testAuditPrune},
		{"Factors", testFactors},
		{"LastFactor", testLastFactor},
		{"ActivateWithCodes", testActivateWithCodes},
		{"Sessions", testSessions},
		{"RecoveryCodes", testRecoveryCodes},
		{"Invites", testInvites},
		{"Audit", testAudit},
		{"ResetMFA", testResetMFA},
		{"SMSCodes", testSMSCodes},
		{"Devices", testDevices},
		{"ResealSecrets", testResealSecrets},
		{"Passkeys", testPasskeys},
		{"PasskeyCounter", testPasskeyCounter},
		{"Ceremonies", testCeremonies},
		{"SessionMethods", testSessionMethods},
		{"UserSessions", testUserSessions},
		{"Grace", testGrace},
		{"Notifications", testNotifications},
		{"NotificationClaimRace", testNotificationClaimRace},
		{"SessionEvents", testSessionEvents},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

var (
	ctx = context.Background()
	t0  = time.UnixMilli(1_800_000_000_000).UTC()
)

func mkUser(t *testing.T, s *store.Store, name string) model.User {
	t.Helper()
	u := model.User{ID: "u-" + name, Username: name, PasswordHash: "$argon2id$x", CreatedAt: t0}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser(%s): %v", name, err)
	}
	return u
}

func mkFactor(t *testing.T, s *store.Store, u model.User, id string, status model.FactorStatus) model.Factor {
	t.Helper()
	f := model.Factor{ID: id, UserID: u.ID, Type: model.FactorTOTP, Label: "app " + id, Status: status,
		KeyID: "k1", Secret: []byte{1, 2, 3}, Params: "SHA1:6:30", CreatedAt: t0}
	if err := s.CreateFactor(ctx, f); err != nil {
		t.Fatalf("CreateFactor: %v", err)
	}
	return f
}

// parallel runs fn n times at once and returns how many returned nil.
func parallel(n int, fn func(i int) error) int {
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if fn(i) == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(ok.Load())
}

func testMigrate(t *testing.T, s *store.Store) {
	cur, latest, err := s.SchemaVersion(ctx)
	if err != nil || cur != latest || cur < 1 {
		t.Fatalf("SchemaVersion = %d, %d, %v; want equal and >= 1", cur, latest, err)
	}
	applied, err := s.Migrate(ctx)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second Migrate applied %v, %v; want nothing", applied, err)
	}
}

func testUsers(t *testing.T, s *store.Store) {
	u := mkUser(t, s, "alice")
	if err := s.CreateUser(ctx, model.User{ID: "other", Username: "alice", PasswordHash: "x", CreatedAt: t0}); !errors.Is(err, model.ErrConflict) {
		t.Fatalf("duplicate username: err = %v, want ErrConflict", err)
	}
	got, err := s.UserByUsername(ctx, "alice")
	if err != nil || got.ID != u.ID || got.PasswordHash != u.PasswordHash || !got.CreatedAt.Equal(u.CreatedAt) || got.Groups != nil {
		t.Fatalf("UserByUsername = %+v, %v; want %+v", got, err, u)
	}
	if err := s.SetUserAttributes(ctx, u.ID, "alice@example.com", []string{"admins", "dev"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.UserByID(ctx, u.ID); got.Email != "alice@example.com" || strings.Join(got.Groups, ",") != "admins,dev" {
		t.Fatalf("attributes = %q %v", got.Email, got.Groups)
	}
	if _, err := s.UserByUsername(ctx, "nobody"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("unknown user: err = %v, want ErrNotFound", err)
	}
	if _, err := s.UserByID(ctx, "nope"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("unknown id: err = %v, want ErrNotFound", err)
	}
	mkUser(t, s, "bob")
	sess := model.Session{TokenHash: []byte("alice-session"), UserID: u.ID, AAL: model.AAL2, CreatedAt: t0, LastSeenAt: t0}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if ended, err := s.SetUserDisabled(ctx, u.ID, true); err != nil || len(ended) != 1 || !bytes.Equal(ended[0].TokenHash, sess.TokenHash) {
		t.Fatalf("SetUserDisabled ended %+v, %v; want alice's one session", ended, err)
	}
	if _, err := s.Session(ctx, sess.TokenHash); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("session after disable: err = %v, want ErrNotFound", err)
	}
	us, err := s.ListUsers(ctx)
	if err != nil || len(us) != 2 || us[0].Username != "alice" || !us[0].Disabled || us[1].Disabled {
		t.Fatalf("ListUsers = %+v, %v", us, err)
	}
	if _, err := s.SetPassword(ctx, u.ID, "$argon2id$new"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.UserByID(ctx, u.ID); got.PasswordHash != "$argon2id$new" {
		t.Fatalf("password hash = %q", got.PasswordHash)
	}
	if _, err := s.SetPassword(ctx, "nope", "x"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("SetPassword unknown: %v", err)
	}
	if err := s.UpgradePasswordHash(ctx, u.ID, "$argon2id$stale", "$argon2id$up"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("upgrade from a hash that changed meanwhile: %v", err)
	}
	if err := s.UpgradePasswordHash(ctx, u.ID, "$argon2id$new", "$argon2id$up"); err != nil {
		t.Fatal(err)
	}
}

func testTOTPStep(t *testing.T, s *store.Store) {
	u := mkUser(t, s, "alice")
	phone, laptop := mkFactor(t, s, u, "phone", model.FactorActive), mkFactor(t, s, u, "laptop", model.FactorActive)
	steps := []struct {
		factor string
		step   int64
		want   bool
	}{
		{phone.ID, 100, true}, {phone.ID, 100, false}, {phone.ID, 99, false}, {phone.ID, 101, true},
		{phone.ID, 50, false}, {phone.ID, 103, true},
		// Each app keeps its own steps: the laptop's first code at a step
		// the phone already used is not a replay (each app its own record).
		{laptop.ID, 103, true}, {laptop.ID, 103, false}, {laptop.ID, 102, false},
		{"no-such-factor", 500, false},
	}
	for _, st := range steps {
		if ok, err := s.AcceptTOTPStep(ctx, st.factor, st.step); err != nil || ok != st.want {
			t.Fatalf("AcceptTOTPStep(%s, %d) = %v, %v; want %v", st.factor, st.step, ok, err, st.want)
		}
	}
	// 50 parallel acceptances of one fresh step: exactly one wins.
	won := parallel(50, func(int) error {
		ok, err := s.AcceptTOTPStep(ctx, phone.ID, 200)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("replay")
		}
		return nil
	})
	if won != 1 {
		t.Fatalf("parallel AcceptTOTPStep winners = %d, want 1", won)
	}
}

// testMFAAttempts: the second-factor lease lets one attempt of a user run
// at a time (on any instance), failures count until a success, and an
// unlock forgets them.
func testMFAAttempts(t *testing.T, s *store.Store) {
	u := mkUser(t, s, "alice")
	now := time.Unix(1_800_000_000, 0)
	st, err := s.BeginMFAAttempt(ctx, u.ID, now, 10*time.Second)
	if err != nil || st.Failures != 0 || !st.LastFailedAt.IsZero() {
		t.Fatalf("first attempt: %+v, %v", st, err)
	}
	if _, err := s.BeginMFAAttempt(ctx, u.ID, now.Add(time.Second), 10*time.Second); !errors.Is(err, model.ErrConflict) {
		t.Fatalf("second attempt during the lease: %v, want ErrConflict", err)
	}
	if n, err := s.FailMFA(ctx, u.ID, now.Add(2*time.Second)); err != nil || n != 1 {
		t.Fatalf("FailMFA = %d, %v", n, err)
	}
	st, err = s.BeginMFAAttempt(ctx, u.ID, now.Add(3*time.Second), 10*time.Second)
	if err != nil || st.Failures != 1 || !st.LastFailedAt.Equal(now.Add(2*time.Second)) {
		t.Fatalf("after a failure: %+v, %v", st, err)
	}
	// A crashed attempt's lease ends by itself.
	if _, err := s.BeginMFAAttempt(ctx, u.ID, now.Add(14*time.Second), 10*time.Second); err != nil {
		t.Fatalf("after the lease expired: %v", err)
	}
	if err := s.EndMFAAttempt(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	// 20 parallel attempts: exactly one holds the lease.
	won := parallel(20, func(int) error {
		_, err := s.BeginMFAAttempt(ctx, u.ID, now.Add(20*time.Second), 10*time.Second)
		return err
	})
	if won != 1 {
		t.Fatalf("parallel BeginMFAAttempt winners = %d, want 1", won)
	}
	for range 3 {
		if _, err := s.FailMFA(ctx, u.ID, now.Add(21*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := s.UserByID(ctx, u.ID); got.MFAFailures != 4 {
		t.Fatalf("failures = %d, want 4", got.MFAFailures)
	}
	if err := s.UnlockMFA(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if st, err := s.BeginMFAAttempt(ctx, u.ID, now.Add(22*time.Second), 10*time.Second); err != nil || st.Failures != 0 {
		t.Fatalf("after unlock: %+v, %v", st, err)
	}
	if _, err := s.BeginMFAAttempt(ctx, "nobody", now, time.Second); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}

func testFactors(t *testing.T, s *store.Store) {
	u := mkUser(t, s, "alice")
	f := mkFactor(t, s, u, "f1", model.FactorPending)
	got, err := s.Factor(ctx, u.ID, "f1")
	if err != nil || got.ID != f.ID || !bytes.Equal(got.Secret, f.Secret) || got.Status != model.FactorPending || !got.LastUsedAt.IsZero() {
		t.Fatalf("Factor = %+v, %v", got, err)
	}
	if _, err := s.Factor(ctx, "u-other", "f1"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("factor of another user: %v", err)
	}
	if err := s.SetPreferred(ctx, u.ID, "f1"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("pending factor made preferred: %v", err)
	}
	won := parallel(10, func(int) error { return s.ActivateFactor(ctx, u.ID, "f1", t0.Add(time.Minute), nil) })
	if won != 1 {
		t.Fatalf("parallel ActivateFactor winners = %d, want 1", won)
	}
	mkFactor(t, s, u, "f2", model.FactorActive)
	mkFactor(t, s, u, "f3", model.FactorPending)
	if err := s.SetPreferred(ctx, u.ID, "f2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePendingFactors(ctx, u.ID, model.FactorTOTP); err != nil {
		t.Fatal(err)
	}
	fs, err := s.Factors(ctx, u.ID)
	if err != nil || len(fs) != 2 || fs[0].ID != "f1" || fs[0].Preferred || !fs[1].Preferred || fs[0].Status != model.FactorActive {
		t.Fatalf("Factors = %+v, %v", fs, err)
	}
	if err := s.TouchFactor(ctx, "f2", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Factor(ctx, u.ID, "f2"); !got.LastUsedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("LastUsedAt = %v", got.LastUsedAt)
	}
	if err := s.DeleteFactor(ctx, u.ID, "f2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteFactor(ctx, u.ID, "f2"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// testActivateWithCodes: a first factor's activation and its recovery
// codes are one transaction, so either both happen or neither does
// (TestKillUnderLoad found users with an active factor and no recovery
// codes after a SIGKILL between two separate writes).
func testActivateWithCodes(t *testing.T, s *store.Store) {
	codes := func(prefix string, ids ...string) []model.RecoveryCode {
		var cs []model.RecoveryCode
		for i, id := range ids {
			cs = append(cs, model.RecoveryCode{ID: prefix + id, KeyID: "k", CodeHash: []byte{byte(i)}, CreatedAt: t0})
		}
		return cs
	}
	tests := []struct {
		name       string
		status     model.FactorStatus // the factor before
		codes      []string           // IDs of the new codes; nil: none
		wantErr    string             // "": success; "not found": model.ErrNotFound; "any": some error
		wantStatus model.FactorStatus
		wantCodes  string // the user's unused codes afterwards: "old" or "new"
	}{
		{"first factor with its codes", model.FactorPending, []string{"n1", "n2"}, "", model.FactorActive, "new"},
		{"further factor, codes untouched", model.FactorPending, nil, "", model.FactorActive, "old"},
		{"codes fail to store: factor stays pending", model.FactorPending, []string{"n1", "n1"}, "any", model.FactorPending, "old"},
		{"already active: codes untouched", model.FactorActive, []string{"n1", "n2"}, "not found", model.FactorActive, "old"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := mkUser(t, s, fmt.Sprintf("user%d", i))
			p := fmt.Sprintf("c%d-", i)
			if err := s.ReplaceRecoveryCodes(ctx, u.ID, codes(p, "o1", "o2", "o3")); err != nil {
				t.Fatal(err)
			}
			fid := p + "f"
			mkFactor(t, s, u, fid, tc.status)
			var nc []model.RecoveryCode
			if tc.codes != nil {
				nc = codes(p, tc.codes...)
			}
			err := s.ActivateFactor(ctx, u.ID, fid, t0.Add(time.Minute), nc)
			switch {
			case tc.wantErr == "" && err != nil,
				tc.wantErr == "not found" && !errors.Is(err, model.ErrNotFound),
				tc.wantErr == "any" && err == nil:
				t.Fatalf("ActivateFactor: err = %v, want %q (\"\": none)", err, tc.wantErr)
			}
			if f, err := s.Factor(ctx, u.ID, fid); err != nil || f.Status != tc.wantStatus {
				t.Errorf("factor status %q (%v), want %q", f.Status, err, tc.wantStatus)
			}
			left, err := s.UnusedRecoveryCodes(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, c := range left {
				ids = append(ids, strings.TrimPrefix(c.ID, p))
			}
			want := map[string]string{"old": "o1,o2,o3", "new": strings.Join(tc.codes, ",")}[tc.wantCodes]
			if got := strings.Join(ids, ","); got != want {
				t.Errorf("unused recovery codes %s, want the %s set %s", got, tc.wantCodes, want)
			}
		})
	}
}

func testLastFactor(t *testing.T, s *store.Store) {
	u := mkUser(t, s, "alice")
	mkFactor(t, s, u, "a", model.FactorActive)
	mkFactor(t, s, u, "b", model.FactorActive)
	mkFactor(t, s, u, "p", model.FactorPending)
	// Two parallel removals of the two active factors: exactly one may win.
	ids := []string{"a", "b"}
	won := parallel(2, func(i int) error { return s.DeleteActiveFactorUnlessLast(ctx, u.ID, ids[i]) })
	if won != 1 {
		t.Fatalf("removals = %d, want 1 (the last active factor must stay)", won)
	}
	fs, _ := s.Factors(ctx, u.ID)
	active := 0
	for _, f := range fs {
		if f.Status == model.FactorActive {
			active++
		}
	}
	if active != 1 {
		t.Fatalf("active factors left = %d, want 1", active)
	}
}

func testSessions(t *testing.T, s *store.Store) {
	u := mkUser(t, s, "alice")
	a := model.Session{TokenHash: []byte("hash-a"), UserID: u.ID, AAL: model.AAL1, CreatedAt: t0, LastSeenAt: t0}
	if err := s.CreateSession(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, a); !errors.Is(err, model.ErrConflict) {
		t.Fatalf("duplicate session: %v", err)
	}
	if err := s.SetSessionPlan(ctx, a.TokenHash, "sms,totp"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Session(ctx, a.TokenHash)
	if err != nil || got.AAL != model.AAL1 || got.Plan != "sms,totp" || !got.CreatedAt.Equal(t0) || !got.AAL2At.IsZero() {
		t.Fatalf("Session = %+v, %v", got, err)
	}
	// Parallel rotations of one session: exactly one succeeds.
	won := parallel(10, func(i int) error {
		b := a
		b.TokenHash = []byte(fmt.Sprintf("hash-b%d", i))
		b.AAL, b.AAL2At = model.AAL2, t0.Add(time.Minute)
		return s.RotateSession(ctx, store.Rotation{OldHash: a.TokenHash, Next: b})
	})
	if won != 1 {
		t.Fatalf("rotations = %d, want 1", won)
	}
	if _, err := s.Session(ctx, a.TokenHash); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("old token after rotation: %v", err)
	}
	old := model.Session{TokenHash: []byte("old"), UserID: u.ID, AAL: model.AAL1, CreatedAt: t0, LastSeenAt: t0}
	if err := s.CreateSession(ctx, old); err != nil {
		t.Fatal(err)
	}
	fresh := model.Session{TokenHash: []byte("fresh"), UserID: u.ID, AAL: model.AAL1, CreatedAt: t0, LastSeenAt: t0}
	if err := s.CreateSession(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchSession(ctx, fresh.TokenHash, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Idle cut-off between the two: only "old" (and the rotated one, idle since t0) go.
	n, err := s.DeleteExpiredSessions(ctx, t0.Add(30*time.Minute), t0.Add(-time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredSessions = %d, %v; want 2", n, err)
	}
	if _, err := s.Session(ctx, fresh.TokenHash); err != nil {
		t.Fatalf("fresh session gone: %v", err)
	}
	if err := s.DeleteSession(ctx, fresh.TokenHash); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, fresh.TokenHash); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("second logout: %v", err)
	}
}

func testRecoveryCodes(t *testing.T, s *store.Store) {
	u := mkUser(t, s, "alice")
	codes := func(prefix string) []model.RecoveryCode {
		var cs []model.RecoveryCode
		for i := range 10 {
			cs = append(cs, model.RecoveryCode{ID: fmt.Sprintf("%s%02d", prefix, i), KeyID: "k", CodeHash: []byte{byte(i)}, CreatedAt: t0})
		}
		return cs
	}
	if err := s.ReplaceRecoveryCodes(ctx, u.ID, codes("a")); err != nil {
		t.Fatal(err)
	}
	won := parallel(20, func(int) error { return s.UseRecoveryCode(ctx, "a03", t0) })
	if won != 1 {
		t.Fatalf("parallel uses of one code = %d, want 1", won)
	}
	left, err := s.UnusedRecoveryCodes(ctx, u.ID)
	if err != nil || len(left) != 9 {
		t.Fatalf("unused = %d, %v; want 9", len(left), err)
	}
	if err := s.ReplaceRecoveryCodes(ctx, u.ID, codes("b")); err != nil {
		t.Fatal(err)
	}
	left, _ = s.UnusedRecoveryCodes(ctx, u.ID)
	if len(left) != 10 || left[0].ID != "b00" {
		t.Fatalf("after regenerate: %+v", left)
	}
	if err := s.UseRecoveryCode(ctx, "a00", t0); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("old set still usable: %v", err)
	}
}

func testInvites(t *testing.T, s *store.Store) {
	u := mkUser(t, s, "alice")
	inv := model.Invite{TokenHash: []byte("inv"), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateInvite(ctx, inv); err != nil {
		t.Fatal(err)
	}
	if err := s.UseInvite(ctx, inv.TokenHash, "u-other", t0); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("invite for another user: %v", err)
	}
	if err := s.UseInvite(ctx, inv.TokenHash, u.ID, t0.Add(2*time.Hour)); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("expired invite: %v", err)
	}
	won := parallel(10, func(int) error { return s.UseInvite(ctx, inv.TokenHash, u.ID, t0.Add(time.Minute)) })
	if won != 1 {
		t.Fatalf("invite uses = %d, want 1", won)
	}
}

func testAudit(t *testing.T, s *store.Store) {
	won := parallel(20, func(i int) error {
		_, err := s.AppendAudit(ctx, model.AuditEvent{At: t0, Event: "login_ok", Username: fmt.Sprint(i), IP: "127.0.0.1"})
		return err
	})
	if won != 20 {
		t.Fatalf("appends = %d, want 20", won)
	}
	es, err := s.AuditEvents(ctx, 0, 100)
	if err != nil || len(es) != 20 {
		t.Fatalf("AuditEvents = %d, %v", len(es), err)
	}
	prev := []byte{}
	for i, e := range es {
		if e.Seq != int64(i+1) || !bytes.Equal(e.PrevHash, prev) || !bytes.Equal(e.Hash, e.ChainHash(prev)) {
			t.Fatalf("entry %d breaks the chain: %+v", i, e)
		}
		prev = e.Hash
	}
	page, _ := s.AuditEvents(ctx, 18, 100)
	if len(page) != 2 || page[0].Seq != 19 {
		t.Fatalf("paging after 18: %+v", page)
	}
}

func testResetMFA(t *testing.T, s *store.Store) {
	u := mkUser(t, s, "alice")
	mkFactor(t, s, u, "f1", model.FactorActive)
	if err := s.ReplaceRecoveryCodes(ctx, u.ID, []model.RecoveryCode{{ID: "r", KeyID: "k", CodeHash: []byte{1}, CreatedAt: t0}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, model.Session{TokenHash: []byte("s"), UserID: u.ID, AAL: model.AAL2, CreatedAt: t0, LastSeenAt: t0}); err != nil {
		t.Fatal(err)
	}
	if ended, err := s.ResetMFA(ctx, u.ID); err != nil || len(ended) != 1 || string(ended[0].TokenHash) != "s" || ended[0].ID == "" {
		t.Fatalf("ResetMFA ended %+v, %v; want the one session with its id", ended, err)
	}
	fs, _ := s.Factors(ctx, u.ID)
	rc, _ := s.UnusedRecoveryCodes(ctx, u.ID)
	_, serr := s.Session(ctx, []byte("s"))
	if len(fs) != 0 || len(rc) != 0 || !errors.Is(serr, model.ErrNotFound) {
		t.Fatalf("after reset: factors %d, codes %d, session err %v", len(fs), len(rc), serr)
	}
}

func testSMSCodes(t *testing.T, s *store.Store) {
	u := mkUser(t, s, "alice")
	mkFactor(t, s, u, "sms1", model.FactorPending)
	code := func(hash byte, sent time.Time) model.SMSCode {
		return model.SMSCode{FactorID: "sms1", UserID: u.ID, KeyID: "k", CodeHash: []byte{hash}, SentAt: sent, ExpiresAt: sent.Add(5 * time.Minute)}
	}
	cooldown := 30 * time.Second
	if err := s.PutSMSCode(ctx, code(1, t0), t0.Add(-cooldown)); err != nil {
		t.Fatal(err)
	}
	// Within the cooldown, parallel resends all refuse.
	won := parallel(10, func(int) error {
		return s.PutSMSCode(ctx, code(2, t0.Add(10*time.Second)), t0.Add(10*time.Second-cooldown))
	})
	if won != 0 {
		t.Fatalf("resends inside the cooldown = %d, want 0", won)
	}
	// Five attempts allowed, counted atomically: 20 parallel tries, 5 pass.
	won = parallel(20, func(int) error { _, err := s.AttemptSMSCode(ctx, "sms1", t0.Add(time.Minute), 5); return err })
	if won != 5 {
		t.Fatalf("attempts allowed = %d, want 5", won)
	}
	// A resend after the cooldown replaces the code and resets the attempts.
	later := t0.Add(time.Minute)
	if err := s.PutSMSCode(ctx, code(3, later), later.Add(-cooldown)); err != nil {
		t.Fatalf("resend after cooldown: %v", err)
	}
	got, err := s.AttemptSMSCode(ctx, "sms1", later, 5)
	if err != nil || got.CodeHash[0] != 3 || got.Attempts != 1 {
		t.Fatalf("after resend: %+v, %v", got, err)
	}
	if _, err := s.AttemptSMSCode(ctx, "sms1", later.Add(5*time.Minute), 5); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("expired code attempt: %v", err)
	}
	won = parallel(10, func(int) error { return s.UseSMSCode(ctx, "sms1", later) })
	if won != 1 {
		t.Fatalf("uses = %d, want 1", won)
	}
	if _, err := s.AttemptSMSCode(ctx, "sms1", later, 5); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("attempt on a used code: %v", err)
	}
	if c, err := s.SMSCode(ctx, "sms1"); err != nil || c.UsedAt.IsZero() {
		t.Fatalf("SMSCode = %+v, %v", c, err)
	}
	if err := s.DeleteSMSCode(ctx, "sms1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SMSCode(ctx, "sms1"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func testDevices(t *testing.T, s *store.Store) {
	alice, bob := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	dev := func(hash, id string, u model.User, created time.Time) store.Device {
		return store.Device{TokenHash: []byte(hash), ID: id, UserID: u.ID, Label: "Firefox on Linux",
			CreatedAt: created, ExpiresAt: created.Add(30 * 24 * time.Hour)}
	}
	a1, a2, b1 := dev("hash-a1", "a1", alice, t0), dev("hash-a2", "a2", alice, t0.Add(time.Hour)), dev("hash-b1", "b1", bob, t0)
	for _, d := range []store.Device{a1, a2, b1} {
		if err := s.CreateDevice(ctx, d); err != nil {
			t.Fatalf("CreateDevice(%s): %v", d.ID, err)
		}
	}
	if err := s.CreateDevice(ctx, dev("hash-a1", "other", alice, t0)); !errors.Is(err, model.ErrConflict) {
		t.Fatalf("duplicate token hash: %v", err)
	}
	if err := s.CreateDevice(ctx, dev("hash-x", "a1", alice, t0)); !errors.Is(err, model.ErrConflict) {
		t.Fatalf("duplicate id: %v", err)
	}
	got, err := s.DeviceByHash(ctx, a1.TokenHash, t0.Add(time.Minute))
	if err != nil || got.ID != "a1" || got.UserID != alice.ID || got.Label != a1.Label || !got.CreatedAt.Equal(t0) ||
		!got.ExpiresAt.Equal(a1.ExpiresAt) || !got.LastUsedAt.IsZero() {
		t.Fatalf("DeviceByHash = %+v, %v", got, err)
	}
	if _, err := s.DeviceByHash(ctx, a1.TokenHash, a1.ExpiresAt); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("expired device: %v", err)
	}
	if _, err := s.DeviceByHash(ctx, []byte("nope"), t0); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("unknown device: %v", err)
	}
	if err := s.TouchDevice(ctx, a1.TokenHash, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.DeviceByHash(ctx, a1.TokenHash, t0); !got.LastUsedAt.Equal(t0.Add(2 * time.Hour)) {
		t.Fatalf("after touch: last used %v", got.LastUsedAt)
	}
	ds, err := s.ListDevices(ctx, alice.ID, t0.Add(time.Minute))
	if err != nil || len(ds) != 2 || ds[0].ID != "a2" || ds[1].ID != "a1" {
		t.Fatalf("ListDevices = %+v, %v; want a2, a1", ds, err)
	}
	// a1 expires an hour before a2.
	if ds, _ := s.ListDevices(ctx, alice.ID, a1.ExpiresAt); len(ds) != 1 || ds[0].ID != "a2" {
		t.Fatalf("ListDevices after a1 expired = %+v", ds)
	}
	// One user cannot forget another's device.
	if err := s.DeleteDevice(ctx, alice.ID, "b1"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("DeleteDevice of another user's device: %v", err)
	}
	if err := s.DeleteDevice(ctx, alice.ID, "a2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDevice(ctx, alice.ID, "a2"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("second DeleteDevice: %v", err)
	}
	if n, err := s.DeleteExpiredDevices(ctx, alice.ID, a1.ExpiresAt); err != nil || n != 1 {
		t.Fatalf("DeleteExpiredDevices(alice) = %d, %v; want 1", n, err)
	}
	if n, err := s.DeleteExpiredDevices(ctx, "", t0); err != nil || n != 0 {
		t.Fatalf("DeleteExpiredDevices(all, t0) = %d, %v; want 0", n, err)
	}
	b2 := dev("hash-b2", "b2", bob, t0)
	if err := s.CreateDevice(ctx, b2); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUserDevices(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
	if ds, _ := s.ListDevices(ctx, bob.ID, t0); len(ds) != 0 {
		t.Fatalf("after DeleteUserDevices: %+v", ds)
	}
}

// testResealSecrets covers key rotation's side of the store: paging through
// the secrets not under the new key, the conditional re-seal that never
// overwrites a secret another instance replaced meanwhile, and the per-key
// counts of `twostep keys status`.
func testResealSecrets(t *testing.T, s *store.Store) {
	u := mkUser(t, s, "alice")
	for _, id := range []string{"f1", "f2", "f3", "f4"} {
		mkFactor(t, s, u, id, model.FactorActive) // sealed under "k1"
	}
	none := model.Factor{ID: "f0", UserID: u.ID, Type: model.FactorTOTP, Label: "no secret", Status: model.FactorPending, CreatedAt: t0}
	if err := s.CreateFactor(ctx, none); err != nil {
		t.Fatal(err)
	}
	ids := func(after string, limit int) string {
		t.Helper()
		ss, err := s.SecretsNotUnder(ctx, "k2", after, limit)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range ss {
			if x.KeyID != "k1" || !bytes.Equal(x.Secret, []byte{1, 2, 3}) {
				t.Errorf("SecretsNotUnder: %+v", x)
			}
			out = append(out, x.FactorID)
		}
		return strings.Join(out, ",")
	}
	if got := ids("", 3); got != "f1,f2,f3" {
		t.Fatalf("first page = %q, want f1,f2,f3 (a factor without a secret is not listed)", got)
	}
	if got := ids("f3", 3); got != "f4" {
		t.Fatalf("second page = %q, want f4", got)
	}

	re := func(id, from, to string, secret byte) store.Reseal {
		return store.Reseal{FactorID: id, OldKeyID: from, NewKeyID: to, Secret: []byte{secret}}
	}
	if err := s.UpdateFactorSecret(ctx, re("f1", "k1", "k2", 9)); err != nil {
		t.Fatal(err)
	}
	if f, _ := s.Factor(ctx, u.ID, "f1"); f.KeyID != "k2" || !bytes.Equal(f.Secret, []byte{9}) {
		t.Fatalf("after re-seal: key %q, secret %v", f.KeyID, f.Secret)
	}
	// The key id changed meanwhile (another instance re-sealed it): refused.
	if err := s.UpdateFactorSecret(ctx, re("f1", "k1", "k3", 7)); !errors.Is(err, model.ErrConflict) {
		t.Fatalf("re-seal of a secret no longer under its old key: %v, want ErrConflict", err)
	}
	if f, _ := s.Factor(ctx, u.ID, "f1"); f.KeyID != "k2" || !bytes.Equal(f.Secret, []byte{9}) {
		t.Fatalf("refused re-seal changed the row: key %q, secret %v", f.KeyID, f.Secret)
	}
	if err := s.UpdateFactorSecret(ctx, re("gone", "k1", "k2", 7)); !errors.Is(err, model.ErrConflict) {
		t.Fatalf("re-seal of a deleted factor: %v, want ErrConflict", err)
	}
	// Parallel re-seals of one row: exactly one wins.
	if won := parallel(10, func(i int) error { return s.UpdateFactorSecret(ctx, re("f2", "k1", "k2", byte(i))) }); won != 1 {
		t.Fatalf("parallel re-seals of one secret = %d, want 1", won)
	}
	// A batch writes what still matches and skips the rest.
	n, err := s.UpdateFactorSecrets(ctx, []store.Reseal{re("f3", "k1", "k2", 5), re("f4", "stale", "k2", 5), re("f1", "k1", "k2", 5)})
	if err != nil || n != 1 {
		t.Fatalf("batch = %d, %v; want 1 written", n, err)
	}
	if f, _ := s.Factor(ctx, u.ID, "f4"); f.KeyID != "k1" {
		t.Fatalf("skipped row changed: key %q", f.KeyID)
	}
	if got := ids("", 10); got != "f4" {
		t.Fatalf("left under old keys = %q, want f4", got)
	}

	// Recovery and SMS codes stay under their keys; status counts them.
	var codes []model.RecoveryCode
	for i := range 3 {
		codes = append(codes, model.RecoveryCode{ID: fmt.Sprintf("r%d", i), KeyID: "k1", CodeHash: []byte{byte(i)}, CreatedAt: t0})
	}
	if err := s.ReplaceRecoveryCodes(ctx, u.ID, codes); err != nil {
		t.Fatal(err)
	}
	if err := s.UseRecoveryCode(ctx, "r0", t0); err != nil {
		t.Fatal(err)
	}
	sms := model.SMSCode{FactorID: "f0", UserID: u.ID, KeyID: "k3", CodeHash: []byte{1}, SentAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
	if err := s.PutSMSCode(ctx, sms, t0); err != nil {
		t.Fatal(err)
	}
	usage := func(now time.Time) string {
		t.Helper()
		us, err := s.KeyUsage(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, u := range us {
			out = append(out, fmt.Sprintf("%s:%d/%d/%d", u.KeyID, u.FactorSecrets, u.RecoveryCodes, u.SMSCodes))
		}
		return strings.Join(out, " ")
	}
	if got, want := usage(t0), "k1:1/3/0 k2:3/0/0 k3:0/0/1"; got != want {
		t.Fatalf("KeyUsage = %q, want %q", got, want)
	}
	// An expired SMS code no longer needs its key.
	if got, want := usage(t0.Add(5*time.Minute)), "k1:1/3/0 k2:3/0/0"; got != want {
		t.Fatalf("KeyUsage after the SMS code expired = %q, want %q", got, want)
	}
}

// testAuditPrune: a prune deletes the head of the chain and records its
// checkpoint in one transaction, and refuses (changing nothing) when the
// entry it stands for changed meanwhile.
func testAuditPrune(t *testing.T, s *store.Store) {
	t0 := time.Unix(1_800_000_000, 0)
	var es []model.AuditEvent
	for i := range 4 {
		e, err := s.AppendAudit(ctx, model.AuditEvent{At: t0.Add(time.Duration(i) * time.Hour), Event: "login_ok"})
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	last, err := s.LastAuditBefore(ctx, t0.Add(90*time.Minute))
	if err != nil || last.Seq != 2 || !bytes.Equal(last.Hash, es[1].Hash) {
		t.Fatalf("LastAuditBefore = %+v, %v; want entry 2", last, err)
	}
	cp := store.AuditCheckpoint{Seq: 2, Hash: []byte("stale"), At: last.At, PrunedAt: t0, KeyID: "k1", MAC: []byte{1, 2}}
	if _, err := s.PruneAudit(ctx, cp); !errors.Is(err, model.ErrConflict) {
		t.Fatalf("prune with a stale hash: %v", err)
	}
	cp.Hash = last.Hash
	if n, err := s.PruneAudit(ctx, cp); err != nil || n != 2 {
		t.Fatalf("PruneAudit = %d, %v", n, err)
	}
	got, err := s.LatestAuditCheckpoint(ctx)
	if err != nil || got.Seq != 2 || !bytes.Equal(got.Hash, cp.Hash) || got.KeyID != "k1" || !bytes.Equal(got.MAC, cp.MAC) || !got.At.Equal(cp.At) {
		t.Fatalf("LatestAuditCheckpoint = %+v, %v", got, err)
	}
	if rest, _ := s.AuditEvents(ctx, 0, 10); len(rest) != 2 || rest[0].Seq != 3 {
		t.Fatalf("entries after prune: %+v", rest)
	}
	if _, err := s.AuditCheckpointAt(ctx, 1); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("checkpoint of seq 1: %v", err)
	}
	// The chain goes on: the next entry links to entry 4.
	if e, err := s.AppendAudit(ctx, model.AuditEvent{At: t0.Add(5 * time.Hour), Event: "logout"}); err != nil || e.Seq != 5 || !bytes.Equal(e.PrevHash, es[3].Hash) {
		t.Fatalf("append after prune = %+v, %v", e, err)
	}
}

func mkPasskey(t *testing.T, s *store.Store, u model.User, factorID string, credID byte, codes []model.RecoveryCode) (model.Factor, model.Passkey, error) {
	t.Helper()
	f := model.Factor{ID: factorID, UserID: u.ID, Type: model.FactorWebAuthn, Label: "key " + factorID, Status: model.FactorActive, CreatedAt: t0}
	p := model.Passkey{CredentialID: []byte{credID, 1, 2, 3}, FactorID: factorID, UserID: u.ID, PublicKey: []byte{0xa5, credID},
		SignCount: 7, AAGUID: bytes.Repeat([]byte{credID}, 16), Transports: []string{"usb", "nfc"}, BackupEligible: true,
		UserVerified: true, AttestationType: "none", AttestationFormat: "none", CreatedAt: t0}
	return f, p, s.AddPasskey(ctx, f, p, codes)
}

// testPasskeys: a passkey is a factor plus a credential record written
// together; credential ids are unique across users (a duplicate writes
// neither row); handles are set once and find their user; removing the
// factor takes the record with it.
func testPasskeys(t *testing.T, s *store.Store) {
	alice, bob := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	codes := []model.RecoveryCode{{ID: "r1", KeyID: "k", CodeHash: []byte{1}, CreatedAt: t0}}
	_, want, err := mkPasskey(t, s, alice, "pk1", 1, codes)
	if err != nil {
		t.Fatal(err)
	}
	if rc, _ := s.UnusedRecoveryCodes(ctx, alice.ID); len(rc) != 1 {
		t.Fatalf("recovery codes with the first passkey = %d, want 1", len(rc))
	}
	tests := []struct {
		name    string
		user    model.User
		factor  string
		cred    byte
		wantErr error
	}{
		{"second passkey of alice", alice, "pk2", 2, nil},
		{"bob registers alice's credential id", bob, "pk3", 1, model.ErrConflict},
		{"alice registers her own credential id again", alice, "pk4", 2, model.ErrConflict},
		{"bob's own passkey", bob, "pk5", 5, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := mkPasskey(t, s, tc.user, tc.factor, tc.cred, nil)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("AddPasskey = %v, want %v", err, tc.wantErr)
			}
			if _, ferr := s.Factor(ctx, tc.user.ID, tc.factor); (ferr == nil) != (tc.wantErr == nil) {
				t.Fatalf("factor row after AddPasskey (%v): %v", err, ferr)
			}
		})
	}
	ps, err := s.Passkeys(ctx, alice.ID)
	if err != nil || len(ps) != 2 {
		t.Fatalf("Passkeys(alice) = %d, %v; want 2", len(ps), err)
	}
	got := ps[0]
	if !bytes.Equal(got.CredentialID, want.CredentialID) || got.FactorID != "pk1" || got.UserID != alice.ID ||
		!bytes.Equal(got.PublicKey, want.PublicKey) || got.SignCount != 7 || !bytes.Equal(got.AAGUID, want.AAGUID) ||
		strings.Join(got.Transports, ",") != "usb,nfc" || !got.BackupEligible || got.BackupState || !got.UserVerified ||
		got.AttestationType != "none" || got.AttestationFormat != "none" || !got.CreatedAt.Equal(t0) {
		t.Fatalf("Passkeys[0] = %+v, want %+v", got, want)
	}

	h1, err := s.WebAuthnHandle(ctx, alice.ID, []byte("first-handle"))
	if err != nil || string(h1) != "first-handle" {
		t.Fatalf("WebAuthnHandle = %q, %v", h1, err)
	}
	if h, err := s.WebAuthnHandle(ctx, alice.ID, []byte("second-handle")); err != nil || string(h) != "first-handle" {
		t.Fatalf("second WebAuthnHandle = %q, %v; want the first kept", h, err)
	}
	if _, err := s.WebAuthnHandle(ctx, "nobody", []byte("x")); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("handle of an unknown user: %v", err)
	}
	if u, err := s.UserByWebAuthnHandle(ctx, h1); err != nil || u.ID != alice.ID {
		t.Fatalf("UserByWebAuthnHandle = %+v, %v", u, err)
	}
	if _, err := s.UserByWebAuthnHandle(ctx, []byte("unknown")); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("unknown handle: %v", err)
	}
	// Parallel first set-ups of bob agree on one handle.
	var mu sync.Mutex
	seen := map[string]bool{}
	parallel(10, func(i int) error {
		h, err := s.WebAuthnHandle(ctx, bob.ID, []byte(fmt.Sprintf("bob-%d", i)))
		mu.Lock()
		seen[string(h)] = true
		mu.Unlock()
		return err
	})
	if len(seen) != 1 {
		t.Fatalf("parallel handles of bob = %v, want one", seen)
	}

	if err := s.RenameFactor(ctx, alice.ID, "pk1", "Work laptop"); err != nil {
		t.Fatal(err)
	}
	if f, _ := s.Factor(ctx, alice.ID, "pk1"); f.Label != "Work laptop" {
		t.Fatalf("label after rename = %q", f.Label)
	}
	if err := s.RenameFactor(ctx, bob.ID, "pk1", "mine now"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("rename of another user's factor: %v", err)
	}
	if err := s.DeleteFactor(ctx, alice.ID, "pk1"); err != nil {
		t.Fatal(err)
	}
	if ps, _ := s.Passkeys(ctx, alice.ID); len(ps) != 1 || ps[0].FactorID != "pk2" {
		t.Fatalf("after removing pk1: %+v", ps)
	}
	// The credential id is free again once its passkey is gone.
	if _, _, err := mkPasskey(t, s, bob, "pk6", 1, nil); err != nil {
		t.Fatalf("re-registering a removed credential id: %v", err)
	}
}

// testPasskeyCounter: an assertion's counter is written only from the
// value its check read, inside the rotation or the passwordless session's
// transaction; a stale one changes nothing, not even the session.
func testPasskeyCounter(t *testing.T, s *store.Store) {
	u := mkUser(t, s, "alice")
	_, p, err := mkPasskey(t, s, u, "pk1", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	sess := func(hash string) model.Session {
		return model.Session{TokenHash: []byte(hash), UserID: u.ID, AAL: model.AAL2, CreatedAt: t0.Add(time.Hour), LastSeenAt: t0.Add(time.Hour),
			AAL2At: t0.Add(time.Hour), Methods: []string{"webauthn"}, UserVerified: true, MethodFactorID: "pk1"}
	}
	use := func(seen, next uint32) store.PasskeyUse {
		return store.PasskeyUse{CredentialID: p.CredentialID, Seen: seen, SignCount: next, BackupState: true}
	}
	// 10 sign-ins checked against counter 7 at once: one moves it.
	won := parallel(10, func(i int) error { return s.CreatePasskeySession(ctx, use(7, 8), "pk1", sess(fmt.Sprintf("s%d", i))) })
	if won != 1 {
		t.Fatalf("parallel passkey sign-ins from one counter value = %d, want 1", won)
	}
	ps, _ := s.Passkeys(ctx, u.ID)
	if ps[0].SignCount != 8 || !ps[0].BackupState {
		t.Fatalf("after sign-in: count %d, backup state %v", ps[0].SignCount, ps[0].BackupState)
	}
	if f, _ := s.Factor(ctx, u.ID, "pk1"); !f.LastUsedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("last used = %v", f.LastUsedAt)
	}
	if err := s.CreatePasskeySession(ctx, use(7, 9), "pk1", sess("stale")); !errors.Is(err, model.ErrConflict) {
		t.Fatalf("stale counter: %v, want ErrConflict", err)
	}
	if _, err := s.Session(ctx, []byte("stale")); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("a refused passkey sign-in left a session: %v", err)
	}
	// The rotation of a second factor applies the same rule.
	old := model.Session{TokenHash: []byte("aal1"), UserID: u.ID, AAL: model.AAL1, CreatedAt: t0, LastSeenAt: t0}
	if err := s.CreateSession(ctx, old); err != nil {
		t.Fatal(err)
	}
	rot := func(seen uint32) store.Rotation {
		pu := use(seen, 12)
		return store.Rotation{UserID: u.ID, FactorID: "pk1", At: t0.Add(2 * time.Hour), OldHash: old.TokenHash, Next: sess("aal2"), Passkey: &pu}
	}
	if err := s.RotateSession(ctx, rot(7)); !errors.Is(err, model.ErrConflict) {
		t.Fatalf("rotation with a stale counter: %v, want ErrConflict", err)
	}
	if _, err := s.Session(ctx, old.TokenHash); err != nil {
		t.Fatalf("a refused rotation ended the old session: %v", err)
	}
	if err := s.RotateSession(ctx, rot(8)); err != nil {
		t.Fatal(err)
	}
	if ps, _ := s.Passkeys(ctx, u.ID); ps[0].SignCount != 12 {
		t.Fatalf("count after rotation = %d, want 12", ps[0].SignCount)
	}
}

// testCeremonies: a ceremony is consumed at most once, only by the kind,
// user and session it is bound to and only before it expires; a refused
// consume leaves it for its owner.
func testCeremonies(t *testing.T, s *store.Store) {
	alice, bob := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	c := store.Ceremony{IDHash: []byte("c1"), Kind: "verify", UserID: alice.ID, SessionHash: "aa11", State: `{"challenge":"x"}`,
		CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
	if err := s.CreateCeremony(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateCeremony(ctx, store.Ceremony{IDHash: []byte("p1"), Kind: "login", State: "{}", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	refused := []struct {
		name                 string
		id                   string
		kind, user, sessHash string
		now                  time.Time
	}{
		{"another session", "c1", "verify", alice.ID, "bb22", t0},
		{"another user", "c1", "verify", bob.ID, "aa11", t0},
		{"another kind", "c1", "register", alice.ID, "aa11", t0},
		{"expired", "c1", "verify", alice.ID, "aa11", t0.Add(5 * time.Minute)},
		{"unknown id", "nope", "verify", alice.ID, "aa11", t0},
		{"passwordless as a bound one", "p1", "login", alice.ID, "aa11", t0},
		{"bound one as passwordless", "c1", "verify", "", "", t0},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.ConsumeCeremony(ctx, []byte(tc.id), tc.kind, tc.user, tc.sessHash, tc.now); !errors.Is(err, model.ErrNotFound) {
				t.Fatalf("ConsumeCeremony = %v, want ErrNotFound", err)
			}
		})
	}
	// Ten finishes at once: one gets the state.
	var state string
	won := parallel(10, func(int) error {
		st, err := s.ConsumeCeremony(ctx, c.IDHash, "verify", alice.ID, "aa11", t0.Add(time.Minute))
		if err == nil {
			state = st
		}
		return err
	})
	if won != 1 || state != c.State {
		t.Fatalf("parallel consumes = %d (state %q), want 1 with %q", won, state, c.State)
	}
	if st, err := s.ConsumeCeremony(ctx, []byte("p1"), "login", "", "", t0); err != nil || st != "{}" {
		t.Fatalf("passwordless consume = %q, %v", st, err)
	}
	// A session's new ceremony of a kind replaces its earlier one.
	for _, id := range []string{"r1", "r2"} {
		if err := s.CreateCeremony(ctx, store.Ceremony{IDHash: []byte(id), Kind: "register", UserID: alice.ID, SessionHash: "aa11",
			State: id, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ConsumeCeremony(ctx, []byte("r1"), "register", alice.ID, "aa11", t0); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("replaced ceremony: %v", err)
	}
	if err := s.CreateCeremony(ctx, store.Ceremony{IDHash: []byte("old"), Kind: "login", State: "{}", CreatedAt: t0, ExpiresAt: t0.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteExpiredCeremonies(ctx, t0.Add(2*time.Second)); err != nil || n != 1 {
		t.Fatalf("DeleteExpiredCeremonies = %d, %v; want 1", n, err)
	}
	if st, err := s.ConsumeCeremony(ctx, []byte("r2"), "register", alice.ID, "aa11", t0); err != nil || st != "r2" {
		t.Fatalf("live ceremony after the sweep = %q, %v", st, err)
	}
}

// testSessionMethods: how a session signed in survives the store, in a
// new session and through a rotation.
func testSessionMethods(t *testing.T, s *store.Store) {
	u := mkUser(t, s, "alice")
	first := model.Session{TokenHash: []byte("one"), UserID: u.ID, AAL: model.AAL1, CreatedAt: t0, LastSeenAt: t0, Methods: []string{"password"}}
	if err := s.CreateSession(ctx, first); err != nil {
		t.Fatal(err)
	}
	got, err := s.Session(ctx, first.TokenHash)
	if err != nil || strings.Join(got.Methods, ",") != "password" || got.UserVerified || got.MethodFactorID != "" {
		t.Fatalf("Session = %+v, %v", got, err)
	}
	next := first
	next.TokenHash, next.AAL, next.Methods, next.UserVerified, next.MethodFactorID = []byte("two"), model.AAL2, []string{"password", "webauthn"}, true, "f1"
	if err := s.RotateSession(ctx, store.Rotation{UserID: u.ID, At: t0, OldHash: first.TokenHash, Next: next}); err != nil {
		t.Fatal(err)
	}
	got, err = s.Session(ctx, next.TokenHash)
	if err != nil || strings.Join(got.Methods, ",") != "password,webauthn" || !got.UserVerified || got.MethodFactorID != "f1" {
		t.Fatalf("rotated Session = %+v, %v", got, err)
	}
	bare := model.Session{TokenHash: []byte("bare"), UserID: u.ID, AAL: model.AAL1, CreatedAt: t0, LastSeenAt: t0}
	if err := s.CreateSession(ctx, bare); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Session(ctx, bare.TokenHash); got.Methods != nil {
		t.Fatalf("methods of a session without any = %#v, want nil", got.Methods)
	}
}

// testUserSessions: a user's sessions are listed (live ones only, most
// recently seen first) with their public id and client, keep the id across
// a rotation, and are ended by id only by their own user; "all others"
// keeps the one named.
func testUserSessions(t *testing.T, s *store.Store) {
	alice, bob := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	mk := func(u model.User, hash, id string, seen time.Time) model.Session {
		t.Helper()
		ss := model.Session{TokenHash: []byte(hash), ID: id, UserID: u.ID, AAL: model.AAL1, CreatedAt: t0, LastSeenAt: seen,
			IP: "192.0.2.1", UserAgent: "Firefox <script>"}
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
		return ss
	}
	a1 := mk(alice, "a1", "aaaaaaaaaaaaaaaaaaaaaaaaaa", t0.Add(2*time.Minute))
	a2 := mk(alice, "a2", "bbbbbbbbbbbbbbbbbbbbbbbbbb", t0.Add(3*time.Minute))
	mk(alice, "a-idle", "cccccccccccccccccccccccccc", t0)
	b1 := mk(bob, "b1", "dddddddddddddddddddddddddd", t0.Add(time.Minute))
	// No id given: the store makes one, and it is not the empty string
	// shared by every such row (the unique index would refuse the second).
	mk(bob, "b-noid-1", "", t0.Add(time.Minute))
	noID := mk(bob, "b-noid-2", "", t0.Add(time.Minute))
	if got, err := s.Session(ctx, noID.TokenHash); err != nil || len(got.ID) != 26 {
		t.Fatalf("session written without an id: %+v, %v", got, err)
	}
	if err := s.CreateSession(ctx, model.Session{TokenHash: []byte("dup"), ID: a1.ID, UserID: bob.ID, AAL: model.AAL1, CreatedAt: t0, LastSeenAt: t0}); !errors.Is(err, model.ErrConflict) {
		t.Fatalf("a second session with alice's id: %v, want ErrConflict", err)
	}

	list, err := s.UserSessions(ctx, alice.ID, t0.Add(time.Minute), t0.Add(-time.Hour))
	if err != nil || len(list) != 2 || list[0].ID != a2.ID || list[1].ID != a1.ID {
		t.Fatalf("UserSessions = %+v, %v; want a2 then a1 (the idle one left out)", list, err)
	}
	if g := list[0]; g.IP != "192.0.2.1" || g.UserAgent != "Firefox <script>" || string(g.TokenHash) != "a2" {
		t.Fatalf("listed session = %+v", g)
	}

	// A rotation keeps the id.
	next := a1
	next.TokenHash, next.AAL, next.AAL2At = []byte("a1-aal2"), model.AAL2, t0.Add(4*time.Minute)
	if err := s.RotateSession(ctx, store.Rotation{UserID: alice.ID, OldHash: a1.TokenHash, Next: next}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Session(ctx, next.TokenHash); err != nil || got.ID != a1.ID || got.UserAgent != a1.UserAgent {
		t.Fatalf("rotated session = %+v, %v; want id %s kept", got, err, a1.ID)
	}

	// Bob's id through alice is not found, and bob's session stays.
	if _, err := s.DeleteUserSession(ctx, alice.ID, b1.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("alice ends bob's session: %v, want ErrNotFound", err)
	}
	if _, err := s.Session(ctx, b1.TokenHash); err != nil {
		t.Fatalf("bob's session after alice's attempt: %v", err)
	}
	if h, err := s.DeleteUserSession(ctx, alice.ID, a2.ID); err != nil || string(h) != "a2" {
		t.Fatalf("DeleteUserSession = %q, %v", h, err)
	}
	if _, err := s.DeleteUserSession(ctx, alice.ID, a2.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("second end: %v", err)
	}

	// All others: the rotated a1 stays, the idle one goes, bob's stay.
	ended, err := s.DeleteOtherSessions(ctx, alice.ID, next.TokenHash)
	if err != nil || len(ended) != 1 || ended[0].ID != "cccccccccccccccccccccccccc" || string(ended[0].TokenHash) != "a-idle" {
		t.Fatalf("DeleteOtherSessions = %+v, %v", ended, err)
	}
	if _, err := s.Session(ctx, next.TokenHash); err != nil {
		t.Fatalf("kept session gone: %v", err)
	}
	if bobs, err := s.UserSessions(ctx, bob.ID, t0, t0); err != nil || len(bobs) != 3 {
		t.Fatalf("bob's sessions = %d, %v; want 3", len(bobs), err)
	}
}

// testRotationRefused: a rotation refused for a replayed TOTP step or a
// session already gone writes nothing at all — not the new session, not
// the factor's last use, not the end of the failures or the lease, not
// the remembered browser — even where its statements are sent together
// before the conditions are read (PostgreSQL's pipelined batch); and
// parallel rotations with one step let exactly one through.
func testRotationRefused(t *testing.T, s *store.Store) {
	u := mkUser(t, s, "rot")
	f := mkFactor(t, s, u, "f-rot", model.FactorActive)
	if ok, err := s.AcceptTOTPStep(ctx, f.ID, 100); err != nil || !ok {
		t.Fatalf("AcceptTOTPStep: %v, %v", ok, err)
	}
	if _, err := s.BeginMFAAttempt(ctx, u.ID, t0, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FailMFA(ctx, u.ID, t0); err != nil {
		t.Fatal(err)
	}
	old := model.Session{TokenHash: []byte("rot-old"), UserID: u.ID, AAL: model.AAL1, CreatedAt: t0, LastSeenAt: t0}
	if err := s.CreateSession(ctx, old); err != nil {
		t.Fatal(err)
	}
	next := func(h string) model.Session {
		n := old
		n.TokenHash, n.AAL, n.AAL2At = []byte(h), model.AAL2, t0.Add(time.Minute)
		return n
	}
	dev := &store.Device{TokenHash: []byte("rot-dev"), ID: "d-rot", UserID: u.ID, Label: "x", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), LastUsedAt: t0}
	rot := func(step int64, oldHash []byte, h string) store.Rotation {
		return store.Rotation{UserID: u.ID, TOTPStep: step, FactorID: f.ID, At: t0.Add(time.Hour), OldHash: oldHash,
			Next: next(h), Remember: dev, KeepDevices: 20}
	}
	unchanged := func(what string) {
		t.Helper()
		if _, err := s.Session(ctx, old.TokenHash); err != nil {
			t.Fatalf("%s: the old session is gone: %v", what, err)
		}
		for _, h := range []string{"rot-new", "rot-new2"} {
			if _, err := s.Session(ctx, []byte(h)); !errors.Is(err, model.ErrNotFound) {
				t.Fatalf("%s: the new session %s exists: %v", what, h, err)
			}
		}
		if got, _ := s.Factor(ctx, u.ID, f.ID); !got.LastUsedAt.IsZero() {
			t.Fatalf("%s: last use written: %v", what, got.LastUsedAt)
		}
		if got, _ := s.UserByID(ctx, u.ID); got.MFAFailures != 1 {
			t.Fatalf("%s: failures = %d, want 1", what, got.MFAFailures)
		}
		if ds, _ := s.ListDevices(ctx, u.ID, t0); len(ds) != 0 {
			t.Fatalf("%s: a device was remembered: %+v", what, ds)
		}
	}
	for _, step := range []int64{99, 100} {
		if err := s.RotateSession(ctx, rot(step, old.TokenHash, "rot-new")); !errors.Is(err, model.ErrConflict) {
			t.Fatalf("step %d (used: 100): %v, want ErrConflict", step, err)
		}
		unchanged(fmt.Sprintf("replayed step %d", step))
	}
	if err := s.RotateSession(ctx, rot(101, []byte("rot-gone"), "rot-new2")); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("rotation of a session that is gone: %v, want ErrNotFound", err)
	}
	unchanged("session gone")
	// Step 101 is still free (the refused rotation above did not keep it):
	// of parallel rotations with it, exactly one passes.
	won := parallel(8, func(i int) error {
		return s.RotateSession(ctx, rot(101, old.TokenHash, fmt.Sprintf("rot-par%d", i)))
	})
	if won != 1 {
		t.Fatalf("parallel rotations with one step: %d passed, want 1", won)
	}
	if got, _ := s.UserByID(ctx, u.ID); got.MFAFailures != 0 {
		t.Fatalf("after the rotation: failures = %d, want 0", got.MFAFailures)
	}
}
