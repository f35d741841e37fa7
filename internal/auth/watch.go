package auth

import (
	"context"
	"time"

	"github.com/twostep/twostep/internal/store"
)

// sessionEventsKeep is how long session events stay in the store: far
// longer than an entry lives (cacheMaxTTL), so a poller that was cut off
// for a while still finds every event that can name an entry it holds
// (an entry loaded after an event was written already reflects it).
const sessionEventsKeep = time.Hour

// WatchSessions keeps the forward-auth session cache in step with the
// store until ctx ends: every watchEvery it reads the session events
// (store migration 0011) committed since its last read and drops the
// entries they name. While it succeeds, entries are trusted for up to
// cacheMaxTTL instead of cacheTTL (cache.go); serve runs it, and without
// it (the CLI, tests) the cache keeps the 1-s rule.
func (s *Service) WatchSessions(ctx context.Context) {
	var w sessionWatch
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	for {
		s.pollSessions(ctx, &w)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sessionWatch is one watcher's state.
type sessionWatch struct {
	cursor  store.EventCursor
	failing bool // the last poll failed (logged once per outage)
}

// pollSessions is one poll: read the new events, drop what they name, and
// only then record when the poll began, which is what lets entries live
// long (cache.go). A failed poll records nothing, so entries fall back to
// cacheTTL once the last success is cacheTTL-watchMargin old.
func (s *Service) pollSessions(ctx context.Context, w *sessionWatch) error {
	began := s.d.Now()
	pctx, cancel := context.WithTimeout(ctx, cacheTTL)
	defer cancel()
	events, start, err := s.d.Store.SessionEvents(pctx, &w.cursor)
	if err != nil {
		if !w.failing && ctx.Err() == nil {
			s.d.Log.Warn("session cache: reading session events failed; entries are trusted for 1 s until it works again", "error", err)
		}
		w.failing = true
		return err
	}
	if w.failing {
		s.d.Log.Info("session cache: reading session events works again")
		w.failing = false
	}
	switch {
	case start:
		// Changes committed before this first read are not in it: forget
		// everything loaded before.
		s.cache.dropAll()
	case len(events) > 0:
		s.cache.drops.Add(1)
		var users map[string]bool
		for _, e := range events {
			if len(e.TokenHash) == 32 {
				s.cache.dropHash([32]byte(e.TokenHash))
				continue
			}
			if users == nil {
				users = make(map[string]bool)
			}
			users[e.UserID] = true
		}
		if users != nil {
			s.cache.dropUsers(users)
		}
	}
	s.cache.watched.Store(began.UnixNano())
	return nil
}

// PruneSessionEvents deletes session events older than sessionEventsKeep
// (a cleanup job of serve).
func (s *Service) PruneSessionEvents(ctx context.Context) (int64, error) {
	return s.d.Store.PruneSessionEvents(ctx, s.d.Now().Add(-sessionEventsKeep))
}
