package proxy

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/e2e/e2etest"
)

// attack is a hostile request for a resource that neither an anonymous
// client nor alice (signed in with both factors, outside the admins group)
// may reach: /admin is two_factor for admins only and /blocked is deny
// (accessRules). Each tries to have twostep judge another path or host
// than the one the application will serve, or to bring its own identity.
// "{port}" in any field is the proxy's port.
type attack struct {
	name   string
	target string   // the request target, as written on the request line
	host   string   // the Host header; "" for app.example.test:{port}, noHost for none
	header []string // extra header lines

	// forgesForwarded: the attack works if the proxy hands the client's
	// own X-Forwarded-Host or -Uri to twostep, which is what Traefik's
	// trustForwardHeader does for a client its entry point trusts.
	forgesForwarded bool
}

const noHost = "<none>"

// attacks is the corpus every proxy here is tested with.
var attacks = []attack{
	// The client describes the request itself, in the other proxy
	// family's headers or in this one's.
	{name: "X-Original-URL names a bypass path", target: "/admin/x",
		header: []string{"X-Original-URL: http://app.example.test:{port}/public/x", "X-Original-Method: GET"}},
	{name: "X-Original-URL names a bypass host", target: "/admin/x",
		header: []string{"X-Original-URL: http://public.example.test:{port}/admin/x"}},
	{name: "X-Forwarded-Uri names a bypass path", target: "/admin/x",
		header: []string{"X-Forwarded-Uri: /public/x"}, forgesForwarded: true},
	{name: "X-Forwarded-Host names a bypass host", target: "/admin/x",
		header: []string{"X-Forwarded-Host: public.example.test:{port}"}, forgesForwarded: true},
	{name: "X-Forwarded-Host with user-info", target: "/admin/x",
		header: []string{"X-Forwarded-Host: app.example.test:{port}@public.example.test"}},
	{name: "X-Forwarded-Proto and -Method", target: "/admin/x",
		header: []string{"X-Forwarded-Proto: https", "X-Forwarded-Method: OPTIONS"}},
	{name: "all of X-Forwarded-*", target: "/admin/x",
		header: []string{"X-Forwarded-Proto: http", "X-Forwarded-Host: public.example.test:{port}",
			"X-Forwarded-Uri: /public/x", "X-Forwarded-Method: GET"}, forgesForwarded: true},
	{name: "X-Forwarded-Uri twice", target: "/admin/x",
		header: []string{"X-Forwarded-Uri: /public/x", "X-Forwarded-Uri: /public/y"}},
	{name: "underscore spellings", target: "/admin/x",
		header: []string{"X_Forwarded_Uri: /public/x", "X_Forwarded_Host: public.example.test:{port}",
			"X_Original_URL: http://app.example.test:{port}/public/x"}},
	{name: "Forwarded (RFC 7239)", target: "/admin/x",
		header: []string{"Forwarded: host=public.example.test:{port};proto=http"}},
	{name: "other URL headers", target: "/admin/x",
		header: []string{"X-Original-Uri: /public/x", "X-Rewrite-Url: /public/x", "X-Forwarded-Prefix: /public"}},
	// Hop-by-hop: a proxy that honoured this after setting its own headers
	// would send the check without the path (twostep would judge "/").
	{name: "Connection names the proxy's headers", target: "/admin/x",
		header: []string{"Connection: X-Forwarded-Uri, X-Forwarded-Host, X-Original-URL"}},
	{name: "own identity headers", target: "/admin/x",
		header: []string{"Remote-User: admin", "Remote-Groups: admins"}},

	// Paths: dot segments, ';' parameters, double and odd encodings.
	{name: "dot segments", target: "/public/../admin/x"},
	{name: "dot segments to deny", target: "/public/../blocked"},
	{name: "encoded dots", target: "/public/%2e%2e/admin/x"},
	{name: "encoded dots upper", target: "/public/%2E%2E/blocked"},
	{name: "half-encoded dots", target: "/public/.%2e/admin/x"},
	{name: "dot and dot-dot", target: "/public/./../admin/x"},
	{name: "dot-dot after a doubled slash", target: "/public/..//admin"},
	{name: "..;", target: "/public/..;/admin/"},
	{name: "..; to deny", target: "/public/..;/blocked"},
	{name: "; after the segment", target: "/admin;/"},
	{name: "; parameter", target: "/blocked;x"},
	{name: ";jsessionid", target: "/admin;jsessionid=0123abcd"},
	{name: ";jsessionid inside", target: "/blocked;jsessionid=0123/x"},
	{name: "; on the bypass segment", target: "/public;/../admin"},
	{name: "double-encoded dots", target: "/public/%252e%252e/admin/"},
	{name: "double-encoded dots to deny", target: "/public/%252e%252e/blocked"},
	{name: "double-encoded letter", target: "/%2561dmin"},
	{name: "double-encoded slash", target: "/public%252f..%252fadmin"},
	{name: "%2e%2e%3b", target: "/public/%2e%2e%3b/admin"},
	{name: "%3b", target: "/admin%3b/x"},
	{name: "..%3B", target: "/public/..%3B/blocked"},
	{name: "%2f", target: "/public/..%2fadmin"},
	{name: "%2f everywhere", target: "/public%2f..%2fadmin"},
	{name: "%2F to deny", target: "/public/..%2Fblocked"},
	{name: "%5c", target: "/public/..%5cadmin"},
	{name: "raw backslash", target: `/public\..\admin`},
	{name: "%00 at the end", target: "/admin%00"},
	{name: "%00 segment", target: "/public/%00/../admin"},
	{name: "%00 inside", target: "/blocked/%00x"},
	{name: "%ff", target: "/admin%ff"},
	{name: "%ff segment", target: "/public/%ff/../admin"},
	{name: "overlong UTF-8 dots", target: "/public/%c0%ae%c0%ae/admin"},
	{name: "# then dot-dot", target: "/public#/../admin"},
	{name: "# segment", target: "/public/#/../../blocked"},
	{name: "upper case", target: "/ADMIN"},
	{name: "mixed case", target: "/Admin/x"},
	{name: "upper case deny", target: "/BLOCKED"},
	{name: "mixed case deny", target: "/bLoCkEd/x"},
	{name: "encoded upper letter", target: "/%41dmin"},
	{name: "encoded letter", target: "/%61dmin"},
	{name: "encoded letter deny", target: "/%62locked"},
	{name: "doubled slash", target: "//admin"},
	{name: "tripled slash", target: "///blocked"},
	{name: "doubled slashes", target: "//admin//x"},
	{name: "leading dot", target: "/./admin"},
	{name: "absolute form", target: "http://app.example.test:{port}/admin/x"},
	{name: "absolute form naming the bypass host", target: "http://public.example.test:{port}/admin/x"},

	// Host: user-info, lists, two of them, odd spellings.
	{name: "Host app:port@public", target: "/admin/x", host: "app.example.test:{port}@public.example.test"},
	{name: "Host app@public:port", target: "/admin/x", host: "app.example.test@public.example.test:{port}"},
	{name: "Host public@app:port", target: "/admin/x", host: "public.example.test@app.example.test:{port}"},
	{name: "Host app:port#@public", target: "/admin/x", host: "app.example.test:{port}#@public.example.test"},
	{name: "Host list", target: "/admin/x", host: "app.example.test:{port}, public.example.test"},
	{name: "Host twice", target: "/admin/x", header: []string{"Host: public.example.test:{port}"}},
	{name: "Host with a path", target: "/admin/x", host: "app.example.test:{port}/public"},
	{name: "Host upper case", target: "/admin/x", host: "APP.EXAMPLE.TEST:{port}"},
	{name: "Host with a trailing dot", target: "/admin/x", host: "app.example.test.:{port}"},
	{name: "Host with a bad port", target: "/admin/x", host: "app.example.test:99999"},
	{name: "no Host", target: "/admin/x", host: noHost},
}

