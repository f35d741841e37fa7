package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/password"
	"github.com/twostep/twostep/internal/token"
)

// maxPasswordBytes bounds what reaches the hasher (NIST SP 800-63B §5.1.1.2
// allows limiting length; 1024 bytes is far above any real password).
const maxPasswordBytes = 1024

// LoginResult is the outcome of a successful password check.
type LoginResult struct {
	Token   string
	AAL     model.AAL
	Next    string         // NextSetup, NextVerify or NextDone
	Methods []model.Factor // active factors, for "use another method"
	Device  string         // id of the remembered device that skipped the second factor, if one did
}

// Login checks a username and password and starts an aal1 session. Unknown
// users, wrong passwords and disabled accounts cost the same argon2id work
// and get the same ErrInvalidCredentials (no user enumeration, ASVS V2.2,
// NIST SP 800-63B §5.2.2). With enrollment: invite, a user without an active
// factor must also present a valid set-up link.
func (s *Service) Login(ctx context.Context, c Client, username, pw, invite string) (LoginResult, error) {
	return s.LoginWithDevice(ctx, c, username, pw, invite, "")
}

// LoginWithDevice is Login for a browser that presents the device token of
// "Remember this device" (device.go): when it is a valid token of this user,
// the session starts at aal2 and next is "done". Any other token is ignored.
func (s *Service) LoginWithDevice(ctx context.Context, c Client, username, pw, invite, device string) (LoginResult, error) {
	if username == "" || pw == "" {
		return LoginResult{}, invalid("username and password are required")
	}
	if len(pw) > maxPasswordBytes || len(username) > 256 {
		return LoginResult{}, ErrInvalidCredentials
	}
	if _, err := s.Limiter.Allow(ctx, "login:ip:"+c.IP, s.cfg.LoginPerIP); err != nil {
		if err = retry(err, ErrRateLimited); errors.Is(err, ErrRateLimited) {
			s.record(ctx, c, audit.RateLimited, "", "", map[string]string{"limit": "login_per_ip"})
		}
		return LoginResult{}, err
	}
	name, nerr := NormalizeUsername(username)
	var u model.User
	var err error
	if nerr == nil {
		u, err = s.Store.UserByUsername(ctx, name)
		if err != nil && !errors.Is(err, model.ErrNotFound) {
			return LoginResult{}, fmt.Errorf("load user: %w", err)
		}
	}
	if nerr != nil || errors.Is(err, model.ErrNotFound) {
		if err := s.Hasher.VerifyDummy(ctx, pw); err != nil {
			return LoginResult{}, s.busy(err)
		}
		s.record(ctx, c, audit.LoginFailed, "", name, map[string]string{"reason": "unknown_user"})
		return LoginResult{}, ErrInvalidCredentials
	}
	ok, err := s.Hasher.Verify(ctx, u.PasswordHash, pw)
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

	s.upgradeHash(ctx, u, pw)
	active, err := s.activeFactors(ctx, u.ID)
	if err != nil {
		return LoginResult{}, err
	}
	if res, ok, err := s.rememberedLogin(ctx, c, u, active, device); ok || err != nil {
		return res, err
	}
	if s.cfg.InviteOnly && len(active) == 0 {
		if err := s.useInvite(ctx, c, u, invite); err != nil {
			return LoginResult{}, err
		}
	}
	tok, _, err := s.newSession(ctx, u.ID, model.AAL1)
	if err != nil {
		return LoginResult{}, err
	}
	next := NextVerify
	if len(active) == 0 {
		next = NextDone
		if s.cfg.MFARequired {
			next = NextSetup
		}
	}
	s.record(ctx, c, audit.LoginOK, u.ID, u.Username, map[string]string{"aal": string(model.AAL1), "next": next})
	markPreferred(active)
	return LoginResult{Token: tok, AAL: model.AAL1, Next: next, Methods: active}, nil
}

// useInvite consumes the one-time set-up link presented at login.
func (s *Service) useInvite(ctx context.Context, c Client, u model.User, invite string) error {
	if invite == "" || len(invite) > 128 {
		return ErrInviteRequired
	}
	err := s.Store.UseInvite(ctx, token.Hash(invite), u.ID, s.Now())
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
		return &RetryError{Err: ErrBusy, RetryAfter: time.Second}
	}
	return err
}

// activeFactors returns the user's factors that finished set-up.
func (s *Service) activeFactors(ctx context.Context, userID string) ([]model.Factor, error) {
	fs, err := s.Store.Factors(ctx, userID)
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
	if !s.Hasher.NeedsRehash(u.PasswordHash) {
		return
	}
	next, err := s.Hasher.Hash(ctx, pw)
	if err == nil {
		err = s.Store.UpgradePasswordHash(ctx, u.ID, u.PasswordHash, next)
	}
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		s.Log.WarnContext(ctx, "password hash upgrade failed", "user_id", u.ID, "error", err)
	}
}
