package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/model"
)

const userCols = `id, username, password_hash, disabled, created_at, email, groups, mfa_failures, mfa_failed_at, last_login_at, webauthn_handle, grace_policy, grace_started_at, grace_extended`

func scanUser(row interface{ Scan(...any) error }) (model.User, error) {
	var u model.User
	var disabled int
	var created, failedAt, lastLogin, graceAt, graceExt int64
	var groups string
	if err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &disabled, &created, &u.Email, &groups, &u.MFAFailures, &failedAt, &lastLogin, &u.WebAuthnHandle,
		&u.Grace.Policy, &graceAt, &graceExt); err != nil {
		return model.User{}, notFound(err)
	}
	u.Disabled = disabled != 0
	if groups != "" {
		u.Groups = strings.Split(groups, ",")
	}
	u.CreatedAt, u.MFAFailedAt, u.LastLoginAt = fromMS(created), fromMS(failedAt), fromMS(lastLogin)
	u.Grace.StartedAt, u.Grace.Extended = fromMS(graceAt), time.Duration(graceExt)*time.Millisecond
	return u, nil
}

// CreateUser inserts u; a taken username gives model.ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u model.User) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO users (id, username, password_hash, disabled, created_at, email, groups)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, u.ID, u.Username, u.PasswordHash, flag(u.Disabled), ms(u.CreatedAt),
		u.Email, strings.Join(u.Groups, ","))
	if isUnique(err) {
		return fmt.Errorf("user %q: %w", u.Username, model.ErrConflict)
	}
	return err
}

// UserByUsername returns the user with that name or model.ErrNotFound.
func (s *Store) UserByUsername(ctx context.Context, username string) (model.User, error) {
	return scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE username = $1`, username))
}

// UserByID returns the user with that id or model.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (model.User, error) {
	return scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
}

// ListUsers returns every user ordered by username.
func (s *Store) ListUsers(ctx context.Context) ([]model.User, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY username`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var us []model.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		us = append(us, u)
	}
	return us, rows.Err()
}

// SetUserDisabled disables or enables a user. Disabling also ends all of the
// user's sessions in the same transaction, so access stops at once; it
// returns the sessions it ended.
func (s *Store) SetUserDisabled(ctx context.Context, id string, disabled bool) (ended []EndedSession, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if err := one(tx.ExecContext(ctx, `UPDATE users SET disabled = $1 WHERE id = $2`, flag(disabled), id)); err != nil {
			return err
		}
		if !disabled {
			return nil
		}
		var err error
		ended, err = deleteUserSessions(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ended, nil
}

// SetPassword replaces the user's password hash and ends all their
// sessions, which it returns.
func (s *Store) SetPassword(ctx context.Context, id, hash string) (ended []EndedSession, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if err := one(tx.ExecContext(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, id)); err != nil {
			return err
		}
		var err error
		ended, err = deleteUserSessions(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ended, nil
}

// UpgradePasswordHash replaces the user's hash by next only while it is
// still old (a password change in between wins); sessions stay.
func (s *Store) UpgradePasswordHash(ctx context.Context, id, old, next string) error {
	return one(s.w.ExecContext(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3`, next, id, old))
}

// TouchLogin records a successful sign-in of the user at now.
func (s *Store) TouchLogin(ctx context.Context, id string, now time.Time) error {
	_, err := s.w.ExecContext(ctx, `UPDATE users SET last_login_at = $1 WHERE id = $2`, ms(now), id)
	return err
}

// SetUserAttributes sets the e-mail address and groups passed to
// applications by forward-auth.
func (s *Store) SetUserAttributes(ctx context.Context, id, email string, groups []string) error {
	return one(s.w.ExecContext(ctx, `UPDATE users SET email = $1, groups = $2 WHERE id = $3`, email, strings.Join(groups, ","), id))
}

// StartGrace fixes the start of the user's grace period under the policy
// key at now, unless it was fixed under that policy already: one
// conditional UPDATE, so of two parallel first sign-ins one fixes it and
// the other changes nothing (ok false), and no later sign-in moves it.
// A start under another policy is replaced, with its extension.
func (s *Store) StartGrace(ctx context.Context, id, policy string, now time.Time) (bool, error) {
	err := one(s.w.ExecContext(ctx, `UPDATE users SET grace_policy = $1, grace_started_at = $2, grace_extended = 0
		WHERE id = $3 AND grace_policy <> $1`, policy, ms(now), id))
	if err == model.ErrNotFound {
		return false, nil
	}
	return err == nil, err
}

// SetGrace stores a user's grace period as it is given (an administrator's
// extension); the service computes it from the stored one it read, and
// the write applies only while that is still what is stored (ErrConflict
// otherwise: a parallel sign-in or extension changed it meanwhile).
func (s *Store) SetGrace(ctx context.Context, id string, old, next model.Grace) error {
	err := one(s.w.ExecContext(ctx, `UPDATE users SET grace_policy = $1, grace_started_at = $2, grace_extended = $3
		WHERE id = $4 AND grace_policy = $5 AND grace_started_at = $6 AND grace_extended = $7`,
		next.Policy, ms(next.StartedAt), next.Extended.Milliseconds(), id, old.Policy, ms(old.StartedAt), old.Extended.Milliseconds()))
	if err == model.ErrNotFound {
		return model.ErrConflict
	}
	return err
}

// AcceptTOTPStep records step as used for the authenticator app factorID
// if, and only if, it is later than every step accepted before for that
// app. It reports false for a replay. One conditional UPDATE makes this
// atomic across goroutines and instances (RFC 6238 §5.2: an OTP must not be
// accepted twice).
func (s *Store) AcceptTOTPStep(ctx context.Context, factorID string, step int64) (bool, error) {
	err := one(s.w.ExecContext(ctx, `UPDATE factors SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1`, step, factorID))
	if err == model.ErrNotFound {
		return false, nil
	}
	return err == nil, err
}

// ResetMFA deletes every factor, recovery code, invite and session of the
// user and forgets their second-factor failures, in one transaction
// (administrator reset). It returns the sessions it ended.
func (s *Store) ResetMFA(ctx context.Context, userID string) (ended []EndedSession, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM factors WHERE user_id = $1`,
			`DELETE FROM recovery_codes WHERE user_id = $1`,
			`DELETE FROM invites WHERE user_id = $1`,
			`UPDATE users SET mfa_failures = 0, mfa_failed_at = 0, mfa_busy_until = 0, sms_setup_at = 0 WHERE id = $1`,
		} {
			if _, err := tx.ExecContext(ctx, q, userID); err != nil {
				return err
			}
		}
		var err error
		ended, err = deleteUserSessions(ctx, tx, userID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ended, nil
}
