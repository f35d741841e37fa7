// Package ratelimittest is the contract every ratelimit.Backend passes:
// the in-memory backend, the database counters and Redis run the same
// cases.
package ratelimittest

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/ratelimit"
)

// backendStep is one operation of a backend contract case.
type backendStep struct {
	op      string // "incr", "peek", "delete" or "advance"
	key     string
	window  time.Duration // incr: the window; advance: how far
	count   int64
	ttl     time.Duration
	wantErr bool
}

// BackendContract checks the behaviour every Backend promises, on a backend
// whose clock the test controls: advance moves that clock on, and TTLs are
// compared exactly.
func BackendContract(t *testing.T, newBackend func(t *testing.T) (ratelimit.Backend, func(time.Duration))) {
	runContract(t, newBackend, false)
}

// Real-time runs scale every window and advance down by realTimeScale, so a
// contract second lasts 20 ms and the longest advance (a minute) 1.2 s, and
// accept a TTL up to realTimeSlack below the expected one: real time passes
// between a count and the next step.
const (
	realTimeScale = 50
	realTimeSlack = 60 * time.Millisecond
)

// BackendContractRealTime runs the contract against a backend that keeps
// time itself (Redis expires keys on its own clock), so the test cannot
// move that clock: advancing sleeps, windows are scaled down to keep the
// run short, and TTLs may be up to realTimeSlack shorter than expected.
// Cases that need millisecond control of the clock (the exact end of a
// window) are left to BackendContract; the same behaviour is checked here
// with margins on both sides.
func BackendContractRealTime(t *testing.T, newBackend func(t *testing.T) ratelimit.Backend) {
	runContract(t, func(t *testing.T) (ratelimit.Backend, func(time.Duration)) {
		return newBackend(t), time.Sleep
	}, true)
}

// exactClockCase needs millisecond control of the clock: it looks at a
// window in its last millisecond.
const exactClockCase = "window resets after expiry"

