package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/token"
)

// Sessions and devices (docs/pages.md "Sessions and devices", docs/api.md
// "Sessions"): a signed-in user sees their live sessions and ends any one,
// or all but the one asking (OWASP ASVS V3.3.4: the user can view and log
// out of any or all active sessions).
//
// Every call needs aal2, like the remembered browsers: the list shows where
// the account is signed in (addresses, browsers), which a password alone
// should not reveal, and a password alone should not sign the owner out
// everywhere. None needs a recent second factor (requireRecent): ending a
// session only takes access away, so asking for a fresh code first would
// only slow down a person locking out someone who has their password.
//
// Ending a session deletes its row; the forward-auth cache of this
// instance forgets it at once (cache.drop), other instances' caches within
// the one-second bound (cache.go, watch.go), as for a logout.

const (
	// maxSessionUA bounds the stored user agent (the same bound as the
	// presenters' and the audit log's: 256 bytes name any real browser).
	maxSessionUA = 256
	// maxSessionIP bounds the stored address: the longest IPv6 text with a
	// zone fits; anything longer is not an address.
	maxSessionIP = 64
	// maxAuditIDs bounds the ids an audit entry lists; count has them all.
	maxAuditIDs = 20
)

// newSessionRow is a new session of userID for the client c: a random
// public id (never derived from the token), and the client's address and
// user agent as it sent them, cleaned (clientText).
func newSessionRow(c Client, tokenHash []byte, userID string, aal model.AAL, now time.Time) model.Session {
	return model.Session{TokenHash: tokenHash, ID: token.NewID(), UserID: userID, AAL: aal, CreatedAt: now, LastSeenAt: now,
		IP: clientText(c.IP, maxSessionIP), UserAgent: clientText(c.UserAgent, maxSessionUA)}
}

// clientText returns client-chosen text fit to store and show: invalid
// UTF-8 becomes U+FFFD (PostgreSQL refuses it, which would refuse the
// sign-in), control and format characters go (NUL, which PostgreSQL also
// refuses; newlines; bidirectional overrides such as U+202E, which would
// let a user agent display reversed, or zero-width characters), and the
// rest is cut to at most max bytes on a character boundary. Pages escape it
// on output as well; this only keeps what they print readable.
func clientText(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	s = strings.TrimSpace(s)
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

// SessionInfo is one live session as its user sees it.
type SessionInfo struct {
	ID         string
	Current    bool   // the session asking
	Browser    string // from the user agent (ClassifyUserAgent); "" when unknown
	OS         string
	IP         string // as the client's address was at sign-in
	UserAgent  string
	CreatedAt  time.Time // first sign-in (kept across the step to aal2)
	LastSeenAt time.Time // last request, to within touchEvery
}

// Sessions lists the user's live sessions (not idle or past the absolute
// timeout), most recently seen first, marking the one asking.
func (s *Service) Sessions(ctx context.Context, cur Current) ([]SessionInfo, error) {
	if err := RequireAAL2(cur); err != nil {
		return nil, err
	}
	now := s.d.Now()
	ss, err := s.d.Store.UserSessions(ctx, cur.User.ID, now.Add(-s.cfg.IdleTimeout), now.Add(-s.cfg.AbsoluteTimeout))
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	out := make([]SessionInfo, 0, len(ss))
	for _, x := range ss {
		browser, system := ClassifyUserAgent(x.UserAgent)
		out = append(out, SessionInfo{ID: x.ID, Current: x.ID == cur.Session.ID, Browser: browser, OS: system,
			IP: x.IP, UserAgent: x.UserAgent, CreatedAt: x.CreatedAt, LastSeenAt: x.LastSeenAt})
	}
	return out, nil
}

// EndSession ends one of the user's sessions by its public id. An id that
// is malformed, unknown, already ended or another user's all answer
// ErrNotFound alike, so the call tells nothing about other accounts.
// Ending the session asking is allowed: it is a logout.
func (s *Service) EndSession(ctx context.Context, c Client, cur Current, id string) error {
	if err := RequireAAL2(cur); err != nil {
		return err
	}
	if !isID(id) {
		return ErrNotFound
	}
	hash, err := s.d.Store.DeleteUserSession(ctx, cur.User.ID, id)
	if errors.Is(err, model.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	s.sessionsEnded(ctx, c, cur.User, "user", []store.EndedSession{{ID: id, TokenHash: hash}})
	return nil
}

// EndOtherSessions ends every session of the user but the one asking, and
// returns how many it ended.
func (s *Service) EndOtherSessions(ctx context.Context, c Client, cur Current) (int, error) {
	if err := RequireAAL2(cur); err != nil {
		return 0, err
	}
	ended, err := s.d.Store.DeleteOtherSessions(ctx, cur.User.ID, cur.Session.TokenHash)
	if err != nil {
		return 0, fmt.Errorf("end other sessions: %w", err)
	}
	s.sessionsEnded(ctx, c, cur.User, "others", ended)
	return len(ended), nil
}

// sessionsEnded finishes the end of sessions already deleted from the
// store: they leave this instance's forward-auth cache (after the delete,
// so a concurrent lookup cannot put them back from the row), and one audit
// entry names them by public id with the reason ("user", "others",
// "reset_mfa", "set_password", "user_disable"). Nothing is written when
// none ended.
func (s *Service) sessionsEnded(ctx context.Context, c Client, u model.User, reason string, ended []store.EndedSession) {
	if len(ended) == 0 {
		return
	}
	ids := make([]string, 0, min(len(ended), maxAuditIDs))
	for i, e := range ended {
		if len(e.TokenHash) == sha256.Size { // always, for a token the service made
			s.cache.drop(e.TokenHash)
		}
		if i < maxAuditIDs {
			ids = append(ids, e.ID)
		}
	}
	s.record(ctx, c, audit.SessionEnded, u.ID, u.Username, map[string]string{"reason": reason,
		"count": strconv.Itoa(len(ended)), "session_ids": strings.Join(ids, ",")})
}
