package ratelimit

import (
	"context"
	"time"
)

// Backend stores fixed-window counters. Implementations must be atomic
// (parallel Incr calls never lose a count) and must FAIL CLOSED: callers treat
// any error as "refuse".
//
// It is deliberately small, declared here by its consumer, so that a shared
// backend (Redis: INCR plus PEXPIRE on the first count, PTTL) can be added
// without touching the policy in [Limiter] and [Backoff].
type Backend interface {
	// Incr adds one to key and returns the new count and the time left in
	// the key's window. A key that does not exist (or whose window ended)
	// starts a new window of length window with count 1. The window of an
	// existing key is not changed. A window ≤ 0 is an error.
	Incr(ctx context.Context, key string, window time.Duration) (count int64, ttl time.Duration, err error)

	// Peek returns the count and time left without changing anything
	// (0, 0 when absent or expired).
	Peek(ctx context.Context, key string) (count int64, ttl time.Duration, err error)

	// Delete removes key. Deleting an absent key is not an error.
	Delete(ctx context.Context, key string) error
}
