package ratelimit

import (
	"container/heap"
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"time"
)

const (
	// shardCount splits the keys over independent mutexes so that parallel
	// requests for different keys rarely wait for each other.
	shardCount = 32

	// sweepBatch is how many expired entries one Incr removes from its
	// shard at most. Each Incr adds at most one entry and removes up to
	// sweepBatch expired ones, so the expired backlog of a shard in use
	// only shrinks: memory stays bounded by the keys that are live (plus
	// what had expired by the last time the shard was used), without a
	// background goroutine and without a long pause on any single call.
	sweepBatch = 8
)

// Memory is an in-process [Backend]: counters live in a sharded map and are
// lost on restart. It suits a single instance; several instances need a
// shared backend, or each would enforce its own copy of every limit.
//
// Every operation runs under its shard's mutex, which makes Incr atomic.
// Expired entries are removed lazily (Peek and Incr of an expired key) and by
// a bounded sweep on every Incr: each shard keeps its entries in a min-heap by
// expiry, and Incr pops up to sweepBatch expired entries from its top.
//
// The zero value is not usable; call [NewMemory].
type Memory struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [shardCount]shard
}

var _ Backend = (*Memory)(nil)

type shard struct {
	mu      sync.Mutex
	entries map[string]*entry
	expiry  expiryHeap // the same entries as entries, soonest expiry first

	// The padding keeps neighbouring shards' mutexes off one cache line,
	// so that locking one shard does not slow down its neighbours.
	_ [64]byte
}

type entry struct {
	key       string
	count     int64
	expiresAt time.Time
	index     int // position in shard.expiry, maintained by expiryHeap
}

// NewMemory returns an empty Memory backend that reads the time from now
// (nil means [time.Now]); tests inject a fake clock instead of sleeping.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	// A per-process random seed, rather than an unkeyed hash such as FNV,
	// stops a client that chooses its keys (usernames, phone numbers) from
	// piling them all into one shard and serialising every request there.
	m := &Memory{now: now, seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].entries = make(map[string]*entry)
	}
	return m
}

// Incr implements [Backend.Incr].
func (m *Memory) Incr(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	// A cancelled request is refused here as a shared backend would refuse
	// it, so that callers see the same fail-closed behaviour in tests.
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	if window <= 0 {
		return 0, 0, fmt.Errorf("ratelimit: window %v is not positive", window)
	}
	now := m.now()
	s := m.shardFor(key)
	s.mu.Lock()
	defer s.mu.Unlock()

	s.sweep(now, sweepBatch)
	e, ok := s.entries[key]
	switch {
	case ok && now.Before(e.expiresAt):
		e.count++
		return e.count, e.expiresAt.Sub(now), nil
	case ok: // expired but not swept yet: start its new window in place
		e.count = 1
		e.expiresAt = now.Add(window)
		heap.Fix(&s.expiry, e.index)
	default:
		e = &entry{key: key, count: 1, expiresAt: now.Add(window)}
		s.entries[key] = e
		heap.Push(&s.expiry, e)
	}
	return 1, window, nil
}

// Peek implements [Backend.Peek]. It removes key if its window has ended.
func (m *Memory) Peek(ctx context.Context, key string) (int64, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	now := m.now()
	s := m.shardFor(key)
	s.mu.Lock()
	defer s.mu.Unlock()

	e, ok := s.entries[key]
	if !ok {
		return 0, 0, nil
	}
	if !now.Before(e.expiresAt) {
		s.remove(e)
		return 0, 0, nil
	}
	return e.count, e.expiresAt.Sub(now), nil
}

// Delete implements [Backend.Delete].
func (m *Memory) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := m.shardFor(key)
	s.mu.Lock()
	defer s.mu.Unlock()

	if e, ok := s.entries[key]; ok {
		s.remove(e)
	}
	return nil
}

// len returns the number of stored entries, expired or not; tests use it to
// check that memory stays bounded.
func (m *Memory) len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.entries)
		s.mu.Unlock()
	}
	return n
}

func (m *Memory) shardFor(key string) *shard {
	return &m.shards[maphash.String(m.seed, key)%shardCount]
}

// sweep removes up to limit expired entries, soonest expiry first.
// The caller holds s.mu.
func (s *shard) sweep(now time.Time, limit int) {
	for i := 0; i < limit && len(s.expiry) > 0 && !now.Before(s.expiry[0].expiresAt); i++ {
		e := heap.Pop(&s.expiry).(*entry)
		delete(s.entries, e.key)
	}
}

// remove deletes e from the map and the heap. The caller holds s.mu.
func (s *shard) remove(e *entry) {
	heap.Remove(&s.expiry, e.index)
	delete(s.entries, e.key)
}

// expiryHeap is a container/heap of entries ordered by expiry.
type expiryHeap []*entry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expiresAt.Before(h[j].expiresAt) }

func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *expiryHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}

func (h *expiryHeap) Pop() any {
	old := *h
	n := len(old)
	e := old[n-1]
	old[n-1] = nil // let the entry be collected
	e.index = -1
	*h = old[:n-1]
	return e
}
