package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/store"
)

// testSessionEvents: the triggers of migration 0011 write one event for
// each change a cached session depends on, and none for the writes that
// sign-in and verification make all the time (a verification's TOTP step,
// failure counters, the factor's last use, the idle-timer touch); each
// event is read once; pruning removes old rows.
func testSessionEvents(t *testing.T, s *store.Store) {
	var c store.EventCursor
	read := func(t *testing.T) []store.SessionEvent {
		t.Helper()
		evs, start, err := s.SessionEvents(ctx, &c)
		if err != nil || start {
			t.Fatalf("SessionEvents: %v (start %v)", err, start)
		}
		return evs
	}
	if evs, start, err := s.SessionEvents(ctx, &c); err != nil || !start || len(evs) != 0 {
		t.Fatalf("first SessionEvents = %v, %v, %v; want nothing and start", evs, start, err)
	}
	u := mkUser(t, s, "alice")
	other := mkUser(t, s, "bob")
	f := mkFactor(t, s, u, "f1", model.FactorPending)
	session := func(name string, of model.User) []byte {
		h := bytes.Repeat([]byte(name[:1]), 32)
		if err := s.CreateSession(ctx, model.Session{TokenHash: h, UserID: of.ID, AAL: model.AAL1, CreatedAt: t0, LastSeenAt: t0}); err != nil {
			t.Fatal(err)
		}
		return h
	}
	h1 := session("one", u)
	session("two", other)
	// mkUser, mkFactor and CreateSession above: only the factor counts.
	if evs := read(t); len(evs) != 1 || evs[0].UserID != u.ID || evs[0].TokenHash != nil {
		t.Fatalf("after creating users, a factor and sessions: %+v, want one event for alice (the factor)", evs)
	}

	type want struct {
		user string
		hash []byte
	}
	tests := []struct {
		name  string
		write func() error
		want  []want // nil: no event
	}{
		{"touch", func() error { return s.TouchSession(ctx, h1, t0.Add(time.Minute)) }, nil},
		{"plan", func() error { return s.SetSessionPlan(ctx, h1, "totp") }, nil},
		{"login time", func() error { return s.TouchLogin(ctx, u.ID, t0) }, nil},
		{"password hash upgrade", func() error { return s.UpgradePasswordHash(ctx, u.ID, "$argon2id$x", "$argon2id$y") }, nil},
		{"failed attempt", func() error { _, err := s.FailMFA(ctx, u.ID, t0); return err }, nil},
		{"attempt lease", func() error { _, err := s.BeginMFAAttempt(ctx, u.ID, t0, time.Second); return err }, nil},
		{"attempt end", func() error { return s.EndMFAAttempt(ctx, u.ID) }, nil},
		{"factor used", func() error { return s.TouchFactor(ctx, f.ID, t0) }, nil},
		{"totp step", func() error { _, err := s.AcceptTOTPStep(ctx, f.ID, 7); return err }, nil},
		{"attributes unchanged", func() error { return s.SetUserAttributes(ctx, u.ID, "", nil) }, nil},
		{"activate factor", func() error { return s.ActivateFactor(ctx, u.ID, f.ID, t0, nil) }, []want{{u.ID, nil}}},
		{"attributes", func() error { return s.SetUserAttributes(ctx, u.ID, "a@example.com", []string{"ops"}) }, []want{{u.ID, nil}}},
		{"grace", func() error { _, err := s.StartGrace(ctx, u.ID, "*", t0); return err }, []want{{u.ID, nil}}},
		{"logout", func() error { return s.DeleteSession(ctx, h1) }, []want{{u.ID, h1}}},
		{"rotation", func() error {
			old := session("rot", u)
			read(t) // CreateSession writes none; checked above
			return s.RotateSession(ctx, store.Rotation{UserID: u.ID, TOTPStep: 9, FactorID: f.ID, At: t0, OldHash: old,
				Next: model.Session{TokenHash: bytes.Repeat([]byte("4"), 32), UserID: u.ID, AAL: model.AAL2, CreatedAt: t0, LastSeenAt: t0}})
		}, []want{{u.ID, bytes.Repeat([]byte("r"), 32)}}},
		{"disable", func() error { _, err := s.SetUserDisabled(ctx, u.ID, true); return err },
			[]want{{u.ID, bytes.Repeat([]byte("4"), 32)}, {u.ID, nil}}},
		{"delete factor", func() error { return s.DeleteFactor(ctx, u.ID, f.ID) }, []want{{u.ID, nil}}},
		{"expiry", func() error {
			_, err := s.DeleteExpiredSessions(ctx, t0.Add(time.Hour), t0.Add(time.Hour))
			return err
		}, []want{{other.ID, bytes.Repeat([]byte("t"), 32)}}},
	}
	for _, tc := range tests {
		if err := tc.write(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		evs := read(t)
		if len(evs) != len(tc.want) {
			t.Fatalf("%s: events %+v, want %d", tc.name, evs, len(tc.want))
		}
		// The order within one transaction is the triggers' order; compare
		// as a set.
		for _, w := range tc.want {
			found := false
			for _, e := range evs {
				found = found || (e.UserID == w.user && bytes.Equal(e.TokenHash, w.hash))
			}
			if !found {
				t.Fatalf("%s: events %+v lack user %s hash %x", tc.name, evs, w.user, w.hash)
			}
		}
	}
	// Nothing is returned twice.
	if evs := read(t); len(evs) != 0 {
		t.Fatalf("a poll after everything was read: %+v", evs)
	}

	// Pruning: every row is older than a minute from now.
	n, err := s.PruneSessionEvents(ctx, time.Now().Add(time.Minute))
	if err != nil || n < 8 {
		t.Fatalf("PruneSessionEvents = %d, %v; want every row", n, err)
	}
	if n, err := s.PruneSessionEvents(ctx, time.Now().Add(time.Minute)); err != nil || n != 0 {
		t.Fatalf("second prune = %d, %v; want 0", n, err)
	}
}
