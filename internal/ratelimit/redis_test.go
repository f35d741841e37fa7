package ratelimit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/testskip"

	"github.com/redis/go-redis/v9"

	"github.com/twostep/twostep/internal/ratelimit"
	"github.com/twostep/twostep/internal/ratelimit/ratelimittest"
)

// redisURLEnv names the Redis server the tests use (they never flush it:
// each test writes under its own random key prefix and deletes it after).
const redisURLEnv = "TWOSTEP_TEST_REDIS_URL"

// newRedis returns a client on the test Redis and a fresh key prefix whose
// keys are deleted when the test ends, or skips the test when
// TWOSTEP_TEST_REDIS_URL is unset.
func newRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	u := os.Getenv(redisURLEnv)
	if u == "" {
		testskip.Skip(t, redisURLEnv+" is not set", "set "+redisURLEnv+" to a Redis the tests may write to, e.g. redis://127.0.0.1:6379/0")
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("%s: %v", redisURLEnv, err)
	}
	c := redis.NewClient(opts)
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "twostep-test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("delete test keys %s*: %v", prefix, err)
		}
		c.Close()
	})
	return c, prefix
}

func TestRedisBackend(t *testing.T) {
	if os.Getenv(redisURLEnv) == "" {
		testskip.Skip(t, redisURLEnv+" is not set", "set "+redisURLEnv+" to a Redis the tests may write to, e.g. redis://127.0.0.1:6379/0")
	}
	ratelimittest.BackendContractRealTime(t, func(t *testing.T) ratelimit.Backend {
		return ratelimit.NewRedis(newRedis(t))
	})
}

// Counters live under the prefix, with the window as their Redis expiry.
func TestRedisKeysUnderPrefix(t *testing.T) {
	c, prefix := newRedis(t)
	b := ratelimit.NewRedis(c, prefix)
	ctx := context.Background()
	if _, _, err := b.Incr(ctx, "login:ip:192.0.2.1", time.Minute); err != nil {
		t.Fatal(err)
	}
	ttl, err := c.PTTL(ctx, prefix+"login:ip:192.0.2.1").Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("PTTL of the prefixed key = %v, %v; want 0 < ttl <= 1m", ttl, err)
	}
	if err := b.Delete(ctx, "login:ip:192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Exists(ctx, prefix+"login:ip:192.0.2.1").Result(); err != nil || n != 0 {
		t.Fatalf("after Delete: EXISTS = %d, %v", n, err)
	}
}

// A key that something else wrote without an expiry is refused by Peek
// (fail closed) and given a window by the next Incr, so it cannot block or
// count forever; a value that is not a counter is an error.
func TestRedisForeignKeys(t *testing.T) {
	c, prefix := newRedis(t)
	b := ratelimit.NewRedis(c, prefix)
	ctx := context.Background()
	if err := c.Set(ctx, prefix+"x", 5, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Peek(ctx, "x"); err == nil {
		t.Error("Peek of a counter without expiry succeeded")
	}
	n, ttl, err := b.Incr(ctx, "x", time.Minute)
	if err != nil || n != 6 || ttl != time.Minute {
		t.Fatalf("Incr of a counter without expiry = (%d, %v, %v), want (6, 1m, nil)", n, ttl, err)
	}
	if n, ttl, err := b.Peek(ctx, "x"); err != nil || n != 6 || ttl <= 0 {
		t.Fatalf("Peek after Incr = (%d, %v, %v)", n, ttl, err)
	}
	if err := c.Set(ctx, prefix+"y", "not a number", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Incr(ctx, "y", time.Minute); err == nil {
		t.Error("Incr of a non-integer value succeeded")
	}
}

// A window shorter than Redis's millisecond is rounded up, never to an
// expiry of 0 (which would delete the key at once).
func TestRedisSubMillisecondWindow(t *testing.T) {
	c, prefix := newRedis(t)
	n, ttl, err := ratelimit.NewRedis(c, prefix).Incr(context.Background(), "a", time.Microsecond)
	if err != nil || n != 1 || ttl != time.Millisecond {
		t.Fatalf("Incr(1µs) = (%d, %v, %v), want (1, 1ms, nil)", n, ttl, err)
	}
}

// With Redis unreachable every operation fails, and the Limiter turns that
// into an error that is not a "limited" answer: callers refuse the request
// (fail closed). Needs no Redis server.
func TestRedisUnreachableFailsClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, DialerRetries: 1, MaxRetries: -1})
	defer c.Close()
	b := ratelimit.NewRedis(c, "twostep-test:")
	ctx := context.Background()
	if _, _, err := b.Incr(ctx, "a", time.Minute); err == nil {
		t.Error("Incr succeeded without Redis")
	}
	if _, _, err := b.Peek(ctx, "a"); err == nil {
		t.Error("Peek succeeded without Redis")
	}
	if err := b.Delete(ctx, "a"); err == nil {
		t.Error("Delete succeeded without Redis")
	}
	_, err = ratelimit.NewLimiter(b).Allow(ctx, "a", ratelimit.Limit{Count: 5, Window: time.Minute})
	var le *ratelimit.LimitedError
	if err == nil || errors.As(err, &le) {
		t.Errorf("Allow without Redis = %v; want a backend error (the caller refuses)", err)
	}
}
