package store

import (
	"context"
	"time"

	"github.com/twostep/twostep/internal/model"
)

// Device is a remembered browser: presenting the token that hashes to
// TokenHash, with the user's password, skips the second factor until
// ExpiresAt.
type Device struct {
	TokenHash  []byte // SHA-256 of the cookie's token; the token itself is never stored
	ID         string // public id, shown to the user and used to revoke
	UserID     string
	Label      string // what the browser is, from its user agent ("Firefox on Linux")
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt time.Time // zero until the first sign-in it shortens
}

const deviceCols = `token_hash, id, user_id, label, created_at, expires_at, last_used_at`

func scanDevice(row interface{ Scan(...any) error }) (Device, error) {
	var d Device
	var created, expires, used int64
	if err := row.Scan(&d.TokenHash, &d.ID, &d.UserID, &d.Label, &created, &expires, &used); err != nil {
		return Device{}, notFound(err)
	}
	d.CreatedAt, d.ExpiresAt, d.LastUsedAt = fromMS(created), fromMS(expires), fromMS(used)
	return d, nil
}

// CreateDevice stores a remembered browser; a token hash or id already
// taken gives model.ErrConflict.
func (s *Store) CreateDevice(ctx context.Context, d Device) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO devices (`+deviceCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		d.TokenHash, d.ID, d.UserID, d.Label, ms(d.CreatedAt), ms(d.ExpiresAt), ms(d.LastUsedAt))
	if isUnique(err) {
		return model.ErrConflict
	}
	return err
}

// DeviceByHash returns the remembered browser whose token hashes to hash
// if it has not expired at now, or model.ErrNotFound.
func (s *Store) DeviceByHash(ctx context.Context, hash []byte, now time.Time) (Device, error) {
	return scanDevice(s.r.QueryRowContext(ctx, `SELECT `+deviceCols+` FROM devices WHERE token_hash = $1 AND expires_at > $2`,
		hash, ms(now)))
}

// TouchDevice records a sign-in that the device shortened.
func (s *Store) TouchDevice(ctx context.Context, hash []byte, now time.Time) error {
	return one(s.w.ExecContext(ctx, `UPDATE devices SET last_used_at = $1 WHERE token_hash = $2`, ms(now), hash))
}

// ListDevices returns the user's remembered browsers that have not expired
// at now, newest first.
func (s *Store) ListDevices(ctx context.Context, userID string, now time.Time) ([]Device, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+deviceCols+` FROM devices WHERE user_id = $1 AND expires_at > $2
		ORDER BY created_at DESC, id`, userID, ms(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ds []Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return ds, rows.Err()
}

// DeleteDevice forgets one remembered browser of the user; model.ErrNotFound
// when the user has no device with that id (another user's id included).
func (s *Store) DeleteDevice(ctx context.Context, userID, id string) error {
	return one(s.w.ExecContext(ctx, `DELETE FROM devices WHERE user_id = $1 AND id = $2`, userID, id))
}

// DeleteUserDevices forgets every remembered browser of the user (MFA reset,
// new password, disabled account).
func (s *Store) DeleteUserDevices(ctx context.Context, userID string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM devices WHERE user_id = $1`, userID)
	return err
}

// DeleteExpiredDevices removes the user's remembered browsers that expired
// by now; an empty userID removes every user's. It returns how many went.
func (s *Store) DeleteExpiredDevices(ctx context.Context, userID string, now time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM devices WHERE expires_at <= $1 AND ($2 = '' OR user_id = $2)`, ms(now), userID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