// encodedDelimiters name /admin or /blocked followed by a '#' or '?' that
// is, or that a Go-based proxy turns into, percent-encoded data: twostep
// decodes the path once and matches "/admin#", which no rule covers, so a
// signed-in user passes, and the application gets a resource named
// "admin#". That is safe only while nothing after the check decodes the
// path twice or parses it again after decoding (then "%23" would end the
// path at /admin). runCorpus checks the proxy's part: the delimiter reaches
// the application still encoded, or the request is refused.
var encodedDelimiters = []string{"/admin#", "/admin%23", "/blocked%23x", "/admin%3F", "/admin%3fx=1", "/blocked%3F/x"}

// proxyTraits are what a proxy's configuration lets through by design,
// so that the corpus can assert the opposite everywhere else.
type proxyTraits struct {
	// trustsClientForwarded: the client's X-Forwarded-Host/-Uri reach
	// twostep (Traefik, trustForwardHeader: true, entry point trusting the
	// client). attacks with forgesForwarded then reach the application.
	trustsClientForwarded bool
	// passesUnderscored: a client's Remote_User reaches the application.
	passesUnderscored bool
	// placeholderForMissing: where twostep's answer lacks an identity
	// header (a bypass path, a user without e-mail), the application gets
	// the literal text "{http.reverse_proxy.header.NAME}" (Caddy before
	// 2.9: copy_headers sets the header to a placeholder that has no
	// value, and the headers handler leaves such placeholders as written).
	// It is not the client's text; it is read as "no value" here.
	placeholderForMissing bool
}

