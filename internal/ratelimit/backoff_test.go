package ratelimit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// checkLocked asserts that Check refuses with exactly want, or allows when
// want is 0.
func checkLocked(t *testing.T, bo *Backoff, key string, want time.Duration) {
	t.Helper()
	retry, err := bo.Check(context.Background(), key)
	if want == 0 {
		if err != nil || retry != 0 {
			t.Fatalf("Check = (%v, %v), want allowed", retry, err)
		}
		return
	}
	var le *LimitedError
	if !errors.As(err, &le) || retry != want || le.RetryAfter != want {
		t.Fatalf("Check = (%v, %v), want (%v, *LimitedError)", retry, err, want)
	}
}

func TestBackoffSchedule(t *testing.T) {
	const base, maxLock = time.Second, 8 * time.Second
	tests := []struct {
		failure  int64
		wantLock time.Duration
	}{
		{1, 0}, {2, 0}, {3, 0}, {4, 0},
		{5, base}, // the 5th failure starts the first lock
		{6, 2 * base},
		{7, 4 * base},
		{8, 8 * base},
		{9, maxLock}, // capped
		{10, maxLock},
	}
	clock := newFakeClock()
	bo := NewBackoff(NewMemory(clock.Now), 5, base, maxLock)
	ctx := context.Background()
	for _, tt := range tests {
		checkLocked(t, bo, "u", 0)
		n, lock, err := bo.Fail(ctx, "u")
		if err != nil {
			t.Fatal(err)
		}
		if n != tt.failure || lock != tt.wantLock {
			t.Fatalf("failure %d: Fail = (%d, %v), want (%d, %v)", tt.failure, n, lock, tt.failure, tt.wantLock)
		}
		if tt.wantLock == 0 {
			continue
		}
		checkLocked(t, bo, "u", tt.wantLock)
		clock.Advance(tt.wantLock - time.Millisecond)
		checkLocked(t, bo, "u", time.Millisecond)
		clock.Advance(time.Millisecond)
	}
}

func TestBackoffReset(t *testing.T) {
	clock := newFakeClock()
	bo := NewBackoff(NewMemory(clock.Now), 5, time.Minute, time.Hour)
	ctx := context.Background()
	for range 6 {
		if _, _, err := bo.Fail(ctx, "u"); err != nil {
			t.Fatal(err)
		}
	}
	checkLocked(t, bo, "u", 2*time.Minute)

	// A reset (an admin's, here, while locked) clears count and lock.
	if err := bo.Reset(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	checkLocked(t, bo, "u", 0)
	for want := int64(1); want <= 5; want++ {
		n, lock, err := bo.Fail(ctx, "u")
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Fatalf("failure after reset = %d, want %d", n, want)
		}
		if want == 5 && lock != time.Minute {
			t.Errorf("first lock after reset = %v, want the base again", lock)
		}
	}
	if err := bo.Reset(ctx, "absent"); err != nil {
		t.Errorf("Reset of an unknown key = %v", err)
	}
}

