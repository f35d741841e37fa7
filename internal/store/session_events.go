package store

import (
	"context"
	"database/sql"
	"time"
)

// SessionEvent is one row of session_events (migration 0011): a change
// that ends or alters the cached sessions of UserID, or, when TokenHash is
// set, ends that one session. Triggers write them in the writer's own
// transaction, so every writer is covered, the CLI included.
type SessionEvent struct {
	Seq       int64
	UserID    string
	TokenHash []byte // nil: every session of UserID
}

// EventCursor is where a reader of SessionEvents stands; the zero value has
// not started. It belongs to one reader and is not safe for concurrent use.
type EventCursor struct {
	started bool
	pos     int64 // SQLite: the last seq read; PostgreSQL: the xmin of the last poll's snapshot
	seen    map[int64]bool
}

// SessionEvents returns the session events committed since the last call
// with c, each once. The first call only places c at the present and
// reports start: the caller must then forget everything it cached before,
// since changes committed before that call are not returned.
//
// SQLite commits writers one at a time in seq order, so "seq > last" is
// exact. A PostgreSQL sequence may commit out of order, so there the
// cursor is the xmin of the previous poll's snapshot: every row written by
// a transaction that was not yet visible to it has an xid >= that xmin.
// Those rows are read again until the xmin passes them, and the seqs
// already returned are skipped (seen holds those of the last poll, which
// are the only ones that can come again).
func (s *Store) SessionEvents(ctx context.Context, c *EventCursor) (events []SessionEvent, start bool, err error) {
	if s.dialect == SQLite {
		return s.sqliteSessionEvents(ctx, c)
	}
	return s.postgresSessionEvents(ctx, c)
}

func (s *Store) sqliteSessionEvents(ctx context.Context, c *EventCursor) ([]SessionEvent, bool, error) {
	if !c.started {
		if err := s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM session_events`).Scan(&c.pos); err != nil {
			return nil, false, err
		}
		c.started = true
		return nil, true, nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT seq, user_id, token_hash FROM session_events WHERE seq > $1 ORDER BY seq`, c.pos)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var out []SessionEvent
	for rows.Next() {
		var e SessionEvent
		if err := rows.Scan(&e.Seq, &e.UserID, &e.TokenHash); err != nil {
			return nil, false, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	if len(out) > 0 {
		c.pos = out[len(out)-1].Seq
	}
	return out, false, nil
}

// The poll and its snapshot's xmin in one statement, hence one snapshot
// (READ COMMITTED takes one per statement). xid8 has no cast from bigint;
// text goes both ways.
const pgSessionEvents = `WITH snap AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin)
	SELECT snap.xmin, e.seq, e.user_id, e.token_hash FROM snap
	LEFT JOIN session_events e ON e.xid >= $1::bigint::text::xid8
	ORDER BY e.seq`

func (s *Store) postgresSessionEvents(ctx context.Context, c *EventCursor) ([]SessionEvent, bool, error) {
	if !c.started {
		if err := s.r.QueryRowContext(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&c.pos); err != nil {
			return nil, false, err
		}
		c.started = true
		return nil, true, nil
	}
	rows, err := s.r.QueryContext(ctx, pgSessionEvents, c.pos)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var out []SessionEvent
	var xmin int64
	seen := make(map[int64]bool, len(c.seen))
	for rows.Next() {
		var seq sql.NullInt64
		var user sql.NullString
		var hash []byte
		if err := rows.Scan(&xmin, &seq, &user, &hash); err != nil {
			return nil, false, err
		}
		if !seq.Valid { // the LEFT JOIN's row when nothing matched
			continue
		}
		seen[seq.Int64] = true
		if !c.seen[seq.Int64] {
			out = append(out, SessionEvent{Seq: seq.Int64, UserID: user.String, TokenHash: hash})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	c.pos, c.seen = xmin, seen
	return out, false, nil
}

// PruneSessionEvents deletes the session events written before before.
// Readers poll every fraction of a second; the caller keeps far more than
// the longest a cache entry lives, so no reader misses a row that matters.
func (s *Store) PruneSessionEvents(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM session_events WHERE at < $1`, ms(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
