package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/twostep/twostep/internal/keyring"
	"github.com/twostep/twostep/internal/sms"
	"github.com/twostep/twostep/internal/store"
)

// WorkerConfig tunes sending.
type WorkerConfig struct {
	Brand Brand
	// MessageIDDomain is the right-hand side of every Message-ID (the
	// From address's domain).
	MessageIDDomain string
	// MaxAttempts is how many sends a row gets before it is given up.
	MaxAttempts int
	// RetryBase is the wait after the first failed send; it doubles after
	// each further failure, up to RetryMax.
	RetryBase, RetryMax time.Duration
	// Lease is how long a claimed row belongs to this worker. Every send
	// is cut off at half of it, so a slow server cannot make a row
	// reclaimable (and sent twice) while this worker still sends it.
	Lease time.Duration
	Poll  time.Duration // how often the queue is read without a wake-up
	Batch int           // rows claimed at once
	Keep  time.Duration // sent and failed rows are deleted after this
}

// Worker sends due rows of the queue. Several workers, in one process or
// in several instances on one PostgreSQL, may run on the same queue: a
// row is sent by whoever claimed it (store.ClaimNotifications).
type Worker struct {
	cfg    WorkerConfig
	store  *store.Store
	keys   *keyring.Keyring
	mailer Mailer     // nil: e-mail rows fail (the channel was turned off)
	sms    sms.Sender // nil: text rows fail
	log    *slog.Logger
	now    func() time.Time
	owner  string
	wake   <-chan struct{}
	// OnSent, OnRetry and OnFailed, when set, are told of each row sent,
	// put back for a retry, and given up (metrics).
	OnSent, OnRetry, OnFailed func(channel string)
}

// NewWorker returns a Worker; mailer or sender may be nil when their
// channel is off; wake may be nil (Queue.Wake); now may be nil.
func NewWorker(cfg WorkerConfig, s *store.Store, keys *keyring.Keyring, mailer Mailer, sender sms.Sender, wake <-chan struct{}, log *slog.Logger, now func() time.Time) *Worker {
	if now == nil {
		now = time.Now
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 10
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 5 * time.Second
	}
	return &Worker{cfg: cfg, store: s, keys: keys, mailer: mailer, sms: sender, wake: wake, log: log, now: now, owner: newID()}
}

// Run sends until ctx ends: at each wake-up from the queue, and every
// Poll for rows other instances or the command line queued. Once an hour
// it deletes rows sent or failed longer than Keep ago.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	var pruned time.Time
	for {
		for {
			n, err := w.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				w.log.WarnContext(ctx, "notification queue", "error", err)
			}
			if n < w.cfg.Batch || err != nil || ctx.Err() != nil {
				break // drained what is due
			}
		}
		if w.cfg.Keep > 0 && w.now().Sub(pruned) > time.Hour {
			pruned = w.now()
			if _, err := w.store.PruneNotifications(ctx, pruned.Add(-w.cfg.Keep)); err != nil && ctx.Err() == nil {
				w.log.WarnContext(ctx, "notification queue prune", "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		}
	}
}

// RunOnce claims one batch of due rows and sends each, returning how many
// it claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	now := w.now()
	rows, err := w.store.ClaimNotifications(ctx, w.owner, now, now.Add(w.cfg.Lease), w.cfg.Batch)
	if err != nil {
		return 0, fmt.Errorf("claim: %w", err)
	}
	for _, r := range rows {
		if ctx.Err() != nil {
			// Not sent: the lease runs out and the row is claimed again.
			return len(rows), ctx.Err()
		}
		w.send(ctx, r.ID, r.Channel, r.KeyID, r.Recipient, r.Payload, r.Attempts, r.CreatedAt)
	}
	return len(rows), nil
}

