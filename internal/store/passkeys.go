package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/twostep/twostep/internal/model"
)

const passkeyCols = `credential_id, factor_id, user_id, public_key, sign_count, aaguid, transports,
	backup_eligible, backup_state, user_verified, attestation_type, attestation_format, created_at`

func scanPasskey(row interface{ Scan(...any) error }) (model.Passkey, error) {
	var p model.Passkey
	var count, created int64
	var transports string
	var be, bs, uv int
	if err := row.Scan(&p.CredentialID, &p.FactorID, &p.UserID, &p.PublicKey, &count, &p.AAGUID, &transports,
		&be, &bs, &uv, &p.AttestationType, &p.AttestationFormat, &created); err != nil {
		return model.Passkey{}, notFound(err)
	}
	p.SignCount = uint32(count)
	if transports != "" {
		p.Transports = strings.Split(transports, ",")
	}
	p.BackupEligible, p.BackupState, p.UserVerified = be != 0, bs != 0, uv != 0
	p.CreatedAt = fromMS(created)
	return p, nil
}

// WebAuthnHandle returns the user's WebAuthn user handle, storing fresh as
// the handle first if the user has none yet. Setting is one conditional
// UPDATE, so parallel first set-ups agree on one handle. An unknown user
// gives model.ErrNotFound.
func (s *Store) WebAuthnHandle(ctx context.Context, userID string, fresh []byte) ([]byte, error) {
	if _, err := s.w.ExecContext(ctx, `UPDATE users SET webauthn_handle = $1 WHERE id = $2 AND webauthn_handle IS NULL`,
		fresh, userID); err != nil {
		return nil, err
	}
	var h []byte
	err := s.w.QueryRowContext(ctx, `SELECT webauthn_handle FROM users WHERE id = $1`, userID).Scan(&h)
	return h, notFound(err)
}

// UserByWebAuthnHandle returns the user whose WebAuthn user handle is
// handle, or model.ErrNotFound.
func (s *Store) UserByWebAuthnHandle(ctx context.Context, handle []byte) (model.User, error) {
	return scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE webauthn_handle = $1`, handle))
}

// AddPasskey stores a registered passkey: its factor f (active) and its
// credential record p, in one transaction. A credential id already stored,
// for any user, gives model.ErrConflict and writes nothing. codes not nil
// (the user's first method) replaces the user's recovery codes in the same
// transaction, as ActivateFactor does.
func (s *Store) AddPasskey(ctx context.Context, f model.Factor, p model.Passkey, codes []model.RecoveryCode) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO factors (`+factorCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			f.ID, f.UserID, f.Type, f.Label, f.Status, f.KeyID, f.Secret, f.Params, flag(f.Preferred),
			ms(f.CreatedAt), ms(f.LastUsedAt)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO passkeys (`+passkeyCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			p.CredentialID, p.FactorID, p.UserID, p.PublicKey, int64(p.SignCount), p.AAGUID, strings.Join(p.Transports, ","),
			flag(p.BackupEligible), flag(p.BackupState), flag(p.UserVerified), p.AttestationType, p.AttestationFormat,
			ms(p.CreatedAt)); err != nil {
			return err
		}
		if codes != nil {
			return replaceRecoveryCodes(ctx, tx, f.UserID, codes)
		}
		return nil
	})
	if isUnique(err) {
		return model.ErrConflict
	}
	return err
}

// Passkeys returns the credential records of the user's passkeys, oldest
// first.
func (s *Store) Passkeys(ctx context.Context, userID string) ([]model.Passkey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+passkeyCols+` FROM passkeys WHERE user_id = $1 ORDER BY created_at, factor_id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ps []model.Passkey
	for rows.Next() {
		p, err := scanPasskey(rows)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, rows.Err()
}

// PasskeyUse records an assertion that passed: the counter and backup state
// it reported, written only while the stored counter is still Seen, the
// value the check compared against (a compare-and-swap, so two assertions
// checked against one counter value cannot both move it).
type PasskeyUse struct {
	CredentialID []byte
	Seen         uint32
	SignCount    uint32
	BackupState  bool
}

// usePasskey applies u inside tx; model.ErrConflict when the counter
// moved since it was read (or the passkey is gone).
func usePasskey(ctx context.Context, tx *sql.Tx, u PasskeyUse) error {
	err := one(tx.ExecContext(ctx, `UPDATE passkeys SET sign_count = $1, backup_state = $2
		WHERE credential_id = $3 AND sign_count = $4`, int64(u.SignCount), flag(u.BackupState), u.CredentialID, int64(u.Seen)))
	if errors.Is(err, model.ErrNotFound) {
		return model.ErrConflict
	}
	return err
}

// CreatePasskeySession starts the session of a passwordless sign-in in one
// transaction with what the passkey's assertion must record: the counter
// (as the rotation does, model.ErrConflict when it moved meanwhile, and
// then nothing is written) and the factor's last use.
func (s *Store) CreatePasskeySession(ctx context.Context, u PasskeyUse, factorID string, ss model.Session) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := usePasskey(ctx, tx, u); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE factors SET last_used_at = $1 WHERE id = $2`, ms(ss.CreatedAt), factorID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, insertSession, sessionArgs(ss)...)
		return err
	})
}

// RenameFactor sets the label of one factor of a user.
func (s *Store) RenameFactor(ctx context.Context, userID, id, label string) error {
	return one(s.w.ExecContext(ctx, `UPDATE factors SET label = $1 WHERE user_id = $2 AND id = $3`, label, userID, id))
}
