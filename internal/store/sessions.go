package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/model"
)

const sessionCols = `token_hash, user_id, aal, created_at, last_seen_at, aal2_at, plan, auth_methods, auth_uv, auth_factor_id, id, ip, user_agent`

// insertSession is the one INSERT of a session row (CreateSession, the
// rotation, a passkey sign-in).
const insertSession = `INSERT INTO sessions (` + sessionCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`

// sessionArgs are insertSession's arguments for ss. A session without a
// public id (one a test writes directly) gets a random one here, so every
// row can be listed and ended by id; the service always sets its own.
func sessionArgs(ss model.Session) []any {
	if ss.ID == "" {
		ss.ID = randomID()
	}
	return []any{ss.TokenHash, ss.UserID, ss.AAL, ms(ss.CreatedAt), ms(ss.LastSeenAt), ms(ss.AAL2At), ss.Plan,
		strings.Join(ss.Methods, ","), flag(ss.UserVerified), ss.MethodFactorID, ss.ID, ss.IP, ss.UserAgent}
}

// randomID is 128 random bits in lowercase base32 (the shape of
// token.NewID, which the store may not import: it depends on model alone).
func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// scanSession reads one row of sessionCols.
func scanSession(row interface{ Scan(...any) error }) (model.Session, error) {
	var ss model.Session
	var created, seen, aal2 int64
	var methods string
	var uv int
	err := row.Scan(&ss.TokenHash, &ss.UserID, &ss.AAL, &created, &seen, &aal2, &ss.Plan, &methods, &uv, &ss.MethodFactorID,
		&ss.ID, &ss.IP, &ss.UserAgent)
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
	return scanSession(s.r.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE token_hash = $1`, hash))
}

// UserSessions returns the user's sessions that are neither idle since
// before idleBefore nor created before createdBefore (the timeouts), most
// recently seen first.
func (s *Store) UserSessions(ctx context.Context, userID string, idleBefore, createdBefore time.Time) ([]model.Session, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions
		WHERE user_id = $1 AND last_seen_at >= $2 AND created_at >= $3 ORDER BY last_seen_at DESC, id`,
		userID, ms(idleBefore), ms(createdBefore))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.Session
	for rows.Next() {
		ss, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, ss)
	}
	return out, rows.Err()
}

// EndedSession names a session a bulk end removed: its public id for the
// audit log and its token hash for the callers' caches.
type EndedSession struct {
	ID        string
	TokenHash []byte
}

// DeleteUserSession ends the user's session with public id id and returns
// its token hash; model.ErrNotFound when the user has none with that id
// (another user's id included: the WHERE names both).
func (s *Store) DeleteUserSession(ctx context.Context, userID, id string) ([]byte, error) {
	var hash []byte
	err := s.w.QueryRowContext(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id = $2 RETURNING token_hash`, userID, id).Scan(&hash)
	if err != nil {
		return nil, notFound(err)
	}
	return hash, nil
}

// DeleteOtherSessions ends every session of the user but the one whose
// token hashes to keep, and returns those it ended.
func (s *Store) DeleteOtherSessions(ctx context.Context, userID string, keep []byte) ([]EndedSession, error) {
	rows, err := s.w.QueryContext(ctx, `DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2 RETURNING id, token_hash`, userID, keep)
	if err != nil {
		return nil, err
	}
	return scanEnded(rows)
}

func scanEnded(rows *sql.Rows) ([]EndedSession, error) {
	defer rows.Close()
	var out []EndedSession
	for rows.Next() {
		var e EndedSession
		if err := rows.Scan(&e.ID, &e.TokenHash); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
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
// session of a user; it returns those it ended, so the service can drop
// them from its forward-auth cache and name them in the audit log.
func deleteUserSessions(ctx context.Context, tx *sql.Tx, userID string) ([]EndedSession, error) {
	rows, err := tx.QueryContext(ctx, `DELETE FROM sessions WHERE user_id = $1 RETURNING id, token_hash`, userID)
	if err != nil {
		return nil, err
	}
	return scanEnded(rows)
}
