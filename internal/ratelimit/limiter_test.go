package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestAllowBoundaries(t *testing.T) {
	tests := []struct {
		name      string
		lim       Limit
		calls     int
		wantAllow int // the first wantAllow calls pass, the rest are refused
	}{
		{"one per window", Limit{Count: 1, Window: time.Minute}, 3, 1},
		{"exactly at the limit", Limit{Count: 5, Window: time.Minute}, 5, 5},
		{"one over the limit", Limit{Count: 5, Window: time.Minute}, 6, 5},
		{"well over the limit", Limit{Count: 3, Window: time.Hour}, 20, 3},
		{"zero count is unlimited", Limit{Count: 0, Window: time.Minute}, 100, 100},
		{"negative count is unlimited", Limit{Count: -1}, 100, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLimiter(NewMemory(newFakeClock().Now))
			for i := range tt.calls {
				retry, err := l.Allow(context.Background(), "k", tt.lim)
				if i < tt.wantAllow {
					if err != nil || retry != 0 {
						t.Fatalf("call %d = (%v, %v), want allowed", i+1, retry, err)
					}
					continue
				}
				var le *LimitedError
				if !errors.As(err, &le) {
					t.Fatalf("call %d: err = %v, want *LimitedError", i+1, err)
				}
				if retry != tt.lim.Window || le.RetryAfter != tt.lim.Window {
					t.Errorf("call %d: retry = %v, RetryAfter = %v, want %v", i+1, retry, le.RetryAfter, tt.lim.Window)
				}
			}
		})
	}
}

func TestAllowUnlimitedCountsNothing(t *testing.T) {
	m := NewMemory(newFakeClock().Now)
	l := NewLimiter(m)
	if _, err := l.Allow(context.Background(), "k", Limit{}); err != nil {
		t.Fatal(err)
	}
	if m.len() != 0 {
		t.Errorf("an unlimited Allow stored %d entries", m.len())
	}
}

func TestAllowWithoutWindowFails(t *testing.T) {
	l := NewLimiter(NewMemory(newFakeClock().Now))
	_, err := l.Allow(context.Background(), "k", Limit{Count: 1})
	if err == nil {
		t.Fatal("Allow with a count but no window succeeded")
	}
	if le := (*LimitedError)(nil); errors.As(err, &le) {
		t.Errorf("err = %v, want a configuration error, not *LimitedError", err)
	}
}

func TestAllowWindowResets(t *testing.T) {
	clock := newFakeClock()
	l := NewLimiter(NewMemory(clock.Now))
	lim := Limit{Count: 2, Window: time.Minute}
	ctx := context.Background()
	allow := func() (time.Duration, error) { return l.Allow(ctx, "k", lim) }

	for range 2 {
		if _, err := allow(); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(20 * time.Second)
	if retry, err := allow(); err == nil || retry != 40*time.Second {
		t.Fatalf("3rd call = (%v, %v), want (40s, rate limited)", retry, err)
	}
	clock.Advance(40 * time.Second)
	if retry, err := allow(); err != nil || retry != 0 {
		t.Fatalf("first call of the next window = (%v, %v), want allowed", retry, err)
	}
}

func TestLimitedError(t *testing.T) {
	var err error = &LimitedError{RetryAfter: 3 * time.Second}
	if got := err.Error(); got != "rate limited" {
		t.Errorf("Error() = %q", got)
	}
	wrapped := errors.Join(errors.New("verify"), err)
	var le *LimitedError
	if !errors.As(wrapped, &le) || le.RetryAfter != 3*time.Second {
		t.Errorf("errors.As through a wrap = %v, %+v", errors.As(wrapped, &le), le)
	}
}

func TestAllowAll(t *testing.T) {
	ip := Limit{Count: 2, Window: time.Hour}
	user := Limit{Count: 3, Window: 24 * time.Hour}
	global := Limit{Count: 100, Window: time.Minute}
	tests := []struct {
		name string
		// before counts each key this many times with its limit first.
		before    map[string]int
		wantRetry time.Duration // 0: allowed
		// wantCount is each key's count after the call.
		wantCount map[string]int64
	}{
		{
			name:      "all within",
			wantCount: map[string]int64{"ip": 1, "user": 1, "global": 1},
		},
		{
			name:      "all at the last unit",
			before:    map[string]int{"ip": 1, "user": 2},
			wantCount: map[string]int64{"ip": 2, "user": 3, "global": 1},
		},
		{
			name:      "first over stops counting",
			before:    map[string]int{"ip": 2},
			wantRetry: time.Hour,
			wantCount: map[string]int64{"ip": 3, "user": 0, "global": 0},
		},
		{
			name:      "middle over: earlier stays counted, later untouched",
			before:    map[string]int{"user": 3},
			wantRetry: 24 * time.Hour,
			wantCount: map[string]int64{"ip": 1, "user": 4, "global": 0},
		},
		{
			name:      "longest wait wins over the refusing check",
			before:    map[string]int{"ip": 2, "user": 3},
			wantRetry: 24 * time.Hour,
			wantCount: map[string]int64{"ip": 3, "user": 3, "global": 0},
		},
		{
			name:      "a later check with room does not add its window",
			before:    map[string]int{"ip": 2, "global": 99},
			wantRetry: time.Hour,
			wantCount: map[string]int64{"ip": 3, "user": 0, "global": 99},
		},
		{
			name:      "last over",
			before:    map[string]int{"global": 100},
			wantRetry: time.Minute,
			wantCount: map[string]int64{"ip": 1, "user": 1, "global": 101},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMemory(newFakeClock().Now)
			l := NewLimiter(m)
			ctx := context.Background()
			checks := []Check{
				{Key: "ip", Limit: ip},
				{Key: "unlimited", Limit: Limit{}},
				{Key: "user", Limit: user},
				{Key: "global", Limit: global},
			}
			for _, c := range checks {
				for range tt.before[c.Key] {
					if _, _, err := m.Incr(ctx, c.Key, c.Limit.Window); err != nil {
						t.Fatal(err)
					}
				}
			}

			err := l.AllowAll(ctx, checks)
			if tt.wantRetry == 0 {
				if err != nil {
					t.Fatalf("AllowAll = %v, want allowed", err)
				}
			} else {
				var le *LimitedError
				if !errors.As(err, &le) {
					t.Fatalf("AllowAll = %v, want *LimitedError", err)
				}
				if le.RetryAfter != tt.wantRetry {
					t.Errorf("RetryAfter = %v, want %v", le.RetryAfter, tt.wantRetry)
				}
			}
			for key, want := range tt.wantCount {
				if got, _, _ := m.Peek(ctx, key); got != want {
					t.Errorf("count[%s] = %d, want %d", key, got, want)
				}
			}
		})
	}
}

