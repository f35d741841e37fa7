package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/model"
)

const sessionCols = `token_hash, user_id, aal, created_at, last_seen_at, aal2_at, plan, auth_methods, auth_uv, auth_factor_id`

// insertSession is the one INSERT of a session row (CreateSession, the
// rotation, a passkey sign-in).
const insertSession = `INSERT INTO sessions (` + sessionCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

// sessionArgs are insertSession's arguments for ss.
func sessionArgs(ss model.Session) []any {
	return []any{ss.TokenHash, ss.UserID, ss.AAL, ms(ss.CreatedAt), ms(ss.LastSeenAt), ms(ss.AAL2At), ss.Plan,
		strings.Join(ss.Methods, ","), flag(ss.UserVerified), ss.MethodFactorID}
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, ss model.Session) error {
	_, err := s.w.ExecContext(ctx, insertSession, sessionArgs(ss)...)
	if isUnique(err) {
		return model.ErrConflict
	}
	return err
}

// Session returns the session whose token hashes to hash, or model.ErrNotFound.
func (s *Store) Session(ctx context.Context, hash []byte) (model.Session, error) {
	var ss model.Session
	var created, seen, aal2 int64
	var methods string
	var uv int
	err := s.r.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE token_hash = $1`, hash).
		Scan(&ss.TokenHash, &ss.UserID, &ss.AAL, &created, &seen, &aal2, &ss.Plan, &methods, &uv, &ss.MethodFactorID)
	if err != nil {
		return model.Session{}, notFound(err)
	}
	ss.CreatedAt, ss.LastSeenAt, ss.AAL2At = fromMS(created), fromMS(seen), fromMS(aal2)
	if methods != "" {
		ss.Methods = strings.Split(methods, ",")
	}
	ss.UserVerified = uv != 0
	return ss, nil
}

// TouchSession moves the idle timer of a session forward.
func (s *Store) TouchSession(ctx context.Context, hash []byte, now time.Time) error {
	return one(s.w.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2`, ms(now), hash))
}

// SetSessionPlan stores the set-up plan in progress ("sms,totp").
func (s *Store) SetSessionPlan(ctx context.Context, hash []byte, plan string) error {
	return one(s.w.ExecContext(ctx, `UPDATE sessions SET plan = $1 WHERE token_hash = $2`, plan, hash))
}

// DeleteSession ends one session (logout).
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	return one(s.w.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = $1`, hash))
}

// DeleteExpiredSessions removes sessions idle since before idleBefore or
// created before createdBefore, and returns how many went.
func (s *Store) DeleteExpiredSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2`,
		ms(idleBefore), ms(createdBefore))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// deleteUserSessions is shared by the transactions that must end every
// session of a user.
func deleteUserSessions(ctx context.Context, tx *sql.Tx, userID string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
	return err
}
