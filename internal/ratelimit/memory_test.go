package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

// testBackendContract checks the behaviour every Backend promises. The Redis
// backend is to run the same cases; advance moves its clock on (a backend on
// real time sleeps, and compares TTLs with a tolerance instead of exactly).
func testBackendContract(t *testing.T, newBackend func(t *testing.T) (Backend, func(time.Duration))) {
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
			b, advance := newBackend(t)
			ctx := context.Background()
			for i, s := range tt.steps {
				var (
					count int64
					ttl   time.Duration
					err   error
				)
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
				if count != s.count || ttl != s.ttl {
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
			perG       = 500
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

func TestMemoryBackend(t *testing.T) {
	testBackendContract(t, func(t *testing.T) (Backend, func(time.Duration)) {
		clock := newFakeClock()
		m := NewMemory(clock.Now)
		t.Cleanup(func() { checkMemoryInvariants(t, m) })
		return m, clock.Advance
	})
}

func TestNewMemoryNilClockUsesTimeNow(t *testing.T) {
	m := NewMemory(nil)
	_, ttl, err := m.Incr(context.Background(), "a", time.Hour)
	if err != nil || ttl != time.Hour {
		t.Fatalf("Incr = (_, %v, %v), want (_, 1h, nil)", ttl, err)
	}
	_, ttl, err = m.Peek(context.Background(), "a")
	if err != nil || ttl <= 0 || ttl > time.Hour {
		t.Fatalf("Peek = (_, %v, %v), want 0 < ttl <= 1h", ttl, err)
	}
}

// TestMemoryStaysBounded floods the backend with distinct keys that expire,
// as an attacker rotating IPs or usernames would, and checks that expired
// entries are swept instead of piling up.
func TestMemoryStaysBounded(t *testing.T) {
	const (
		keys   = 200_000
		window = time.Second
		round  = 10_000 // keys inserted between clock advances in phase 2
	)
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	ctx := context.Background()
	incr := func(key string) {
		if _, _, err := m.Incr(ctx, key, window); err != nil {
			t.Fatal(err)
		}
	}

	for i := range keys {
		incr("one:" + strconv.Itoa(i))
	}
	if got := m.len(); got != keys {
		t.Fatalf("len = %d after %d live keys, want %d", got, keys, keys)
	}

	// Every key above has expired. Keep inserting fresh keys, letting each
	// round expire in turn: the sweep must clear the expired ones.
	clock.Advance(2 * window)
	peak := 0
	for i := range keys {
		incr("two:" + strconv.Itoa(i))
		if (i+1)%round == 0 {
			peak = max(peak, m.len())
			clock.Advance(2 * window)
		}
	}
	if peak > keys {
		t.Errorf("peak len = %d, want ≤ %d: expired entries were not swept", peak, keys)
	}
	// Only the last round can still be in memory (it expired with the
	// final advance, and nothing has swept it since).
	if got := m.len(); got > round {
		t.Errorf("len = %d at the end, want ≤ %d", got, round)
	}
	checkMemoryInvariants(t, m)
}

// TestMemoryPeekRemovesExpired checks the lazy removal on Peek, which also
// keeps the expiry heap consistent.
func TestMemoryPeekRemovesExpired(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	ctx := context.Background()
	for i := range 100 {
		if _, _, err := m.Incr(ctx, strconv.Itoa(i), time.Duration(i+1)*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(50 * time.Second)
	for i := range 100 {
		if _, _, err := m.Peek(ctx, strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.len(); got != 50 {
		t.Errorf("len = %d after peeking 50 expired of 100, want 50", got)
	}
	checkMemoryInvariants(t, m)
}

// checkMemoryInvariants verifies that every shard's heap holds exactly its
// map's entries, at the right indexes, in heap order.
func checkMemoryInvariants(t *testing.T, m *Memory) {
	t.Helper()
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		if len(s.entries) != len(s.expiry) {
			t.Errorf("shard %d: %d entries, %d in heap", i, len(s.entries), len(s.expiry))
		}
		for j, e := range s.expiry {
			if e.index != j || s.entries[e.key] != e {
				t.Errorf("shard %d: heap[%d] = %q (index %d) not in map", i, j, e.key, e.index)
			}
			if j > 0 && e.expiresAt.Before(s.expiry[(j-1)/2].expiresAt) {
				t.Errorf("shard %d: heap order broken at %d", i, j)
			}
		}
		s.mu.Unlock()
	}
}

// BenchmarkMemoryIncr measures Incr from parallel goroutines: on a hot set of
// keys (a per-IP limit under load), on one key (the global SMS budget), and
// on a new key each time (a flood of distinct IPs, with sweeping).
func BenchmarkMemoryIncr(b *testing.B) {
	ctx := context.Background()
	b.Run("keys=1024", func(b *testing.B) {
		m := NewMemory(nil)
		keys := make([]string, 1024)
		for i := range keys {
			keys[i] = fmt.Sprintf("ip:203.0.113.%d:%d", i%256, i)
		}
		var next atomic.Uint64
		b.RunParallel(func(pb *testing.PB) {
			i := next.Add(1) * 7919
			for pb.Next() {
				i++
				if _, _, err := m.Incr(ctx, keys[i%uint64(len(keys))], time.Minute); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("keys=1", func(b *testing.B) {
		m := NewMemory(nil)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, err := m.Incr(ctx, "sms:global:hour", time.Hour); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("distinct", func(b *testing.B) {
		m := NewMemory(nil)
		var next atomic.Uint64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				key := "ip:" + strconv.FormatUint(next.Add(1), 10)
				if _, _, err := m.Incr(ctx, key, time.Millisecond); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.ReportMetric(float64(m.len()), "entries")
	})
}
