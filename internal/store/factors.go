package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/twostep/twostep/internal/model"
)

const factorCols = `id, user_id, type, label, status, key_id, secret, params, preferred, created_at, last_used_at`

func scanFactor(row interface{ Scan(...any) error }) (model.Factor, error) {
	var f model.Factor
	var preferred int
	var created, used int64
	if err := row.Scan(&f.ID, &f.UserID, &f.Type, &f.Label, &f.Status, &f.KeyID, &f.Secret, &f.Params,
		&preferred, &created, &used); err != nil {
		return model.Factor{}, notFound(err)
	}
	f.Preferred = preferred != 0
	f.CreatedAt, f.LastUsedAt = fromMS(created), fromMS(used)
	return f, nil
}

// CreateFactor inserts f (normally pending until its first code is confirmed).
func (s *Store) CreateFactor(ctx context.Context, f model.Factor) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO factors (`+factorCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		f.ID, f.UserID, f.Type, f.Label, f.Status, f.KeyID, f.Secret, f.Params, flag(f.Preferred),
		ms(f.CreatedAt), ms(f.LastUsedAt))
	return err
}

// Factors returns all factors of a user, oldest first.
func (s *Store) Factors(ctx context.Context, userID string) ([]model.Factor, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+factorCols+` FROM factors WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var fs []model.Factor
	for rows.Next() {
		f, err := scanFactor(rows)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	return fs, rows.Err()
}

// Factor returns one factor of a user or model.ErrNotFound.
func (s *Store) Factor(ctx context.Context, userID, id string) (model.Factor, error) {
	return scanFactor(s.r.QueryRowContext(ctx, `SELECT `+factorCols+` FROM factors WHERE user_id = $1 AND id = $2`, userID, id))
}

// ActivateFactor marks a pending factor active. It returns model.ErrNotFound
// when the factor does not exist or is already active, so two parallel
// confirmations cannot both activate it.
//
// codes not nil (a user's first factor) replaces the user's recovery codes
// in the same transaction: a factor is never active without the codes its
// set-up issues, even when the process dies between the two writes.
func (s *Store) ActivateFactor(ctx context.Context, userID, id string, now time.Time, codes []model.RecoveryCode) error {
	const activate = `UPDATE factors SET status = $1, last_used_at = $2
		WHERE user_id = $3 AND id = $4 AND status = $5`
	args := []any{model.FactorActive, ms(now), userID, id, model.FactorPending}
	if codes == nil {
		return one(s.w.ExecContext(ctx, activate, args...))
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := one(tx.ExecContext(ctx, activate, args...)); err != nil {
			return err
		}
		return replaceRecoveryCodes(ctx, tx, userID, codes)
	})
}

// TouchFactor records that a factor was just used.
func (s *Store) TouchFactor(ctx context.Context, id string, now time.Time) error {
	return one(s.w.ExecContext(ctx, `UPDATE factors SET last_used_at = $1 WHERE id = $2`, ms(now), id))
}

// DeleteFactor removes one factor of a user.
func (s *Store) DeleteFactor(ctx context.Context, userID, id string) error {
	return one(s.w.ExecContext(ctx, `DELETE FROM factors WHERE user_id = $1 AND id = $2`, userID, id))
}

// DeleteActiveFactorUnlessLast removes an active factor only if the user keeps
// at least one other active factor, checked and deleted in one transaction so
// two parallel removals cannot leave the user with none. It returns
// model.ErrConflict when the factor is the last one.
func (s *Store) DeleteActiveFactorUnlessLast(ctx context.Context, userID, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		// PostgreSQL runs READ COMMITTED: without a lock two removals could
		// each count the other factor and both delete. Locking the user row
		// serialises them (SQLite's immediate transactions already do).
		if s.dialect == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT id FROM users WHERE id = $1 FOR UPDATE`, userID); err != nil {
				return err
			}
		}
		var others int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM factors WHERE user_id = $1 AND id <> $2 AND status = $3`,
			userID, id, model.FactorActive).Scan(&others); err != nil {
			return err
		}
		if others == 0 {
			return model.ErrConflict
		}
		return one(tx.ExecContext(ctx, `DELETE FROM factors WHERE user_id = $1 AND id = $2`, userID, id))
	})
}

// DeletePendingFactors removes the user's unconfirmed factors of one type
// (an abandoned set-up is replaced by a new one).
func (s *Store) DeletePendingFactors(ctx context.Context, userID string, typ model.FactorType) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM factors WHERE user_id = $1 AND type = $2 AND status = $3`,
		userID, typ, model.FactorPending)
	return err
}

// SetPreferred makes one active factor the user's preferred method.
func (s *Store) SetPreferred(ctx context.Context, userID, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE factors SET preferred = 0 WHERE user_id = $1`, userID); err != nil {
			return err
		}
		return one(tx.ExecContext(ctx, `UPDATE factors SET preferred = 1 WHERE user_id = $1 AND id = $2 AND status = $3`,
			userID, id, model.FactorActive))
	})
}
