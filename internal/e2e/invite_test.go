package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/e2e/e2etest"
)

// inviteFromCLI runs `twostep user invite NAME` and returns the token in
// the link and the expiry it printed.
func inviteFromCLI(t *testing.T, in *instance, name string) (string, time.Time) {
	t.Helper()
	out := in.MustCLI(t, "", "user", "invite", name)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("user invite printed %q, want the link and its expiry", out)
	}
	u, err := url.Parse(lines[0])
	if err != nil || u.Query().Get("invite") == "" || !strings.HasPrefix(u.Scheme, "http") {
		t.Fatalf("user invite printed no link with invite=: %q", lines[0])
	}
	if got := u.Query().Get("username"); got != name {
		t.Errorf("invite link names user %q, want %q", got, name)
	}
	exp, ok := strings.CutPrefix(lines[1], "valid until ")
	if !ok {
		t.Fatalf("user invite printed %q, want \"valid until ...\"", lines[1])
	}
	exp, _, _ = strings.Cut(exp, ",")
	at, err := time.Parse(time.RFC3339, exp)
	if err != nil {
		t.Fatalf("invite expiry %q: %v", exp, err)
	}
	return u.Query().Get("invite"), at
}

// TestEnrollmentInvite: with enrollment: invite, a user without a factor
// signs in only with a one-time set-up link from `twostep user invite`; the
// link works once, for its user only, and not after it expires. Once the
// user has a factor, no link is needed.
func TestEnrollmentInvite(t *testing.T) {
	t.Parallel()
	in := newInstance(t, "", "TWOSTEP_ENROLLMENT=invite")
	in.AddUser(t, "bob")
	in.AddUser(t, "carol")
	s := in.start(t)
	login := func(user, invite string) response {
		body := map[string]string{"username": user, "password": e2etest.Password}
		if invite != "" {
			body["invite"] = invite
		}
		return s.call(t, "POST", "/api/v1/login", body)
	}

	login("bob", "").wantErr(t, 403, "invite_required", "first login without an invite")
	login("bob", "made-up-invite").wantErr(t, 403, "invite_required", "first login with a made-up invite")
	s.call(t, "POST", "/api/v1/login", map[string]string{"username": "bob", "password": "wrong password", "invite": "x"}).
		wantErr(t, 401, "invalid_credentials", "wrong password with an invite")

	// The CLI issues the link while the server runs (same database).
	inv, exp := inviteFromCLI(t, in, "bob")
	if d := time.Until(exp); d < 71*time.Hour || d > 73*time.Hour {
		t.Errorf("invite valid until %v, want about 72 h from now (invite_ttl default)", exp)
	}
	if strings.Contains(in.Log.String(), "note: enrollment is") {
		t.Errorf("user invite warned that enrollment is password although it is invite")
	}

	login("carol", inv).wantErr(t, 403, "invite_required", "another user's invite")
	res := login("bob", inv).want(t, 200, "login with the invite")
	if m := res.obj(t); m["next"] != "setup" || m["aal"] != "aal1" {
		t.Fatalf("login with invite: %s, want aal1 and next setup", res.body)
	}
	login("bob", inv).wantErr(t, 403, "invite_required", "the same invite again")

	// Bob sets up his app with the session the invite opened; from then on
	// the password leads to verification, no link needed.
	s.enrolTOTP(t, "bob", res.str(t, "token"))
	if m := login("bob", "").want(t, 200, "login after set-up").obj(t); m["next"] != "verify" {
		t.Errorf("login after set-up: next %v, want verify", m["next"])
	}
	assertLogClean(t, in.Log.String(), secrets{password: e2etest.Password, tokens: []string{inv}})
}

// TestInviteExpires: a set-up link stops working after invite_ttl.
func TestInviteExpires(t *testing.T) {
	t.Parallel()
	in := newInstance(t, "", "TWOSTEP_ENROLLMENT=invite", "TWOSTEP_INVITE_TTL=1s")
	in.AddUser(t, "dan")
	s := in.start(t)
	inv, exp := inviteFromCLI(t, in, "dan")
	// The printed expiry is cut to whole seconds; the real one is up to 1 s later.
	time.Sleep(time.Until(exp) + 1100*time.Millisecond)
	s.call(t, "POST", "/api/v1/login", map[string]string{"username": "dan", "password": e2etest.Password, "invite": inv}).
		wantErr(t, 403, "invite_required", "expired invite")
}
