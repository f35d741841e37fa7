package e2e

import (
	"testing"

	"github.com/twostep/twostep/internal/e2e/e2etest"
)

// TestAdminAPI drives /api/v1/admin with the admin token: a wrong or
// missing token is refused; users are created (policy enforced), listed,
// disabled (their sessions end at once), enabled and reset (the next
// sign-in sets up a factor again).
func TestAdminAPI(t *testing.T) {
	t.Parallel()
	// Room for the refused calls below: throttling of wrong tokens is
	// TestAdminTokenFailuresThrottled's subject.
	in := newInstance(t, "", "TWOSTEP_ADMIN_TOKEN="+adminToken, "TWOSTEP_LIMITS_ADMIN_PER_IP=1000")
	s := in.start(t)
	admin := bearer(adminToken)

	t.Run("token required", func(t *testing.T) {
		tests := []struct {
			name string
			opt  reqOpt
		}{
			{"missing", header("Authorization", "")},
			{"wrong", bearer(adminToken + "x")},
			{"prefix", bearer(adminToken[:32])},
			{"other scheme", header("Authorization", "Basic "+adminToken)},
			{"as session cookie", cookie(adminToken)},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				s.call(t, "GET", "/api/v1/admin/users", nil, tc.opt).wantErr(t, 401, "unauthenticated", "list users")
				s.call(t, "POST", "/api/v1/admin/users", map[string]string{"username": "eve", "password": e2etest.Password}, tc.opt).
					wantErr(t, 401, "unauthenticated", "create user")
			})
		}
		// Nothing was created.
		if users := listUsers(t, s); len(users) != 0 {
			t.Fatalf("users after refused calls: %v", users)
		}
	})

	// Create, with the password policy and unique names.
	res := s.call(t, "POST", "/api/v1/admin/users", map[string]string{"username": "Carol", "password": e2etest.Password}, admin).
		want(t, 201, "create carol")
	if m := res.obj(t); m["username"] != "carol" || m["id"] == "" {
		t.Errorf("create: %s, want the normalised name and an id", res.body)
	}
	s.call(t, "POST", "/api/v1/admin/users", map[string]string{"username": "carol", "password": e2etest.Password}, admin).
		wantErr(t, 409, "user_exists", "duplicate user")
	s.call(t, "POST", "/api/v1/admin/users", map[string]string{"username": "weak", "password": "password"}, admin).
		wantErr(t, 400, "invalid_request", "common password")
	s.call(t, "POST", "/api/v1/admin/users", map[string]string{"username": "short", "password": "abc"}, admin).
		wantErr(t, 400, "invalid_request", "short password")
	s.call(t, "POST", "/api/v1/admin/users", map[string]string{"username": "bad name", "password": e2etest.Password}, admin).
		wantErr(t, 400, "invalid_request", "bad user name")
	if u := listUsers(t, s); len(u) != 1 || u["carol"]["disabled"] != false || u["carol"]["methods"] != 0.0 {
		t.Fatalf("users = %v, want carol only, active, no methods", u)
	}

	// Disable ends carol's session at once and blocks sign-in.
	tok := s.login(t, "carol").str(t, "token")
	s.call(t, "GET", "/api/v1/session", nil, bearer(tok)).want(t, 200, "carol's session")
	s.call(t, "POST", "/api/v1/admin/users/carol/disable", nil, admin).want(t, 204, "disable")
	s.call(t, "GET", "/api/v1/session", nil, bearer(tok)).wantErr(t, 401, "unauthenticated", "session of a disabled user")
	s.call(t, "POST", "/api/v1/login", map[string]string{"username": "carol", "password": e2etest.Password}).
		wantErr(t, 401, "invalid_credentials", "login of a disabled user")
	if u := listUsers(t, s); u["carol"]["disabled"] != true {
		t.Errorf("list after disable: %v", u)
	}
	s.call(t, "POST", "/api/v1/admin/users/carol/enable", nil, admin).want(t, 204, "enable")
	tok = s.login(t, "carol").str(t, "token")

	// Reset MFA removes the app and the sessions; the next sign-in sets up.
	u := s.enrolTOTP(t, "carol", tok)
	if l := listUsers(t, s); l["carol"]["methods"] != 1.0 {
		t.Errorf("list after set-up: %v, want one method", l)
	}
	s.call(t, "POST", "/api/v1/admin/users/carol/reset-mfa", nil, admin).want(t, 204, "reset-mfa")
	s.call(t, "GET", "/api/v1/session", nil, bearer(u.aal2)).wantErr(t, 401, "unauthenticated", "aal2 session after reset")
	if m := s.login(t, "carol").obj(t); m["next"] != "setup" {
		t.Errorf("login after reset: next %v, want setup", m["next"])
	}
	if l := listUsers(t, s); l["carol"]["methods"] != 0.0 {
		t.Errorf("list after reset: %v, want no methods", l)
	}

	// Invite through the API.
	inv := s.call(t, "POST", "/api/v1/admin/users/carol/invite", nil, admin).want(t, 200, "invite").obj(t)
	if inv["invite"] == "" || inv["link"] == "" || inv["expires_at"] == "" {
		t.Errorf("invite answer %v lacks invite, link or expires_at", inv)
	}

	// Unknown users.
	for _, action := range []string{"disable", "enable", "reset-mfa", "invite"} {
		s.call(t, "POST", "/api/v1/admin/users/ghost/"+action, nil, admin).wantErr(t, 404, "not_found", action+" of an unknown user")
	}

	sec := secrets{password: e2etest.Password, totp: []string{u.secret}, codes: u.codesUsed, recovery: u.recovery,
		tokens: []string{tok, u.aal2}, adminTok: adminToken}
	if s, ok := inv["invite"].(string); ok {
		sec.tokens = append(sec.tokens, s)
	}
	assertLogClean(t, in.Log.String(), sec)
}

// listUsers returns GET /api/v1/admin/users by username.
func listUsers(t *testing.T, s *server) map[string]map[string]any {
	t.Helper()
	m := s.call(t, "GET", "/api/v1/admin/users", nil, bearer(adminToken)).want(t, 200, "list users").obj(t)
	users, ok := m["users"].([]any)
	if !ok && m["users"] != nil {
		t.Fatalf("list users: %v", m)
	}
	out := map[string]map[string]any{}
	for _, u := range users {
		um := u.(map[string]any)
		out[um["username"].(string)] = um
	}
	return out
}
