package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/password"
	"github.com/twostep/twostep/internal/token"
)

// maxPasswordBytes bounds what reaches the hasher (NIST SP 800-63B §5.1.1.2
// allows limiting length; 1024 bytes is far above any real password).
const maxPasswordBytes = 1024

// Credentials is what a sign-in presents.
type Credentials struct {
	Username string
	Password string
	Invite   string // one-time set-up link token (enrollment: invite)
	Known    string // known-browser token (known.go)
}

// LoginResult is the outcome of a successful password check.
type LoginResult struct {
	Token   string
	AAL     model.AAL
	Next    string         // NextSetup, NextVerify or NextDone
	Methods []model.Factor // active factors, for "use another method"
	Device  string         // id of the remembered device that skipped the second factor, if one did
	// Known is a fresh known-browser token for this browser to keep
	// (KnownBrowserTTL); "" when none could be issued.
	Known string
	// Grace is the grace period of a user who must set up a method
	// (Next is NextSetup): Active when they may postpone it (grace.go).
	Grace Grace
}

// Login checks a username and password and starts an aal1 session.
//
// Unknown users, wrong passwords and disabled accounts cost the same
// argon2id work and get the same ErrInvalidCredentials (no user
// enumeration, ASVS V2.2, NIST SP 800-63B §5.2.2). Attempts are throttled
// per client (an IPv4 address or an IPv6 /64) and per account — from
// browsers this account never signed in on, all together; from a known
// browser, that browser alone (known.go) — counted before the hash, for
// unknown names alike.
//
// With enrollment: invite, a user without an active factor must also
// present a valid set-up link. A valid "Remember this device" token of the
// user (device.go) starts the session at aal2 with next "done".
func (s *Service) Login(ctx context.Context, c Client, cr Credentials) (LoginResult, error) {
	username, pw := cr.Username, cr.Password
	if username == "" || pw == "" {
		return LoginResult{}, invalid("username and password are required")
	}
	if len(pw) > maxPasswordBytes || len(username) > 256 {
		return LoginResult{}, ErrInvalidCredentials
	}
	if _, err := s.d.Limiter.Allow(ctx, "login:ip:"+clientKey(c.IP), s.cfg.LoginPerIP); err != nil {
		return LoginResult{}, s.limited(ctx, c, model.User{}, "login_per_ip", err, ErrRateLimited, nil)
	}
	name, nerr := NormalizeUsername(username)
	if nerr != nil {
		name = strings.ToLower(username)
	}
	known := s.knownBrowser(cr.Known, name)
	c.browser = browserNew
	if known != "" {
		c.browser = browserKnown
	}
	if err := s.accountAllowance(ctx, c, name, known); err != nil {
		return LoginResult{}, err
	}
	var u model.User
	var err error
	if nerr == nil {
		u, err = s.d.Store.UserByUsername(ctx, name)
		if err != nil && !errors.Is(err, model.ErrNotFound) {
			return LoginResult{}, fmt.Errorf("load user: %w", err)
		}
	}
	if nerr != nil || errors.Is(err, model.ErrNotFound) {
		if err := s.d.Hasher.VerifyDummy(ctx, pw); err != nil {
			return LoginResult{}, s.busy(err)
		}
		s.record(ctx, c, audit.LoginFailed, "", name, map[string]string{"reason": "unknown_user"})
		return LoginResult{}, ErrInvalidCredentials
	}
	ok, err := s.d.Hasher.Verify(ctx, u.PasswordHash, pw)
	if err != nil {
		return LoginResult{}, s.busy(err)
	}
	if !ok || u.Disabled {
		reason := "wrong_password"
		if ok {
			reason = "disabled"
		}
		s.record(ctx, c, audit.LoginFailed, u.ID, u.Username, map[string]string{"reason": reason})
		return LoginResult{}, ErrInvalidCredentials
	}
	// The right password gives back the allowance it was counted against,
	// so signing in often never throttles anyone. Only the account's owner
	// can do that: an attacker's wrong guesses stay counted.
	if err := s.d.Accounts.Reset(ctx, allowanceKey(name, known)); err != nil {
		s.d.Log.WarnContext(ctx, "password allowance not reset", "user_id", u.ID, "error", err)
	}

	s.upgradeHash(ctx, u, pw)
	active, err := s.activeFactors(ctx, u.ID)
	if err != nil {
		return LoginResult{}, err
	}
	// Only methods the user's group policy allows count (policy.go): a
	// remembered browser skips nothing for a user who has none, and such
	// a user is sent to set one up.
	active = allowedOf(s.policyFor(u), active)
	res, ok, err := s.rememberedLogin(ctx, c, u, active)
	if err != nil {
		return LoginResult{}, err
	}
	if !ok {
		if res, err = s.passwordLogin(ctx, c, u, active, cr.Invite); err != nil {
			return LoginResult{}, err
		}
	}
	res.Known = s.issueKnownBrowser(u.Username)
	if err := s.d.Store.TouchLogin(ctx, u.ID, s.d.Now()); err != nil {
		s.d.Log.WarnContext(ctx, "last sign-in time not recorded", "user_id", u.ID, "error", err)
	}
	return res, nil
}