func TestBackoffKeysAreIndependent(t *testing.T) {
	bo := NewBackoff(NewMemory(newFakeClock().Now), 1, time.Minute, time.Hour)
	if _, _, err := bo.Fail(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	checkLocked(t, bo, "alice", time.Minute)
	checkLocked(t, bo, "bob", 0)
}

func TestBackoffFailuresForgottenAfterWindow(t *testing.T) {
	clock := newFakeClock()
	bo := NewBackoff(NewMemory(clock.Now), 5, time.Second, time.Minute)
	ctx := context.Background()
	for range 4 {
		if _, _, err := bo.Fail(ctx, "u"); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(failureWindow)
	n, lock, err := bo.Fail(ctx, "u")
	if err != nil || n != 1 || lock != 0 {
		t.Errorf("Fail a day later = (%d, %v, %v), want (1, 0, nil)", n, lock, err)
	}
}

// TestBackoffLeftoverLockRestarts: a lock key left from a reset series must
// not shorten the lock of a new series that reaches the same failure number.
func TestBackoffLeftoverLockRestarts(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	bo := NewBackoff(m, 5, time.Minute, time.Hour)
	ctx := context.Background()
	if _, _, err := m.Incr(ctx, lockKey("u", 5), time.Minute); err != nil {
		t.Fatal(err)
	}
	clock.Advance(50 * time.Second)
	for range 4 {
		if _, _, err := bo.Fail(ctx, "u"); err != nil {
			t.Fatal(err)
		}
	}
	if _, lock, err := bo.Fail(ctx, "u"); err != nil || lock != time.Minute {
		t.Fatalf("5th Fail = (_, %v, %v), want a full 1m lock", lock, err)
	}
	checkLocked(t, bo, "u", time.Minute)
}

// TestBackoffCheckBetweenCountAndLock: Fail counts failure n before it starts
// lock n; a Check in between must still see lock n-1, not "allowed".
func TestBackoffCheckBetweenCountAndLock(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	bo := NewBackoff(m, 5, time.Minute, time.Hour)
	ctx := context.Background()
	for range 5 {
		if _, _, err := bo.Fail(ctx, "u"); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(10 * time.Second)
	// The first half of a 6th Fail.
	if _, _, err := m.Incr(ctx, failureKey("u"), failureWindow); err != nil {
		t.Fatal(err)
	}
	checkLocked(t, bo, "u", 50*time.Second)
}

// TestBackoffParallelFailures: failures sent at once are each counted
// exactly once (SPEC §2 Counters), and the key ends up locked.
func TestBackoffParallelFailures(t *testing.T) {
	const goroutines = 50
	const base, maxLock = time.Second, time.Hour
	bo := NewBackoff(NewMemory(newFakeClock().Now), 5, base, maxLock)
	ctx := context.Background()

	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		mu    sync.Mutex
		seen  = make(map[int64]time.Duration)
	)
	for range goroutines {
		wg.Go(func() {
			<-start
			n, lock, err := bo.Fail(ctx, "u")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if _, dup := seen[n]; dup {
				t.Errorf("failure number %d handed out twice", n)
			}
			seen[n] = lock
		})
	}
	close(start)
	wg.Wait()

	if len(seen) != goroutines {
		t.Fatalf("%d distinct failure numbers, want %d", len(seen), goroutines)
	}
	if n, _, err := bo.b.Peek(ctx, failureKey("u")); err != nil || n != goroutines {
		t.Fatalf("failure count = (%d, %v), want %d", n, err, goroutines)
	}
	for n, lock := range seen {
		if want := bo.lockFor(max(n, 5)); n >= 5 && lock != want {
			t.Errorf("failure %d locked for %v, want %v", n, lock, want)
		}
	}
	checkLocked(t, bo, "u", maxLock)
}

func TestBackoffLockFor(t *testing.T) {
	tests := []struct {
		name        string
		maxFailures int64
		base, max   time.Duration
		n           int64
		want        time.Duration
	}{
		{"first lock is base", 5, time.Second, time.Hour, 5, time.Second},
		{"doubles", 5, time.Second, time.Hour, 8, 8 * time.Second},
		{"reaches the cap exactly", 1, time.Second, 4 * time.Second, 3, 4 * time.Second},
		{"capped", 5, time.Second, 10 * time.Second, 9, 10 * time.Second},
		{"no overflow at shift 62", 1, time.Nanosecond, time.Duration(1<<63 - 1), 63, time.Duration(1<<63 - 1)},
		{"no overflow far out", 1, time.Minute, 15 * time.Minute, 1_000_000, 15 * time.Minute},
		{"large but fits", 1, time.Nanosecond, time.Duration(1<<63 - 1), 62, 1 << 61},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bo := NewBackoff(NewMemory(nil), tt.maxFailures, tt.base, tt.max)
			if got := bo.lockFor(tt.n); got != tt.want {
				t.Errorf("lockFor(%d) = %v, want %v", tt.n, got, tt.want)
			}
		})
	}
}

func TestNewBackoffRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name        string
		b           Backend
		maxFailures int64
		base, max   time.Duration
	}{
		{"nil backend", nil, 5, time.Second, time.Minute},
		{"no failures allowed", NewMemory(nil), 0, time.Second, time.Minute},
		{"zero base", NewMemory(nil), 5, 0, time.Minute},
		{"max below base", NewMemory(nil), 5, time.Minute, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("NewBackoff did not panic")
				}
			}()
			NewBackoff(tt.b, tt.maxFailures, tt.base, tt.max)
		})
	}
}

// TestBackoffFailsClosed: with the backend failing, Check never answers
// "allowed" and Fail and Reset report the error.
func TestBackoffFailsClosed(t *testing.T) {
	tests := []struct {
		name string
		fail func(op, key string) bool
		call func(*Backoff) error
	}{
		{"Check, count unreadable", failAll, func(bo *Backoff) error {
			_, err := bo.Check(context.Background(), "u")
			return err
		}},
		{"Check, lock unreadable", func(op, key string) bool { return op == "peek" && key != failureKey("u") }, func(bo *Backoff) error {
			_, err := bo.Check(context.Background(), "u")
			return err
		}},
		{"Fail, count fails", failAll, func(bo *Backoff) error {
			_, _, err := bo.Fail(context.Background(), "u")
			return err
		}},
		{"Fail, lock fails", func(op, key string) bool { return op == "incr" && key != failureKey("u") }, func(bo *Backoff) error {
			_, _, err := bo.Fail(context.Background(), "u")
			return err
		}},
		{"Reset, peek fails", failAll, func(bo *Backoff) error {
			return bo.Reset(context.Background(), "u")
		}},
		{"Reset, delete of a lock fails", func(op, key string) bool { return op == "delete" && key != failureKey("u") }, func(bo *Backoff) error {
			return bo.Reset(context.Background(), "u")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMemory(newFakeClock().Now)
			// Five failures, so the key is at the lock threshold.
			for range 5 {
				if _, _, err := m.Incr(context.Background(), failureKey("u"), failureWindow); err != nil {
					t.Fatal(err)
				}
			}
			bo := NewBackoff(failingBackend{Backend: m, fail: tt.fail}, 5, time.Second, time.Minute)
			err := tt.call(bo)
			if !errors.Is(err, errBackend) {
				t.Errorf("err = %v, want the backend error", err)
			}
		})
	}
}
