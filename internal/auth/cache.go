package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twostep/twostep/internal/model"
)

// Forward-auth sees every request of every protected application, so it
// reads sessions through a small in-process cache. Only sessions that
// exist are cached, so anonymous requests leave no state behind.
//
// Logout, disable, reset-mfa or any other change an entry depends on must
// show on every instance within 1 s (issue #5). Two rules keep that bound:
//
//   - An entry is always trusted for cacheTTL (1 s) after it was loaded.
//   - Past that, up to cacheMaxTTL, only while the session watch (watch.go)
//     is healthy: its last successful poll of the store's session events
//     began less than cacheTTL-watchMargin ago, and no event was applied
//     while the entry was being loaded (long). The poll drops every entry a
//     change committed before it began names, so a change at time C is gone
//     from this cache by the first poll begun after C, at most
//     watchEvery later. If the polls fail or stall, entries fall back to
//     the first rule by themselves, with no one to notice.
//
// So an active session is re-read from the store once per cacheMaxTTL, not
// once a second (issue #12), while the bound stays 1 s. The events are
// written by database triggers (store migration 0011), so the CLI, which
// runs in its own process, is covered too.
const (
	cacheTTL       = time.Second
	cacheMaxTTL    = 30 * time.Second
	watchEvery     = 250 * time.Millisecond
	watchMargin    = 100 * time.Millisecond // slack for the poll's own time and clock steps
	cacheShards    = 16
	cacheShardSize = 4096 // entries per shard before it is cleared
)

// cacheEntry is immutable once put, but for seen: readers share it without
// copying, and the identity's header values are built once for every check
// that reads it (identity.go).
type cacheEntry struct {
	cur      Current
	id       Identity
	noFactor bool // see cachedSession
	fetched  time.Time
	long     bool // may be trusted past cacheTTL while the watch is healthy
	// seen is the idle timer as this instance knows it (Unix nanoseconds):
	// the stored last_seen_at, moved on when this instance queues a touch.
	// It replaces cur.Session.LastSeenAt, which stays as loaded.
	seen atomic.Int64
}

type cacheShard struct {
	mu sync.Mutex
	m  map[[32]byte]*cacheEntry
}

// sessionCache maps token hashes to recently loaded sessions.
type sessionCache struct {
	shards [cacheShards]cacheShard
	touch  chan [32]byte // idle-timer updates, written by one background worker
	once   sync.Once

	// drops counts invalidations. A load reads it before asking the store
	// and puts a long entry only if it has not moved: an event applied in
	// between may name what the load read before the change committed.
	drops atomic.Uint64
	// watched is when the last successful poll began (Unix nanoseconds of
	// the service clock); 0 while the watch has never succeeded.
	watched atomic.Int64
	// loads counts misses that read the store (exposed as a metric: a flat
	// count under steady checks shows the cache is not lapsing).
	loads atomic.Uint64
}

func (c *sessionCache) shard(h *[32]byte) *cacheShard { return &c.shards[h[0]%cacheShards] }

// trusted is the validity rule above for an entry at now.
func (c *sessionCache) trusted(e *cacheEntry, now time.Time) bool {
	age := now.Sub(e.fetched)
	switch {
	case age < 0 || age > cacheMaxTTL:
		return false
	case age <= cacheTTL:
		return true
	}
	w := c.watched.Load()
	since := now.UnixNano() - w
	return e.long && w != 0 && since >= 0 && since < int64(cacheTTL-watchMargin)
}

func (c *sessionCache) get(h *[32]byte, now time.Time) (*cacheEntry, bool) {
	sh := c.shard(h)
	sh.mu.Lock()
	e, ok := sh.m[*h]
	sh.mu.Unlock()
	if !ok || !c.trusted(e, now) {
		return nil, false
	}
	return e, true
}

// put stores e, loaded by a load that read drops as gen before asking the
// store. The check and the insert share the shard lock, and a drop counts
// before it takes the lock, so either the load sees the count move (the
// entry is short) or the drop comes after the insert and removes it.
func (c *sessionCache) put(h *[32]byte, e *cacheEntry, gen uint64) {
	sh := c.shard(h)
	sh.mu.Lock()
	e.long = c.drops.Load() == gen
	if sh.m == nil || len(sh.m) >= cacheShardSize {
		sh.m = make(map[[32]byte]*cacheEntry, 64) // bounded memory: start over
	}
	sh.m[*h] = e
	sh.mu.Unlock()
}

func (c *sessionCache) drop(hash []byte) {
	if len(hash) != 32 {
		return
	}
	c.drops.Add(1)
	c.dropHash([32]byte(hash))
}