func TestAllowAllNoChecks(t *testing.T) {
	l := NewLimiter(NewMemory(newFakeClock().Now))
	if err := l.AllowAll(context.Background(), nil); err != nil {
		t.Errorf("AllowAll(nil) = %v", err)
	}
}

// TestLimiterFailsClosed: when the backend fails, the answer is an error
// (the caller refuses), never "allowed" and never a plain 429.
func TestLimiterFailsClosed(t *testing.T) {
	lim := Limit{Count: 10, Window: time.Minute}
	tests := []struct {
		name string
		fail func(op, key string) bool
		call func(*Limiter) error
	}{
		{"Allow, incr fails", failAll, func(l *Limiter) error {
			_, err := l.Allow(context.Background(), "k", lim)
			return err
		}},
		{"AllowAll, first incr fails", failAll, func(l *Limiter) error {
			return l.AllowAll(context.Background(), []Check{{"a", lim}, {"b", lim}})
		}},
		{"AllowAll, later incr fails", func(_, key string) bool { return key == "b" }, func(l *Limiter) error {
			return l.AllowAll(context.Background(), []Check{{"a", lim}, {"b", lim}})
		}},
		{"AllowAll, peek after refusal fails", func(op, _ string) bool { return op == "peek" }, func(l *Limiter) error {
			return l.AllowAll(context.Background(), []Check{{"a", Limit{Count: 1, Window: time.Minute}}, {"b", lim}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMemory(newFakeClock().Now)
			// "a" is already at its limit of 1 for the peek case.
			if _, _, err := m.Incr(context.Background(), "a", time.Minute); err != nil {
				t.Fatal(err)
			}
			l := NewLimiter(failingBackend{Backend: m, fail: tt.fail})
			err := tt.call(l)
			if !errors.Is(err, errBackend) {
				t.Errorf("err = %v, want the backend error", err)
			}
			if le := (*LimitedError)(nil); errors.As(err, &le) {
				t.Errorf("err = %v is a *LimitedError, want the backend error", err)
			}
		})
	}
}

// TestBlockedAndFail: failures only are counted; the one that uses up the
// limit says so, exactly once; Blocked refuses from then on without
// counting, until the window ends; and the first refusal of Allow is
// marked First, once.
func TestBlockedAndFail(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	l := NewLimiter(NewMemory(clock.Now))
	lim := Limit{Count: 3, Window: time.Minute}
	for i := 1; i <= 5; i++ {
		if _, blocked, err := l.Blocked(ctx, "k", lim); err != nil || blocked != (i > 3) {
			t.Fatalf("before failure %d: blocked %v, %v", i, blocked, err)
		}
		reached, err := l.Fail(ctx, "k", lim)
		if err != nil || reached != (i == 3) {
			t.Fatalf("failure %d: reached %v, %v; want %v", i, reached, err, i == 3)
		}
	}
	if wait, blocked, _ := l.Blocked(ctx, "k", lim); !blocked || wait <= 0 || wait > time.Minute {
		t.Fatalf("blocked %v, wait %v", blocked, wait)
	}
	clock.Advance(time.Minute)
	if _, blocked, _ := l.Blocked(ctx, "k", lim); blocked {
		t.Fatal("still blocked after the window")
	}
	var firsts int
	for range 10 {
		var le *LimitedError
		if _, err := l.Allow(ctx, "a", lim); errors.As(err, &le) && le.First {
			firsts++
		}
	}
	if firsts != 1 {
		t.Fatalf("%d refusals marked First, want 1", firsts)
	}
}
