package auth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/model"
)

// The grace period (docs/rollout.md). A user whose policy requires a second
// factor, and who has no method the policy allows, may postpone setting one
// up until a deadline: the start is fixed at their first sign-in under the
// policy (StartGrace), the deadline is that start plus the policy's grace
// period plus what administrators added (ExtendGrace), and nothing the user
// does moves it. Until then their aal1 session is "aal1 with grace": access
// rules written two_factor+grace accept it, every other two_factor rule
// does not. After it, set-up is forced as for anyone without a method.
//
// Grace is a state of the account, not of a session: the "Set up later"
// choice (SetUpLater) only records that the person saw the deadline and
// takes them on; it grants nothing a session did not have.

// Grace is where a user's grace period stands.
type Grace struct {
	Active   bool      // the user may postpone set-up now
	Until    time.Time // the deadline; zero when none is fixed
	DaysLeft int       // whole days left, rounded up (0 when not Active)
}

// graceUntil is u's deadline under p, and whether one is fixed (a start
// under p's key).
func graceUntil(u model.User, p MFAPolicy) (time.Time, bool) {
	if u.Grace.Policy != p.Key() || u.Grace.StartedAt.IsZero() {
		return time.Time{}, false
	}
	return u.Grace.StartedAt.Add(p.Grace + u.Grace.Extended), true
}

// graceAt is the grace state of u, who has no method p allows, at now.
func graceAt(u model.User, p MFAPolicy, now time.Time) Grace {
	if !p.Required {
		return Grace{}
	}
	until, ok := graceUntil(u, p)
	if !ok {
		return Grace{}
	}
	g := Grace{Until: until}
	if left := until.Sub(now); left > 0 {
		g.Active = true
		// Day N of a 14-day period shows 14-N+1 days: "3 days left" means
		// the deadline falls within the third day from now.
		g.DaysLeft = int((left + 24*time.Hour - 1) / (24 * time.Hour))
	}
	return g
}

// inGrace reports whether the deadline of u, who has no method their
// policy allows, is still ahead (forward-auth's "aal1 with grace").
func (s *Service) inGrace(u model.User) bool {
	return graceAt(u, s.policyFor(u), s.d.Now()).Active
}

// startGrace fixes u's grace start at this sign-in when p has a grace
// period and none is fixed under p yet, and returns u as it now stands.
// A failed write only logs: the sign-in itself succeeded, and the next one
// fixes it.
func (s *Service) startGrace(ctx context.Context, c Client, u model.User, p MFAPolicy) model.User {
	if !p.Required || p.Grace <= 0 || u.Grace.Policy == p.Key() {
		return u
	}
	now := s.d.Now()
	ok, err := s.d.Store.StartGrace(ctx, u.ID, p.Key(), now)
	if err != nil {
		s.d.Log.WarnContext(ctx, "grace period start not recorded", "user_id", u.ID, "error", err)
		return u
	}
	if !ok { // a parallel sign-in fixed it: read what it wrote
		if fresh, err := s.d.Store.UserByID(ctx, u.ID); err == nil {
			return fresh
		}
		return u
	}
	u.Grace = model.Grace{Policy: p.Key(), StartedAt: now.UTC().Truncate(time.Millisecond)}
	s.record(ctx, c, audit.GraceStarted, u.ID, u.Username, map[string]string{"policy": p.Key(),
		"until": u.Grace.StartedAt.Add(p.Grace).UTC().Format(time.RFC3339)})
	return u
}

// GraceOf returns the grace state of the signed-in user: Active only while
// they have no method their policy allows, it requires one, and the
// deadline is ahead.
func (s *Service) GraceOf(ctx context.Context, cur Current) (Grace, error) {
	if cur.Session.AAL == model.AAL2 {
		return Grace{}, nil
	}
	usable, err := s.Usable(ctx, cur.User)
	if err != nil || len(usable) > 0 {
		return Grace{}, err
	}
	return graceAt(cur.User, s.policyFor(cur.User), s.d.Now()), nil
}

// SetUpLater is the "Set up later" choice: it answers the grace state when
// postponing is allowed (audited), and ErrGraceOver when it is not (no
// grace period, or its deadline passed): set-up is due now.
func (s *Service) SetUpLater(ctx context.Context, c Client, cur Current) (Grace, error) {
	g, err := s.GraceOf(ctx, cur)
	if err != nil {
		return Grace{}, err
	}
	if !g.Active {
		return Grace{}, ErrGraceOver
	}
	s.record(ctx, c, audit.SetupPostponed, cur.User.ID, cur.User.Username, map[string]string{
		"until": g.Until.UTC().Format(time.RFC3339), "days_left": strconv.Itoa(g.DaysLeft)})
	return g, nil
}

// ExtendGrace moves one user's deadline by d (an administrator's decision,
// audited as admin_action extend_grace): from the deadline when it is still
// ahead, else from now. A user with no grace start under their current
// policy gets one now, so an administrator can give time also where the
// policy has no grace period. extend is days ("7d") or a Go duration
// ("72h"). It returns the new deadline.
func (s *Service) ExtendGrace(ctx context.Context, c Client, username, extend string) (time.Time, error) {
	d, err := ParseGrace(extend)
	if err != nil || d <= 0 {
		return time.Time{}, invalid("extend must be days (7d) or hours (72h), more than 0 and at most 365 days")
	}
	// A parallel sign-in or extension may change the stored state between
	// read and write; the write is conditional, so retry a few times.
	for range 3 {
		u, err := s.userByName(ctx, username)
		if err != nil {
			return time.Time{}, err
		}
		p := s.policyFor(u)
		if !p.Required {
			return time.Time{}, invalid("this user's policy does not require a second factor: there is no set-up to postpone")
		}
		now := s.d.Now().UTC().Truncate(time.Millisecond)
		next := u.Grace
		until, ok := graceUntil(u, p)
		if !ok {
			next = model.Grace{Policy: p.Key(), StartedAt: now}
			until = now.Add(p.Grace)
		}
		from := until
		if from.Before(now) {
			from = now
		}
		newUntil := from.Add(d)
		next.Extended = newUntil.Sub(next.StartedAt) - p.Grace
		if next.Extended > 10*maxGrace {
			return time.Time{}, invalid("the deadline cannot move that far")
		}
		err = s.d.Store.SetGrace(ctx, u.ID, u.Grace, next)
		if errors.Is(err, model.ErrConflict) {
			continue
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("extend grace: %w", err)
		}
		s.record(ctx, c, audit.AdminAction, u.ID, u.Username, map[string]string{"action": "extend_grace",
			"extend": d.String(), "until": newUntil.Format(time.RFC3339)})
		return newUntil, nil
	}
	return time.Time{}, retry(ErrBusy, time.Second)
}

// AcceptsGrace reports whether the access rule for an application URL
// (host, path as sent) lets an aal1 session with grace through, groups
// aside: bypass and one_factor rules, and two_factor+grace. The "Set up
// later" page asks it, to take the person on to the application or to say
// it needs two-step sign-in now; Check decides each request itself.
func (s *Service) AcceptsGrace(host, rawPath string) bool {
	path, ok := NormalizePath(rawPath)
	if !ok || !ValidHost(host) {
		return false
	}
	r := s.cfg.Access.Match(host, path)
	return r.Policy == PolicyBypass || r.Policy == PolicyOneFactor || (r.Policy == PolicyTwoFactor && r.Grace)
}
