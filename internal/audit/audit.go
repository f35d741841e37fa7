// Package audit records security events: each one is appended to the
// hash-chained audit table through the store and mirrored to the structured
// log with the same stable keys (event, user_id, username, client_ip,
// user_agent). Callers never pass a secret, code or password.
package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/store"
)

// Stable event names (also the audit table's event column).
const (
	LoginOK          = "login_ok"
	LoginFailed      = "login_failed"
	Logout           = "logout"
	VerifyOK         = "verify_ok"
	VerifyFailed     = "verify_failed"
	Lockout          = "lockout"
	RateLimited      = "rate_limited"
	FactorAdded      = "factor_added"
	FactorRemoved    = "factor_removed"
	FactorPreferred  = "factor_preferred"
	RecoveryCodesNew = "recovery_codes_generated"
	RecoveryCodeUsed = "recovery_code_used"
	InviteUsed       = "invite_used"
	CodeSent         = "code_sent"
	CodeSendFailed   = "code_send_failed"
	AdminAction      = "admin_action"
)

// Event is what a caller reports. Attrs holds small non-secret details.
type Event struct {
	Name      string
	UserID    string
	Username  string
	IP        string
	UserAgent string
	Attrs     map[string]string
}

// Recorder writes events to the audit table and the log.
type Recorder struct {
	store *store.Store
	log   *slog.Logger
	now   func() time.Time
	// OnEvent, when set, is told each event's name (metrics count them).
	OnEvent func(name string)
}

// New returns a Recorder. now may be nil (time.Now).
func New(s *store.Store, log *slog.Logger, now func() time.Time) *Recorder {
	if now == nil {
		now = time.Now
	}
	return &Recorder{store: s, log: log, now: now}
}

// Record appends e to the chain and logs it. A failure to write the audit
// table is logged at error level and returned; the caller's operation has
// already happened, so callers log rather than undo (OWASP ASVS V7.1).
func (r *Recorder) Record(ctx context.Context, e Event) error {
	detail := ""
	if len(e.Attrs) > 0 {
		b, _ := json.Marshal(e.Attrs) // map[string]string always marshals
		detail = string(b)
	}
	ev, err := r.store.AppendAudit(ctx, model.AuditEvent{
		At: r.now(), Event: e.Name, UserID: e.UserID, Username: storable(e.Username),
		IP: storable(e.IP), UserAgent: storable(e.UserAgent), Detail: detail,
	})
	attrs := []any{
		slog.String("event", e.Name), slog.String("user_id", e.UserID), slog.String("username", e.Username),
		slog.String("client_ip", e.IP), slog.String("user_agent", e.UserAgent),
	}
	for k, v := range e.Attrs {
		attrs = append(attrs, slog.String(k, v))
	}
	if err != nil {
		r.log.LogAttrs(ctx, slog.LevelError, "audit write failed", slog.Any("error", err), slog.Group("audit", attrs...))
		return fmt.Errorf("audit: %w", err)
	}
	if r.OnEvent != nil {
		r.OnEvent(e.Name)
	}
	attrs = append(attrs, slog.Int64("audit_seq", ev.Seq))
	r.log.Info("audit", attrs...)
	return nil
}

// storable returns s as text every database stores: invalid UTF-8 and NUL
// become U+FFFD. PostgreSQL refuses either with an error, so a client's
// User-Agent of a few bytes kept its failed sign-ins out of the audit log,
// and with them every entry committed in the same batch (found by
// FuzzAPIJSON on PostgreSQL).
func storable(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// Verify walks the whole audit chain and returns the number of entries
// checked, or an error naming the first entry whose sequence, link or hash
// is wrong (a deleted, inserted or altered entry).
func Verify(ctx context.Context, s *store.Store) (int64, error) {
	var n, seq int64
	prev := []byte{}
	for {
		es, err := s.AuditEvents(ctx, seq, 1000)
		if err != nil {
			return n, err
		}
		if len(es) == 0 {
			return n, nil
		}
		for _, e := range es {
			switch {
			case e.Seq != seq+1:
				return n, fmt.Errorf("audit entry %d is missing (next entry is %d): entries were deleted", seq+1, e.Seq)
			case !bytes.Equal(e.PrevHash, prev):
				return n, fmt.Errorf("audit entry %d does not link to entry %d: the chain was altered", e.Seq, seq)
			case !bytes.Equal(e.Hash, e.ChainHash(prev)):
				return n, fmt.Errorf("audit entry %d was altered: its hash does not match its content", e.Seq)
			}
			seq, prev = e.Seq, e.Hash
			n++
		}
	}
}
