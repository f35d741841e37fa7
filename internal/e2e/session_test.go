package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/e2e/e2etest"
)

// TestSessionTimeouts: a session unused for session.idle_timeout ends; one
// in use stays until session.absolute_timeout after sign-in, then ends.
func TestSessionTimeouts(t *testing.T) {
	t.Parallel()
	const idle, absolute = 2 * time.Second, 4 * time.Second
	in := newInstance(t, "", "TWOSTEP_SESSION_IDLE_TIMEOUT=2s", "TWOSTEP_SESSION_ABSOLUTE_TIMEOUT=4s")
	in.AddUser(t, "nina")
	s := in.start(t)

	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		tok := s.login(t, "nina").str(t, "token")
		s.call(t, "GET", "/api/v1/session", nil, bearer(tok)).want(t, 200, "fresh session")
		time.Sleep(idle + 300*time.Millisecond)
		s.call(t, "GET", "/api/v1/session", nil, bearer(tok)).wantErr(t, 401, "unauthenticated", "session idle past idle_timeout")
	})

	t.Run("active, then absolute", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		tok := s.login(t, "nina").str(t, "token")
		// Used every half second: alive past idle_timeout, up to absolute.
		for time.Since(start) < absolute-700*time.Millisecond {
			r := s.call(t, "GET", "/api/v1/session", nil, bearer(tok))
			if r.status != 200 {
				t.Fatalf("session in use every 0.5 s refused after %v (idle_timeout %v): %d %s",
					time.Since(start).Round(100*time.Millisecond), idle, r.status, r.body)
			}
			time.Sleep(500 * time.Millisecond)
		}
		time.Sleep(time.Until(start.Add(absolute + 300*time.Millisecond)))
		s.call(t, "GET", "/api/v1/session", nil, bearer(tok)).wantErr(t, 401, "unauthenticated", "session past absolute_timeout")
	})
}

// TestUniformLoginFailures: an unknown user, a wrong password, a disabled
// account and a malformed name get the same answer, and (with the default
// argon2id cost) an unknown user is not answered markedly faster than a
// wrong password, so neither reveals which accounts exist (OWASP
// Authentication Cheat Sheet, "Authentication and Error Messages").
func TestUniformLoginFailures(t *testing.T) {
	t.Parallel()
	// Default argon2id parameters: this test is about the hashing cost.
	in := newInstance(t, "", "TWOSTEP_PASSWORD_ARGON2_MEMORY=19456", "TWOSTEP_PASSWORD_ARGON2_TIME=2", "TWOSTEP_LIMITS_LOGIN_PER_IP=1000",
		"TWOSTEP_LIMITS_LOGIN_PER_ACCOUNT=1000")
	in.AddUser(t, "olga")
	in.AddUser(t, "pete")
	in.MustCLI(t, "", "user", "disable", "pete")
	s := in.start(t)

	tests := []struct{ name, user, pw string }{
		{"wrong password", "olga", "not the password"},
		{"unknown user", "nobody", "not the password"},
		{"unknown user, right password", "nobody", e2etest.Password},
		{"disabled user, right password", "pete", e2etest.Password},
		{"malformed user name", "no such user!", e2etest.Password},
	}
	const rounds = 5
	var first []byte
	medians := map[string]time.Duration{}
	for _, tc := range tests {
		var times []time.Duration
		for range rounds {
			start := time.Now()
			r := s.call(t, "POST", "/api/v1/login", map[string]string{"username": tc.user, "password": tc.pw})
			times = append(times, time.Since(start))
			r.wantErr(t, 401, "invalid_credentials", tc.name)
			if first == nil {
				first = r.body
			} else if string(r.body) != string(first) {
				t.Errorf("%s: answer %s differs from %s", tc.name, r.body, first)
			}
			if r.setTok != "" {
				t.Errorf("%s: a failed login set a session cookie", tc.name)
			}
		}
		slices.Sort(times)
		medians[tc.name] = times[rounds/2]
	}
	t.Logf("median login times: %v", medians)
	ref := medians["wrong password"]
	for name, d := range medians {
		if d < ref/4 {
			t.Errorf("%s answered in %v, wrong password in %v: the difference reveals which accounts exist", name, d, ref)
		}
	}
}

// TestHTTPSPublicURL: with an https public URL the session cookie is
// Secure with the __Host- prefix (no cookie_domain) and responses carry
// HSTS.
func TestHTTPSPublicURL(t *testing.T) {
	t.Parallel()
	in := newInstance(t, "", "TWOSTEP_PUBLIC_URL=https://login.example.com")
	in.AddUser(t, "quinn")
	s := in.start(t)
	r := s.login(t, "quinn")
	if r.cookie == nil || r.cookie.Name != "__Host-twostep_session" || !r.cookie.Secure || !r.cookie.HttpOnly ||
		r.cookie.SameSite != http.SameSiteLaxMode || r.cookie.Domain != "" || r.cookie.Path != "/" {
		t.Errorf("session cookie %q, want __Host-twostep_session; Path=/; Secure; HttpOnly; SameSite=Lax", r.header.Get("Set-Cookie"))
	}
	if hsts := r.header.Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=") {
		t.Errorf("Strict-Transport-Security = %q, want max-age", hsts)
	}
	if strings.Contains(in.Log.String(), "without the Secure attribute") {
		t.Error("the log claims development mode (no Secure cookies) for an https public URL")
	}
}
