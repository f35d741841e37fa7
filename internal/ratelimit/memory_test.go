package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

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
