package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/ratelimit"
	"github.com/twostep/twostep/internal/ratelimit/ratelimittest"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/store/storetest"
)

var _ ratelimit.Backend = (*store.Counters)(nil)

// The database counters pass the same contract as the in-memory backend,
// on both dialects.
func TestCounters(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *store.Store{"sqlite": storetest.NewSQLite, "postgres": storetest.NewPostgres} {
		t.Run(name, func(t *testing.T) {
			ratelimittest.BackendContract(t, func(t *testing.T) (ratelimit.Backend, func(time.Duration)) {
				var mu sync.Mutex
				now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
				clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
				return open(t).Counters(clock), func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
			})
		})
	}
}
