package auth

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/model"
)

// TestCacheTrusted is the validity rule (cache.go) on a fake clock: 1 s
// always; past that, up to 30 s, only for a long entry while the last
// successful poll began less than 900 ms ago.
func TestCacheTrusted(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	tests := []struct {
		name    string
		long    bool
		watched time.Time // zero: never polled
		now     time.Time
		want    bool
	}{
		{"fresh, no watch", false, time.Time{}, ms(1000), true},
		{"past 1 s, no watch", true, time.Time{}, ms(1001), false},
		{"clock went back", true, ms(0), ms(-1), false},
		{"healthy watch", true, ms(29_500), ms(30_000), true},
		{"healthy watch, short entry", false, ms(29_500), ms(29_600), false},
		{"poll 899 ms old", true, ms(5_000), ms(5_899), true},
		{"poll 900 ms old", true, ms(5_000), ms(5_900), false},
		{"poll from the future", true, ms(6_000), ms(5_900), false},
		{"past 30 s, healthy watch", true, ms(30_000), ms(30_001), false},
	}
	for _, tc := range tests {
		var c sessionCache
		if !tc.watched.IsZero() {
			c.watched.Store(tc.watched.UnixNano())
		}
		e := &cacheEntry{fetched: t0, long: tc.long}
		if got := c.trusted(e, tc.now); got != tc.want {
			t.Errorf("%s: trusted = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestCachePutAfterDrop: an entry whose load overlapped an invalidation
// (it may hold what the store said before the change) is cached short;
// a drop after the put removes it; a user's drop removes all of theirs
// and nobody else's.
func TestCachePutAfterDrop(t *testing.T) {
	var c sessionCache
	h1, h2, h3 := [32]byte{1}, [32]byte{2}, [32]byte{3}
	entry := func(user string) *cacheEntry {
		return &cacheEntry{cur: Current{User: model.User{ID: user}}, fetched: time.Now()}
	}
	gen := c.drops.Load()
	c.drop(h3[:]) // an invalidation while h1 was loading
	e := entry("u1")
	c.put(&h1, e, gen)
	if e.long {
		t.Fatal("an entry loaded across a drop is long")
	}
	e2 := entry("u1")
	c.put(&h2, e2, c.drops.Load())
	if !e2.long {
		t.Fatal("an entry loaded with no drop in between is short")
	}
	c.put(&h3, entry("u2"), c.drops.Load())
	c.dropUsers(map[string]bool{"u1": true})
	for h, want := range map[[32]byte]bool{h1: false, h2: false, h3: true} {
		_, ok := c.get(&h, time.Now())
		if ok != want {
			t.Errorf("entry %d after dropping u1: present %v, want %v", h[0], ok, want)
		}
	}
}

// TestCachedSessionTouchAllocs: a hit that queues an idle-timer touch (the
// path every long-lived entry takes once per touchEvery) allocates
// nothing either.
func TestCachedSessionTouchAllocs(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := New(Config{IdleTimeout: time.Hour, AbsoluteTimeout: 365 * 24 * time.Hour}, Deps{Now: func() time.Time { return now }})
	s.cache.once.Do(func() { s.cache.touch = make(chan [32]byte, 1024) }) // no worker: nothing to write to
	const tok = "a-session-token-of-43-characters-0123456789"
	h := sha256.Sum256([]byte(tok))
	// An entry lives at most 30 s, so each run puts a fresh one (made
	// beforehand) whose timer is 2 min old: past touchEvery (1 min).
	entries := make([]*cacheEntry, 201)
	for i := range entries {
		entries[i] = &cacheEntry{cur: Current{Session: model.Session{AAL: model.AAL2, CreatedAt: now}}}
	}
	i := 0
	n := testing.AllocsPerRun(200, func() {
		now = now.Add(2 * time.Minute)
		e := entries[i]
		i++
		e.fetched = now.Add(-5 * time.Second) // past the 1-s rule: trusted through the watch
		e.seen.Store(now.Add(-2 * time.Minute).UnixNano())
		s.cache.put(&h, e, s.cache.drops.Load())
		s.cache.watched.Store(now.UnixNano())
		if _, err := s.cachedSession(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per hit with a touch, want 0", n)
	}
	if len(s.cache.touch) == 0 {
		t.Fatal("no touch was queued")
	}
}

// BenchmarkDropUsers is the cost of one poll that names users (not single
// sessions) with the cache full: one pass over every shard.
func BenchmarkDropUsers(b *testing.B) {
	var c sessionCache
	now := time.Now()
	for i := range cacheShards * (cacheShardSize - 1) {
		var h [32]byte
		h[0], h[1], h[2] = byte(i%cacheShards), byte(i>>4), byte(i>>12)
		c.put(&h, &cacheEntry{cur: Current{User: model.User{ID: "u" + string(rune('a'+i%26))}}, fetched: now}, c.drops.Load())
	}
	ids := map[string]bool{"nobody": true}
	b.ResetTimer()
	for range b.N {
		c.dropUsers(ids)
	}
}
