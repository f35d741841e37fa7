package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/token"
)

// touchEvery bounds how often a request moves a session's idle timer:
// skipping the write keeps most authenticated requests off the database's
// writer. A quarter of the idle timeout (at most a minute) keeps the timer
// accurate enough that an active session never idles out.
func (s *Service) touchEvery() time.Duration {
	return min(time.Minute, s.cfg.IdleTimeout/4)
}

// Current is an authenticated request's session and user.
type Current struct {
	Session model.Session
	User    model.User
}

// Authenticate resolves a presented session token. Expired sessions (idle or
// absolute timeout, NIST SP 800-63B §7.2) are deleted and refused, as are
// sessions of disabled users.
func (s *Service) Authenticate(ctx context.Context, tok string) (Current, error) {
	if tok == "" || len(tok) > 128 {
		return Current{}, ErrUnauthenticated
	}
	hash := token.Hash(tok)
	ss, err := s.d.Store.Session(ctx, hash)
	if errors.Is(err, model.ErrNotFound) {
		return Current{}, ErrUnauthenticated
	}
	if err != nil {
		return Current{}, fmt.Errorf("load session: %w", err)
	}
	now := s.d.Now()
	if now.Sub(ss.LastSeenAt) > s.cfg.IdleTimeout || now.Sub(ss.CreatedAt) > s.cfg.AbsoluteTimeout {
		if err := s.d.Store.DeleteSession(ctx, hash); err != nil && !errors.Is(err, model.ErrNotFound) {
			return Current{}, fmt.Errorf("delete expired session: %w", err)
		}
		return Current{}, ErrUnauthenticated
	}
	u, err := s.d.Store.UserByID(ctx, ss.UserID)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return Current{}, ErrUnauthenticated
		}
		return Current{}, fmt.Errorf("load user: %w", err)
	}
	if u.Disabled {
		return Current{}, ErrUnauthenticated
	}
	if now.Sub(ss.LastSeenAt) > s.touchEvery() {
		if err := s.d.Store.TouchSession(ctx, hash, now); err != nil && !errors.Is(err, model.ErrNotFound) {
			return Current{}, fmt.Errorf("touch session: %w", err)
		}
		ss.LastSeenAt = now
	}
	return Current{Session: ss, User: u}, nil
}

// newSession creates a session and returns its token; only the hash is
// stored (256-bit random token, ASVS V3.2.2).
// c is the client signing in: its address and user agent are kept for the
// sessions page (newSessionRow).
func (s *Service) newSession(ctx context.Context, c Client, userID string, aal model.AAL) (string, model.Session, error) {
	tok, now := token.New(), s.d.Now()
	ss := newSessionRow(c, token.Hash(tok), userID, aal, now)
	ss.Methods = []string{"password"}
	if aal == model.AAL2 {
		ss.AAL2At = now
	}
	if err := s.d.Store.CreateSession(ctx, ss); err != nil {
		return "", model.Session{}, fmt.Errorf("create session: %w", err)
	}
	return tok, ss, nil
}

// elevate replaces cur's session by a new aal2 session with a new token
// (no fixation across levels, ASVS V3.2.1) and the given plan, in one
// transaction with what the passed check must record (a TOTP step, a
// passkey's counter, the factor's last use). The new session keeps the
// old one's public id, client and start (it is the same sign-in, shown
// once on the sessions page), and adds how it
// passed to how the old one signed in. The absolute timeout still counts
// from the first sign-in. A replayed TOTP step (or a passkey counter that
// moved meanwhile) gives ErrInvalidCode and changes nothing.
func (s *Service) elevate(ctx context.Context, cur *Current, plan string, pass store.Rotation, how passed) (string, error) {
	tok, now := token.New(), s.d.Now()
	next := cur.Session
	next.TokenHash, next.AAL, next.AAL2At, next.LastSeenAt, next.Plan = token.Hash(tok), model.AAL2, now, now, plan
	next.Methods, next.MethodFactorID = appendMethod(next.Methods, how.method), how.factorID
	next.UserVerified = next.UserVerified || how.uv
	pass.UserID, pass.At, pass.OldHash, pass.Next = cur.User.ID, now, cur.Session.TokenHash, next
	s.cache.drop(cur.Session.TokenHash)
	if err := s.d.Store.RotateSession(ctx, pass); err != nil {
		switch {
		case errors.Is(err, model.ErrConflict):
			return "", ErrInvalidCode // the step was used meanwhile: a replay
		case errors.Is(err, model.ErrNotFound):
			return "", ErrUnauthenticated // rotated or logged out by a parallel request
		}
		return "", fmt.Errorf("rotate session: %w", err)
	}
	cur.Session = next
	return tok, nil
}

