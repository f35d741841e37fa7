package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a [Backend] on a Redis server shared by every instance, so limits,
// back-off and SMS budgets hold across instances without a database write per
// count. Windows are Redis key expiries: the server keeps the time, so every
// instance sees the same window whatever its own clock says.
//
// Incr and Peek are Lua scripts, which Redis runs atomically: the count and
// its expiry can never be seen apart, and parallel Incr calls from any number
// of instances each get their own count. Every error (Redis down, timeout,
// unexpected reply) is returned; callers refuse the request (fail closed).
type Redis struct {
	client *redis.Client
	prefix string
}

var _ Backend = (*Redis)(nil)

// NewRedis returns a backend storing its counters in client under keys that
// start with prefix (e.g. "twostep:rl:"), so twostep can share a Redis
// database with other applications. The caller owns client and closes it.
func NewRedis(client *redis.Client, prefix string) *Redis {
	return &Redis{client: client, prefix: prefix}
}

// incrScript counts one event. The expiry is set only by the count that
// creates the key, so later counts never extend the window (fixed windows,
// see the package comment). A key found without an expiry (written by
// something else) gets one too, so no counter can live forever. Redis
// freezes its clock while a script runs, so the PTTL read here is exactly
// the window for a new key.
var incrScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
	redis.call('PEXPIRE', KEYS[1], ARGV[1])
	ttl = tonumber(ARGV[1])
end
return {n, ttl}
`)

// peekScript reads a count and its time left in one step: {0, 0} when the
// key is absent, {n, -1} when it has no expiry (never written by Incr).
var peekScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
	return {0, 0}
end
return {tonumber(v), redis.call('PTTL', KEYS[1])}
`)

// Incr implements [Backend.Incr].
func (r *Redis) Incr(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	if window <= 0 {
		return 0, 0, fmt.Errorf("ratelimit: window %v is not positive", window)
	}
	// Redis counts whole milliseconds: round up so a positive window never
	// becomes PEXPIRE 0, which would delete the key at once.
	ms := (window + time.Millisecond - 1).Milliseconds()
	n, ttl, err := r.run(ctx, incrScript, key, ms)
	if err != nil {
		return 0, 0, fmt.Errorf("ratelimit: redis incr: %w", err)
	}
	// PTTL says 0 in the last millisecond of a window, which is still open:
	// report the millisecond, so a refusal always names a wait.
	return n, max(ttl, time.Millisecond), nil
}

// Peek implements [Backend.Peek].
func (r *Redis) Peek(ctx context.Context, key string) (int64, time.Duration, error) {
	n, ttl, err := r.run(ctx, peekScript, key)
	if err != nil {
		return 0, 0, fmt.Errorf("ratelimit: redis peek: %w", err)
	}
	switch {
	case n == 0:
		return 0, 0, nil
	case ttl < 0:
		// Not a counter Incr wrote. Refusing is safer than guessing a window.
		return 0, 0, errors.New("ratelimit: redis peek: counter has no expiry")
	case ttl == 0: // its last millisecond: treated as ended, as Memory does
		return 0, 0, nil
	}
	return n, ttl, nil
}

// Delete implements [Backend.Delete].
func (r *Redis) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := r.client.Del(ctx, r.prefix+key).Err(); err != nil {
		return fmt.Errorf("ratelimit: redis delete: %w", err)
	}
	return nil
}

// run runs a script that returns {count, pttl in ms} on the prefixed key.
func (r *Redis) run(ctx context.Context, s *redis.Script, key string, args ...any) (int64, time.Duration, error) {
	// A cancelled request is refused before any network round trip, as the
	// other backends refuse it.
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	v, err := s.Run(ctx, r.client, []string{r.prefix + key}, args...).Int64Slice()
	if err != nil {
		return 0, 0, err
	}
	if len(v) != 2 {
		return 0, 0, fmt.Errorf("unexpected script reply of %d values", len(v))
	}
	return v[0], time.Duration(v[1]) * time.Millisecond, nil
}
