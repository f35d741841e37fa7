package store

import (
	"context"
	"database/sql"
	"time"
)

// SealedSecret is a factor's secret as stored: sealed under key KeyID.
type SealedSecret struct {
	FactorID string
	KeyID    string
	Secret   []byte
}

// Reseal replaces a factor's secret by Secret sealed under NewKeyID, on the
// condition that the row is still sealed under OldKeyID.
type Reseal struct {
	FactorID string
	OldKeyID string
	NewKeyID string
	Secret   []byte
}

// SecretsNotUnder returns up to limit factor secrets sealed under a key
// other than keyID, with factor ids greater than after, in id order: key
// rotation pages through them, so a row it cannot re-encrypt is passed
// over rather than returned again and again.
func (s *Store) SecretsNotUnder(ctx context.Context, keyID, after string, limit int) ([]SealedSecret, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, key_id, secret FROM factors
		WHERE key_id <> '' AND key_id <> $1 AND id > $2 ORDER BY id LIMIT $3`, keyID, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SealedSecret
	for rows.Next() {
		var ss SealedSecret
		if err := rows.Scan(&ss.FactorID, &ss.KeyID, &ss.Secret); err != nil {
			return nil, err
		}
		out = append(out, ss)
	}
	return out, rows.Err()
}

// UpdateFactorSecret writes one re-sealed secret. It returns
// model.ErrConflict, changing nothing, when the factor is gone or no longer
// sealed under r.OldKeyID (another instance replaced it meanwhile): the
// secret read before would overwrite a newer one.
func (s *Store) UpdateFactorSecret(ctx context.Context, r Reseal) error {
	return conflictIfNone(s.w.ExecContext(ctx, resealSQL, r.Secret, r.NewKeyID, r.FactorID, r.OldKeyID))
}

// UpdateFactorSecrets writes a batch of re-sealed secrets in one
// transaction, each as UpdateFactorSecret does, and returns how many were
// written; rows that changed meanwhile are skipped, not errors.
func (s *Store) UpdateFactorSecrets(ctx context.Context, batch []Reseal) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, r := range batch {
			res, err := tx.ExecContext(ctx, resealSQL, r.Secret, r.NewKeyID, r.FactorID, r.OldKeyID)
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += int(k)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

const resealSQL = `UPDATE factors SET secret = $1, key_id = $2 WHERE id = $3 AND key_id = $4`

// KeyUse counts what one key id protects in the database.
type KeyUse struct {
	KeyID         string
	FactorSecrets int // TOTP secrets and phone numbers, sealed
	RecoveryCodes int // keyed hashes, used or not (start-up requires their keys)
	SMSCodes      int // keyed hashes of codes still valid at the time asked
	// Notifications are queued notices whose recipient is sealed under the
	// key (not yet sent nor given up); they drain by themselves.
	Notifications int
}

// KeyUsage returns, per key id found in the database, how many factor
// secrets, recovery codes, live SMS codes and queued notifications use it,
// in key id order. A key
// that appears nowhere here is no longer needed by any stored record.
func (s *Store) KeyUsage(ctx context.Context, now time.Time) ([]KeyUse, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT key_id, SUM(f), SUM(r), SUM(c), SUM(n) FROM (
			SELECT key_id, 1 AS f, 0 AS r, 0 AS c, 0 AS n FROM factors WHERE key_id <> ''
			UNION ALL SELECT key_id, 0, 1, 0, 0 FROM recovery_codes
			UNION ALL SELECT key_id, 0, 0, 1, 0 FROM sms_codes WHERE used_at = 0 AND expires_at > $1
			UNION ALL SELECT key_id, 0, 0, 0, 1 FROM notifications WHERE sent_at = 0 AND failed_at = 0
		) AS uses GROUP BY key_id ORDER BY key_id`, ms(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []KeyUse
	for rows.Next() {
		var u KeyUse
		if err := rows.Scan(&u.KeyID, &u.FactorSecrets, &u.RecoveryCodes, &u.SMSCodes, &u.Notifications); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}
