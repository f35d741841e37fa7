package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/store"
)

func mkNotice(id, user, channel string, at time.Time) model.Notification {
	return model.Notification{ID: id, UserID: user, Channel: channel, Event: "method_added", KeyID: "k1",
		Recipient: []byte("sealed-" + id), Payload: `{"kind":"method_added"}`, CreatedAt: at, NextAt: at}
}

// testNotifications: the queue's bound and per-user cap, exclusive claims
// under parallel workers, leases that end, marks only by the lease holder,
// retries and giving up, pruning of finished rows only.
func testNotifications(t *testing.T, s *store.Store) {
	enq := func(n model.Notification, max int, since time.Time, perUser int) bool {
		t.Helper()
		ok, err := s.EnqueueNotification(ctx, n, max, since, perUser)
		if err != nil {
			t.Fatalf("EnqueueNotification(%s): %v", n.ID, err)
		}
		return ok
	}
	// Bound: 3 pending rows at most.
	for i := range 3 {
		if !enq(mkNotice(fmt.Sprintf("n%d", i), "u1", "email", t0), 3, time.Time{}, 0) {
			t.Fatalf("row %d refused under the bound", i)
		}
	}
	if enq(mkNotice("n3", "u1", "email", t0), 3, time.Time{}, 0) {
		t.Fatal("a 4th pending row went into a queue bounded at 3")
	}
	// Per-user cap on a channel: 1 text per user after since.
	since := t0.Add(-time.Second)
	if !enq(mkNotice("s1", "u1", "sms", t0), 100, since, 1) || enq(mkNotice("s2", "u1", "sms", t0), 100, since, 1) {
		t.Fatal("per-user cap of 1 text: want the first in, the second refused")
	}
	if !enq(mkNotice("s2b", "u1", "sms", t0), 100, t0, 1) {
		t.Fatal("a text created at the window's start still counted")
	}
	if !enq(mkNotice("s3", "u2", "sms", t0), 100, since, 1) {
		t.Fatal("another user's text was refused by u1's cap")
	}

	// Claims: due rows only, each to one owner.
	a, err := s.ClaimNotifications(ctx, "A", t0, t0.Add(time.Minute), 2)
	if err != nil || len(a) != 2 || a[0].Attempts != 1 {
		t.Fatalf("claim A = %v, %v; want 2 rows at attempt 1", a, err)
	}
	b, err := s.ClaimNotifications(ctx, "B", t0, t0.Add(time.Minute), 100)
	if err != nil || len(b) != 4 {
		t.Fatalf("claim B = %d rows, %v; want the 4 not leased to A", len(b), err)
	}
	for _, x := range b {
		if x.ID == a[0].ID || x.ID == a[1].ID {
			t.Fatalf("row %s leased to both A and B", x.ID)
		}
	}
	// Only the holder marks; a second mark finds nothing.
	if err := s.MarkNotificationSent(ctx, a[0].ID, "B", t0); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("mark by a non-holder: %v, want ErrNotFound", err)
	}
	if err := s.MarkNotificationSent(ctx, a[0].ID, "A", t0); err != nil {
		t.Fatalf("mark by the holder: %v", err)
	}
	if err := s.MarkNotificationSent(ctx, a[0].ID, "A", t0); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("second mark: %v, want ErrNotFound", err)
	}
	// A lease that ended lets another worker claim the row (a crash); the
	// old holder can no longer mark it.
	c, err := s.ClaimNotifications(ctx, "C", t0.Add(2*time.Minute), t0.Add(3*time.Minute), 100)
	if err != nil || len(c) != 5 {
		t.Fatalf("claim after the leases ended = %d rows, %v; want the 5 unsent", len(c), err)
	}
	if err := s.MarkNotificationSent(ctx, a[1].ID, "A", t0.Add(2*time.Minute)); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("mark by an expired holder: %v, want ErrNotFound", err)
	}
	// Retry: due again at next; give up: failed, recipient erased.
	if err := s.RetryNotification(ctx, c[0].ID, "C", t0, t0.Add(time.Hour), "421 try later", false); err != nil {
		t.Fatal(err)
	}
	if err := s.RetryNotification(ctx, c[1].ID, "C", t0, time.Time{}, "550 no such user", true); err != nil {
		t.Fatal(err)
	}
	for _, x := range c[2:] {
		if err := s.MarkNotificationSent(ctx, x.ID, "C", t0); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := s.ClaimNotifications(ctx, "D", t0.Add(59*time.Minute), t0.Add(2*time.Hour), 100); len(got) != 0 {
		t.Fatalf("claimed %d rows before the retry was due", len(got))
	}
	got, err := s.ClaimNotifications(ctx, "D", t0.Add(time.Hour), t0.Add(2*time.Hour), 100)
	if err != nil || len(got) != 1 || got[0].ID != c[0].ID || got[0].Attempts != 3 {
		t.Fatalf("claim at the retry time = %v, %v; want %s at attempt 3", got, err, c[0].ID)
	}
	all, err := s.Notifications(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range all {
		finished := !n.SentAt.IsZero() || !n.FailedAt.IsZero()
		if finished && len(n.Recipient) != 0 {
			t.Errorf("row %s finished but keeps its recipient", n.ID)
		}
		if n.ID == c[1].ID && (n.FailedAt.IsZero() || n.LastError != "550 no such user") {
			t.Errorf("given-up row = %+v", n)
		}
	}
	if n, _ := s.PendingNotifications(ctx); n != 1 {
		t.Errorf("pending = %d, want 1 (the row D holds)", n)
	}
	// Prune removes finished rows only.
	if n, err := s.PruneNotifications(ctx, t0.Add(time.Hour)); err != nil || n != 5 {
		t.Fatalf("prune = %d, %v; want the 5 finished rows", n, err)
	}
	if all, _ := s.Notifications(ctx, ""); len(all) != 1 || all[0].ID != c[0].ID {
		t.Fatalf("after prune: %v, want the pending row only", all)
	}
}

// testNotificationClaimRace: workers claiming the same queue at once never
// get the same row, and together get every row.
func testNotificationClaimRace(t *testing.T, s *store.Store) {
	const rows, workers = 60, 6
	for i := range rows {
		if ok, err := s.EnqueueNotification(ctx, mkNotice(fmt.Sprintf("r%02d", i), "u1", "email", t0), 1000, time.Time{}, 0); !ok || err != nil {
			t.Fatalf("enqueue: %v %v", ok, err)
		}
	}
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("w%d", w)
			for range rows { // bounded: each pass claims at least one row or stops
				got, err := s.ClaimNotifications(ctx, owner, t0, t0.Add(time.Minute), 3)
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, n := range got {
					if prev, dup := seen[n.ID]; dup {
						t.Errorf("row %s claimed by %s and %s", n.ID, prev, owner)
					}
					seen[n.ID] = owner
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != rows {
		// A claim that lost every row of its batch to another worker
		// stops early; a last pass must find the remainder.
		rest, err := s.ClaimNotifications(ctx, "last", t0, t0.Add(time.Minute), rows)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range rest {
			if _, dup := seen[n.ID]; dup {
				t.Errorf("row %s claimed twice", n.ID)
			}
			seen[n.ID] = "last"
		}
	}
	if len(seen) != rows {
		t.Fatalf("%d of %d rows claimed", len(seen), rows)
	}
}
