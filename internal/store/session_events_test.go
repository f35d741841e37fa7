package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/store/storetest"
)

// TestSessionEventsOutOfOrderCommit: on PostgreSQL a transaction that took
// its seq first may commit last. A reader that went by "seq > last" would
// skip its event for good once it had read the later one; the xmin cursor
// returns it on the poll after the commit, and only once.
func TestSessionEventsOutOfOrderCommit(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	ctx := context.Background()
	s, err := store.Open(ctx, store.Postgres, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()

	now := time.Now()
	if err := s.CreateUser(ctx, model.User{ID: "u1", Username: "alice", PasswordHash: "$argon2id$x", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	early, late := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	for _, h := range [][]byte{early, late} {
		if err := s.CreateSession(ctx, model.Session{TokenHash: h, UserID: "u1", AAL: model.AAL1, CreatedAt: now, LastSeenAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	var c store.EventCursor
	if _, start, err := s.SessionEvents(ctx, &c); err != nil || !start {
		t.Fatalf("start: %v %v", start, err)
	}

	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = $1`, early); err != nil {
		t.Fatal(err) // takes the smaller seq, not committed yet
	}
	if err := s.DeleteSession(ctx, late); err != nil {
		t.Fatal(err) // the larger seq, committed
	}
	poll := func(what string, want []byte) {
		t.Helper()
		evs, _, err := s.SessionEvents(ctx, &c)
		if err != nil {
			t.Fatal(err)
		}
		if want == nil && len(evs) == 0 {
			return
		}
		if len(evs) != 1 || !bytes.Equal(evs[0].TokenHash, want) {
			t.Fatalf("%s: events %+v, want one for %x", what, evs, want)
		}
	}
	poll("while the earlier transaction is open", late)
	poll("again, still open", nil)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	poll("after the earlier transaction committed", early)
	poll("once more", nil)
}
