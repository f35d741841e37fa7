package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// failureWindow is how long a series of failures is remembered. It is a fixed
// window from the series' first failure: later failures do not extend it, so
// 24 h after the first failure the count, and with it any lock, is
// forgotten. A Backend offers fixed windows only, and 24 h is long enough
// that an attacker gets few guesses a day (maxFailures, then one per lock),
// short enough that a user who mistyped last week starts clean.
const failureWindow = 24 * time.Hour

// Backoff locks a key (a user's second factor) out after consecutive
// failures, as SPEC §2 Throttling requires: after maxFailures failures each
// further failure locks for twice as long as the one before, up to a cap; a
// success resets. This is the throttling of NIST SP 800-63B §5.2.2 ("wait
// following a failed attempt for a period of time that increases") and an
// anti-automation control of ASVS V2.2.1. Exponential growth makes online
// guessing of a 6-digit code hopeless while a user who mistypes a few times
// waits seconds, not hours.
//
// A request flows Check → verify the code → Fail or Reset. Check is a read,
// so requests sent at the same moment all pass it before any of them fails:
// each counts its own failure (the count is atomic), but the lock starts only
// after they are answered. Pair Backoff with a per-user [Limiter.Allow] on
// the verify attempt, which is counted before the code is checked and so
// caps such a burst.
//
// The state lives in the Backend alone, so it holds across instances: the
// failure count under "f:"+key, and the lock started by failure n as its own
// counter "l:"+key+":"+n whose window is the lock duration.
type Backoff struct {
	b           Backend
	maxFailures int64
	base        time.Duration
	maxLock     time.Duration
}

// NewBackoff returns a Backoff counting in b. The failure that brings the
// count to maxFailures locks for base, each later one for twice the previous
// lock, never more than maxLock. It panics unless maxFailures ≥ 1 and
// 0 < base ≤ maxLock: configuration validation rejects such values first.
func NewBackoff(b Backend, maxFailures int64, base, maxLock time.Duration) *Backoff {
	switch {
	case b == nil:
		panic("ratelimit: NewBackoff with nil Backend")
	case maxFailures < 1:
		panic("ratelimit: NewBackoff with maxFailures < 1")
	case base <= 0 || maxLock < base:
		panic("ratelimit: NewBackoff needs 0 < base <= maxLock")
	}
	return &Backoff{b: b, maxFailures: maxFailures, base: base, maxLock: maxLock}
}

// Check reports whether key is locked out. It returns (0, nil) when an
// attempt may proceed, and the time left together with a *[LimitedError]
// (429 with Retry-After) while locked. A backend error is returned wrapped;
// the caller must refuse the attempt (fail closed).
func (bo *Backoff) Check(ctx context.Context, key string) (retryAfter time.Duration, err error) {
	n, _, err := bo.b.Peek(ctx, failureKey(key))
	if err != nil {
		return 0, fmt.Errorf("ratelimit: backoff check: %w", err)
	}
	if n < bo.maxFailures {
		return 0, nil
	}
	_, ttl, err := bo.b.Peek(ctx, lockKey(key, n))
	if err != nil {
		return 0, fmt.Errorf("ratelimit: backoff check: %w", err)
	}
	if ttl <= 0 && n > bo.maxFailures {
		// Fail counts failure n before it starts lock n, so a concurrent
		// Fail may sit between the two. Lock n-1 is then the answer. When
		// lock n has simply run out, lock n-1 has too: it started no later
		// and is no longer.
		_, ttl, err = bo.b.Peek(ctx, lockKey(key, n-1))
		if err != nil {
			return 0, fmt.Errorf("ratelimit: backoff check: %w", err)
		}
	}
	if ttl > 0 {
		return ttl, &LimitedError{RetryAfter: ttl}
	}
	return 0, nil
}

// Fail records a failed attempt for key and returns the number of failures
// in the current series. From the maxFailures-th failure on it also starts a
// lock of base·2^(failures−maxFailures), capped at maxLock, and returns its
// duration: the 5th failure is still answered as a wrong code, the 6th
// attempt is refused by Check until the lock ends. Parallel failures are each
// counted (the count is one atomic Incr) and each starts its own lock.
//
// On a backend error the failure may be uncounted; the caller refuses the
// attempt as it would anyway.
func (bo *Backoff) Fail(ctx context.Context, key string) (failures int64, retryAfter time.Duration, err error) {
	n, _, err := bo.b.Incr(ctx, failureKey(key), failureWindow)
	if err != nil {
		return 0, 0, fmt.Errorf("ratelimit: backoff fail: %w", err)
	}
	if n < bo.maxFailures {
		return n, 0, nil
	}
	d := bo.lockFor(n)
	lk := lockKey(key, n)
	count, ttl, err := bo.b.Incr(ctx, lk, d)
	if err == nil && count > 1 {
		// Failure numbers are unique within a series, so lock n already
		// existing means it is left from a series that was reset while a
		// Fail was in flight. Start it afresh rather than inherit its rest.
		if err = bo.b.Delete(ctx, lk); err == nil {
			_, ttl, err = bo.b.Incr(ctx, lk, d)
		}
	}
	if err != nil {
		return n, 0, fmt.Errorf("ratelimit: backoff lock: %w", err)
	}
	return n, ttl, nil
}

// Reset forgets key's failures and lock, after a successful verification.
// An error leaves the failures counted, which errs on the side of refusing.
func (bo *Backoff) Reset(ctx context.Context, key string) error {
	n, _, err := bo.b.Peek(ctx, failureKey(key))
	if err != nil {
		return fmt.Errorf("ratelimit: backoff reset: %w", err)
	}
	if n == 0 {
		// Nothing to reset — the usual case on a successful check, which
		// then costs one read, not a write. A failure racing in stays
		// counted (stricter than erasing it).
		return nil
	}
	// The count goes first: with it gone Check no longer looks at locks.
	if err := bo.b.Delete(ctx, failureKey(key)); err != nil {
		return fmt.Errorf("ratelimit: backoff reset: %w", err)
	}
	// Only locks n and n-1 can still run (see Check); older ones ended.
	for i := n; i >= bo.maxFailures && i >= n-1; i-- {
		if err := bo.b.Delete(ctx, lockKey(key, i)); err != nil {
			return fmt.Errorf("ratelimit: backoff reset: %w", err)
		}
	}
	return nil
}

// lockFor returns the lock started by failure n ≥ maxFailures:
// base·2^(n−maxFailures), capped at maxLock without overflowing.
func (bo *Backoff) lockFor(n int64) time.Duration {
	shift := n - bo.maxFailures
	if shift >= 62 || bo.base > bo.maxLock>>shift {
		return bo.maxLock
	}
	return bo.base << shift
}

func failureKey(key string) string { return "f:" + key }

// lockKey is unambiguous: n has no ':', so the last ':' separates it.
func lockKey(key string, n int64) string {
	return "l:" + key + ":" + strconv.FormatInt(n, 10)
}
