package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/password"
	"github.com/twostep/twostep/internal/ratelimit"
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
	hash, err := s.hashNew(ctx, name, pw)
	if err != nil {
		return model.User{}, err
	}
	u := model.User{ID: token.NewID(), Username: name, PasswordHash: hash, CreatedAt: s.d.Now()}
	if err := s.d.Store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, model.ErrConflict) {
			return model.User{}, ErrUserExists
		}
		return model.User{}, fmt.Errorf("create user: %w", err)
	}
	s.record(ctx, c, audit.AdminAction, u.ID, u.Username, map[string]string{"action": "user_add"})
	return u, nil
}

// hashNew checks the policy for a new password of the user name (its
// context words: the name and the issuer, SP 800-63B §5.1.1.2) and
// hashes it.
func (s *Service) hashNew(ctx context.Context, name, pw string) (string, error) {
	if err := password.CheckPolicy(pw, name, s.cfg.Issuer); err != nil {
		return "", invalid(err.Error())
	}
	hash, err := s.d.Hasher.Hash(ctx, pw)
	if err != nil {
		return "", s.busy(err)
	}
	return hash, nil
}

// UserStatus is a user with a summary of their methods, for listings.
type UserStatus struct {
	model.User
	Methods int  // active factors
	Locked  bool // second factor locked after LockAfter failures (Unlock)

	// Policy is the group of the user's MFA policy ("*" for the default),
	// Grace their grace period while they have no method it allows
	// (docs/rollout.md).
	Policy string
	Grace  Grace
}

