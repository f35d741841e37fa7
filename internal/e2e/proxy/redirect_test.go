package proxy

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/e2e/e2etest"
)

// TestOpenRedirect signs in through the hosted pages, JavaScript-free with a
// cookie jar as a plain HTML browser would (nginx in front), with rd set to
// each target: hostile ones must be dropped at every step (the sign-in form,
// the redirect to /verify, the verify form, the post-verify redirect,
// /continue, and the sign-in page of a signed-in user), landing on
// /settings; targets on a host the access rules cover, or on twostep
// itself, must be kept and reached.
func TestOpenRedirect(t *testing.T) {
	s := newSetup(t)
	// Targets are written with {port} for nginx's port, so subtest names
	// stay the same from run to run.
	const p = "{port}"
	app := "http://" + appHost + ":" + p

	refused := []string{
		"//evil.com",
		"///evil.com",
		"https://evil.com",
		"http://evil.com/",
		"HTTPS://EVIL.COM",
		"https://example.test.evil.com",
		"http://" + appHost + ".evil.com:" + p + "/x",
		"http://" + appHost + ":" + p + "@evil.com/",
		"http://evil.com#@" + appHost + ":" + p + "/",
		"http://evil.com?@" + appHost + ":" + p + "/",
		"http://evil.com%2F." + appHost + "/",
		`/\evil.com`,
		`\\evil.com`,
		`\/evil.com`,
		`/\/evil.com`,
		`http:\\evil.com`,
		`https:/\evil.com`,
		app + `\@evil.com/`,
		"%2F%2Fevil.com",
		"/%2F%2Fevil.com",
		"/%2Fevil.com",
		"/%5Cevil.com",
		"%5C%5Cevil.com",
		"/%252F%252Fevil.com",
		"https:%2F%2Fevil.com",
		"http:/evil.com",
		"https:evil.com",
		" //evil.com",
		"\t//evil.com",
		"/\t/evil.com",
		"javascript:alert(1)",
		"JavaScript:alert(1)",
		"java\tscript:alert(1)",
		"data:text/html,<script>alert(1)</script>",
		"http://127.0.0.1:" + p + "/",
		"http://[::1]:" + p + "/",
		"http://localhost:" + p + "/",
	}
	accepted := []string{
		app + "/x",
		app + "/x?a=1&b=2%2F3",
		"https://" + appHost + "/secure",
		"http://" + loginHost + ":" + p + "/help",
		"/help",
	}

	n := 0
	check := func(t *testing.T, rd, want string) {
		n++
		user := fmt.Sprintf("u%03d", n)
		s.ts.AddUser(t, user)
		gen := s.enrol(t, s.client(t, true), user)
		b := s.client(t, true) // a fresh browser
		page := func(path string) string { return s.front.url(loginHost, path) }
		q := url.QueryEscape(rd)
		kept := ""
		if want != "/settings" {
			kept = rd
		}

		// The sign-in page keeps rd in its form only when it may be followed.
		f := hiddenFields(b.get(page("/login?rd="+q)).want(t, http.StatusOK, "GET /login").body)
		if f["rd"] != kept {
			t.Errorf("sign-in form rd = %q, want %q", f["rd"], kept)
		}
		// The form is posted with the hostile rd put back in.
		res := b.do("POST", page("/login"), url.Values{"csrf": {f["csrf"]}, "rd": {rd}, "username": {user}, "password": {e2etest.Password}}).
			want(t, http.StatusSeeOther, "POST /login")
		wantLoc := "/verify"
		if kept != "" {
			wantLoc += "?rd=" + q
		}
		if loc := res.location(t); loc != wantLoc {
			t.Errorf("after the password: Location %q, want %q", loc, wantLoc)
		}
		f = hiddenFields(b.get(page("/verify?rd="+q)).want(t, http.StatusOK, "GET /verify").body)
		if f["rd"] != kept {
			t.Errorf("verify form rd = %q, want %q", f["rd"], kept)
		}
		res = b.do("POST", page("/verify"), url.Values{"csrf": {f["csrf"]}, "rd": {rd}, "method": {f["method"]}, "why": {f["why"]}, "code": {gen.Next(t)}}).
			want(t, http.StatusSeeOther, "POST /verify")
		wantLoc = want
		if strings.HasPrefix(want, "http") {
			wantLoc = "/continue?rd=" + q // another origin: through the meta-refresh page
		}
		if loc := res.location(t); loc != wantLoc {
			t.Errorf("after the code: Location %q, want %q", loc, wantLoc)
		}
		res = b.get(page("/continue?rd=" + q))
		if strings.HasPrefix(want, "http") {
			res.want(t, http.StatusOK, "GET /continue")
			if !strings.Contains(html.UnescapeString(res.body), `content="0; url=`+want+`"`) {
				t.Errorf("/continue does not refresh to %q:\n%s", want, res.body)
			}
		} else if loc := res.want(t, http.StatusSeeOther, "GET /continue").location(t); loc != want {
			t.Errorf("/continue: Location %q, want %q", loc, want)
		}
		// Signed in, the sign-in page sends the user straight on.
		if loc := b.get(page("/login?rd="+q)).want(t, http.StatusSeeOther, "GET /login signed in").location(t); loc != want {
			t.Errorf("signed-in /login: Location %q, want %q", loc, want)
		}
	}
	port := strings.NewReplacer(p, portOf(s))
	for _, rd := range refused {
		t.Run(fmt.Sprintf("refuse %q", rd), func(t *testing.T) { check(t, port.Replace(rd), "/settings") })
	}
	for _, rd := range accepted {
		t.Run(fmt.Sprintf("accept %q", rd), func(t *testing.T) { check(t, port.Replace(rd), port.Replace(rd)) })
	}
}
