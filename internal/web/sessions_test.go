package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// agent is a RoundTripper that sends every request with a User-Agent.
type agent struct{ ua string }

func (a agent) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", a.ua)
	return http.DefaultTransport.RoundTrip(r)
}

var endRe = regexp.MustCompile(`action="(/settings/sessions/([a-z2-7]+)/end)"`)

// TestSessionsPage: /settings links to the sessions page; it lists this
// browser as "This device" and another one with its browser name (escaped:
// the user agent is the client's choice), each other session with "Sign
// out"; signing one out sends that browser to the sign-in page at its next
// load; another user's session id is refused like an ended one and changes
// nothing; "Sign out all other sessions" keeps this one.
func TestSessionsPage(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice")
	e.addUser("bob")
	home := e.browser()
	secret, _ := home.enrol("alice")
	if p := home.get("/settings"); !p.has(`href="/settings/sessions"`) {
		t.Fatalf("settings do not link to the sessions page:\n%s", p.body)
	}

	// The second browser, with a hostile user agent.
	const hostile = `<img src=x onerror=alert(1)>`
	other := e.browser()
	other.c.Transport = agent{hostile}
	other.login("alice", pw)
	e.clock.Add(30 * time.Second)
	other.submit("/verify", url.Values{"code": {e.code(secret)}}).want(t, http.StatusOK, "/settings", "Your sign-in methods")

	p := home.get("/settings/sessions")
	p.want(t, http.StatusOK, "/settings/sessions", "Sessions and devices")
	if strings.Contains(p.body, hostile) || !p.has(`&lt;img src=x onerror=alert(1)&gt;`) {
		t.Fatalf("the user agent is not escaped:\n%s", p.body)
	}
	if strings.Count(p.body, `<span class="badge">This device</span>`) != 1 || !p.has("Sign out all other sessions") {
		t.Fatalf("sessions page:\n%s", p.body)
	}
	ends := endRe.FindAllStringSubmatch(p.body, -1)
	if len(ends) != 1 {
		t.Fatalf("%d Sign out buttons, want 1 (the other browser only):\n%s", len(ends), p.body)
	}

	// Bob's session id, posted by alice: "already ended", bob stays.
	bob := e.browser()
	bob.enrol("bob")
	e.browser().login("bob", pw) // a second (aal1) session of bob's, so his page shows its id
	bp := bob.get("/settings/sessions")
	bobEnds := endRe.FindAllStringSubmatch(bp.body, -1)
	if len(bobEnds) != 1 {
		t.Fatalf("bob's page: %d Sign out buttons:\n%s", len(bobEnds), bp.body)
	}
	form := p.form(t, ends[0][1])
	resp := home.noFollow("POST", "/settings/sessions/"+bobEnds[0][2]+"/end", form)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/settings/sessions?error=no_session" {
		t.Fatalf("alice ends bob's session: %d to %q", resp.StatusCode, loc)
	}
	if p := home.get("/settings/sessions?error=no_session"); !p.has("That session has already ended.") {
		t.Fatalf("no sentence:\n%s", p.body)
	}
	bp = bob.get("/settings/sessions")
	if len(endRe.FindAllStringSubmatch(bp.body, -1)) != 1 {
		t.Fatalf("bob's other session went:\n%s", bp.body)
	}

	// Without the form token nothing ends.
	if p := home.post(ends[0][1], url.Values{"csrf": {"stale"}}); p.status != http.StatusForbidden && p.status != http.StatusBadRequest {
		t.Fatalf("post without the form token: %d", p.status)
	}
	other.get("/settings").want(t, http.StatusOK, "/settings", "Your sign-in methods")

	// Sign the other browser out: its next page load goes to sign-in.
	home.get("/settings/sessions")
	p = home.submit(ends[0][1], nil)
	p.want(t, http.StatusOK, "/settings/sessions", "Sessions and devices")
	if !p.has("That session was signed out.") || endRe.MatchString(p.body) || p.has("Sign out all other sessions") {
		t.Fatalf("after signing the other out:\n%s", p.body)
	}
	if p := other.get("/settings"); p.url.Path != "/login" {
		t.Fatalf("the signed-out browser loads /settings: at %s", p.url)
	}

	// Sign out all others: two more browsers go, this one stays.
	third, fourth := e.browser(), e.browser()
	third.login("alice", pw)
	e.clock.Add(30 * time.Second)
	third.submit("/verify", url.Values{"code": {e.code(secret)}})
	fourth.login("alice", pw) // aal1 only
	p = home.get("/settings/sessions")
	if n := len(endRe.FindAllStringSubmatch(p.body, -1)); n != 2 {
		t.Fatalf("%d Sign out buttons, want 2", n)
	}
	p = home.submit("/settings/sessions/end-others", nil)
	if !p.has("All your other sessions were signed out.") || endRe.MatchString(p.body) {
		t.Fatalf("after signing out the others:\n%s", p.body)
	}
	for _, b := range []*browser{third, fourth} {
		if p := b.get("/settings"); p.url.Path != "/login" {
			t.Fatalf("a signed-out browser: at %s", p.url)
		}
	}
	home.get("/settings").want(t, http.StatusOK, "/settings", "Your sign-in methods")
	bob.get("/settings").want(t, http.StatusOK, "/settings", "Your sign-in methods")
}

// TestSessionsPageNeedsSecondFactor: an aal1 session is sent to verify,
// and its posts end nothing.
func TestSessionsPageNeedsSecondFactor(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice")
	home := e.browser()
	home.enrol("alice")
	half := e.browser()
	half.login("alice", pw)
	p := half.get("/settings/sessions")
	if p.url.Path != "/verify" || p.url.Query().Get("rd") != "/settings/sessions" {
		t.Fatalf("aal1 on the sessions page: at %s", p.url)
	}
	// The verify page's form token is this session's: valid, but aal1.
	form := p.form(t, "/verify")
	if p := half.post("/settings/sessions/end-others", url.Values{"csrf": form["csrf"]}); p.url.Path != "/verify" {
		t.Fatalf("aal1 posts end-others: at %s", p.url)
	}
	home.get("/settings").want(t, http.StatusOK, "/settings", "Your sign-in methods")
}
