// Package audit records security events: each one is appended to the
// hash-chained audit table through the store and mirrored to the structured
// log with the same stable keys (event, user_id, username, client_ip,
// user_agent). Callers never pass a secret, code or password.
package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twostep/twostep/internal/keyring"
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
	FactorRenamed    = "factor_renamed"
	PasskeyRefused   = "passkey_refused" // an AAGUID not allowed, a sign counter that went back
	RecoveryCodesNew = "recovery_codes_generated"
	RecoveryCodeUsed = "recovery_code_used"
	InviteUsed       = "invite_used"
	CodeSent         = "code_sent"
	CodeSendFailed   = "code_send_failed"
	AdminAction      = "admin_action"
	TokenFailed      = "token_failed" // a wrong admin or metrics token
	// SessionEnded: sessions ended before their time by their user (one,
	// or all others) or by an administrator's reset-mfa, set-password or
	// disable. Attrs: reason, count, session_ids (public ids, never a token).
	SessionEnded = "session_ended"
)

// Events of the grace period (docs/rollout.md).
const (
	GraceStarted   = "grace_started"   // a user's grace deadline was fixed at their first sign-in under a policy
	SetupPostponed = "setup_postponed" // the user chose "Set up later"
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
	// OnRefused, when set, is told the limit of each refused request
	// (metrics count them; see Refused).
	OnRefused func(limit string)
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

// maxClientText bounds each client-chosen field of an entry (user name,
// address, User-Agent), whichever front end built the event: an entry per
// request must not cost a client-chosen 32 KiB.
const maxClientText = 256

// storable returns s as text every database stores, at most maxClientText
// bytes: invalid UTF-8 and NUL become U+FFFD. PostgreSQL refuses either
// with an error, so a client's User-Agent of a few bytes kept its failed
// sign-ins out of the audit log, and with them every entry committed in the
// same batch (found by FuzzAPIJSON on PostgreSQL).
func storable(s string) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	if len(s) > maxClientText {
		cut := maxClientText
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

// Refused reports a request refused by a limit or a lock. Every refusal
// is counted (OnRefused); only the first of its key's window (first) is
// recorded as e with the limit added, so one client hammering a limit for
// an hour writes one audit row and one log line, not one per request
// (ASVS V7.1: log security events without letting them exhaust storage).
func (r *Recorder) Refused(ctx context.Context, first bool, e Event, limit string) {
	r.CountRefused(limit)
	if !first {
		return
	}
	attrs := map[string]string{"limit": limit}
	for k, v := range e.Attrs {
		attrs[k] = v
	}
	e.Attrs = attrs
	_ = r.Record(ctx, e)
}

// CountRefused counts a refusal by limit without writing anything: for a
// refusal whose cause was audited when it began (a lock-out).
func (r *Recorder) CountRefused(limit string) {
	if r.OnRefused != nil {
		r.OnRefused(limit)
	}
}

// Verify walks the audit chain and returns the number of entries checked,
// or an error naming the first entry whose sequence, link or hash is wrong
// (a deleted, inserted or altered entry). A chain pruned by Prune starts
// at a checkpoint, whose MAC is checked with keys: without the key file
// nobody can delete the head of the chain and leave a checkpoint that
// passes.
func Verify(ctx context.Context, s *store.Store, keys *keyring.Keyring) (int64, error) {
	var n, seq int64
	prev := []byte{}
	first, err := s.AuditEvents(ctx, 0, 1)
	if err != nil {
		return 0, err
	}
	switch {
	case len(first) == 1 && first[0].Seq > 1:
		cp, err := s.AuditCheckpointAt(ctx, first[0].Seq-1)
		if errors.Is(err, model.ErrNotFound) {
			return 0, fmt.Errorf("audit entries 1 to %d are missing and no checkpoint stands for them: entries were deleted", first[0].Seq-1)
		}
		if err != nil {
			return 0, err
		}
		if err := checkCheckpoint(keys, cp); err != nil {
			return 0, err
		}
		seq, prev = cp.Seq, cp.Hash
	case len(first) == 0:
		// Empty, or everything pruned: the newest checkpoint must be genuine.
		cp, err := s.LatestAuditCheckpoint(ctx)
		if errors.Is(err, model.ErrNotFound) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		return 0, checkCheckpoint(keys, cp)
	}
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

// checkpointPurpose separates checkpoint MACs from every other use of the
// key file.
const checkpointPurpose = "audit-checkpoint"

func checkpointData(seq int64, hash []byte, at time.Time) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(seq))
	b = binary.BigEndian.AppendUint64(b, uint64(at.UnixMilli()))
	return append(b, hash...)
}

func checkCheckpoint(keys *keyring.Keyring, cp store.AuditCheckpoint) error {
	want, err := keys.MAC(cp.KeyID, checkpointPurpose, checkpointData(cp.Seq, cp.Hash, cp.At))
	if err != nil || !hmac.Equal(want, cp.MAC) {
		return fmt.Errorf("the checkpoint standing for audit entries 1 to %d does not verify: it was forged or altered", cp.Seq)
	}
	return nil
}

// Prune deletes the audit entries older than before (NIST SP 800-92 and
// ASVS V7.1: keep logs as long as policy says, then dispose of them
// without breaking what remains). When archive is not nil, the entries
// are first written to it as JSON lines, with their hashes, so the
// archived part of the chain can be checked later too; a failed write
// deletes nothing. In their place a checkpoint keeps the last pruned
// entry's seq and hash under a MAC of the key file, from which Verify goes
// on. The newest entry always stays, so the chain goes on from it. It
// returns how many entries went.
func Prune(ctx context.Context, s *store.Store, keys *keyring.Keyring, before, now time.Time, archive io.Writer) (int64, error) {
	last, err := s.LastAuditBefore(ctx, before)
	if errors.Is(err, model.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if newer, err := s.AuditEvents(ctx, last.Seq, 1); err != nil {
		return 0, err
	} else if len(newer) == 0 {
		// last is the newest entry: keep it, prune up to the one before.
		prev, err := s.AuditEvents(ctx, last.Seq-2, 1)
		if err != nil {
			return 0, err
		}
		if len(prev) == 0 || prev[0].Seq != last.Seq-1 {
			return 0, nil // nothing before it (or already pruned)
		}
		last = prev[0]
	}
	if archive != nil {
		if err := writeArchive(ctx, s, last.Seq, archive); err != nil {
			return 0, fmt.Errorf("archive: %w", err)
		}
		// On disk before anything is deleted.
		if f, ok := archive.(interface{ Sync() error }); ok {
			if err := f.Sync(); err != nil {
				return 0, fmt.Errorf("archive: %w", err)
			}
		}
	}
	kid := keys.PrimaryID()
	mac, err := keys.MAC(kid, checkpointPurpose, checkpointData(last.Seq, last.Hash, last.At))
	if err != nil {
		return 0, err
	}
	return s.PruneAudit(ctx, store.AuditCheckpoint{Seq: last.Seq, Hash: last.Hash, At: last.At, PrunedAt: now, KeyID: kid, MAC: mac})
}

// archived is one entry as an archive line.
type archived struct {
	Seq       int64     `json:"seq"`
	At        time.Time `json:"at"`
	Event     string    `json:"event"`
	UserID    string    `json:"user_id,omitempty"`
	Username  string    `json:"username,omitempty"`
	IP        string    `json:"client_ip,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
	Detail    string    `json:"detail,omitempty"`
	PrevHash  []byte    `json:"prev_hash"`
	Hash      []byte    `json:"hash"`
}

func writeArchive(ctx context.Context, s *store.Store, upTo int64, w io.Writer) error {
	enc := json.NewEncoder(w)
	var after int64
	for after < upTo {
		es, err := s.AuditEvents(ctx, after, 1000)
		if err != nil {
			return err
		}
		if len(es) == 0 {
			return nil
		}
		for _, e := range es {
			if e.Seq > upTo {
				return nil
			}
			if err := enc.Encode(archived{e.Seq, e.At.UTC(), e.Event, e.UserID, e.Username, e.IP, e.UserAgent, e.Detail, e.PrevHash, e.Hash}); err != nil {
				return err
			}
			after = e.Seq
		}
	}
	return nil
}
