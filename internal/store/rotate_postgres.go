package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/twostep/twostep/internal/model"
)

// rotatePostgres is RotateSession on PostgreSQL in three round trips
// instead of one per statement (issue #12): BEGIN; the rotation's
// statements sent together as one pgx batch (pipelined: the server runs
// them in order and answers once); then COMMIT, or ROLLBACK when a
// condition failed. The statements and the conditions are RotateSession's:
// the conditional UPDATE of the step must change one row (else a replay:
// model.ErrConflict) and the old session must be deleted (else
// model.ErrNotFound), and nothing is committed unless both hold. A passkey
// rotation keeps the statement-by-statement path (its counter check lives
// with the passkey code).
func (s *Store) rotatePostgres(ctx context.Context, p Rotation) error {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc, count := pgxConn(dc)
		if pc == nil {
			return fmt.Errorf("rotate session: unexpected driver connection %T", dc)
		}
		count("BEGIN")
		tx, err := pc.Begin(ctx)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		defer tx.Rollback(context.WithoutCancel(ctx)) // after Commit: nothing to do
		count("BATCH")                                // the batch and, below, what it carries
		b := &pgx.Batch{}
		// Each result is checked in order; need says which must change a
		// row and what it means when none did.
		var need []error
		queue := func(what string, onNone error, sql string, args ...any) {
			count("+" + what) // pipelined: no round trip of its own
			b.Queue(sql, args...)
			need = append(need, onNone)
		}
		if p.TOTPStep > 0 {
			queue("UPDATE factors", model.ErrConflict, `UPDATE factors SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1`, p.TOTPStep, p.FactorID)
		}
		if p.FactorID != "" {
			queue("UPDATE factors", nil, `UPDATE factors SET last_used_at = $1 WHERE id = $2`, ms(p.At), p.FactorID)
		}
		queue("UPDATE users", nil, resetMFAFailures, p.UserID)
		queue("DELETE sessions", model.ErrNotFound, `DELETE FROM sessions WHERE token_hash = $1`, p.OldHash)
		queue("INSERT sessions", nil, insertSession, sessionArgs(p.Next)...)
		if d := p.Remember; d != nil {
			queue("DELETE devices", nil, deleteOldDevices, p.UserID, ms(p.At), p.ForgetDevice, max(p.KeepDevices-1, 0))
			queue("INSERT devices", nil, insertDevice, d.TokenHash, d.ID, d.UserID, d.Label, ms(d.CreatedAt), ms(d.ExpiresAt), ms(d.LastUsedAt))
		}
		br := tx.SendBatch(ctx, b)
		var failed error
		for _, onNone := range need {
			tag, err := br.Exec()
			if err != nil {
				failed = errors.Join(failed, err)
				break
			}
			if onNone != nil && tag.RowsAffected() == 0 && failed == nil {
				failed = onNone // the rest still ran; the rollback undoes it
			}
		}
		if err := br.Close(); err != nil && failed == nil {
			failed = err
		}
		if failed != nil {
			count("ROLLBACK")
			return failed
		}
		count("COMMIT")
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	})
}

// pgxConn is the pgx connection behind a database/sql driver connection,
// and a function that counts what is sent on it. A wrapper between
// database/sql and pgx (the tests' statement counter,
// storetest.NewCounting) offers the connection it wraps through Raw and
// counts through Count; without one, nothing is counted.
func pgxConn(dc any) (*pgx.Conn, func(string)) {
	count := func(string) {}
	if w, ok := dc.(interface {
		Raw() any
		Count(string)
	}); ok {
		dc, count = w.Raw(), w.Count
	}
	if c, ok := dc.(*stdlib.Conn); ok {
		return c.Conn(), count
	}
	return nil, count
}
