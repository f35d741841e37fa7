package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/e2e/e2etest"
)

// TestHealthAndSecurityHeaders: /healthz and /readyz answer 200, and every
// response (success, error, page-less 404, refused cross-origin request)
// carries the browser hardening headers. HSTS is left out on plain HTTP.
func TestHealthAndSecurityHeaders(t *testing.T) {
	t.Parallel()
	in := newInstance(t, "")
	in.AddUser(t, "judy")
	s := in.start(t)
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		opts   []reqOpt
		status int
	}{
		{"healthz", "GET", "/healthz", nil, nil, 200},
		{"readyz", "GET", "/readyz", nil, nil, 200},
		{"login", "POST", "/api/v1/login", map[string]string{"username": "judy", "password": e2etest.Password}, nil, 200},
		{"failed login", "POST", "/api/v1/login", map[string]string{"username": "judy", "password": "wrong password"}, nil, 401},
		{"unknown API call", "GET", "/api/v1/nope", nil, nil, 404},
		{"unknown path", "GET", "/no/such/page", nil, nil, 404},
		{"cross-origin refusal", "POST", "/api/v1/login", map[string]string{"username": "judy", "password": e2etest.Password},
			[]reqOpt{header("Sec-Fetch-Site", "cross-site")}, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.call(t, tc.method, tc.path, tc.body, tc.opts...).want(t, tc.status, tc.name)
			h := r.header
			if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("Content-Security-Policy = %q", csp)
			}
			if v := h.Get("X-Frame-Options"); v != "DENY" {
				t.Errorf("X-Frame-Options = %q, want DENY", v)
			}
			if v := h.Get("X-Content-Type-Options"); v != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", v)
			}
			if v := h.Get("Referrer-Policy"); v == "" {
				t.Error("Referrer-Policy missing")
			}
			if v := h.Get("Strict-Transport-Security"); v != "" {
				t.Errorf("HSTS %q sent over plain HTTP", v)
			}
			if tc.status == 200 && strings.HasPrefix(tc.path, "/api/") && !strings.Contains(h.Get("Cache-Control"), "no-store") {
				t.Errorf("API answer with a token may be cached: Cache-Control %q", h.Get("Cache-Control"))
			}
		})
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if st := s.call(t, "GET", p, nil).obj(t)["status"]; st != "ok" {
			t.Errorf("%s status %v, want ok", p, st)
		}
	}
}

// TestStartupLog: the start-up log says where the server listens, that
// cookies go without Secure on plain-HTTP localhost, and (as
// docs/configuration.md promises) the effective configuration with every
// secret that is set shown as ***, never the secret itself.
func TestStartupLog(t *testing.T) {
	t.Parallel()
	in := newInstance(t, "", "TWOSTEP_ADMIN_TOKEN="+adminToken)
	s := in.start(t)
	s.stop()
	log := in.Log.String()
	for _, want := range []string{`msg="twostep listening"`, "Secure", "enrollment=password"} {
		if !strings.Contains(log, want) {
			t.Errorf("start-up log lacks %q", want)
		}
	}
	if strings.Contains(log, adminToken) {
		t.Fatal("the start-up log contains the admin token")
	}
	if !strings.Contains(log, "admin_token") || !strings.Contains(log, "***") {
		t.Errorf("the start-up log does not show the effective configuration with the admin token as *** (docs/configuration.md, \"The start-up log\"); log:\n%s", log)
	}
}

// TestOneServerPerSQLiteFile: a second `twostep serve` on the same SQLite
// file refuses to start and says why (each would keep its own in-memory
// limits and caches), while administrative commands still work beside the
// running server.
func TestOneServerPerSQLiteFile(t *testing.T) {
	t.Parallel()
	in := newInstance(t, "sqlite:"+filepath.Join(t.TempDir(), "one.db"))
	in.start(t)
	log := &e2etest.Log{}
	_, stop, err := e2etest.Serve(in.Env, log)
	if err == nil {
		stop()
		t.Fatal("a second server started on the same SQLite file")
	}
	if !strings.Contains(log.String(), "another twostep serve is already using the database") {
		t.Fatalf("second server's log does not say why:\n%s", log.String())
	}
	in.AddUser(t, "ivy")
}

// TestStartEndsLeftoverLeases: a second-factor attempt cut off by a crash
// leaves its lease in the user's row; the one server of a SQLite file ends
// such leases at start, so the user is not told to wait after a restart.
func TestStartEndsLeftoverLeases(t *testing.T) {
	t.Parallel()
	in := newInstance(t, "sqlite:"+filepath.Join(t.TempDir(), "lease.db"))
	s := in.start(t)
	u := s.setupTOTP(t, "lee")
	s.stop()
	if _, err := in.OpenDB(t).Exec(`UPDATE users SET mfa_busy_until = $1 WHERE username = 'lee'`, time.Now().Add(time.Hour).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	s = in.start(t)
	tok := s.login(t, "lee").str(t, "token")
	s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "totp", "code": u.gen.Next(t)}, bearer(tok)).
		want(t, 200, "verify right after a restart")
}