// ListUsers returns every user with their number of active methods.
func (s *Service) ListUsers(ctx context.Context) ([]UserStatus, error) {
	us, err := s.d.Store.ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out := make([]UserStatus, len(us))
	for i, u := range us {
		fs, err := s.activeFactors(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		out[i] = UserStatus{User: u, Methods: len(fs), Locked: u.MFAFailures >= s.cfg.LockAfter}
		p := s.policyFor(u)
		out[i].Policy = p.Group
		if len(allowedOf(p, fs)) == 0 {
			out[i].Grace = graceAt(u, p, s.d.Now())
		}
	}
	return out, nil
}

// userByName finds a user for an admin action.
func (s *Service) userByName(ctx context.Context, username string) (model.User, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return model.User{}, err
	}
	u, err := s.d.Store.UserByUsername(ctx, name)
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
	ended, err := s.d.Store.SetUserDisabled(ctx, u.ID, disabled)
	if err != nil {
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
	s.sessionsEnded(ctx, c, u, action, ended)
	return nil
}

// ResetMFA removes every factor, recovery code and session of a user; at the
// next sign-in they set up a second factor again. Every session ends, in
// the same transaction as the reset, and leaves this instance's
// forward-auth cache at once (sessionsEnded).
func (s *Service) ResetMFA(ctx context.Context, c Client, username string) error {
	u, err := s.userByName(ctx, username)
	if err != nil {
		return err
	}
	ended, err := s.d.Store.ResetMFA(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("reset mfa: %w", err)
	}
	if err := s.forgetDevices(ctx, u.ID); err != nil {
		return err
	}
	s.record(ctx, c, audit.AdminAction, u.ID, u.Username, map[string]string{"action": "reset_mfa"})
	s.sessionsEnded(ctx, c, u, "reset_mfa", ended)
	return nil
}

// Unlock ends every throttle on a user's account: the second-factor
// back-off or lock (attempt.go) and the password allowance of browsers the
// account never signed in on (known.go). Both live where a running server
// reads them (the database; Redis when configured), so the CLI's unlock
// applies at once. The user's methods and sessions stay.
func (s *Service) Unlock(ctx context.Context, c Client, username string) error {
	u, err := s.userByName(ctx, username)
	if err != nil {
		return err
	}
	if err := s.d.Store.UnlockMFA(ctx, u.ID); err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	if err := s.d.Accounts.Reset(ctx, allowanceKey(u.Username, "")); err != nil {
		return err
	}
	s.record(ctx, c, audit.AdminAction, u.ID, u.Username, map[string]string{"action": "unlock",
		"mfa_failures": strconv.FormatInt(u.MFAFailures, 10)})
	return nil
}

// SetPassword replaces a user's password and ends all their sessions (in
// the same transaction; they leave this instance's forward-auth cache at
// once) and remembered browsers.
func (s *Service) SetPassword(ctx context.Context, c Client, username, pw string) error {
	u, err := s.userByName(ctx, username)
	if err != nil {
		return err
	}
	hash, err := s.hashNew(ctx, u.Username, pw)
	if err != nil {
		return err
	}
	ended, err := s.d.Store.SetPassword(ctx, u.ID, hash)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if err := s.forgetDevices(ctx, u.ID); err != nil {
		return err
	}
	s.record(ctx, c, audit.AdminAction, u.ID, u.Username, map[string]string{"action": "set_password"})
	s.sessionsEnded(ctx, c, u, "set_password", ended)
	return nil
}

// Invite issues a one-time, expiring set-up link for enrollment: invite
// (docs/configuration.md, enrollment). Only the token's hash is stored.
func (s *Service) Invite(ctx context.Context, c Client, username string) (link, tok string, expires time.Time, err error) {
	u, err := s.userByName(ctx, username)
	if err != nil {
		return "", "", time.Time{}, err
	}
	tok, now := token.New(), s.d.Now()
	expires = now.Add(s.cfg.InviteTTL)
	if err := s.d.Store.CreateInvite(ctx, model.Invite{TokenHash: token.Hash(tok), UserID: u.ID, CreatedAt: now, ExpiresAt: expires}); err != nil {
		return "", "", time.Time{}, fmt.Errorf("create invite: %w", err)
	}
	s.record(ctx, c, audit.AdminAction, u.ID, u.Username, map[string]string{"action": "invite"})
	link = s.cfg.PublicURL + "/login?" + url.Values{"username": {u.Username}, "invite": {tok}}.Encode()
	return link, tok, expires, nil
}

// TokenKind names an operator bearer token.
type TokenKind string

// The operator tokens: the admin API's and /metrics' on the main listener.
const (
	AdminToken   TokenKind = "admin"
	MetricsToken TokenKind = "metrics"
)

// adminFailAudit bounds how many wrong operator tokens are written to the
// audit chain per minute across all clients; the rest are counted in
// metrics, so many addresses cannot fill the disk either.
var adminFailAudit = ratelimit.Limit{Count: 100, Window: time.Minute}

// AuthorizeToken checks an operator bearer token of kind, throttled and
// audited (docs/deploy.md; ASVS V2.2.1): a client whose wrong tokens used
// up AdminPerIP is refused, unchecked, until the window ends; every wrong
// token is audited, and the one that uses up the allowance writes the
// rate_limited entry. Right tokens are not counted, so automation calling
// the admin API in parallel is never throttled. (Counting failures after
// the comparison lets a burst of parallel guesses past the limit; the
// tokens are at least 32 random characters, so the throttle is against
// noise and log floods, not guessing.) The comparison is of SHA-256
// digests in constant time, hiding content and length.
func (s *Service) AuthorizeToken(ctx context.Context, c Client, kind TokenKind, tok string) error {
	want := s.cfg.AdminToken
	if kind == MetricsToken {
		want = s.cfg.MetricsToken
	}
	if want == "" {
		return ErrBadToken // this kind is switched off
	}
	key, limit := "token:ip:"+clientKey(c.IP), string(kind)+"_token_per_ip"
	if wait, blocked, err := s.d.Limiter.Blocked(ctx, key, s.cfg.AdminPerIP); err != nil {
		return err
	} else if blocked {
		s.d.Audit.CountRefused(limit)
		return retry(ErrRateLimited, wait)
	}
	a, b := sha256.Sum256([]byte(tok)), sha256.Sum256([]byte(want))
	if subtle.ConstantTimeCompare(a[:], b[:]) == 1 {
		return nil
	}
	_, over := s.d.Limiter.Allow(ctx, "audit:token_failed", adminFailAudit)
	s.d.Audit.Refused(ctx, over == nil, audit.Event{Name: audit.TokenFailed, IP: c.IP, UserAgent: c.UserAgent,
		Attrs: map[string]string{"token": string(kind), "presented": strconv.FormatBool(tok != "")}}, string(kind)+"_token")
	reached, err := s.d.Limiter.Fail(ctx, key, s.cfg.AdminPerIP)
	if err != nil {
		return err
	}
	if reached {
		s.d.Audit.Refused(ctx, true, audit.Event{Name: audit.RateLimited, IP: c.IP, UserAgent: c.UserAgent}, limit)
	}
	return ErrBadToken
}

// SetAttributes sets the e-mail address and groups forward-auth passes to
// applications (Remote-Email, Remote-Groups); groups also feed the access
// rules. Group names are 1–64 letters, digits or . _ -.
func (s *Service) SetAttributes(ctx context.Context, c Client, username, email string, groups []string) error {
	u, err := s.userByName(ctx, username)
	if err != nil {
		return err
	}
	if !validEmail(email) {
		return invalid("e-mail address is not valid")
	}
	for _, g := range groups {
		if g == "" || len(g) > 64 || strings.Trim(g, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" {
			return invalid("group names may contain only letters, digits and . _ -")
		}
	}
	if err := s.d.Store.SetUserAttributes(ctx, u.ID, email, groups); err != nil {
		return fmt.Errorf("set attributes: %w", err)
	}
	s.record(ctx, c, audit.AdminAction, u.ID, u.Username, map[string]string{"action": "set_attributes"})
	return nil
}

// validEmail accepts "" (no address) or one bare address as net/mail
// parses it (RFC 5322 addr-spec): no display name, no list, no comment,
// at most 254 bytes (RFC 5321 path limit), so the value is safe both as
// the Remote-Email header and as a notification's recipient.
func validEmail(email string) bool {
	if email == "" {
		return true
	}
	if len(email) > 254 || strings.ContainsAny(email, " ,<>\r\n") {
		return false
	}
	a, err := mail.ParseAddress(email)
	return err == nil && a.Name == "" && a.Address == email && strings.Contains(email[strings.LastIndexByte(email, '@')+1:], ".")
}

// AttributeChange names the attributes ChangeAttributes sets; a nil field
// keeps its current value.
type AttributeChange struct {
	Email  *string
	Groups *[]string
}

// ChangeAttributes sets the attributes ch gives and keeps the others, with
// SetAttributes' checks and audit entry (the admin API's PATCH).
func (s *Service) ChangeAttributes(ctx context.Context, c Client, username string, ch AttributeChange) error {
	if ch.Email == nil && ch.Groups == nil {
		return invalid("give email, groups or both")
	}
	u, err := s.userByName(ctx, username)
	if err != nil {
		return err
	}
	email, groups := u.Email, u.Groups
	if ch.Email != nil {
		email = *ch.Email
	}
	if ch.Groups != nil {
		groups = *ch.Groups
	}
	return s.SetAttributes(ctx, c, username, email, groups)
}

// PruneAudit deletes the audit entries before a date, first appending them
// to archive unless it is nil, leaves a keyed checkpoint so the chain still
// verifies (docs/deploy.md, "The audit log"), and audits the prune.
func (s *Service) PruneAudit(ctx context.Context, c Client, before time.Time, archive io.Writer) (int64, error) {
	n, err := audit.Prune(ctx, s.d.Store, s.d.Keys, before, s.d.Now(), archive)
	if err != nil {
		return n, err
	}
	s.record(ctx, c, audit.AdminAction, "", "", map[string]string{"action": "audit_prune",
		"before": before.UTC().Format(time.RFC3339), "entries": strconv.FormatInt(n, 10)})
	return n, nil
}
