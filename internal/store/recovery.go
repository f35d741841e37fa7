package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/twostep/twostep/internal/model"
)

// ReplaceRecoveryCodes deletes the user's recovery codes and stores codes in
// one transaction, so the old set dies exactly when the new one exists.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, codes []model.RecoveryCode) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return replaceRecoveryCodes(ctx, tx, userID, codes) })
}

// replaceRecoveryCodes is ReplaceRecoveryCodes inside the caller's transaction.
func replaceRecoveryCodes(ctx context.Context, tx *sql.Tx, userID string, codes []model.RecoveryCode) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
		return err
	}
	for _, c := range codes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (id, user_id, key_id, code_hash, created_at, used_at)
			VALUES ($1, $2, $3, $4, $5, 0)`, c.ID, userID, c.KeyID, c.CodeHash, ms(c.CreatedAt)); err != nil {
			return err
		}
	}
	return nil
}

// UnusedRecoveryCodes returns the user's recovery codes not yet used.
func (s *Store) UnusedRecoveryCodes(ctx context.Context, userID string) ([]model.RecoveryCode, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, user_id, key_id, code_hash, created_at FROM recovery_codes
		WHERE user_id = $1 AND used_at = 0 ORDER BY id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cs []model.RecoveryCode
	for rows.Next() {
		var c model.RecoveryCode
		var created int64
		if err := rows.Scan(&c.ID, &c.UserID, &c.KeyID, &c.CodeHash, &created); err != nil {
			return nil, err
		}
		c.CreatedAt = fromMS(created)
		cs = append(cs, c)
	}
	return cs, rows.Err()
}

// UseRecoveryCode marks a code used. It returns model.ErrNotFound when the
// code was already used (or never existed): one conditional UPDATE, so a
// code works once even under parallel requests.
func (s *Store) UseRecoveryCode(ctx context.Context, id string, now time.Time) error {
	return one(s.w.ExecContext(ctx, `UPDATE recovery_codes SET used_at = $1 WHERE id = $2 AND used_at = 0`, ms(now), id))
}