func runContract(t *testing.T, newBackend func(t *testing.T) (ratelimit.Backend, func(time.Duration)), realTime bool) {
	tests := []struct {
		name  string
		steps []backendStep
	}{
		{"first incr starts a window", []backendStep{
			{op: "incr", key: "a", window: 10 * time.Second, count: 1, ttl: 10 * time.Second},
			{op: "incr", key: "a", window: 10 * time.Second, count: 2, ttl: 10 * time.Second},
		}},
		{"later incr keeps the window", []backendStep{
			{op: "incr", key: "a", window: 10 * time.Second, count: 1, ttl: 10 * time.Second},
			{op: "advance", window: 3 * time.Second},
			{op: "incr", key: "a", window: time.Hour, count: 2, ttl: 7 * time.Second},
			{op: "peek", key: "a", count: 2, ttl: 7 * time.Second},
		}},
		{"window resets after expiry", []backendStep{
			{op: "incr", key: "a", window: 10 * time.Second, count: 1, ttl: 10 * time.Second},
			{op: "incr", key: "a", window: 10 * time.Second, count: 2, ttl: 10 * time.Second},
			{op: "advance", window: 9999 * time.Millisecond},
			{op: "peek", key: "a", count: 2, ttl: time.Millisecond},
			{op: "advance", window: time.Millisecond},
			{op: "peek", key: "a", count: 0, ttl: 0},
			{op: "incr", key: "a", window: 5 * time.Second, count: 1, ttl: 5 * time.Second},
		}},
		{"window ends between two peeks", []backendStep{
			{op: "incr", key: "a", window: 10 * time.Second, count: 1, ttl: 10 * time.Second},
			{op: "advance", window: 5 * time.Second},
			{op: "peek", key: "a", count: 1, ttl: 5 * time.Second},
			{op: "advance", window: 6 * time.Second},
			{op: "peek", key: "a", count: 0, ttl: 0},
			{op: "incr", key: "a", window: 5 * time.Second, count: 1, ttl: 5 * time.Second},
		}},
		{"expired key restarts on incr without peek", []backendStep{
			{op: "incr", key: "a", window: time.Second, count: 1, ttl: time.Second},
			{op: "advance", window: time.Minute},
			{op: "incr", key: "a", window: time.Second, count: 1, ttl: time.Second},
		}},
		{"peek of an absent key", []backendStep{
			{op: "peek", key: "nope", count: 0, ttl: 0},
		}},
		{"peek changes nothing", []backendStep{
			{op: "incr", key: "a", window: time.Minute, count: 1, ttl: time.Minute},
			{op: "peek", key: "a", count: 1, ttl: time.Minute},
			{op: "peek", key: "a", count: 1, ttl: time.Minute},
			{op: "incr", key: "a", window: time.Minute, count: 2, ttl: time.Minute},
		}},
		{"delete removes the key", []backendStep{
			{op: "incr", key: "a", window: time.Minute, count: 1, ttl: time.Minute},
			{op: "delete", key: "a"},
			{op: "peek", key: "a", count: 0, ttl: 0},
			{op: "incr", key: "a", window: time.Second, count: 1, ttl: time.Second},
		}},
		{"delete of an absent key", []backendStep{
			{op: "delete", key: "nope"},
		}},
		{"keys are independent", []backendStep{
			{op: "incr", key: "a", window: time.Minute, count: 1, ttl: time.Minute},
			{op: "incr", key: "a", window: time.Minute, count: 2, ttl: time.Minute},
			{op: "incr", key: "b", window: time.Second, count: 1, ttl: time.Second},
			{op: "delete", key: "b"},
			{op: "peek", key: "a", count: 2, ttl: time.Minute},
		}},
		{"non-positive window is an error", []backendStep{
			{op: "incr", key: "a", window: 0, wantErr: true},
			{op: "incr", key: "a", window: -time.Second, wantErr: true},
			{op: "peek", key: "a", count: 0, ttl: 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if realTime && tt.name == exactClockCase {
				t.Skip("needs a clock the test controls; BackendContract covers it")
			}
			b, advance := newBackend(t)
			ctx := context.Background()
			for i, s := range tt.steps {
				var (
					count int64
					ttl   time.Duration
					err   error
				)
				if realTime {
					s.window /= realTimeScale
					s.ttl /= realTimeScale
				}
				switch s.op {
				case "incr":
					count, ttl, err = b.Incr(ctx, s.key, s.window)
				case "peek":
					count, ttl, err = b.Peek(ctx, s.key)
				case "delete":
					err = b.Delete(ctx, s.key)
				case "advance":
					advance(s.window)
					continue
				default:
					t.Fatalf("step %d: unknown op %q", i, s.op)
				}
				if (err != nil) != s.wantErr {
					t.Fatalf("step %d %s(%q): err = %v, want error %v", i, s.op, s.key, err, s.wantErr)
				}
				ttlOK := ttl == s.ttl
				if realTime && s.ttl > 0 {
					ttlOK = ttl <= s.ttl && ttl > s.ttl-realTimeSlack
				}
				if count != s.count || !ttlOK {
					t.Errorf("step %d %s(%q) = (%d, %v), want (%d, %v)", i, s.op, s.key, count, ttl, s.count, s.ttl)
				}
			}
		})
	}

	t.Run("cancelled context fails", func(t *testing.T) {
		b, _ := newBackend(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, _, err := b.Incr(ctx, "a", time.Minute); err == nil {
			t.Error("Incr with a cancelled context succeeded")
		}
		if _, _, err := b.Peek(ctx, "a"); err == nil {
			t.Error("Peek with a cancelled context succeeded")
		}
		if err := b.Delete(ctx, "a"); err == nil {
			t.Error("Delete with a cancelled context succeeded")
		}
	})

	t.Run("parallel incr loses no count", func(t *testing.T) {
		b, _ := newBackend(t)
		const (
			goroutines = 64
			perG       = 50
			keys       = 4
		)
		// seen[k][c] is set when some Incr of key k returned count c:
		// an atomic counter hands out every count exactly once.
		var seen [keys][goroutines*perG/keys + 1]atomic.Bool
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for i := range perG {
					k := (g + i) % keys
					c, _, err := b.Incr(context.Background(), "k"+strconv.Itoa(k), time.Hour)
					if err != nil {
						t.Error(err)
						return
					}
					if c < 1 || c >= int64(len(seen[k])) || seen[k][c].Swap(true) {
						t.Errorf("key %d: count %d returned twice or out of range", k, c)
					}
				}
			})
		}
		wg.Wait()
		for k := range keys {
			got, _, err := b.Peek(context.Background(), "k"+strconv.Itoa(k))
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(goroutines * perG / keys); got != want {
				t.Errorf("key %d: count %d after %d parallel Incr", k, got, want)
			}
		}
	})
}
