package notify

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/keyring"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/store"
)

// QueueConfig bounds the queue and says where notices go.
type QueueConfig struct {
	Email bool // notify.channels has email (and SMTP is configured)
	SMS   bool // notify.channels has sms
	// Size bounds the pending rows (neither sent nor failed). A notice that
	// finds the queue full is dropped, logged and counted, never waited
	// for: a stuck mail server must not hold up or break sign-in.
	Size int
	// SMSPerUserDay caps notification texts per user per 24 hours (not
	// counted against the sign-in code budgets, docs/notifications.md).
	SMSPerUserDay int
}

// Recipients are where one notice goes: the user's e-mail address and the
// E.164 numbers of their phones, in clear only in memory.
type Recipients struct {
	Email  string
	Phones []string
}

// Queue writes notices to the database queue. It is safe for concurrent
// use.
type Queue struct {
	cfg   QueueConfig
	store *store.Store
	keys  *keyring.Keyring
	log   *slog.Logger
	now   func() time.Time
	wake  chan struct{}
	// OnQueued and OnDropped, when set, are told of each row queued and
	// each notice dropped (metrics). reason is "full" or "sms_cap".
	OnQueued  func(channel string)
	OnDropped func(channel, reason string)
}

// NewQueue returns a Queue. now may be nil (time.Now).
func NewQueue(cfg QueueConfig, s *store.Store, keys *keyring.Keyring, log *slog.Logger, now func() time.Time) *Queue {
	if now == nil {
		now = time.Now
	}
	return &Queue{cfg: cfg, store: s, keys: keys, log: log, now: now, wake: make(chan struct{}, 1)}
}

// Channels reports which channels are on, so the caller looks up only the
// recipients it needs.
func (q *Queue) Channels() (email, sms bool) { return q.cfg.Email, q.cfg.SMS }

// Wake is signalled after each enqueue, so a worker in the same process
// sends at once instead of at its next poll.
func (q *Queue) Wake() <-chan struct{} { return q.wake }

// Enqueue writes one row per recipient on each channel that is on. It
// returns the first error after trying every recipient; the caller logs it
// and carries on (a notice must never fail the action it reports). A full
// queue is not an error: the notice is dropped, counted and logged.
func (q *Queue) Enqueue(ctx context.Context, n Notice, to Recipients) error {
	if n.At.IsZero() {
		n.At = q.now()
	}
	payload, err := json.Marshal(n)
	if err != nil {
		return err
	}
	var first error
	put := func(channel, addr string) {
		if err := q.put(ctx, n, channel, addr, string(payload)); err != nil && first == nil {
			first = err
		}
	}
	if q.cfg.Email && to.Email != "" {
		put(Email, to.Email)
	}
	if q.cfg.SMS {
		for _, p := range to.Phones {
			put(SMS, p)
		}
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return first
}

func (q *Queue) put(ctx context.Context, n Notice, channel, addr, payload string) error {
	id := newID()
	kid, sealed, err := q.keys.Seal([]byte(addr), recipientAAD(id))
	if err != nil {
		return fmt.Errorf("seal recipient: %w", err)
	}
	now := q.now()
	var since time.Time
	perUser := 0
	if channel == SMS {
		since, perUser = now.Add(-24*time.Hour), q.cfg.SMSPerUserDay
	}
	ok, err := q.store.EnqueueNotification(ctx, model.Notification{ID: id, UserID: n.UserID, Channel: channel, Event: string(n.Kind),
		KeyID: kid, Recipient: sealed, Payload: payload, CreatedAt: now, NextAt: now}, q.cfg.Size, since, perUser)
	if err != nil {
		return fmt.Errorf("enqueue %s notice: %w", channel, err)
	}
	if !ok {
		reason := "full"
		if channel == SMS {
			// Which bound refused is not told by the statement; the
			// pending count says whether it was the queue.
			if pending, err := q.store.PendingNotifications(ctx); err == nil && pending < int64(q.cfg.Size) {
				reason = "sms_cap"
			}
		}
		q.log.WarnContext(ctx, "security notification dropped", "reason", reason, "channel", channel, "kind", n.Kind, "user_id", n.UserID)
		if q.OnDropped != nil {
			q.OnDropped(channel, reason)
		}
		return nil
	}
	if q.OnQueued != nil {
		q.OnQueued(channel)
	}
	return nil
}

// recipientAAD binds a sealed recipient to its row, so a value copied into
// another row does not open.
func recipientAAD(id string) []byte { return []byte("notification:" + id) }

// newID is 20 random bytes in lower-case base32: the row id and the local
// part of the Message-ID.
func newID() string {
	var b [20]byte
	rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}
