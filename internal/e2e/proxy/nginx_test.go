package proxy

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/e2e/e2etest"
)

// TestNginxForwardAuth is issue #5's integration test: an unauthenticated
// request to the application is sent to twostep's sign-in with the original
// URL; after the password and an authenticator-app code the application
// sees Remote-User: alice (and her name, e-mail and groups); the rules'
// bypass, deny, one_factor and group paths behave; a password-only (aal1)
// session cannot reach a two_factor path; after logout the old session is
// refused within 1 s; and a client cannot smuggle its own Remote-User.
func TestNginxForwardAuth(t *testing.T) {
	s := newSetup(t)
	s.ts.AddUser(t, "alice")
	s.ts.MustCLI(t, "", "user", "set", "alice", "--email", "alice@example.test", "--groups", "staff,ops")
	appURL := func(p string) string { return s.front.url(appHost, p) }

	anon := s.client(t, false)
	c := s.client(t, true) // alice's browser

	// 1. Not signed in: nginx answers with twostep's redirect to the login
	// page, carrying the original URL (query and all) as rd. The
	// application sees nothing.
	orig := appURL("/page?x=1&y=a+b%2Fc")
	res := anon.get(orig, withHeader("Accept", "text/html")).want(t, http.StatusFound, "unauthenticated GET")
	login, err := url.Parse(res.location(t))
	if err != nil {
		t.Fatal(err)
	}
	if login.Host != loginHost+":"+portOf(s) || login.Path != "/login" {
		t.Fatalf("redirect to %s, want the login page at %s", login, s.front.url(loginHost, "/login"))
	}
	rd := login.Query().Get("rd")
	if rd != orig {
		t.Fatalf("rd = %q, want the original URL %q", rd, orig)
	}
	if n := s.app.hits.Load(); n != 0 {
		t.Fatalf("the application got %d requests before sign-in", n)
	}
	// The sign-in page keeps rd: its host is one the rules cover.
	page := c.get(login.String()).want(t, http.StatusOK, "login page")
	if got := hiddenFields(page.body)["rd"]; got != rd {
		t.Fatalf("login form rd = %q, want %q", got, rd)
	}

	// 2. Password (JSON API through nginx): an aal1 session, cookie for
	// example.test.
	api := func(p string) string { return s.front.url(loginHost, "/api/v1"+p) }
	c.do("POST", api("/login"), map[string]string{"username": "alice", "password": e2etest.Password}).want(t, http.StatusOK, "login")
	aal1 := c.sessionCookie(appURL("/"))
	if aal1 == "" {
		t.Fatal("after login the jar has no session cookie for " + appHost + " (cookie_domain)")
	}

	// 3. aal1 only: not enough for two_factor paths, enough for one_factor.
	c.get(orig).want(t, http.StatusFound, "aal1 session on a two_factor path")
	if got := seen(c.get(appURL("/light/x")).want(t, http.StatusOK, "aal1 session on a one_factor path").body)["Remote-User"]; got != "alice" {
		t.Errorf("one_factor path: application saw Remote-User %q, want alice", got)
	}

	// 4. Second factor: set up an authenticator app and confirm it.
	s.addApp(t, c)
	aal2 := c.sessionCookie(appURL("/"))
	if aal2 == "" || aal2 == aal1 {
		t.Fatal("the confirm did not set a new session cookie")
	}
	if got := anon.get(orig, withCookie(aal1)).status; got != http.StatusFound {
		t.Errorf("the aal1 token after its rotation: status %d, want 302", got)
	}

	// 5. Back at the original URL: the application sees alice.
	want := map[string]string{"Remote-User": "alice", "Remote-Name": "alice", "Remote-Email": "alice@example.test", "Remote-Groups": "staff,ops", "Path": "/page?x=1&y=a+b%2Fc"}
	got := seen(c.get(rd).want(t, http.StatusOK, "signed-in GET of the original URL").body)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("application saw %s: %q, want %q", k, got[k], v)
		}
	}
	// The login page sends a signed-in user on to rd at once.
	if loc := c.get(login.String()).want(t, http.StatusSeeOther, "login page when signed in").location(t); loc != orig {
		t.Errorf("signed-in login page sends to %q, want %q", loc, orig)
	}

	t.Run("bypass", func(t *testing.T) {
		// No session needed; and a client's own identity headers never reach
		// the application.
		res := anon.get(appURL("/public/info"), withHeader("Remote-User", "mallory"), withHeader("Remote-Groups", "admins")).
			want(t, http.StatusOK, "bypass path without a session")
		if m := seen(res.body); m["Remote-User"] != "" || m["Remote-Groups"] != "" {
			t.Errorf("bypass path: application saw Remote-User %q, Remote-Groups %q; want both removed by nginx", m["Remote-User"], m["Remote-Groups"])
		}
		res = c.get(appURL("/public/info"), withHeader("Remote-User", "mallory")).want(t, http.StatusOK, "bypass path with a session")
		if m := seen(res.body); m["Remote-User"] != "" {
			t.Errorf("bypass path with a session: application saw Remote-User %q, want none (twostep does not name users on bypass)", m["Remote-User"])
		}
	})

	t.Run("spoofed identity is replaced", func(t *testing.T) {
		res := c.get(appURL("/page"), withHeader("Remote-User", "mallory")).want(t, http.StatusOK, "signed-in GET")
		if m := seen(res.body); m["Remote-User"] != "alice" {
			t.Errorf("application saw Remote-User %q, want alice only", m["Remote-User"])
		}
	})

	t.Run("deny", func(t *testing.T) {
		before := s.app.hits.Load()
		anon.get(appURL("/blocked")).want(t, http.StatusForbidden, "deny path without a session")
		c.get(appURL("/blocked/x")).want(t, http.StatusForbidden, "deny path with an aal2 session")
		if s.app.hits.Load() != before {
			t.Error("a deny path reached the application")
		}
	})

	t.Run("group", func(t *testing.T) {
		c.get(appURL("/admin")).want(t, http.StatusForbidden, "admins path for a user outside admins")
	})

	t.Run("host no rule names", func(t *testing.T) {
		// access.default_policy is deny here; nginx's catch-all server answers
		// hosts it does not know with 421 before any check.
		c.get(s.front.url("other.test", "/")).want(t, http.StatusMisdirectedRequest, "unknown host")
	})

	t.Run("methods other than GET", func(t *testing.T) {
		// The check ignores the body and the redirect is built with GET.
		res := anon.do("POST", appURL("/page"), url.Values{"a": {"1"}}).want(t, http.StatusFound, "unauthenticated POST")
		if !strings.HasPrefix(res.location(t), s.front.url(loginHost, "/login?rd=")) {
			t.Errorf("POST redirect to %q", res.location(t))
		}
		res = c.do("POST", appURL("/page"), url.Values{"a": {"1"}}).want(t, http.StatusOK, "signed-in POST")
		if m := seen(res.body); m["Remote-User"] != "alice" {
			t.Errorf("POST: application saw Remote-User %q", m["Remote-User"])
		}
	})

	t.Run("nginx's own return 302", func(t *testing.T) {
		// The shortest configuration: nginx writes the login URL itself, with
		// rd not percent-encoded; a simple path survives.
		u := s.front.url(simpleHost, "/simple/page")
		loc := anon.get(u).want(t, http.StatusFound, "unauthenticated GET").location(t)
		if want := s.front.url(loginHost, "/login?rd="+u); loc != want {
			t.Errorf("Location = %q, want %q", loc, want)
		}
		if m := seen(c.get(u).want(t, http.StatusOK, "signed-in GET").body); m["Remote-User"] != "alice" {
			t.Errorf("application saw Remote-User %q, want alice", m["Remote-User"])
		}
		// The login page accepts that rd (a host the rules cover).
		page := c.get(s.front.url(loginHost, "/login?rd="+u)).want(t, http.StatusSeeOther, "login page when signed in")
		if page.location(t) != u {
			t.Errorf("signed-in login page sends to %q, want %q", page.location(t), u)
		}
	})

	// 6. Logout: the old session is refused within 1 s, on this instance
	// (which drops its cache entry) and on a second instance whose cache
	// still holds the session (the session cache's 1-s bound,
	// docs/deploy.md "Session cache").
	// Several instances need PostgreSQL (one server per SQLite file): the
	// second instance runs in the suite's PostgreSQL pass
	// (TWOSTEP_TEST_BACKEND=postgres, as .ci/run does).
	var other *twostep
	if s.ts.DSN != "" {
		other = s.ts.another(t)
	}
	check := func(tok string) int {
		req, _ := http.NewRequest("GET", "http://"+other.addr+"/api/v1/auth/auth-request", nil)
		req.Header.Set("X-Original-URL", appURL("/page"))
		req.AddCookie(&http.Cookie{Name: "twostep_session", Value: tok})
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("check on the second instance: %v", err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	t.Run("logout", func(t *testing.T) {
		if other != nil {
			if st := check(aal2); st != http.StatusOK {
				t.Fatalf("second instance before logout: status %d, want 200", st)
			}
		}
		c.get(appURL("/page")).want(t, http.StatusOK, "signed-in GET before logout")
		c.do("DELETE", api("/session"), nil).want(t, http.StatusNoContent, "logout")
		if tok := c.sessionCookie(appURL("/")); tok != "" {
			t.Error("logout left the session cookie in the browser")
		}
		start := time.Now()
		for {
			st := anon.get(appURL("/page"), withCookie(aal2)).status
			if st == http.StatusFound {
				t.Logf("old session refused %v after logout", time.Since(start).Round(time.Millisecond))
				break
			}
			if st != http.StatusOK {
				t.Fatalf("old session after logout: status %d, want 200 or 302", st)
			}
			if time.Since(start) > time.Second {
				t.Fatalf("old session still passes %v after logout", time.Since(start))
			}
			time.Sleep(20 * time.Millisecond)
		}
		if other == nil {
			return
		}
		// The second instance read the session just before the logout;
		// its cache may keep it for up to 1 s. Measured from the end of the
		// logout; 100 ms of slack covers the polling and scheduling.
		start = time.Now()
		for {
			st := check(aal2)
			if st == http.StatusUnauthorized {
				t.Logf("second instance refused the old session %v after logout", time.Since(start).Round(time.Millisecond))
				break
			}
			if st != http.StatusOK {
				t.Fatalf("second instance after logout: status %d, want 200 or 401", st)
			}
			if time.Since(start) > 1100*time.Millisecond {
				t.Fatalf("second instance still passes the old session %v after logout", time.Since(start))
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// portOf returns nginx's port as text.
func portOf(s *setup) string {
	u, _ := url.Parse(s.front.url(appHost, "/"))
	return u.Port()
}

// TestNginxPathTricks sends paths that name a deny or group-only resource
// in another spelling: dot segments, ';' path parameters, percent-encoding
// (double encoding too), doubled slashes; and a Host with user-info. nginx
// passes the path to the application as the client wrote it (proxy_pass
// without a URI), and applications commonly resolve such spellings to the
// resource itself (Tomcat and Spring read /public/..;/blocked as /blocked),
// so twostep must apply the rule of the normalised path or refuse: none of
// these may reach the application, with or without the path guard that
// docs/proxies.md offers as defence in depth. Behind the guard nginx
// refuses them itself and ordinary requests still pass. Requests are
// written byte for byte (setup.raw): http.Client would turn "//blocked"
// into an absolute URL naming the host "blocked".
func TestNginxPathTricks(t *testing.T) {
	s := newSetup(t)
	s.ts.AddUser(t, "alice")
	alice := s.client(t, true)
	s.enrol(t, alice, "alice")
	tok := alice.sessionCookie(s.front.url(appHost, "/"))
	port := portOf(s)
	tricks := []string{
		"/public/../blocked",
		"/public/%2e%2e/blocked",
		"/public/..%2Fblocked",
		"/public%2F..%2Fblocked",
		"/public/../admin",
		"/public/./../admin",
		"/public/..",
		"/%62locked",
		"/%61dmin",
		"/./blocked",
		"//blocked",
		"/x/../blocked",
		"/x/..%5Cblocked",
		"/public/..;/blocked",
		"/public/..;/admin/",
		"/blocked;jsessionid=0123",
		"/public/%252e%252e/blocked",
		"/public/%252e%252e/admin/",
		"/public/%2e%2e%3b/admin",
	}
	who := []struct {
		name   string
		cookie []string
	}{{"anonymous", nil}, {"alice", []string{"Cookie: twostep_session=" + tok}}}
	noneReach := func(t *testing.T, host string, skip map[string]string) {
		for _, p := range tricks {
			for _, w := range who {
				if skip[p] == w.name {
					continue
				}
				before := s.app.hits.Load()
				res := s.raw(t, "GET", p, host+":"+port, w.cookie...)
				if s.app.hits.Load() != before {
					t.Errorf("%s: GET %s reached the application (status %d, it saw %q)", w.name, p, res.status, seen(res.body)["Path"])
				}
			}
		}
	}

	t.Run("behind the path guard", func(t *testing.T) {
		noneReach(t, guardedHost, nil)
		// Ordinary requests are untouched by the guard.
		for _, tc := range []struct {
			cookie []string
			path   string
			status int
		}{
			{who[1].cookie, "/page", http.StatusOK},
			{who[1].cookie, "/page?next=https://example.test//a/../b;c&q=%2F%25", http.StatusOK},
			{who[1].cookie, "/a%20file.txt", http.StatusOK},
			{who[1].cookie, "/caf%C3%A9", http.StatusOK},
			{who[1].cookie, "/.well-known/security.txt", http.StatusOK},
			{nil, "/public/x", http.StatusOK},
			{nil, "/page", http.StatusFound},
			{who[1].cookie, "/blocked", http.StatusForbidden},
			{who[1].cookie, "/admin", http.StatusForbidden},
		} {
			if res := s.raw(t, "GET", tc.path, guardedHost+":"+port, tc.cookie...); res.status != tc.status {
				t.Errorf("GET %s: status %d, want %d", tc.path, res.status, tc.status)
			}
		}
	})

	t.Run("as twostep matches", func(t *testing.T) {
		// /public/.. is "/", which alice (aal2) may see; for anonymous it
		// is refused like every other spelling.
		noneReach(t, appHost, map[string]string{"/public/..": "alice"})
		// nginx routes this Host to the application's server block. When
		// the configuration built X-Original-URL from $http_host and twostep
		// read the URL's host with url.Parse, it sent the check to
		// public.example.test's bypass rule. Now the configuration names the
		// host itself, and twostep refuses a host with user-info anyway.
		for _, w := range who {
			before := s.app.hits.Load()
			res := s.raw(t, "GET", "/admin", appHost+":"+port+"@"+publicHost, w.cookie...)
			if s.app.hits.Load() != before {
				t.Errorf("%s: Host with user-info reached the application (status %d)", w.name, res.status)
			}
		}
	})
}

// TestNginxAttackCorpus sends the attack corpus (corpus_test.go) through
// nginx to the application without the path guard: header injection, path
// tricks and Host tricks never reach it, and a client's own identity
// headers never arrive beside twostep's (nginx also drops headers with
// underscores, its default).
func TestNginxAttackCorpus(t *testing.T) {
	s := newSetup(t)
	runCorpus(t, s, s.signInAlice(t), proxyTraits{})
}