func (c *sessionCache) dropHash(h [32]byte) {
	sh := c.shard(&h)
	sh.mu.Lock()
	delete(sh.m, h)
	sh.mu.Unlock()
}

// dropUsers removes every entry of the users in ids: one pass over the
// shards (at most cacheShards*cacheShardSize entries) for the whole batch.
func (c *sessionCache) dropUsers(ids map[string]bool) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for h, e := range sh.m {
			if ids[e.cur.User.ID] {
				delete(sh.m, h)
			}
		}
		sh.mu.Unlock()
	}
}

// dropAll empties the cache.
func (c *sessionCache) dropAll() {
	c.drops.Add(1)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.m = nil
		sh.mu.Unlock()
	}
}

// cachedSession is Authenticate for the forward-auth hot path: it answers
// from the cache when it can, never deletes, and moves the idle timer only
// through the background worker (batched writes, off the request path).
// The entry's noFactor reports an aal1 session of a user with no second
// factor their group policy allows, where that policy does not require one
// (a sign-in complete with the password) or the user has a grace start
// under it (grace.go; Check decides by the deadline); it is looked up only
// then, and cached with the session. The entry is shared: callers only
// read it.
//
// A hit allocates nothing: the token is hashed from a copy on the stack
// (a []byte conversion of a 43-character token would go to the heap), the
// idle timer is an atomic in the entry, and the touch queue takes the hash
// by value.
func (s *Service) cachedSession(ctx context.Context, tok string) (*cacheEntry, error) {
	if tok == "" || len(tok) > 128 {
		return nil, ErrUnauthenticated
	}
	var buf [128]byte
	h := sha256.Sum256(buf[:copy(buf[:], tok)])
	now := s.d.Now()
	idle := int64(s.cfg.IdleTimeout)
	e, ok := s.cache.get(&h, now)
	// An entry that looks idle may be stale: another instance may have
	// moved the timer since. Only the store can say.
	if !ok || now.UnixNano()-e.seen.Load() > idle {
		var err error
		if e, err = s.loadSession(ctx, h, now); err != nil {
			return nil, err
		}
	}
	cur := &e.cur
	seen := e.seen.Load()
	if cur.User.Disabled || now.UnixNano()-seen > idle || now.Sub(cur.Session.CreatedAt) > s.cfg.AbsoluteTimeout {
		return nil, ErrUnauthenticated
	}
	// Entries live for up to cacheMaxTTL, so a hit moves the idle timer
	// too, once per touchEvery; the CAS lets one of the parallel hits
	// queue it.
	if now.UnixNano()-seen > int64(s.touchEvery()) && e.seen.CompareAndSwap(seen, now.UnixNano()) {
		s.queueTouch(h)
	}
	return e, nil
}

// loadSession reads the session of hash h and its user from the store and
// caches them: cachedSession's miss.
func (s *Service) loadSession(ctx context.Context, h [32]byte, now time.Time) (*cacheEntry, error) {
	s.cache.loads.Add(1)
	gen := s.cache.drops.Load()
	ss, err := s.d.Store.Session(ctx, h[:])
	if errors.Is(err, model.ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	u, err := s.d.Store.UserByID(ctx, ss.UserID)
	if errors.Is(err, model.ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	e := &cacheEntry{cur: Current{Session: ss, User: u}, id: newIdentity(u), fetched: now}
	e.seen.Store(ss.LastSeenAt.UnixNano())
	if p := s.policyFor(u); ss.AAL != model.AAL2 && (!p.Required || u.Grace.Policy == p.Key()) {
		active, err := s.activeFactors(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		e.noFactor = len(allowedOf(p, active)) == 0
	}
	s.cache.put(&h, e, gen)
	return e, nil
}

// SessionLoads counts forward-auth's session-cache misses that read the
// store since start (the metric twostep_session_cache_loads_total).
func (s *Service) SessionLoads() uint64 { return s.cache.loads.Load() }

// queueTouch hands an idle-timer update to the worker; when the queue is
// full the update is skipped (the next cache refresh asks again).
func (s *Service) queueTouch(hash [32]byte) {
	s.cache.once.Do(func() {
		s.cache.touch = make(chan [32]byte, 1024)
		go s.touchWorker()
	})
	select {
	case s.cache.touch <- hash:
	default:
	}
}

func (s *Service) touchWorker() {
	for h := range s.cache.touch {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.d.Store.TouchSession(ctx, h[:], s.d.Now()); err != nil && !errors.Is(err, model.ErrNotFound) {
			s.d.Log.Warn("session touch failed", "error", err)
		}
		cancel()
	}
}