// identity returns the value the application saw for identity header k,
// with Caddy's unreplaced placeholder read as no value where traits say
// the proxy writes it.
func (tr proxyTraits) identity(m map[string]string, k string) string {
	if v := m[k]; !tr.placeholderForMissing || v != "{http.reverse_proxy.header."+k+"}" {
		return v
	}
	return ""
}

// runCorpus sends every attack through s's proxy, anonymously and as
// alice (session token tok; she is in group staff, not admins), and fails
// when one reaches the application, except what traits say the
// configuration lets through, which must then reach it (so the assertion
// about the configuration can fail too). Then it checks that no client's
// own identity headers reach the application beside twostep's. It logs
// every answer, for docs/proxies.md.
func runCorpus(t *testing.T, s *setup, tok string, traits proxyTraits) {
	t.Helper()
	port := strconv.Itoa(s.front.port)
	fill := func(x string) string { return strings.ReplaceAll(x, "{port}", port) }
	defaultHost := appHost + ":" + port
	who := []struct {
		name   string
		cookie []string
	}{{"anonymous", nil}, {"alice", []string{"Cookie: twostep_session=" + tok}}}

	// send sends one request and reports whether it reached the
	// application, and what the application saw.
	send := func(target, host string, cookie, header []string) (response, bool, map[string]string) {
		if host == "" {
			host = defaultHost
		} else if host == noHost {
			host = ""
		}
		lines := append([]string{"Accept: text/html"}, cookie...)
		for _, h := range header {
			lines = append(lines, fill(h))
		}
		before := s.app.hits.Load()
		res := s.raw(t, "GET", fill(target), fill(host), lines...)
		reached := s.app.hits.Load() != before
		var m map[string]string
		if reached {
			m = seen(res.body)
		}
		return res, reached, m
	}

	// Controls: the proxy passes what it should, so that "did not reach
	// the application" below means refused, not broken.
	if res, reached, m := send("/public/x", "", nil, nil); !reached || res.status != http.StatusOK || traits.identity(m, "Remote-User") != "" {
		t.Fatalf("control: anonymous GET /public/x: status %d, reached %v, Remote-User %q; want 200, reached, none", res.status, reached, m["Remote-User"])
	}
	if res, reached, m := send("/page", "", who[1].cookie, nil); !reached || traits.identity(m, "Remote-User") != "alice" {
		t.Fatalf("control: alice GET /page: status %d, reached %v, Remote-User %q; want alice", res.status, reached, m["Remote-User"])
	}
	if res, reached, _ := send("/admin/x", "", who[1].cookie, nil); reached || res.status != http.StatusForbidden {
		t.Fatalf("control: alice GET /admin/x: status %d, reached %v; want 403, not reached", res.status, reached)
	}

	var table strings.Builder
	for _, a := range attacks {
		statuses := []string{}
		for _, w := range who {
			res, reached, m := send(a.target, a.host, w.cookie, a.header)
			statuses = append(statuses, fmt.Sprintf("%s %d", w.name, res.status))
			switch {
			case a.forgesForwarded && traits.trustsClientForwarded:
				if !reached {
					t.Errorf("%s (%s): status %d, not reached; this configuration believes the client's X-Forwarded-*, so it should reach the application", a.name, w.name, res.status)
				}
			case reached:
				t.Errorf("%s (%s): GET %s reached the application (status %d; it saw %s as %q)",
					a.name, w.name, fill(a.target), res.status, m["Path"], m["Remote-User"])
			}
		}
		fmt.Fprintf(&table, "  %-42s %s\n", a.name, strings.Join(statuses, ", "))
	}
	t.Logf("answers:\n%s", table.String())

	for _, target := range encodedDelimiters {
		res, reached, m := send(target, "", who[1].cookie, nil)
		p := strings.ToLower(m["Path"])
		if reached && !strings.Contains(p, "%23") && !strings.Contains(p, "%3f") {
			t.Errorf("alice GET %s: the application got the path %q, the delimiter decoded", target, m["Path"])
		}
		t.Logf("alice GET %s: status %d, the application got %q", target, res.status, m["Path"])
	}

	// Identity headers of the client's own, on requests that do reach the
	// application: only what twostep answered may arrive.
	spoofs := []struct {
		name   string
		target string
		cookie []string
		header []string
		want   map[string]string
	}{
		{"anonymous on a bypass path", "/public/x", nil,
			[]string{"Remote-User: admin", "Remote-Name: admin", "Remote-Email: admin@example.test", "Remote-Groups: admins"},
			map[string]string{"Remote-User": "", "Remote-Name": "", "Remote-Email": "", "Remote-Groups": ""}},
		{"alice", "/page", who[1].cookie,
			[]string{"Remote-User: mallory", "Remote-Groups: admins", "Remote-Email: mallory@example.test"},
			map[string]string{"Remote-User": "alice", "Remote-Groups": "staff", "Remote-Email": "alice@example.test"}},
		{"alice, lower case, twice", "/page", who[1].cookie,
			[]string{"remote-user: mallory", "REMOTE-USER: mallory", "remote-groups: admins"},
			map[string]string{"Remote-User": "alice", "Remote-Groups": "staff"}},
		{"anonymous, underscore spellings", "/public/x", nil,
			[]string{"Remote_User: admin", "Remote_Groups: admins"},
			map[string]string{"Remote-User": "", "Remote-Groups": ""}},
		{"alice, underscore spellings", "/page", who[1].cookie,
			[]string{"Remote_User: mallory", "Remote_Groups: admins"},
			map[string]string{"Remote-User": "alice", "Remote-Groups": "staff"}},
	}
	for _, sp := range spoofs {
		res, reached, m := send(sp.target, "", sp.cookie, sp.header)
		if !reached {
			t.Errorf("%s: status %d, did not reach the application", sp.name, res.status)
			continue
		}
		for k, v := range sp.want {
			if got := traits.identity(m, k); got != v {
				t.Errorf("%s: the application saw %s %q, want %q", sp.name, k, m[k], v)
			}
		}
		underscored := slices.ContainsFunc(sp.header, func(h string) bool { return strings.HasPrefix(h, "Remote_") })
		if want := underscored && traits.passesUnderscored; want != (m["Underscored"] != "") {
			t.Errorf("%s: the application saw underscore spellings %q; want them: %v", sp.name, m["Underscored"], want)
		}
	}
}

