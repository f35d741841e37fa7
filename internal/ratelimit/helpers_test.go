package ratelimit

import (
	"context"
	"errors"
	"sync"
	"time"
)

// fakeClock is the injected clock: tests move time on instead of sleeping.
// It is safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var errBackend = errors.New("backend down")

// failingBackend wraps a Backend and fails the calls fail picks, as a
// shared backend does when the network or the server is down.
type failingBackend struct {
	Backend
	fail func(op, key string) bool
}

func (f failingBackend) Incr(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	if f.fail("incr", key) {
		return 0, 0, errBackend
	}
	return f.Backend.Incr(ctx, key, window)
}

func (f failingBackend) Peek(ctx context.Context, key string) (int64, time.Duration, error) {
	if f.fail("peek", key) {
		return 0, 0, errBackend
	}
	return f.Backend.Peek(ctx, key)
}

func (f failingBackend) Delete(ctx context.Context, key string) error {
	if f.fail("delete", key) {
		return errBackend
	}
	return f.Backend.Delete(ctx, key)
}

func failAll(string, string) bool { return true }
