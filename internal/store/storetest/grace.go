package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/store"
)

// testGrace: a grace start is fixed once per policy key, whatever the
// number of parallel first sign-ins; another key replaces it (and its
// extension); an extension applies only over the state it was computed
// from.
func testGrace(t *testing.T, s *store.Store) {
	u := mkUser(t, s, "alice")
	if got, _ := s.UserByID(ctx, u.ID); got.Grace != (model.Grace{}) {
		t.Fatalf("new user grace = %+v, want none", got.Grace)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	fixed := 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.StartGrace(ctx, u.ID, "*", t0.Add(time.Duration(i)*time.Second))
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				fixed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if fixed != 1 {
		t.Fatalf("%d parallel first sign-ins fixed the start, want 1", fixed)
	}
	got, _ := s.UserByID(ctx, u.ID)
	if got.Grace.Policy != "*" || got.Grace.StartedAt.Before(t0) || got.Grace.Extended != 0 {
		t.Fatalf("grace = %+v", got.Grace)
	}
	if ok, err := s.StartGrace(ctx, u.ID, "*", t0.Add(time.Hour)); ok || err != nil {
		t.Fatalf("a later sign-in under the same policy moved the start: %v, %v", ok, err)
	}
	ext := model.Grace{Policy: "*", StartedAt: got.Grace.StartedAt, Extended: 7 * 24 * time.Hour}
	if err := s.SetGrace(ctx, u.ID, got.Grace, ext); err != nil {
		t.Fatal(err)
	}
	if err := s.SetGrace(ctx, u.ID, got.Grace, model.Grace{Policy: "*", StartedAt: t0, Extended: time.Hour}); !errors.Is(err, model.ErrConflict) {
		t.Fatalf("extension over a stale state: %v, want conflict", err)
	}
	if again, _ := s.UserByID(ctx, u.ID); again.Grace != ext {
		t.Fatalf("grace = %+v, want %+v", again.Grace, ext)
	}
	if ok, err := s.StartGrace(ctx, u.ID, "staff", t0.Add(2*time.Hour)); !ok || err != nil {
		t.Fatalf("a sign-in under another policy: %v, %v", ok, err)
	}
	want := model.Grace{Policy: "staff", StartedAt: t0.Add(2 * time.Hour)}
	if again, _ := s.UserByID(ctx, u.ID); again.Grace != want {
		t.Fatalf("grace under another policy = %+v, want %+v (extension dropped)", again.Grace, want)
	}
}
