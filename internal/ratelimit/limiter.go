package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Limit allows at most Count events per Window. A Count ≤ 0 means unlimited,
// so an operator can switch one budget off in configuration.
type Limit struct {
	Count  int64
	Window time.Duration
}

// LimitedError is returned when a request is over a limit or inside a
// back-off lock. Handlers answer it with 429 and a Retry-After header
// (rounded up to whole seconds, so that it is never 0). Match it with
// errors.As.
type LimitedError struct {
	// RetryAfter is how long until the refusing window or lock ends.
	RetryAfter time.Duration
	// First is true for exactly one refusal per key and window: the first
	// event over the limit. Callers audit that one and only count the rest,
	// so a flood of refused requests does not write a row each.
	First bool
}

// Error implements the error interface. The message is fixed: the key may
// hold a phone number or an IP address, which does not belong in logs.
func (e *LimitedError) Error() string { return "rate limited" }

// Check is one budget for [Limiter.AllowAll]: the event counts against Key
// under Limit.
type Check struct {
	Key   string
	Limit Limit
}

// Limiter enforces [Limit]s on counters kept in a [Backend]. It implements
// the rate limiting of NIST SP 800-63B §5.2.2 and the anti-automation
// controls of ASVS V2.2.1 for per-IP limits on login and verify and for the
// SMS budgets.
type Limiter struct {
	b Backend
}

// NewLimiter returns a Limiter counting in b.
func NewLimiter(b Backend) *Limiter {
	if b == nil {
		panic("ratelimit: NewLimiter with nil Backend")
	}
	return &Limiter{b: b}
}

// Allow consumes one event from key's budget. It returns (0, nil) when the
// event is within lim, and the time until the window ends together with a
// *[LimitedError] when it is over.
//
// The event is counted before the decision in one atomic Incr, so parallel
// requests cannot all see "one left" and pass together (docs/throttling.md).
// Refused events count too: a client that keeps hammering stays refused until
// the window ends. Any backend error is returned wrapped; the caller must
// refuse the request (fail closed), never treat it as allowed.
func (l *Limiter) Allow(ctx context.Context, key string, lim Limit) (retryAfter time.Duration, err error) {
	if lim.Count <= 0 {
		return 0, nil
	}
	if lim.Window <= 0 {
		return 0, fmt.Errorf("ratelimit: limit of %d per %v has no window", lim.Count, lim.Window)
	}
	count, ttl, err := l.b.Incr(ctx, key, lim.Window)
	if err != nil {
		return 0, fmt.Errorf("ratelimit: count: %w", err)
	}
	if count > lim.Count {
		return ttl, &LimitedError{RetryAfter: ttl, First: count == lim.Count+1}
	}
	return 0, nil
}

// Blocked reports, without counting anything, whether key has used up lim
// (with the time until its window ends). With Fail it throttles failures
// only, for credentials whose right use must never be throttled (an
// operator token used by automation in parallel): check Blocked first,
// then Fail on a failure. Parallel failures can each pass Blocked before
// any is counted, so this suits only secrets too strong to guess, where
// the throttle is against noise, not against guessing.
func (l *Limiter) Blocked(ctx context.Context, key string, lim Limit) (retryAfter time.Duration, blocked bool, err error) {
	if lim.Count <= 0 {
		return 0, false, nil
	}
	count, ttl, err := l.b.Peek(ctx, key)
	if err != nil {
		return 0, false, fmt.Errorf("ratelimit: peek: %w", err)
	}
	return ttl, count >= lim.Count, nil
}

// Fail counts one failure of key and reports whether it is the one that
// used up lim: from then on Blocked refuses key until the window ends.
func (l *Limiter) Fail(ctx context.Context, key string, lim Limit) (reached bool, err error) {
	if lim.Count <= 0 {
		return false, nil
	}
	if lim.Window <= 0 {
		return false, fmt.Errorf("ratelimit: limit of %d per %v has no window", lim.Count, lim.Window)
	}
	count, _, err := l.b.Incr(ctx, key, lim.Window)
	if err != nil {
		return false, fmt.Errorf("ratelimit: count: %w", err)
	}
	return count == lim.Count, nil
}

// Reset forgets key's count (an administrator's unlock, or a success that
// restores an allowance).
func (l *Limiter) Reset(ctx context.Context, key string) error {
	if err := l.b.Delete(ctx, key); err != nil {
		return fmt.Errorf("ratelimit: reset: %w", err)
	}
	return nil
}

// AllowAll counts one event against each check in order and refuses as soon
// as one is over: for an SMS, say, per IP, per user, per number, per country
// and global, each per hour and per day. On refusal the *[LimitedError]
// carries the longest RetryAfter of the refusing check and of any later check
// that is already full, so a client told to wait is not refused again at once
// by the next budget.
//
// List the checks from the most specific to the requester (IP, user) to the
// most shared (country, global). Counting stops at the first refusal, so a
// flood that one IP's budget already refuses never spends the global budget
// and cannot use it to deny SMS to everyone. The budgets before the refusing
// one stay counted: each Incr is the atomic decision (docs/throttling.md), and
// the Backend has no way to hand a count back. On a backend error AllowAll
// stops and returns it wrapped; the caller refuses (fail closed).
func (l *Limiter) AllowAll(ctx context.Context, checks []Check) error {
	for i, c := range checks {
		retryAfter, err := l.Allow(ctx, c.Key, c.Limit)
		if err == nil {
			continue
		}
		le := (*LimitedError)(nil)
		if !errors.As(err, &le) {
			return err
		}
		longest, err := l.longestFull(ctx, checks[i+1:], retryAfter)
		if err != nil {
			return err
		}
		return &LimitedError{RetryAfter: longest, First: le.First}
	}
	return nil
}

// longestFull returns the longest of longest and the time left on each check
// that is already at its limit, without counting anything.
func (l *Limiter) longestFull(ctx context.Context, checks []Check, longest time.Duration) (time.Duration, error) {
	for _, c := range checks {
		if c.Limit.Count <= 0 {
			continue
		}
		count, ttl, err := l.b.Peek(ctx, c.Key)
		if err != nil {
			return 0, fmt.Errorf("ratelimit: peek: %w", err)
		}
		if count >= c.Limit.Count {
			longest = max(longest, ttl)
		}
	}
	return longest, nil
}