// Logout ends the session server-side.
func (s *Service) Logout(ctx context.Context, c Client, cur Current) error {
	s.cache.drop(cur.Session.TokenHash)
	if err := s.d.Store.DeleteSession(ctx, cur.Session.TokenHash); err != nil && !errors.Is(err, model.ErrNotFound) {
		return fmt.Errorf("logout: %w", err)
	}
	s.record(ctx, c, "logout", cur.User.ID, cur.User.Username, nil)
	return nil
}

// RequireAAL2 refuses a session that has not passed a second factor.
func RequireAAL2(cur Current) error {
	if cur.Session.AAL != model.AAL2 {
		return ErrAAL2Required
	}
	return nil
}

// requireRecent refuses unless the session passed a second factor within
// cfg.RecentAuth (docs/pages.md: removing a method needs an MFA check within the
// last 5 minutes; ASVS V3.7.1 re-authentication before sensitive changes).
func (s *Service) requireRecent(cur Current) error {
	if err := RequireAAL2(cur); err != nil {
		return err
	}
	if s.d.Now().Sub(cur.Session.AAL2At) > s.cfg.RecentAuth {
		return ErrRecentAuthRequired
	}
	return nil
}

// Recent reports whether cur passed a second factor recently enough for a
// sensitive action (requireRecent), so a page can send the person to verify
// before they fill in a form; the action itself checks again.
func (s *Service) Recent(cur Current) bool { return s.requireRecent(cur) == nil }

// ExpireSessions deletes timed-out sessions; the server calls it periodically.
// Expired remembered browsers and passkey ceremonies go in the same pass.
func (s *Service) ExpireSessions(ctx context.Context) (int64, error) {
	now := s.d.Now()
	n, err := s.d.Store.DeleteExpiredSessions(ctx, now.Add(-s.cfg.IdleTimeout), now.Add(-s.cfg.AbsoluteTimeout))
	if err != nil {
		return n, err
	}
	if _, err = s.d.Store.DeleteExpiredDevices(ctx, "", now); err != nil {
		return n, err
	}
	_, err = s.d.Store.DeleteExpiredCeremonies(ctx, now)
	return n, err
}

// planSteps parses a stored plan ("sms,totp").
func planSteps(plan string) []string {
	if plan == "" {
		return nil
	}
	return strings.Split(plan, ",")
}

// planAfter removes a finished step from the plan.
func planAfter(plan string, done string) string {
	steps := planSteps(plan)
	if i := slices.Index(steps, done); i >= 0 {
		steps = slices.Delete(steps, i, i+1)
	}
	return strings.Join(steps, ",")
}

// nextFor says where the journey goes for a session at a given plan.
func nextAfterSetup(plan string) string {
	if steps := planSteps(plan); len(steps) > 0 {
		return "setup_" + steps[0]
	}
	return NextDone
}

// Values of the API's "next" field.
const (
	NextSetup     = "setup"
	NextSetupSMS  = "setup_sms"
	NextSetupTOTP = "setup_totp"
	NextVerify    = "verify"
	NextDone      = "done"
)
