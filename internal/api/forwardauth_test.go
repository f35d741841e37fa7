package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/httpx"
)

// The fixture's rules (forwardauth_bench_test.go): /public bypass, /blocked
// deny, /admin two_factor admins, everything else two_factor; alice has
// passed a second factor and is in no group.

// forwardCheck sends one forward-auth request and returns the answer.
func forwardCheck(t *testing.T, mux *http.ServeMux, path string, h http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	for k, vs := range h {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w
}

const (
	nginxPath   = "/api/v1/auth/auth-request"
	forwardPath = "/api/v1/auth/forward-auth"
)

func forwarded(host, uri string) http.Header {
	return http.Header{"X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {host}, "X-Forwarded-Uri": {uri}, "X-Forwarded-Method": {"GET"}}
}

func originalURL(u string) http.Header {
	return http.Header{"X-Original-Url": {u}, "X-Original-Method": {"GET"}}
}

func with(h http.Header, k, v string) http.Header {
	h = h.Clone()
	h.Add(k, v)
	return h
}

// TestForwardAuthHeaderFamilies: each endpoint reads its own proxy's
// headers and ignores the other family, which that proxy passes through
// from the client. On the single endpoint of earlier releases an anonymous
// client behind Caddy added X-Original-URL naming /public and reached
// /admin (issue: "a client chooses the URL that forward-auth checks").
func TestForwardAuthHeaderFamilies(t *testing.T) {
	mux, tok := forwardAuthFixture(t)
	cookie := http.Header{"Cookie": {httpx.SessionCookie + "=" + tok}}
	join := func(hs ...http.Header) http.Header {
		out := http.Header{}
		for _, h := range hs {
			for k, v := range h {
				out[k] = append(out[k], v...)
			}
		}
		return out
	}
	tests := []struct {
		name     string
		endpoint string
		h        http.Header
		want     int
	}{
		{"forward: anonymous two_factor", forwardPath, forwarded("app.example.test", "/x"), 401},
		{"forward: injected X-Original-URL is ignored", forwardPath,
			join(forwarded("app.example.test", "/x"), http.Header{"X-Original-Url": {"http://app.example.test/public/x"}}), 401},
		{"forward: injected X-Original-URL cannot lift a deny", forwardPath,
			join(forwarded("app.example.test", "/blocked/x"), cookie, http.Header{"X-Original-Url": {"http://app.example.test/public/x"}}), 403},
		{"forward: injected X-Original-URL cannot skip a group", forwardPath,
			join(forwarded("app.example.test", "/admin/"), cookie, http.Header{"X-Original-Url": {"http://app.example.test/x"}}), 403},
		{"forward: only X-Original-URL is not enough", forwardPath, originalURL("http://app.example.test/public/x"), 400},
		{"forward: bypass", forwardPath, forwarded("app.example.test", "/public/x"), 200},
		{"nginx: anonymous two_factor", nginxPath, originalURL("http://app.example.test/x"), 401},
		{"nginx: injected X-Forwarded-* are ignored", nginxPath,
			join(originalURL("http://app.example.test/x"), forwarded("app.example.test", "/public/x")), 401},
		{"nginx: injected X-Forwarded-* cannot lift a deny", nginxPath,
			join(originalURL("http://app.example.test/blocked/x"), cookie, forwarded("app.example.test", "/public/")), 403},
		{"nginx: only X-Forwarded-* is not enough", nginxPath, forwarded("app.example.test", "/public/x"), 400},
		{"nginx: bypass", nginxPath, originalURL("http://app.example.test/public/x"), 200},
		{"nginx: aal2", nginxPath, join(originalURL("http://app.example.test/x"), cookie), 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := forwardCheck(t, mux, tc.endpoint, tc.h)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
		})
	}
}

// TestForwardAuthOldEndpointRefuses: the earlier single endpoint fails
// closed (nginx answers 500 for it, Traefik and Caddy pass 410 on), even
// for a bypass path, so an old proxy configuration cannot keep reading a
// client's headers.
func TestForwardAuthOldEndpointRefuses(t *testing.T) {
	mux, _ := forwardAuthFixture(t)
	for _, h := range []http.Header{originalURL("http://app.example.test/public/x"), forwarded("app.example.test", "/public/x")} {
		if w := forwardCheck(t, mux, "/api/v1/auth", h); w.Code != http.StatusGone || !strings.Contains(w.Body.String(), "endpoint_moved") {
			t.Fatalf("old endpoint: %d %s", w.Code, w.Body)
		}
	}
}

// TestForwardAuthRefusesAmbiguousRequests: user-info, malformed hosts,
// repeated headers, fragments and the path spellings back-ends disagree on
// get 403 from both endpoints, for an aal2 session too, whatever the rule
// of the path would have been. Each of these reached a deny rule or
// another host's rules on earlier releases.
func TestForwardAuthRefusesAmbiguousRequests(t *testing.T) {
	mux, tok := forwardAuthFixture(t)
	cookie := httpx.SessionCookie + "=" + tok
	paths := []string{
		"/public/..;/blocked/x", "/blocked;x", "/admin;/", "/public/%252e%252e/blocked/",
		"/public/%2e%2e%3b/blocked", "/public%2f..%2fblocked", "/public%5c..%5cblocked", "/public\\..\\blocked",
		"/nul%00", "/bad%ff%fe", "/bad%zz", "/public#/../blocked", "/x y",
	}
	hosts := []string{
		"app.example.test@other.example.test", "app.example.test,other.example.test", "app.example.test other",
		"app.example.test:80x", "[::1", "", "app..example.test",
	}
	for _, p := range paths {
		for _, ep := range []struct {
			path string
			h    http.Header
		}{
			{nginxPath, originalURL("http://app.example.test" + p)},
			{forwardPath, forwarded("app.example.test", p)},
		} {
			w := forwardCheck(t, mux, ep.path, with(ep.h, "Cookie", cookie))
			if w.Code != http.StatusForbidden {
				t.Errorf("%s %q: status %d, want 403", ep.path, p, w.Code)
			}
		}
	}
	for _, host := range hosts {
		if host == "" {
			continue // missing, not malformed: 400, tested above
		}
		for _, ep := range []struct {
			path string
			h    http.Header
		}{
			{nginxPath, originalURL("http://" + host + "/public/x")},
			{forwardPath, forwarded(host, "/public/x")},
		} {
			if w := forwardCheck(t, mux, ep.path, with(ep.h, "Cookie", cookie)); w.Code == http.StatusOK {
				t.Errorf("%s host %q: status 200, want a refusal", ep.path, host)
			}
		}
	}
	for name, tc := range map[string]struct {
		path string
		h    http.Header
	}{
		"two X-Original-URL":   {nginxPath, with(originalURL("http://app.example.test/public/x"), "X-Original-URL", "http://app.example.test/blocked/")},
		"two X-Forwarded-Uri":  {forwardPath, with(forwarded("app.example.test", "/public/x"), "X-Forwarded-Uri", "/blocked/")},
		"two X-Forwarded-Host": {forwardPath, with(forwarded("app.example.test", "/public/x"), "X-Forwarded-Host", "other.example.test")},
		"host with path":       {forwardPath, forwarded("app.example.test/public", "/x")},
		"relative URI":         {forwardPath, forwarded("app.example.test", "public/x")},
		"absolute URI":         {forwardPath, forwarded("app.example.test", "http://other.example.test/public/x")},
		"odd scheme":           {nginxPath, originalURL("javascript://app.example.test/public/x")},
		"odd method":           {nginxPath, with(http.Header{"X-Original-Url": {"http://app.example.test/public/x"}}, "X-Original-Method", "GET /x")},
	} {
		if w := forwardCheck(t, mux, tc.path, tc.h); w.Code != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403: %s", name, w.Code, w.Body)
		}
	}
}