// forwardAuthJourney is TestNginxForwardAuth's journey through a proxy
// that asks /api/v1/auth/forward-auth (Caddy, the Traefik double), as an
// HTTP client with a cookie jar: the redirect to sign-in with the exact
// original URL, password, authenticator-app set-up, and the application
// seeing the user; the rules; and logout. It returns alice's aal2 token
// (still valid) for the corpus.
func forwardAuthJourney(t *testing.T, s *setup, traits proxyTraits) string {
	t.Helper()
	s.ts.AddUser(t, "alice")
	s.ts.MustCLI(t, "", "user", "set", "alice", "--email", "alice@example.test", "--groups", "staff")
	appURL := func(p string) string { return s.front.url(appHost, p) }
	api := func(p string) string { return s.front.url(loginHost, "/api/v1"+p) }
	anon := s.client(t, false)
	c := s.client(t, true)

	// 1. Not signed in: a browser's GET is sent to sign in, with the
	// original URL as rd; other requests get 401 (a redirect would turn a
	// POST into a GET of the sign-in page, and means nothing to an API
	// client). The application sees none of them.
	orig := appURL("/page?x=1&y=a+b%2Fc")
	loc := anon.get(orig, withHeader("Accept", "text/html")).want(t, http.StatusFound, "browser GET without a session").location(t)
	if want := s.front.url(loginHost, "/login?rd="+url.QueryEscape(orig)); loc != want {
		t.Fatalf("redirect to %q, want %q", loc, want)
	}
	anon.get(orig, withHeader("Accept", "application/json")).want(t, http.StatusUnauthorized, "API GET without a session")
	anon.do("POST", orig, url.Values{"a": {"1"}}, withHeader("Accept", "text/html")).want(t, http.StatusUnauthorized, "browser POST without a session")
	if n := s.app.hits.Load(); n != 0 {
		t.Fatalf("the application got %d requests before sign-in", n)
	}
	page := c.get(loc).want(t, http.StatusOK, "login page")
	if got := hiddenFields(page.body)["rd"]; got != orig {
		t.Fatalf("login form rd = %q, want %q", got, orig)
	}

	// 2. Password only (aal1): one_factor paths pass, two_factor ones
	// send the browser to sign in.
	c.do("POST", api("/login"), map[string]string{"username": "alice", "password": e2etest.Password}).want(t, http.StatusOK, "login")
	c.get(orig, withHeader("Accept", "text/html")).want(t, http.StatusFound, "aal1 session on a two_factor path")
	if got := seen(c.get(appURL("/light/x")).want(t, http.StatusOK, "aal1 session on a one_factor path").body)["Remote-User"]; got != "alice" {
		t.Errorf("one_factor path: the application saw Remote-User %q, want alice", got)
	}

	// 3. Authenticator app: the session becomes aal2, and the original
	// URL shows alice.
	gen := s.addApp(t, c)
	tok := c.sessionCookie(appURL("/"))
	want := map[string]string{"Remote-User": "alice", "Remote-Name": "alice", "Remote-Email": "alice@example.test",
		"Remote-Groups": "staff", "Path": "/page?x=1&y=a+b%2Fc"}
	got := seen(c.get(orig).want(t, http.StatusOK, "signed-in GET of the original URL").body)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("the application saw %s: %q, want %q", k, got[k], v)
		}
	}
	if got := seen(c.do("POST", appURL("/page"), url.Values{"a": {"1"}}).want(t, http.StatusOK, "signed-in POST").body)["Remote-User"]; got != "alice" {
		t.Errorf("signed-in POST: the application saw Remote-User %q", got)
	}

	// 4. The rules: deny and a group alice is not in are refused, bypass
	// needs no session and names nobody.
	before := s.app.hits.Load()
	c.get(appURL("/blocked")).want(t, http.StatusForbidden, "deny path")
	c.get(appURL("/admin")).want(t, http.StatusForbidden, "admins path for alice")
	if s.app.hits.Load() != before {
		t.Error("a refused request reached the application")
	}
	if m := seen(c.get(appURL("/public/x")).want(t, http.StatusOK, "bypass path").body); traits.identity(m, "Remote-User") != "" {
		t.Errorf("bypass path: the application saw Remote-User %q, want none", m["Remote-User"])
	} else if m["Remote-User"] != "" {
		t.Logf("bypass path: the application saw Remote-User %q (Caddy's placeholder for a header twostep did not send)", m["Remote-User"])
	}

	// 5. Logout on another session of alice's ends that one at once.
	other := s.client(t, true)
	other.do("POST", api("/login"), map[string]string{"username": "alice", "password": e2etest.Password}).want(t, http.StatusOK, "second login")
	other.do("POST", api("/verify"), map[string]string{"method": "totp", "code": gen.Next(t)}).want(t, http.StatusOK, "second verify")
	old := other.sessionCookie(appURL("/"))
	other.get(appURL("/page")).want(t, http.StatusOK, "second session")
	other.do("DELETE", api("/session"), nil).want(t, http.StatusNoContent, "logout")
	anon.get(appURL("/page"), withCookie(old), withHeader("Accept", "text/html")).want(t, http.StatusFound, "the logged-out session")
	return tok
}
