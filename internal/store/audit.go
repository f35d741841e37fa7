package store

import (
	"bytes"
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/twostep/twostep/internal/model"
)

// AppendAudit adds e to the audit log as the next link of the hash chain and
// returns it with Seq, PrevHash and Hash set, once it is committed.
//
// Appends are serialised by the chain itself (each entry hashes the one
// before), so concurrent callers are group-committed: the first starts a
// writer that puts every entry queued meanwhile in one transaction, then
// the next batch, until the queue is empty; callers wait for their batch. Under load one commit carries many entries instead of one each,
// and no caller returns before its entry is durable. On PostgreSQL a
// transaction-scoped advisory lock serialises instances.
func (s *Store) AppendAudit(ctx context.Context, e model.AuditEvent) (model.AuditEvent, error) {
	req := &auditReq{e: e, done: make(chan struct{})}
	q := &s.audit
	q.mu.Lock()
	q.pending = append(q.pending, req)
	lead := !q.leading
	q.leading = true
	q.mu.Unlock()
	if lead {
		// A goroutine, not this request, leads: under sustained load the
		// leader keeps writing others' batches, which no request should wait on.
		go s.writeAuditBatches(context.Background())
	}
	select {
	case <-req.done:
		return req.e, req.err
	case <-ctx.Done():
		// The entry may still be written by the leader; the caller stops waiting.
		return e, ctx.Err()
	}
}

// auditQueue is the group-commit queue of AppendAudit.
type auditQueue struct {
	mu      sync.Mutex
	pending []*auditReq
	leading bool
}

type auditReq struct {
	e    model.AuditEvent
	err  error
	done chan struct{}
}

// writeAuditBatches writes queued entries until none are left.
func (s *Store) writeAuditBatches(ctx context.Context) {
	q := &s.audit
	for {
		q.mu.Lock()
		batch := q.pending
		q.pending = nil
		if len(batch) == 0 {
			q.leading = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := s.tx(wctx, func(tx *sql.Tx) error { return appendAuditTx(wctx, tx, s.dialect, batch) })
		cancel()
		for _, r := range batch {
			r.err = err
			close(r.done)
		}
	}
}

// appendAuditTx chains and inserts a batch inside one transaction.
func appendAuditTx(ctx context.Context, tx *sql.Tx, d Dialect, batch []*auditReq) error {
	if d == Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7307010002)`); err != nil {
			return err
		}
	}
	seq, prev := int64(0), []byte{}
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
	if err != nil && err != sql.ErrNoRows {
		return err
	}
	for _, r := range batch {
		e := &r.e
		seq++
		e.Seq, e.PrevHash = seq, prev
		e.Hash = e.ChainHash(prev)
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (seq, at, event, user_id, username, ip, user_agent, detail, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			e.Seq, ms(e.At), e.Event, e.UserID, e.Username, e.IP, e.UserAgent, e.Detail, e.PrevHash, e.Hash); err != nil {
			return err
		}
		prev = e.Hash
	}
	return nil
}

// AuditEvents returns up to limit entries with seq > after, in order.
func (s *Store) AuditEvents(ctx context.Context, after int64, limit int) ([]model.AuditEvent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT seq, at, event, user_id, username, ip, user_agent, detail, prev_hash, hash
		FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var es []model.AuditEvent
	for rows.Next() {
		var e model.AuditEvent
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.Event, &e.UserID, &e.Username, &e.IP, &e.UserAgent, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
			return nil, err
		}
		e.At = fromMS(at)
		es = append(es, e)
	}
	return es, rows.Err()
}

// AuditCheckpoint stands for the pruned head of the audit chain: the last
// pruned entry's seq and hash (and time), under a MAC of the key file.
type AuditCheckpoint struct {
	Seq      int64
	Hash     []byte
	At       time.Time // the last pruned entry's time
	PrunedAt time.Time
	KeyID    string
	MAC      []byte
}

// LastAuditBefore returns the newest audit entry older than t, or
// model.ErrNotFound.
func (s *Store) LastAuditBefore(ctx context.Context, t time.Time) (model.AuditEvent, error) {
	var e model.AuditEvent
	var at int64
	err := s.r.QueryRowContext(ctx, `SELECT seq, at, hash FROM audit_log WHERE at < $1 ORDER BY seq DESC LIMIT 1`, ms(t)).
		Scan(&e.Seq, &at, &e.Hash)
	e.At = fromMS(at)
	return e, notFound(err)
}

// PruneAudit deletes the audit entries up to and including cp.Seq and
// records cp, in one transaction. It returns model.ErrConflict, changing
// nothing, unless entry cp.Seq is still there with hash cp.Hash (the chain
// changed since cp was made).
func (s *Store) PruneAudit(ctx context.Context, cp AuditCheckpoint) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if s.dialect == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7307010002)`); err != nil {
				return err
			}
		}
		var hash []byte
		if err := tx.QueryRowContext(ctx, `SELECT hash FROM audit_log WHERE seq = $1`, cp.Seq).Scan(&hash); err != nil || !bytes.Equal(hash, cp.Hash) {
			if err != nil && err != sql.ErrNoRows {
				return err
			}
			return model.ErrConflict
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_checkpoints (seq, hash, at, pruned_at, key_id, mac) VALUES ($1, $2, $3, $4, $5, $6)`,
			cp.Seq, cp.Hash, ms(cp.At), ms(cp.PrunedAt), cp.KeyID, cp.MAC); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_log WHERE seq <= $1`, cp.Seq)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// AuditCheckpointAt returns the checkpoint of seq, or model.ErrNotFound.
func (s *Store) AuditCheckpointAt(ctx context.Context, seq int64) (AuditCheckpoint, error) {
	cp := AuditCheckpoint{Seq: seq}
	var at, pruned int64
	err := s.r.QueryRowContext(ctx, `SELECT hash, at, pruned_at, key_id, mac FROM audit_checkpoints WHERE seq = $1`, seq).
		Scan(&cp.Hash, &at, &pruned, &cp.KeyID, &cp.MAC)
	cp.At, cp.PrunedAt = fromMS(at), fromMS(pruned)
	return cp, notFound(err)
}

// LatestAuditCheckpoint returns the newest checkpoint, or model.ErrNotFound.
func (s *Store) LatestAuditCheckpoint(ctx context.Context) (AuditCheckpoint, error) {
	var seq int64
	if err := s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints`).Scan(&seq); err != nil {
		return AuditCheckpoint{}, err
	}
	if seq == 0 {
		return AuditCheckpoint{}, model.ErrNotFound
	}
	return s.AuditCheckpointAt(ctx, seq)
}