// TestForwardAuthRedirect: the forward-auth endpoint redirects a browser's
// GET to sign-in with the exact original URL; a POST, and nginx's endpoint
// without ?mode=redirect, get 401.
func TestForwardAuthRedirect(t *testing.T) {
	mux, _ := forwardAuthFixture(t)
	html := func(h http.Header) http.Header { return with(h, "Accept", "text/html") }
	post := forwarded("app.example.test", "/x?a=1&b=2")
	post.Set("X-Forwarded-Method", "POST")
	tests := []struct {
		name, path string
		h          http.Header
		want       int
	}{
		{"forward GET html", forwardPath, html(forwarded("app.example.test", "/x?a=1&b=2")), 302},
		{"forward POST html", forwardPath, html(post), 401},
		{"forward GET json", forwardPath, forwarded("app.example.test", "/x?a=1&b=2"), 401},
		{"forward mode=401", forwardPath + "?mode=401", html(forwarded("app.example.test", "/x?a=1&b=2")), 401},
		{"nginx GET html", nginxPath, html(originalURL("http://app.example.test/x?a=1&b=2")), 401},
		{"nginx mode=redirect", nginxPath + "?mode=redirect", originalURL("http://app.example.test/x?a=1&b=2"), 302},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := forwardCheck(t, mux, tc.path, tc.h)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d", w.Code, tc.want)
			}
			if tc.want == 302 {
				want := "http://login.example.test/login?rd=http%3A%2F%2Fapp.example.test%2Fx%3Fa%3D1%26b%3D2"
				if got := w.Header().Get("Location"); got != want {
					t.Fatalf("Location %q, want %q", got, want)
				}
			}
		})
	}
}