// send delivers one claimed row and records the result.
//
// The at-least-once window: the row is marked sent after the server
// accepted it. A crash (or a failed database write) between the server's
// acceptance and that mark leaves the row to be claimed again when its
// lease ends, and it is sent a second time, with the same Message-ID.
// Nothing else resends a row: the lease outlives every send (each is cut
// off at half the lease), and only the lease holder may mark it.
func (w *Worker) send(ctx context.Context, id, channel, keyID string, sealed []byte, payload string, attempts int, created time.Time) {
	err := w.deliver(ctx, id, channel, keyID, sealed, payload, created)
	now := w.now()
	if err == nil {
		if merr := w.store.MarkNotificationSent(ctx, id, w.owner, now); merr != nil {
			w.log.ErrorContext(ctx, "notification sent but not marked: it may be sent again", "id", id, "error", merr)
			return
		}
		if w.OnSent != nil {
			w.OnSent(channel)
		}
		return
	}
	if ctx.Err() != nil {
		return // shutting down: the lease runs out and another pass sends it
	}
	giveUp := errors.Is(err, ErrPermanent) || attempts >= w.cfg.MaxAttempts
	next := now.Add(w.backoff(attempts))
	cause := err.Error()
	if len(cause) > 500 {
		cause = cause[:500]
	}
	if rerr := w.store.RetryNotification(ctx, id, w.owner, now, next, cause, giveUp); rerr != nil {
		w.log.WarnContext(ctx, "notification result not recorded", "id", id, "error", rerr)
		return
	}
	if giveUp {
		w.log.WarnContext(ctx, "security notification given up", "id", id, "channel", channel, "attempts", attempts, "error", err)
		if w.OnFailed != nil {
			w.OnFailed(channel)
		}
		return
	}
	w.log.InfoContext(ctx, "security notification will be retried", "id", id, "channel", channel, "attempts", attempts, "at", next, "error", err)
	if w.OnRetry != nil {
		w.OnRetry(channel)
	}
}

// backoff is the wait after the attempts-th failed send: RetryBase
// doubling, at most RetryMax.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.cfg.RetryBase
	for i := 1; i < attempts && d < w.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, w.cfg.RetryMax)
}

func (w *Worker) deliver(ctx context.Context, id, channel, keyID string, sealed []byte, payload string, created time.Time) error {
	addr, err := w.keys.Open(keyID, sealed, recipientAAD(id))
	if err != nil {
		// The key is gone from the key file: no retry can open it.
		return fmt.Errorf("%w: open recipient: %v", ErrPermanent, err)
	}
	return scrub(w.deliverTo(ctx, id, channel, string(addr), payload, created), string(addr))
}

// scrubbedError is a send error with the recipient taken out of its text.
type scrubbedError struct {
	msg       string
	permanent bool
}

func (e *scrubbedError) Error() string        { return e.msg }
func (e *scrubbedError) Is(target error) bool { return e.permanent && target == ErrPermanent }

// scrub removes the recipient from err's text: SMTP libraries and servers
// name the address in their errors ("affected recipient(s): …"), and the
// text goes to the log and the row's last_error, where the address must
// not be in clear.
func scrub(err error, addr string) error {
	if err == nil || addr == "" {
		return err
	}
	msg := regexp.MustCompile(`(?i)`+regexp.QuoteMeta(addr)).ReplaceAllString(err.Error(), "[recipient]")
	return &scrubbedError{msg: msg, permanent: errors.Is(err, ErrPermanent)}
}

func (w *Worker) deliverTo(ctx context.Context, id, channel, addr, payload string, created time.Time) error {
	var n Notice
	if err := json.Unmarshal([]byte(payload), &n); err != nil {
		return fmt.Errorf("%w: payload: %v", ErrPermanent, err)
	}
	sctx, cancel := context.WithTimeout(ctx, w.cfg.Lease/2)
	defer cancel()
	switch channel {
	case Email:
		if w.mailer == nil {
			return fmt.Errorf("%w: e-mail is not configured", ErrPermanent)
		}
		r, err := RenderMail(w.cfg.Brand, n)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrPermanent, err)
		}
		return w.mailer.Send(sctx, Mail{To: addr, Subject: r.Subject, Text: r.Text, HTML: r.HTML,
			MessageID: id + "@" + w.cfg.MessageIDDomain, Date: created})
	case SMS:
		if w.sms == nil {
			return fmt.Errorf("%w: sms is not configured", ErrPermanent)
		}
		body, err := RenderSMS(w.cfg.Brand, n)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrPermanent, err)
		}
		if err := w.sms.Send(sctx, sms.Message{To: addr, Body: body}); err != nil {
			var se *sms.SendError
			if errors.As(err, &se) && se.Permanent {
				return fmt.Errorf("%w: %v", ErrPermanent, err)
			}
			return err
		}
		return nil
	}
	return fmt.Errorf("%w: unknown channel %q", ErrPermanent, channel)
}
