package store

import (
	"context"
	"errors"
	"time"

	"github.com/twostep/twostep/internal/model"
)

// Counters are fixed-window counters kept in the database, so limits,
// back-off and SMS budgets hold across every instance on one PostgreSQL.
// Its methods match ratelimit.Backend (declared by that consumer).
type Counters struct {
	s   *Store
	now func() time.Time
}

// Counters returns the database counter backend; now may be nil (time.Now).
func (s *Store) Counters(now func() time.Time) *Counters {
	if now == nil {
		now = time.Now
	}
	return &Counters{s: s, now: now}
}

// maxCounterKey bounds keys (they embed IPs, ids and phone numbers).
const maxCounterKey = 256

var errCounterKey = errors.New("counter key too long")

// Incr adds one to key, starting a new window when the key is absent or its
// window has ended: one atomic upsert, so parallel calls never lose a count.
func (c *Counters) Incr(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	if len(key) > maxCounterKey {
		return 0, 0, errCounterKey
	}
	if window <= 0 {
		return 0, 0, errors.New("counter window must be positive")
	}
	now := c.now().UnixMilli()
	var n, exp int64
	err := c.s.w.QueryRowContext(ctx, `INSERT INTO counters (key, count, expires_at) VALUES ($1, 1, $2)
		ON CONFLICT (key) DO UPDATE SET
			count = CASE WHEN counters.expires_at <= $3 THEN 1 ELSE counters.count + 1 END,
			expires_at = CASE WHEN counters.expires_at <= $3 THEN $2 ELSE counters.expires_at END
		RETURNING count, expires_at`, key, now+window.Milliseconds(), now).Scan(&n, &exp)
	if err != nil {
		return 0, 0, err
	}
	return n, time.Duration(exp-now) * time.Millisecond, nil
}

// Peek returns key's count and time left, (0, 0) when absent or expired.
func (c *Counters) Peek(ctx context.Context, key string) (int64, time.Duration, error) {
	if len(key) > maxCounterKey {
		return 0, 0, errCounterKey
	}
	now := c.now().UnixMilli()
	var n, exp int64
	err := c.s.r.QueryRowContext(ctx, `SELECT count, expires_at FROM counters WHERE key = $1 AND expires_at > $2`, key, now).Scan(&n, &exp)
	if err := notFound(err); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return 0, 0, nil
		}
		return 0, 0, err
	}
	return n, time.Duration(exp-now) * time.Millisecond, nil
}

// Delete removes key.
func (c *Counters) Delete(ctx context.Context, key string) error {
	_, err := c.s.w.ExecContext(ctx, `DELETE FROM counters WHERE key = $1`, key)
	return err
}

// Sweep deletes expired counters and returns how many went.
func (c *Counters) Sweep(ctx context.Context) (int64, error) {
	res, err := c.s.w.ExecContext(ctx, `DELETE FROM counters WHERE expires_at <= $1`, c.now().UnixMilli())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
