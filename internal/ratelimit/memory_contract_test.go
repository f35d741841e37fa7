package ratelimit_test

import (
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/ratelimit"
	"github.com/twostep/twostep/internal/ratelimit/ratelimittest"
)

func TestMemoryBackend(t *testing.T) {
	ratelimittest.BackendContract(t, func(t *testing.T) (ratelimit.Backend, func(time.Duration)) {
		var mu sync.Mutex
		now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		return ratelimit.NewMemory(clock), func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	})
}
