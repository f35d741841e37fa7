package store

import (
	"context"
	"errors"
	"time"

	"github.com/twostep/twostep/internal/model"
)

// MFAState is a user's run of failed second-factor attempts.
type MFAState struct {
	Failures     int64     // consecutive failures since the last success
	LastFailedAt time.Time // zero when none
}

// BeginMFAAttempt takes the user's second-factor lease until now+lease and
// returns the failure state as it is at that instant. It returns
// model.ErrConflict while another attempt of the user holds the lease
// (parallel requests, on any instance), and model.ErrNotFound for an unknown
// user. Taking the lease and reading the state are one conditional UPDATE,
// so the back-off decided from the state cannot be outrun by a burst of
// parallel guesses. The lease ends with FailMFA, the rotation of a passed
// check, EndMFAAttempt, or by itself after lease (a crashed request).
func (s *Store) BeginMFAAttempt(ctx context.Context, userID string, now time.Time, lease time.Duration) (MFAState, error) {
	var st MFAState
	var failed int64
	err := s.w.QueryRowContext(ctx, `UPDATE users SET mfa_busy_until = $1 WHERE id = $2 AND mfa_busy_until <= $3
		RETURNING mfa_failures, mfa_failed_at`, ms(now.Add(lease)), userID, ms(now)).Scan(&st.Failures, &failed)
	if err := notFound(err); err != nil {
		if !errors.Is(err, model.ErrNotFound) {
			return MFAState{}, err
		}
		var exists int
		if err := s.r.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = $1`, userID).Scan(&exists); err != nil {
			return MFAState{}, notFound(err)
		}
		return MFAState{}, model.ErrConflict
	}
	st.LastFailedAt = fromMS(failed)
	return st, nil
}

// FailMFA counts a failed attempt, ends the lease and returns the new
// number of consecutive failures (one atomic UPDATE).
func (s *Store) FailMFA(ctx context.Context, userID string, now time.Time) (int64, error) {
	var n int64
	err := s.w.QueryRowContext(ctx, `UPDATE users SET mfa_failures = mfa_failures + 1, mfa_failed_at = $1, mfa_busy_until = 0
		WHERE id = $2 RETURNING mfa_failures`, ms(now), userID).Scan(&n)
	return n, notFound(err)
}

// EndMFAAttempt ends the lease of an attempt that neither failed nor passed
// (a malformed code, an internal error).
func (s *Store) EndMFAAttempt(ctx context.Context, userID string) error {
	_, err := s.w.ExecContext(ctx, `UPDATE users SET mfa_busy_until = 0 WHERE id = $1`, userID)
	return err
}

// EndAllMFAAttempts ends every lease: those of requests a crash cut off.
// Only a server that knows it is the database's one instance (SQLite under
// LockSQLite) may call it; with several instances, the others' leases are
// live, and leases end by themselves.
func (s *Store) EndAllMFAAttempts(ctx context.Context) error {
	_, err := s.w.ExecContext(ctx, `UPDATE users SET mfa_busy_until = 0 WHERE mfa_busy_until > 0`)
	return err
}

// UnlockMFA forgets the user's failures (administrator unlock).
func (s *Store) UnlockMFA(ctx context.Context, userID string) error {
	return one(s.w.ExecContext(ctx, `UPDATE users SET mfa_failures = 0, mfa_failed_at = 0, mfa_busy_until = 0 WHERE id = $1`, userID))
}

// resetMFAFailures is the success half of an attempt, run inside the
// rotation that a passed check causes.
const resetMFAFailures = `UPDATE users SET mfa_failures = 0, mfa_busy_until = 0 WHERE id = $1`