// passwordLogin starts the aal1 session of a user whose password was right;
// active are the user's methods their policy allows. A user who must set
// one up and whose policy has a grace period gets its start fixed at this
// sign-in, the first under the policy (grace.go). With enrollment: invite
// the set-up link is needed at every sign-in without a method, grace or
// not: a grace period postpones set-up, not the link that guards it.
func (s *Service) passwordLogin(ctx context.Context, c Client, u model.User, active []model.Factor, invite string) (LoginResult, error) {
	if s.cfg.InviteOnly && len(active) == 0 {
		if err := s.useInvite(ctx, c, u, invite); err != nil {
			return LoginResult{}, err
		}
	}
	tok, _, err := s.newSession(ctx, c, u.ID, model.AAL1)
	if err != nil {
		return LoginResult{}, err
	}
	next := NextVerify
	var grace Grace
	if p := s.policyFor(u); len(active) == 0 {
		next = NextDone
		if p.Required {
			next = NextSetup
			u = s.startGrace(ctx, c, u, p)
			grace = graceAt(u, p, s.d.Now())
		}
	}
	s.record(ctx, c, audit.LoginOK, u.ID, u.Username, map[string]string{"aal": string(model.AAL1), "next": next})
	markPreferred(active)
	return LoginResult{Token: tok, AAL: model.AAL1, Next: next, Methods: active, Grace: grace}, nil
}

// accountAllowance counts one password attempt for the account name against
// the allowance of the known browser known, or else against the account's
// allowance for unknown browsers, and refuses when it is spent.
func (s *Service) accountAllowance(ctx context.Context, c Client, name, known string) error {
	lim, limit := s.cfg.LoginPerAccount, "login_per_account"
	if known != "" {
		lim, limit = s.cfg.LoginPerKnownBrowser, "login_per_known_browser"
	}
	if _, err := s.d.Accounts.Allow(ctx, allowanceKey(name, known), lim); err != nil {
		return s.limited(ctx, c, model.User{Username: name}, limit, err, ErrRateLimited, nil)
	}
	return nil
}

// allowanceKey is the counter of password attempts on the account name from
// the known browser known, or, for "", from browsers that are not known.
// The account is named by a hash, so counters (which may live in Redis)
// hold no names, and keys are bounded in length whatever was typed.
func allowanceKey(name, known string) string {
	if known != "" {
		return "login:known:" + known
	}
	sum := sha256.Sum256([]byte(name))
	return "login:acct:" + hex.EncodeToString(sum[:16])
}

// useInvite consumes the one-time set-up link presented at login.
func (s *Service) useInvite(ctx context.Context, c Client, u model.User, invite string) error {
	if invite == "" || len(invite) > 128 {
		return ErrInviteRequired
	}
	err := s.d.Store.UseInvite(ctx, token.Hash(invite), u.ID, s.d.Now())
	if errors.Is(err, model.ErrNotFound) {
		s.record(ctx, c, audit.LoginFailed, u.ID, u.Username, map[string]string{"reason": "invite_invalid"})
		return ErrInviteRequired
	}
	if err != nil {
		return fmt.Errorf("use invite: %w", err)
	}
	s.record(ctx, c, audit.InviteUsed, u.ID, u.Username, nil)
	return nil
}

// busy maps the hasher's overload refusal to a RetryError (503 +
// Retry-After); other errors pass through.
func (s *Service) busy(err error) error {
	if errors.Is(err, password.ErrBusy) {
		return retry(ErrBusy, time.Second)
	}
	return err
}

// activeFactors returns the user's factors that finished set-up.
func (s *Service) activeFactors(ctx context.Context, userID string) ([]model.Factor, error) {
	fs, err := s.d.Store.Factors(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("load factors: %w", err)
	}
	active := fs[:0]
	for _, f := range fs {
		if f.Status == model.FactorActive {
			active = append(active, f)
		}
	}
	return active, nil
}

// upgradeHash re-hashes a correct password whose stored hash uses older
// argon2id parameters, so raising the cost in the configuration reaches
// every active account (OWASP Password Storage Cheat Sheet: upgrade on
// login). Failure only logs: the login itself succeeded.
func (s *Service) upgradeHash(ctx context.Context, u model.User, pw string) {
	if !s.d.Hasher.NeedsRehash(u.PasswordHash) {
		return
	}
	next, err := s.d.Hasher.Hash(ctx, pw)
	if err == nil {
		err = s.d.Store.UpgradePasswordHash(ctx, u.ID, u.PasswordHash, next)
	}
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		s.d.Log.WarnContext(ctx, "password hash upgrade failed", "user_id", u.ID, "error", err)
	}
}
