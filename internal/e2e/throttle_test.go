package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestReplay sends one valid code from 50 sessions of one user at the same
// moment: exactly one may succeed (a step is accepted once, atomically),
// every other is refused as a wrong code or throttled, and none fails with
// a server error. With high budgets all 50 reach the code check, so the
// store's atomic step update is what decides; with the default per-user
// budget most are refused before the check.
func TestReplay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  []string
	}{
		{"every request reaches the code check", []string{"TWOSTEP_LIMITS_VERIFY_PER_USER=1000", "TWOSTEP_LIMITS_VERIFY_PER_IP=1000"}},
		{"default budgets", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := newInstance(t, "", append([]string{"TWOSTEP_LIMITS_LOGIN_PER_IP=1000"}, tc.env...)...)
			s := in.start(t)
			u := s.setupTOTP(t, "frank")

			const n = 50
			tokens := make([]string, n)
			for i := range tokens {
				tokens[i] = s.login(t, "frank").str(t, "token")
			}
			code := u.gen.Next(t) // a step not used yet

			results, errs := together(n, func(i int) (response, error) {
				return s.send("POST", "/api/v1/verify", map[string]string{"method": "totp", "code": code}, bearer(tokens[i]))
			})

			counts := map[int]int{}
			winner := -1
			for i, r := range results {
				if errs[i] != nil {
					t.Errorf("request %d: %v", i, errs[i])
					continue
				}
				counts[r.status]++
				switch r.status {
				case http.StatusOK:
					winner = i
				case http.StatusUnauthorized, http.StatusTooManyRequests:
				default:
					t.Errorf("request %d: status %d, want 200, 401 or 429: %s", i, r.status, strings.TrimSpace(string(r.body)))
				}
			}
			t.Logf("status counts: %v", counts)
			if counts[http.StatusOK] != 1 {
				t.Fatalf("%d of %d parallel requests accepted the same code, want exactly 1", counts[http.StatusOK], n)
			}
			if counts[http.StatusOK]+counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests] != n {
				t.Errorf("some answers were neither 200, 401 nor 429: %v", counts)
			}
			// Only the winner's session rose to aal2.
			for i, tok := range tokens {
				if i == winner {
					s.call(t, "GET", "/api/v1/session", nil, bearer(tok)).wantErr(t, 401, "unauthenticated", "winner's rotated-away token")
					continue
				}
				if aal := s.call(t, "GET", "/api/v1/session", nil, bearer(tok)).want(t, 200, "loser's session").obj(t)["aal"]; aal != "aal1" {
					t.Fatalf("session %d is at %v after a refused code, want aal1", i, aal)
				}
			}
		})
	}
}

// TestThrottling: five wrong codes are each refused as wrong; the sixth
// attempt is refused with 429 and Retry-After even with the right code;
// after the wait the right code works, and the success resets the count.
func TestThrottling(t *testing.T) {
	t.Parallel()
	in := newInstance(t, "", "TWOSTEP_LIMITS_BACKOFF_BASE=1s")
	s := in.start(t)
	u := s.setupTOTP(t, "grace")
	tok := s.login(t, "grace").str(t, "token")
	verify := func(code string) response {
		return s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "totp", "code": code}, bearer(tok))
	}

	wrong := u.gen.Wrong()
	for i := 1; i <= 5; i++ {
		verify(wrong).wantErr(t, 401, "invalid_code", fmt.Sprintf("wrong code #%d", i))
	}
	good := u.gen.Next(t)
	res := verify(good)
	res.wantErr(t, 429, "too_many_attempts", "sixth attempt, with the right code, during the lock")
	ra, err := strconv.Atoi(res.header.Get("Retry-After"))
	if err != nil || ra < 1 {
		t.Fatalf("Retry-After = %q, want a whole number of seconds ≥ 1", res.header.Get("Retry-After"))
	}
	if ra > 2 {
		t.Errorf("Retry-After = %d s, want about 1 s (limits.backoff_base=1s)", ra)
	}
	if !strings.Contains(s.Log.String(), "event=lockout") {
		t.Errorf("the lock-out was not audited in the log")
	}
	if aal := s.call(t, "GET", "/api/v1/session", nil, bearer(tok)).want(t, 200, "session during lock").obj(t)["aal"]; aal != "aal1" {
		t.Fatalf("session at %v during the lock, want aal1", aal)
	}

	time.Sleep(time.Duration(ra) * time.Second)
	res = verify(good).want(t, 200, "right code after the lock")
	if res.obj(t)["aal"] != "aal2" {
		t.Errorf("verify after the lock: %s", res.body)
	}

	// Success reset the count: a new wrong code is just wrong, not locked.
	tok = s.login(t, "grace").str(t, "token")
	verify(wrong).wantErr(t, 401, "invalid_code", "wrong code after a success")
}

// TestPerIPLimits: logins and second-factor attempts from one client IP are
// budgeted per minute; over the budget the answer is 429 rate_limited with
// Retry-After.
func TestPerIPLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		env    string
		budget int
		try    func(t *testing.T, s *server, tok string) response
	}{
		{"login", "TWOSTEP_LIMITS_LOGIN_PER_IP=3", 3, func(t *testing.T, s *server, _ string) response {
			return s.call(t, "POST", "/api/v1/login", map[string]string{"username": "heidi", "password": "not the password"})
		}},
		{"verify", "TWOSTEP_LIMITS_VERIFY_PER_IP=3", 3, func(t *testing.T, s *server, tok string) response {
			return s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "totp", "code": "12345"}, bearer(tok))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := newInstance(t, "", tc.env)
			in.AddUser(t, "heidi")
			s := in.start(t)
			tok := ""
			if tc.name == "verify" {
				tok = s.login(t, "heidi").str(t, "token")
			}
			for i := 1; i <= tc.budget; i++ {
				if r := tc.try(t, s, tok); r.status == 429 {
					t.Fatalf("attempt %d of a budget of %d refused: %s", i, tc.budget, r.body)
				}
			}
			r := tc.try(t, s, tok)
			r.wantErr(t, 429, "rate_limited", "attempt over the budget")
			if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
				t.Errorf("Retry-After = %q, want 1..60 seconds", r.header.Get("Retry-After"))
			}
		})
	}
}

// TestCLIUnlockReachesRunningServer: the second-factor back-off lives in
// the database, so `twostep user unlock` (and reset-mfa) from the command
// line ends it on a running server, on SQLite too (it used to live in the
// server's memory there: the next code got 429 Retry-After: 111).
func TestCLIUnlockReachesRunningServer(t *testing.T) {
	t.Parallel()
	in := newInstance(t, "")
	s := in.start(t)
	u := s.setupTOTP(t, "gus")
	tok := s.login(t, "gus").str(t, "token")
	verify := func(code string) response {
		return s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "totp", "code": code}, bearer(tok))
	}
	wrong := u.gen.Wrong()
	for range 5 {
		verify(wrong).wantErr(t, 401, "invalid_code", "wrong code")
	}
	good := u.gen.Next(t)
	verify(good).wantErr(t, 429, "too_many_attempts", "right code during the back-off")
	// The list shows the sign-in that just happened.
	if out := in.MustCLI(t, "", "user", "list"); !regexp.MustCompile(`(?m)^gus\s+active\s+1\s+\d{4}-\d\d-\d\d \d\d:\d\dZ\s`).MatchString(out) {
		t.Fatalf("user list does not show gus's last sign-in:\n%s", out)
	}
	in.MustCLI(t, "", "user", "unlock", "gus")
	verify(good).want(t, 200, "right code right after the CLI unlock")
}
