package store

import (
	"context"
	"database/sql"

	"github.com/twostep/twostep/internal/model"
)

// AppendAudit adds e to the audit log as the next link of the hash chain and
// returns it with Seq, PrevHash and Hash set. Appends are serialised: SQLite
// has one writer, PostgreSQL takes a transaction-scoped advisory lock.
func (s *Store) AppendAudit(ctx context.Context, e model.AuditEvent) (model.AuditEvent, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if s.dialect == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7307010002)`); err != nil {
				return err
			}
		}
		e.Seq, e.PrevHash = 1, []byte{}
		err := tx.QueryRowContext(ctx, `SELECT seq + 1, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&e.Seq, &e.PrevHash)
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		e.Hash = e.ChainHash(e.PrevHash)
		_, err = tx.ExecContext(ctx, `INSERT INTO audit_log (seq, at, event, user_id, username, ip, user_agent, detail, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			e.Seq, ms(e.At), e.Event, e.UserID, e.Username, e.IP, e.UserAgent, e.Detail, e.PrevHash, e.Hash)
		return err
	})
	return e, err
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
