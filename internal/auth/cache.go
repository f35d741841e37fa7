package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"time"

	"github.com/twostep/twostep/internal/model"
)

// Forward-auth sees every request of every protected application, so it
// reads sessions through a small in-process cache. An entry is trusted for
// at most cacheTTL: logout, disable or reset-mfa on any instance takes
// effect everywhere within that time (issue #5 allows 1 s). Only sessions
// that exist are cached, so anonymous requests leave no state behind.
const (
	cacheTTL       = time.Second
	cacheShards    = 16
	cacheShardSize = 4096 // entries per shard before it is cleared
)

// cacheEntry is immutable once put: readers share it without copying, and
// the identity's header values are built once for every check that reads
// it (identity.go).
type cacheEntry struct {
	cur      Current
	id       Identity
	noFactor bool // see cachedSession
	fetched  time.Time
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
}

func (c *sessionCache) shard(h *[32]byte) *cacheShard { return &c.shards[h[0]%cacheShards] }

func (c *sessionCache) get(h *[32]byte, now time.Time) (*cacheEntry, bool) {
	sh := c.shard(h)
	sh.mu.Lock()
	e, ok := sh.m[*h]
	sh.mu.Unlock()
	if !ok || now.Sub(e.fetched) > cacheTTL || now.Before(e.fetched) {
		return nil, false
	}
	return e, true
}

func (c *sessionCache) put(h *[32]byte, e *cacheEntry) {
	sh := c.shard(h)
	sh.mu.Lock()
	if sh.m == nil || len(sh.m) >= cacheShardSize {
		sh.m = make(map[[32]byte]*cacheEntry, 64) // bounded memory: start over
	}
	sh.m[*h] = e
	sh.mu.Unlock()
}

func (c *sessionCache) drop(hash []byte) {
	h := [32]byte(hash)
	sh := c.shard(&h)
	sh.mu.Lock()
	delete(sh.m, h)
	sh.mu.Unlock()
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
// (a []byte conversion of a 43-character token would go to the heap), and
// only a miss hands the hash to the database or the touch queue.
func (s *Service) cachedSession(ctx context.Context, tok string) (*cacheEntry, error) {
	if tok == "" || len(tok) > 128 {
		return nil, ErrUnauthenticated
	}
	var buf [128]byte
	h := sha256.Sum256(buf[:copy(buf[:], tok)])
	now := s.d.Now()
	e, ok := s.cache.get(&h, now)
	if !ok {
		var err error
		if e, err = s.loadSession(ctx, h, now); err != nil {
			return nil, err
		}
	}
	cur := &e.cur
	if cur.User.Disabled || now.Sub(cur.Session.LastSeenAt) > s.cfg.IdleTimeout || now.Sub(cur.Session.CreatedAt) > s.cfg.AbsoluteTimeout {
		return nil, ErrUnauthenticated
	}
	return e, nil
}

// loadSession reads the session of hash h and its user from the store and
// caches them: cachedSession's miss.
func (s *Service) loadSession(ctx context.Context, h [32]byte, now time.Time) (*cacheEntry, error) {
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
	if p := s.policyFor(u); ss.AAL != model.AAL2 && (!p.Required || u.Grace.Policy == p.Key()) {
		active, err := s.activeFactors(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		e.noFactor = len(allowedOf(p, active)) == 0
	}
	if now.Sub(ss.LastSeenAt) > s.touchEvery() {
		s.queueTouch(h)
		e.cur.Session.LastSeenAt = now
	}
	s.cache.put(&h, e)
	return e, nil
}

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
