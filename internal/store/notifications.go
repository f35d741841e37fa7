package store

import (
	"context"
	"time"

	"github.com/twostep/twostep/internal/model"
)

// Notification queue (migration 0009, docs/notifications.md). Every write
// is one statement, so several instances on one PostgreSQL share the queue
// without a lock: a row is held by whoever's conditional UPDATE set its
// lease, and only the holder may mark it sent.

// EnqueueNotification inserts n unless the pending queue (rows neither sent
// nor failed) already holds maxPending rows or more, or, when perUserSince
// is not zero, the user already has perUserMax rows on n's channel created
// since perUserSince. It reports whether the row went in. The count and the
// insert are one statement; on PostgreSQL parallel inserts may overshoot
// the bound by the number of concurrent callers, never more.
func (s *Store) EnqueueNotification(ctx context.Context, n model.Notification, maxPending int, perUserSince time.Time, perUserMax int) (bool, error) {
	res, err := s.w.ExecContext(ctx, `INSERT INTO notifications
		(id, user_id, channel, event, key_id, recipient, payload, created_at, next_at)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
		WHERE (SELECT COUNT(*) FROM notifications WHERE sent_at = 0 AND failed_at = 0) < $10
		AND (CAST($11 AS BIGINT) = 0 OR (SELECT COUNT(*) FROM notifications WHERE user_id = $2 AND channel = $3 AND created_at > $11) < $12)`,
		n.ID, n.UserID, n.Channel, n.Event, n.KeyID, n.Recipient, n.Payload, ms(n.CreatedAt), ms(n.NextAt),
		maxPending, ms(perUserSince), perUserMax)
	if err != nil {
		return false, err
	}
	k, err := res.RowsAffected()
	return k == 1, err
}

// ClaimNotifications leases up to limit due rows (next_at ≤ now, neither
// sent nor failed, no live lease) to owner until leaseUntil, counts one
// attempt on each and returns them. The lease is set by one conditional
// UPDATE that re-checks the lease on each row, so of two instances racing
// for a row exactly one gets it (PostgreSQL re-evaluates the WHERE on the
// row version it waited for; SQLite has one writer).
func (s *Store) ClaimNotifications(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]model.Notification, error) {
	rows, err := s.w.QueryContext(ctx, `UPDATE notifications SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
		WHERE id IN (SELECT id FROM notifications WHERE sent_at = 0 AND failed_at = 0 AND next_at <= $3 AND lease_until <= $3
			ORDER BY next_at LIMIT $4)
		AND sent_at = 0 AND failed_at = 0 AND lease_until <= $3
		RETURNING id, user_id, channel, event, key_id, recipient, payload, created_at, next_at, attempts`,
		owner, ms(leaseUntil), ms(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.Notification
	for rows.Next() {
		var n model.Notification
		var created, next int64
		if err := rows.Scan(&n.ID, &n.UserID, &n.Channel, &n.Event, &n.KeyID, &n.Recipient, &n.Payload, &created, &next, &n.Attempts); err != nil {
			return nil, err
		}
		n.CreatedAt, n.NextAt = fromMS(created), fromMS(next)
		out = append(out, n)
	}
	return out, rows.Err()
}

// MarkNotificationSent records that the server accepted the row and erases
// its recipient. It returns model.ErrNotFound, changing nothing, when owner
// no longer holds the row's lease or the row is already sent.
func (s *Store) MarkNotificationSent(ctx context.Context, id, owner string, now time.Time) error {
	return one(s.w.ExecContext(ctx, `UPDATE notifications SET sent_at = $1, lease_until = 0, last_error = '', recipient = $2
		WHERE id = $3 AND lease_owner = $4 AND sent_at = 0 AND failed_at = 0`, ms(now), []byte{}, id, owner))
}

// RetryNotification releases owner's lease on the row after a failed send:
// due again at next, with the cause kept for the operator. When giveUp is
// set the row is marked failed instead and its recipient erased.
func (s *Store) RetryNotification(ctx context.Context, id, owner string, now, next time.Time, cause string, giveUp bool) error {
	if giveUp {
		return one(s.w.ExecContext(ctx, `UPDATE notifications SET failed_at = $1, lease_until = 0, last_error = $2, recipient = $3
			WHERE id = $4 AND lease_owner = $5 AND sent_at = 0 AND failed_at = 0`, ms(now), cause, []byte{}, id, owner))
	}
	return one(s.w.ExecContext(ctx, `UPDATE notifications SET next_at = $1, lease_until = 0, last_error = $2
		WHERE id = $3 AND lease_owner = $4 AND sent_at = 0 AND failed_at = 0`, ms(next), cause, id, owner))
}

// PruneNotifications deletes rows sent or failed before before and returns
// how many went. Pending rows are never pruned.
func (s *Store) PruneNotifications(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM notifications WHERE (sent_at > 0 AND sent_at < $1) OR (failed_at > 0 AND failed_at < $1)`, ms(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Notifications returns every row of the user (all users for ""), oldest
// first, recipients included as stored (sealed or erased): for tests and
// operators' inspection.
func (s *Store) Notifications(ctx context.Context, userID string) ([]model.Notification, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, user_id, channel, event, key_id, recipient, payload, created_at, next_at,
		attempts, sent_at, failed_at, last_error FROM notifications WHERE $1 = '' OR user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.Notification
	for rows.Next() {
		var n model.Notification
		var created, next, sent, failed int64
		if err := rows.Scan(&n.ID, &n.UserID, &n.Channel, &n.Event, &n.KeyID, &n.Recipient, &n.Payload, &created, &next,
			&n.Attempts, &sent, &failed, &n.LastError); err != nil {
			return nil, err
		}
		n.CreatedAt, n.NextAt, n.SentAt, n.FailedAt = fromMS(created), fromMS(next), fromMS(sent), fromMS(failed)
		out = append(out, n)
	}
	return out, rows.Err()
}

// PendingNotifications counts rows neither sent nor failed (the queue's
// depth, for metrics).
func (s *Store) PendingNotifications(ctx context.Context) (int64, error) {
	var n int64
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications WHERE sent_at = 0 AND failed_at = 0`).Scan(&n)
	return n, err
}
