package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/twostep/twostep/internal/model"
)

// Rotation replaces a session by a new one (new token, usually aal2) and,
// when a second-factor check caused it, records that check.
type Rotation struct {
	UserID   string
	TOTPStep int64  // > 0: record this TOTP step as used for FactorID (replay protection)
	FactorID string // != "": the factor used, its last-use time is set
	At       time.Time
	OldHash  []byte        // the session that passed the check...
	Next     model.Session // ...is replaced by this one (new token, aal2)
	// Remember, when set, is the browser remembered with this pass. The
	// same transaction deletes the device ForgetDevice hashes to (the
	// browser's previous token, if it is the user's), the user's expired
	// ones and all but the newest KeepDevices-1 others.
	Remember     *Device
	ForgetDevice []byte
	KeepDevices  int
	// Passkey, when set, is the passkey whose assertion passed: its
	// counter moves on only from the value the check read (UsePasskey).
	Passkey *PasskeyUse
}

// RotateSession writes a rotation in one transaction: the TOTP step (only
// if later than every step accepted before for that app: one conditional
// UPDATE, RFC 6238 §5.2), the factor's last use, the end of the user's run
// of second-factor failures and of the attempt's lease (BeginMFAAttempt),
// and the session swap — the old token
// stops working the instant the new one starts (no fixation, ASVS V3.2.1).
// It returns model.ErrConflict for a replayed step (or a passkey counter
// that moved meanwhile) and model.ErrNotFound
// when the old session is gone (rotated or logged out by a parallel
// request); either way nothing is written. One transaction instead of
// three keeps the hot verify path to one commit on SQLite's writer.
//
// On PostgreSQL the same statements go in one pipelined batch
// (rotatePostgres): three round trips instead of seven.
func (s *Store) RotateSession(ctx context.Context, p Rotation) error {
	if s.dialect == Postgres && p.Passkey == nil {
		return s.rotatePostgres(ctx, p)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if p.TOTPStep > 0 {
			err := one(tx.ExecContext(ctx, `UPDATE factors SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1`, p.TOTPStep, p.FactorID))
			if errors.Is(err, model.ErrNotFound) {
				return model.ErrConflict
			}
			if err != nil {
				return err
			}
		}
		if p.Passkey != nil {
			if err := usePasskey(ctx, tx, *p.Passkey); err != nil {
				return err
			}
		}
		if p.FactorID != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE factors SET last_used_at = $1 WHERE id = $2`, ms(p.At), p.FactorID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, resetMFAFailures, p.UserID); err != nil {
			return err
		}
		if err := one(tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = $1`, p.OldHash)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, insertSession, sessionArgs(p.Next)...); err != nil {
			return err
		}
		if p.Remember == nil {
			return nil
		}
		if _, err := tx.ExecContext(ctx, deleteOldDevices, p.UserID, ms(p.At), p.ForgetDevice, max(p.KeepDevices-1, 0)); err != nil {
			return err
		}
		d := p.Remember
		_, err := tx.ExecContext(ctx, insertDevice, d.TokenHash, d.ID, d.UserID, d.Label, ms(d.CreatedAt), ms(d.ExpiresAt), ms(d.LastUsedAt))
		return err
	})
}

// The remembered browser's statements of a rotation: the user's expired
// devices, the browser's previous one and all but the newest KeepDevices-1
// others go, then the new one is inserted.
const (
	deleteOldDevices = `DELETE FROM devices WHERE user_id = $1 AND (expires_at <= $2 OR token_hash = $3
			OR id NOT IN (SELECT id FROM devices WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id LIMIT $4))`
	insertDevice = `INSERT INTO devices (` + deviceCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7)`
)
