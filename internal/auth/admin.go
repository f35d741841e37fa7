package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/password"
	"github.com/twostep/twostep/internal/token"
)

// Admin actions are used by the CLI (Client{IP: "cli"}) and the admin API.

// CreateUser adds a user after checking the name and the password policy
// (NIST SP 800-63B §5.1.1.2).
func (s *Service) CreateUser(ctx context.Context, c Client, username, pw string) (model.User, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return model.User{}, err
	}
	hash, err := s.hashNew(ctx, pw)
	if err != nil {
		return model.User{}, err
	}
	u := model.User{ID: token.NewID(), Username: name, PasswordHash: hash, CreatedAt: s.Now()}
	if err := s.Store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, model.ErrConflict) {
			return model.User{}, ErrUserExists
		}
		return model.User{}, fmt.Errorf("create user: %w", err)
	}
	s.record(ctx, c, audit.AdminAction, u.ID, u.Username, map[string]string{"action": "user_add"})
	return u, nil
}

// hashNew checks the policy and hashes a new password.
func (s *Service) hashNew(ctx context.Context, pw string) (string, error) {
	if err := password.CheckPolicy(pw); err != nil {
		return "", invalid(err.Error())
	}
	hash, err := s.Hasher.Hash(ctx, pw)
	if err != nil {
		return "", s.busy(err)
	}
	return hash, nil
}

// UserStatus is a user with a summary of their methods, for listings.
type UserStatus struct {
	model.User
	Methods int // active factors
}

// ListUsers returns every user with their number of active methods.
func (s *Service) ListUsers(ctx context.Context) ([]UserStatus, error) {
	us, err := s.Store.ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out := make([]UserStatus, len(us))
	for i, u := range us {
		fs, err := s.activeFactors(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		out[i] = UserStatus{User: u, Methods: len(fs)}
	}
	return out, nil
}

// userByName finds a user for an admin action.
func (s *Service) userByName(ctx context.Context, username string) (model.User, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return model.User{}, err
	}
	u, err := s.Store.UserByUsername(ctx, name)
	if errors.Is(err, model.ErrNotFound) {
		return model.User{}, ErrNotFound
	}
	return u, err
}

// SetDisabled disables (ending every session at once) or enables a user.
func (s *Service) SetDisabled(ctx context.Context, c Client, username string, disabled bool) error {
	u, err := s.userByName(ctx, username)
	if err != nil {
		return err
	}
	if err := s.Store.SetUserDisabled(ctx, u.ID, disabled); err != nil {
		return fmt.Errorf("set disabled: %w", err)
	}
	if disabled {
		if err := s.forgetDevices(ctx, u.ID); err != nil {
			return err
		}
	}
	action := "user_enable"
	if disabled {
		action = "user_disable"
	}
	s.record(ctx, c, audit.AdminAction, u.ID, u.Username, map[string]string{"action": action})
	return nil
}

// ResetMFA removes every factor, recovery code and session of a user; at the
// next sign-in they set up a second factor again.
func (s *Service) ResetMFA(ctx context.Context, c Client, username string) error {
	u, err := s.userByName(ctx, username)
	if err != nil {
		return err
	}
	if err := s.Store.ResetMFA(ctx, u.ID); err != nil {
		return fmt.Errorf("reset mfa: %w", err)
	}
	if err := s.forgetDevices(ctx, u.ID); err != nil {
		return err
	}
	if err := s.Backoff.Reset(ctx, backoffKey(u)); err != nil {
		return err
	}
	s.record(ctx, c, audit.AdminAction, u.ID, u.Username, map[string]string{"action": "reset_mfa"})
	return nil
}

// SetPassword replaces a user's password and ends all their sessions.
func (s *Service) SetPassword(ctx context.Context, c Client, username, pw string) error {
	u, err := s.userByName(ctx, username)
	if err != nil {
		return err
	}
	hash, err := s.hashNew(ctx, pw)
	if err != nil {
		return err
	}
	if err := s.Store.SetPassword(ctx, u.ID, hash); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if err := s.forgetDevices(ctx, u.ID); err != nil {
		return err
	}
	s.record(ctx, c, audit.AdminAction, u.ID, u.Username, map[string]string{"action": "set_password"})
	return nil
}

// Invite issues a one-time, expiring set-up link for enrollment: invite
// (SPEC §1). Only the token's hash is stored.
func (s *Service) Invite(ctx context.Context, c Client, username string) (link, tok string, expires time.Time, err error) {
	u, err := s.userByName(ctx, username)
	if err != nil {
		return "", "", time.Time{}, err
	}
	tok, now := token.New(), s.Now()
	expires = now.Add(s.cfg.InviteTTL)
	if err := s.Store.CreateInvite(ctx, model.Invite{TokenHash: token.Hash(tok), UserID: u.ID, CreatedAt: now, ExpiresAt: expires}); err != nil {
		return "", "", time.Time{}, fmt.Errorf("create invite: %w", err)
	}
	s.record(ctx, c, audit.AdminAction, u.ID, u.Username, map[string]string{"action": "invite"})
	link = s.cfg.PublicURL + "/login?" + url.Values{"username": {u.Username}, "invite": {tok}}.Encode()
	return link, tok, expires, nil
}

// CheckAdminToken reports whether tok is the configured admin token; an
// empty configuration disables the admin API. Comparing SHA-256 digests in
// constant time hides both content and length.
func (s *Service) CheckAdminToken(tok string) bool {
	if s.cfg.AdminToken == "" || tok == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(tok)), sha256.Sum256([]byte(s.cfg.AdminToken))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// SetAttributes sets the e-mail address and groups forward-auth passes to
// applications (Remote-Email, Remote-Groups); groups also feed the access
// rules. Group names are 1–64 letters, digits or . _ -.
func (s *Service) SetAttributes(ctx context.Context, c Client, username, email string, groups []string) error {
	u, err := s.userByName(ctx, username)
	if err != nil {
		return err
	}
	if len(email) > 254 || strings.ContainsAny(email, " ,\r\n") || (email != "" && !strings.Contains(email, "@")) {
		return invalid("e-mail address is not valid")
	}
	for _, g := range groups {
		if g == "" || len(g) > 64 || strings.Trim(g, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" {
			return invalid("group names may contain only letters, digits and . _ -")
		}
	}
	if err := s.Store.SetUserAttributes(ctx, u.ID, email, groups); err != nil {
		return fmt.Errorf("set attributes: %w", err)
	}
	s.record(ctx, c, audit.AdminAction, u.ID, u.Username, map[string]string{"action": "set_attributes"})
	return nil
}
