package store

import (
	"context"
	"database/sql"
	"time"
)

// Ceremony is a WebAuthn ceremony begun and not yet finished. It is found
// by IDHash, the SHA-256 of the id only the asking client holds.
type Ceremony struct {
	IDHash []byte
	Kind   string // what it began: a registration, a second-factor assertion, a passwordless sign-in
	// UserID and SessionHash bind it to the user and the session that
	// asked (SessionHash is the hex of the session's token hash); both are
	// "" for a passwordless sign-in, bound to its id alone.
	UserID      string
	SessionHash string
	State       string // the protocol's own state between begin and finish (JSON)
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// CreateCeremony stores c. A ceremony bound to a session replaces that
// session's earlier one of the same kind in the same transaction, so a
// session holds at most one live ceremony of each kind however often it
// begins one.
func (s *Store) CreateCeremony(ctx context.Context, c Ceremony) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if c.SessionHash != "" {
			if _, err := tx.ExecContext(ctx, `DELETE FROM webauthn_ceremonies WHERE session_hash = $1 AND kind = $2`,
				c.SessionHash, c.Kind); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO webauthn_ceremonies (id_hash, kind, user_id, session_hash, state, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, c.IDHash, c.Kind, c.UserID, c.SessionHash, c.State, ms(c.CreatedAt), ms(c.ExpiresAt))
		return err
	})
}

// ConsumeCeremony deletes and returns the state of the ceremony whose id
// hashes to idHash, if it is of kind, bound to userID and sessionHash (""
// and "" for a passwordless one) and unexpired at now. Anything else gives
// model.ErrNotFound and deletes nothing: another session's or user's
// ceremony stays for its owner, and an expired one is never used. The check
// and the delete are one DELETE ... RETURNING, so of parallel finishes on
// any instance at most one gets the state.
func (s *Store) ConsumeCeremony(ctx context.Context, idHash []byte, kind, userID, sessionHash string, now time.Time) (string, error) {
	var state string
	err := s.w.QueryRowContext(ctx, `DELETE FROM webauthn_ceremonies
		WHERE id_hash = $1 AND kind = $2 AND user_id = $3 AND session_hash = $4 AND expires_at > $5
		RETURNING state`, idHash, kind, userID, sessionHash, ms(now)).Scan(&state)
	return state, notFound(err)
}

// DeleteExpiredCeremonies removes ceremonies expired at now and returns
// how many went.
func (s *Store) DeleteExpiredCeremonies(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM webauthn_ceremonies WHERE expires_at <= $1`, ms(now))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
