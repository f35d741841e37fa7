package auth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/store"
)

// Second-factor throttling (docs/throttling.md; NIST SP 800-63B §5.2.2,
// OWASP ASVS V2.2.1). A user's consecutive failed second-factor attempts
// (authenticator app, SMS, recovery code, and the confirmation of a new
// method) are counted in the user's row until a success: no time window
// forgives them. After MaxFailures, each failure locks the second factor for
// BackoffBase·2^(failures−MaxFailures), at most BackoffMax; at LockAfter
// (100 at most, the SP 800-63B ceiling) it stays locked until an
// administrator unlocks it (`twostep user unlock`, the admin API). The
// state lives in the database, so it holds on every instance, survives a
// restart, and the CLI clears it on SQLite as on PostgreSQL.
//
// Attempts of one user run one at a time: an attempt takes a short lease in
// the same conditional UPDATE that reads the failure count, and a parallel
// attempt is refused, so a burst of guesses sent at once cannot all pass the
// back-off check before the first failure is counted.

// mfaLease bounds how long one attempt may hold the user's lease; a request
// cut off by a crash frees it after this (on SQLite's single instance,
// serve frees them all at start). An attempt takes milliseconds.
const mfaLease = 5 * time.Second

// attempt is one second-factor attempt of a user, from beginAttempt until
// it passes (the rotation clears the failures and the lease), fails (fail)
// or is abandoned (end).
type attempt struct {
	s      *Service
	c      Client
	u      model.User
	method string
	over   bool
}

// beginAttempt admits one second-factor attempt of u or refuses it: while
// the back-off or lock of u runs (judged first from the row loaded with the
// session, so a refused flood writes nothing), over the per-user attempt
// budget, or while another attempt of u is in flight.
func (s *Service) beginAttempt(ctx context.Context, c Client, u model.User, method string) (*attempt, error) {
	if err := s.mfaLock(store.MFAState{Failures: u.MFAFailures, LastFailedAt: u.MFAFailedAt}); err != nil {
		return nil, err
	}
	if _, err := s.d.Limiter.Allow(ctx, "2fa:attempts:"+u.ID, s.cfg.VerifyPerUser); err != nil {
		return nil, s.limited(ctx, c, u, "verify_per_user", err, ErrTooManyAttempts, nil)
	}
	st, err := s.d.Store.BeginMFAAttempt(ctx, u.ID, s.d.Now(), mfaLease)
	switch {
	case errors.Is(err, model.ErrConflict):
		s.d.Audit.CountRefused("mfa_in_flight")
		return nil, retry(ErrTooManyAttempts, time.Second)
	case errors.Is(err, model.ErrNotFound):
		return nil, ErrUnauthenticated
	case err != nil:
		return nil, fmt.Errorf("begin second-factor attempt: %w", err)
	}
	a := &attempt{s: s, c: c, u: u, method: method}
	if err := s.mfaLock(st); err != nil {
		a.end(ctx)
		return nil, err
	}
	return a, nil
}

// mfaLock refuses while st locks the second factor. The refusal is counted
// in metrics only: the lock-out itself was audited when it began.
func (s *Service) mfaLock(st store.MFAState) error {
	if st.Failures >= s.cfg.LockAfter {
		s.d.Audit.CountRefused("mfa_locked")
		return ErrMFALocked
	}
	if st.Failures < s.cfg.MaxFailures {
		return nil
	}
	if wait := st.LastFailedAt.Add(s.lockFor(st.Failures)).Sub(s.d.Now()); wait > 0 {
		s.d.Audit.CountRefused("mfa_backoff")
		return retry(ErrTooManyAttempts, wait)
	}
	return nil
}

// lockFor is the back-off after failure n ≥ MaxFailures:
// BackoffBase·2^(n−MaxFailures), capped at BackoffMax without overflowing.
func (s *Service) lockFor(n int64) time.Duration {
	shift := n - s.cfg.MaxFailures
	if shift >= 62 || s.cfg.BackoffBase > s.cfg.BackoffMax>>shift {
		return s.cfg.BackoffMax
	}
	return s.cfg.BackoffBase << shift
}

// passed marks the attempt as succeeded: the rotation that follows
// (Store.RotateSession) clears the failures and the lease in its
// transaction.
func (a *attempt) passed() { a.over = true }

// end releases the lease of an attempt that neither passed nor failed;
// after passed or fail it does nothing. Deferred by every caller.
func (a *attempt) end(ctx context.Context) {
	if a.over {
		return
	}
	a.over = true
	if err := a.s.d.Store.EndMFAAttempt(context.WithoutCancel(ctx), a.u.ID); err != nil {
		a.s.d.Log.WarnContext(ctx, "second-factor lease not released; it expires by itself", "user_id", a.u.ID, "error", err)
	}
}

// fail turns a failed check into the answer: a wrong or expired code is
// counted and audited (with a lock-out entry when it starts a back-off, and
// a permanent one at LockAfter); other errors (a malformed code, an
// internal error) pass through uncounted.
func (a *attempt) fail(ctx context.Context, err error) error {
	if !errors.Is(err, ErrInvalidCode) && !errors.Is(err, ErrCodeExpired) {
		a.end(ctx)
		return err
	}
	a.over = true
	s, u := a.s, a.u
	n, ferr := s.d.Store.FailMFA(ctx, u.ID, s.d.Now())
	if ferr != nil {
		return fmt.Errorf("count second-factor failure: %w", ferr)
	}
	s.record(ctx, a.c, audit.VerifyFailed, u.ID, u.Username, map[string]string{"method": a.method, "failures": strconv.FormatInt(n, 10)})
	switch {
	case n == s.cfg.LockAfter:
		s.record(ctx, a.c, audit.Lockout, u.ID, u.Username, map[string]string{"failures": strconv.FormatInt(n, 10), "until": "unlocked"})
	case n >= s.cfg.MaxFailures && n < s.cfg.LockAfter:
		s.record(ctx, a.c, audit.Lockout, u.ID, u.Username, map[string]string{"failures": strconv.FormatInt(n, 10), "seconds": strconv.Itoa(int(s.lockFor(n).Seconds()))})
	}
	return err
}
