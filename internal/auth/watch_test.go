package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/auth"
)

// TestSessionWatch drives the session watch by hand on the fixture's
// clock. While its polls succeed, a checked session is not read again
// from the store (the cache does not lapse every second) and its idle
// timer still moves (a hit queues the touch); a change written straight
// to the store, as another instance or the CLI would, is seen on the next
// poll; when the polls stop or fail, entries are trusted for 1 s again.
func TestSessionWatch(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) {
		c.Access = rules(t, auth.PolicyTwoFactor)
		c.IdleTimeout = 4 * time.Second // touchEvery: 1 s
	})
	_, aal2, _ := f.enrolTOTP(f.user("alice"))
	tok := f.tokenOf(aal2)
	var w auth.SessionWatch
	poll := func() {
		t.Helper()
		if err := f.svc.PollSessions(ctx, &w); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, want auth.Decision) {
		t.Helper()
		if d, _, err := f.svc.Check(ctx, tok, "app.example.com", "/"); err != nil || d != want {
			t.Fatalf("%s: Check = %v, %v; want %v", what, d, err, want)
		}
	}
	check("before the watch", auth.Allow)
	poll() // the first poll forgets what was loaded before it
	check("after the first poll", auth.Allow)
	loads := f.svc.SessionLoads()

	// 12 s of checks every 500 ms with a healthy watch: no load, and the
	// session outlives its 4-s idle timeout only because hits touch it.
	for i := range 24 {
		f.clock.Add(500 * time.Millisecond)
		poll()
		check("healthy watch", auth.Allow)
		if n := f.svc.SessionLoads(); n != loads {
			t.Fatalf("check %d (%v after the load): %d loads, want none: the entry lapsed", i, time.Duration(i+1)*500*time.Millisecond, n-loads)
		}
	}
	waitTouched(t, f, aal2.Session.TokenHash, f.clock.Now().Add(-2*time.Second))

	// The watch stops: the entry, 12 s old, is trusted while the last poll
	// began less than 900 ms ago, then read again.
	f.clock.Add(850 * time.Millisecond)
	check("850 ms after the last poll", auth.Allow)
	if n := f.svc.SessionLoads(); n != loads {
		t.Fatalf("850 ms after the last poll: %d loads, want none", n-loads)
	}
	f.clock.Add(100 * time.Millisecond)
	check("950 ms after the last poll", auth.Allow)
	if n := f.svc.SessionLoads(); n != loads+1 {
		t.Fatalf("950 ms after the last poll: %d loads, want 1 (the 1-s rule)", n-loads)
	}
	loads++

	// A failing poll (here: its context ended) records nothing: the entry
	// loaded just now lives 1 s, however often the watch fails.
	dead, cancel := context.WithCancel(ctx)
	cancel()
	for range 3 {
		f.clock.Add(400 * time.Millisecond)
		if err := f.svc.PollSessions(dead, &w); err == nil {
			t.Fatal("a poll with an ended context succeeded")
		}
	}
	check("1.2 s after the load, polls failing", auth.Allow)
	if n := f.svc.SessionLoads(); n != loads+1 {
		t.Fatalf("with failing polls: %d loads, want 1", n-loads)
	}

	// Healthy again: a disable written straight to the store is still
	// answered from the cache until the next poll, which drops it.
	poll()
	f.clock.Add(2 * time.Second)
	poll()
	check("healthy again", auth.Allow)
	if _, err := f.st.SetUserDisabled(ctx, aal2.User.ID, true); err != nil {
		t.Fatal(err)
	}
	check("disabled in the store, not yet polled", auth.Allow)
	poll()
	check("disabled, after the next poll", auth.NeedLogin)
}

// waitTouched waits (at most 5 s: the touch worker runs in the
// background) until the stored session's idle timer is after after.
func waitTouched(t *testing.T, f *fixture, hash []byte, after time.Time) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ss, err := f.st.Session(ctx, hash)
		if err != nil {
			t.Fatal(err)
		}
		if ss.LastSeenAt.After(after) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored last_seen_at %v, want after %v: hits did not queue a touch", ss.LastSeenAt, after)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
