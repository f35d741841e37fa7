package web_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/auth"
)

const day = 24 * time.Hour

// rollout configures mfa.policies, the grace period and access rules for
// app.example.com: /wiki accepts a grace period, the rest is two_factor.
func rollout(t *testing.T, grace time.Duration, policies ...string) func(*auth.Config) {
	t.Helper()
	ps, errs := auth.ParseMFAPolicies(policies)
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	return func(c *auth.Config) {
		c.Policies, c.GracePeriod = ps, grace
		for _, s := range []string{"app.example.com/wiki two_factor+grace", "app.example.com two_factor"} {
			r, err := auth.ParseRule(s)
			if err != nil {
				t.Fatal(err)
			}
			c.Access.Rules = append(c.Access.Rules, r)
		}
	}
}

// TestPagesPolicyTable: each (groups, method) pair through the pages: the
// set-up page lists exactly the methods the user's policy allows, and a
// forged choice of another is refused with the policy's sentence (403),
// nothing set up.
func TestPagesPolicyTable(t *testing.T) {
	e := newEnvWith(t, nil, passkeysOn(false), rollout(t, 0, "admins required methods=webauthn+totp", "field required methods=sms"))
	users := []struct {
		name   string
		groups []string
		allow  map[string]bool
	}{
		{"ann", []string{"admins"}, map[string]bool{"totp": true, "webauthn": true}},
		{"fred", []string{"field"}, map[string]bool{"sms": true}},
		{"eve", nil, map[string]bool{"totp": true, "sms": true, "webauthn": true}},
	}
	next := map[string]string{"totp": "/setup/totp", "sms": "/setup/sms", "webauthn": "/setup/passkey"}
	for _, u := range users {
		e.addUser(u.name)
		if err := e.svc.SetAttributes(ctx, auth.Client{IP: "192.0.2.1"}, u.name, "", u.groups); err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{"totp", "sms", "webauthn"} {
			b := e.browser()
			p := b.login(u.name, pw)
			p.want(t, http.StatusOK, "/setup", "Set up two-step sign-in")
			if got := p.has(`id="method-` + m + `"`); got != u.allow[m] {
				t.Errorf("%s: set-up page lists %s: %v, allowed %v", u.name, m, got, u.allow[m])
			}
			p = b.submit("/setup", url.Values{"method": {m}})
			if u.allow[m] {
				if p.status != http.StatusOK || p.url.Path != next[m] {
					t.Errorf("%s chooses %s: at %s (%d), want %s", u.name, m, p.url, p.status, next[m])
				}
				continue
			}
			if p.status != http.StatusForbidden || !p.has("Your organisation does not allow this sign-in method") {
				t.Errorf("%s forges %s: at %s (%d), want the 403 policy page\n%s", u.name, m, p.url, p.status, p.body)
			}
		}
	}
	// A user whose only method the policy no longer allows is sent from
	// sign-in to set-up, told why, and offered only what is allowed.
	b := e.browser()
	secret, _ := b.enrol("eve")
	_ = secret
	if err := e.svc.SetAttributes(ctx, auth.Client{IP: "192.0.2.1"}, "eve", "", []string{"field"}); err != nil {
		t.Fatal(err)
	}
	b = e.browser()
	p := b.login("eve", pw)
	p.want(t, http.StatusOK, "/setup", "Set up two-step sign-in")
	if !p.has("no longer allows the sign-in method you have") || p.has(`id="method-totp"`) || !p.has(`id="method-sms"`) {
		t.Fatalf("set-up page of a user whose app is no longer allowed:\n%s", p.body)
	}
	if p := b.get("/verify"); p.url.Path != "/setup" {
		t.Fatalf("/verify with no allowed method: at %s, want /setup", p.url)
	}
}

// TestPagesGrace: the set-up page offers "Set up later (N days left)" with
// a reminder; choosing it goes on to an application that accepts a grace
// period, or says the application needs set-up now; day N shows N days
// left; after the deadline the choice is gone and a forged one refused.
func TestPagesGrace(t *testing.T) {
	e := newEnv(t, rollout(t, 14*day))
	e.addUser("alice")
	b := e.browser()
	b.get("/login?rd=" + url.QueryEscape("http://app.example.com/wiki/start"))
	p := b.submit("/login", url.Values{"username": {"alice"}, "password": {pw}})
	p.want(t, http.StatusOK, "/setup", "Set up two-step sign-in")
	if !p.has("Set up later (14 days left)") || !p.has(`id="grace-reminder"`) {
		t.Fatalf("set-up page in grace:\n%s", p.body)
	}
	p = b.submit("/setup/later", nil)
	if p.url.Path != "/continue" || !p.has("app.example.com") {
		t.Fatalf("Set up later towards a grace application: at %s\n%s", p.url, p.body)
	}

	// Towards an application that does not accept a grace period.
	b = e.browser()
	b.get("/login?rd=" + url.QueryEscape("http://app.example.com/admin"))
	b.submit("/login", url.Values{"username": {"alice"}, "password": {pw}})
	p = b.submit("/setup/later", nil)
	p.want(t, http.StatusOK, "/setup/later", "Set up later")
	if !p.has("<strong>app.example.com</strong> needs two-step sign-in now") || !p.has("14 days left") {
		t.Fatalf("later page for a two_factor application:\n%s", p.body)
	}

	// Day 10: 4 days left, not renewed by signing in again.
	e.clock.Add(10 * day)
	b = e.browser()
	p = b.login("alice", pw)
	if !p.has("Set up later (4 days left)") {
		t.Fatalf("day 10:\n%s", p.body)
	}
	p = b.submit("/setup/later", nil)
	p.want(t, http.StatusOK, "/setup/later", "Set up later")
	if !p.has("4 days left") || p.has("needs two-step sign-in now") {
		t.Fatalf("later page without an application:\n%s", p.body)
	}
	if !strings.Contains(p.body, `href="/setup"`) {
		t.Fatalf("later page without a way to set up now:\n%s", p.body)
	}
	if p := b.get("/setup"); !p.has("Set up later (4 days left)") {
		t.Fatalf("back to set-up:\n%s", p.body)
	}

	// After the deadline: the choice is gone; a forged post is refused.
	e.clock.Add(4 * day)
	b = e.browser()
	p = b.login("alice", pw)
	p.want(t, http.StatusOK, "/setup", "Set up two-step sign-in")
	if p.has("Set up later") || p.has(`id="grace-reminder"`) {
		t.Fatalf("after the deadline the set-up page still offers later:\n%s", p.body)
	}
	form := p.form(t, "/setup")
	p = b.post("/setup/later", url.Values{"csrf": form["csrf"]})
	if p.status != http.StatusForbidden || !p.has("The time to set this up later has run out") {
		t.Fatalf("forged Set up later after the deadline: %d\n%s", p.status, p.body)
	}
	if p := b.get("/setup/later"); p.url.Path != "/setup" {
		t.Fatalf("GET /setup/later after the deadline: at %s", p.url)
	}
}
