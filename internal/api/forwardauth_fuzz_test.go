package api_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/httpx"
)

// fwdAttackPaths are path spellings that split back-ends in published
// path-confusion attacks (Tomcat's "..;", double encoding, encoded
// separators, NUL, fragments, case, overlong UTF-8, encoded delimiters).
var fwdAttackPaths = []string{
	"/public/..;/admin/", "/secret;x", "/admin;/", "/public/%252e%252e/admin/", "/public/%2e%2e/blocked",
	"/%62locked", "//blocked", "/BLOCKED", "/public%2f..%2fblocked", `/public\..\blocked`, "/nul%00", "/bad%ff",
	"/public#/../blocked", "/public/./x/../../blocked/", "/%2E%2E/blocked", "/public/%c0%ae%c0%ae/blocked",
	"/blocked%3f", "/blocked%23x", "/public/%3f/../blocked", "/blocked/", "/blocked.", "/admin/x", "/x?y=/../blocked",
	"", "/", "/public", "/publicity", "/%2fblocked",
}

// fwdAttackHosts name another host, or several, to some component on the
// way: user-info, lists, IP literals, junk ports, a trailing dot.
var fwdAttackHosts = []string{
	"app.example.test", "app.example.test@other.test", "app.example.test,other", "[::1]:8080", "[::1",
	"app.example.test:80x", "APP.Example.Test.", "app..example.test", "app.example.test other", `app.example.test\@other.test`,
	"app.example.test/x", "x.example.test:443", "example.test", ".example.test", "", "app.example.test:8080:80",
}

// FuzzForwardAuth sends what a client can make a proxy report — the
// original URL, host, path, method, a cookie, repeated headers — to both
// forward-auth endpoints of the real api.Routes mux (forwardAuthFixture's
// rules: app.example.test/public bypass, /blocked deny, /admin for the
// group admins, *.example.test two_factor, everything else deny; alice has
// passed a second factor and is in no group).
//
// Three requests per input:
//
//	A  /auth-request with X-Original-URL = origURL (and the other family
//	   injected, which must be ignored);
//	B  /forward-auth with X-Forwarded-Proto/Host/Uri/Method (and an
//	   injected X-Original-URL);
//	C  /auth-request with B's values written as one URL.
//
// Invariants: no panic (the mux has no recovery), no 5xx; every refusal
// is the API's error shape; a duplicated header of the endpoint's own
// family is refused; a 200 only when every reading of the request that
// some back-end could serve (readings below, an independent and
// deliberately naive decoder) is allowed by the rules — so nothing under
// /blocked or, for alice, /admin is ever let through, however it is
// spelled (OWASP ASVS V4.1.1, V4.1.3); and B and C, the same request in
// the two header families, get the same class of answer (let through,
// refused, or sign in).
func FuzzForwardAuth(f *testing.F) {
	const (
		flagSession  = 1 << iota // alice's aal2 session cookie (else the fuzzed cookie)
		flagDupURL               // A: a second X-Original-URL naming a bypass path
		flagDupOwn               // B: a second X-Forwarded-Uri (or -Host with flagDupHost); C: a second X-Original-URL
		flagRedirect             // ?mode=redirect
		flagHTML                 // Accept: text/html (a browser)
		flagDupHost              // see flagDupOwn
	)
	add := func(origURL, host, uri string, flags uint8) {
		f.Add(origURL, "GET", "http", host, uri, "GET", "", flags)
	}
	for _, p := range fwdAttackPaths {
		for _, fl := range []uint8{0, flagSession} {
			add("http://app.example.test"+p, "app.example.test", p, fl)
		}
	}
	for _, h := range fwdAttackHosts {
		add("http://"+h+"/public/x", h, "/public/x", 0)
		add("https://"+h+"/x", h, "/x", flagSession)
	}
	for _, u := range []string{
		"http://app.example.test@other.test/admin/x", "javascript://x/", "HTTP://APP.EXAMPLE.TEST/PUBLIC/x",
		"http://app.example.test", "http://app.example.test?x=/public/", "http://app.example.test#/public/",
		`http://app.example.test\@other.test/public/x`, "http://app.example.test:8080/public/../blocked",
		"https://x.example.test/blocked", "http:///public/x", "http://app.example.test/public/x\r\nX: y",
	} {
		add(u, "app.example.test", "/x", 0)
		add(u, "app.example.test", "/x", flagSession)
	}
	f.Add("http://app.example.test/blocked/", "GET", "http", "app.example.test", "/blocked/", "GET", "", uint8(flagSession|flagDupURL|flagDupOwn))
	f.Add("http://app.example.test/x", "POST", "HTTPS", "app.example.test", "/x?a=1", "POST", "", uint8(flagHTML|flagRedirect))
	f.Add("http://app.example.test/x", "GET /x", "http", "app.example.test", "/x", "G\tET", "", uint8(flagHTML))
	f.Add("http://app.example.test/x", "", "http", "app.example.test", "/x", "", httpx.SessionCookie+"=AAAA; "+httpx.SessionCookie+"=BBBB", uint8(flagHTML|flagDupHost|flagDupOwn))

	mux, tok := forwardAuthFixture(f)
	f.Fuzz(func(t *testing.T, origURL, origMethod, proto, host, uri, method, cookie string, flags uint8) {
		session := flags&flagSession != 0
		query := ""
		if flags&flagRedirect != 0 {
			query = "?mode=redirect"
		}
		common := http.Header{}
		if session {
			common.Set("Cookie", httpx.SessionCookie+"="+tok)
		} else if cookie != "" {
			common.Set("Cookie", cookie)
		}
		if flags&flagHTML != 0 {
			common.Set("Accept", "text/html")
		}
		fwd := func(h http.Header) {
			h.Set("X-Forwarded-Proto", proto)
			h.Set("X-Forwarded-Host", host)
			h.Set("X-Forwarded-Uri", uri)
			h.Set("X-Forwarded-Method", method)
		}

		// A: nginx's family, with the other family injected.
		a := common.Clone()
		a.Set("X-Original-URL", origURL)
		a.Set("X-Original-Method", origMethod)
		fwd(a)
		if flags&flagDupURL != 0 {
			a.Add("X-Original-URL", "http://app.example.test/public/")
		}
		wa := fuzzForward(t, mux, nginxPath+query, a)
		if flags&flagDupURL != 0 && wa.Code != http.StatusForbidden {
			t.Fatalf("A: two X-Original-URL: status %d, want 403", wa.Code)
		}
		checkForwardAnswer(t, "A", wa, urlReadings(origURL), session)

		// B: the forward-auth family, with an X-Original-URL injected.
		b := common.Clone()
		fwd(b)
		b.Set("X-Original-URL", "http://app.example.test/public/")
		dup := flags&flagDupOwn != 0
		if dup && flags&flagDupHost != 0 {
			b.Add("X-Forwarded-Host", "app.example.test")
		} else if dup {
			b.Add("X-Forwarded-Uri", "/public/")
		}
		wb := fuzzForward(t, mux, forwardPath+query, b)
		if dup && wb.Code != http.StatusForbidden {
			t.Fatalf("B: a repeated X-Forwarded header: status %d, want 403", wb.Code)
		}
		var readings []reading
		if scheme := strings.ToLower(proto); scheme == "http" || scheme == "https" {
			readings = hostPathReadings(host, uri)
		}
		checkForwardAnswer(t, "B", wb, readings, session)

		// C: B's request written as nginx's one URL. It is the same request
		// only when the host cannot run into the path and the path is one.
		if strings.Contains(proto, "://") || strings.ContainsAny(host, "/?#") || (uri != "" && uri[0] != '/') {
			return
		}
		c := common.Clone()
		c.Set("X-Original-URL", proto+"://"+host+uri)
		c.Set("X-Original-Method", method)
		if dup {
			c.Add("X-Original-URL", "http://app.example.test/public/")
		}
		wc := fuzzForward(t, mux, nginxPath+query, c)
		checkForwardAnswer(t, "C", wc, readings, session)
		if answerClass(wb.Code) != answerClass(wc.Code) {
			t.Fatalf("the same request answered differently: forward-auth %d %s, auth-request (X-Original-URL %q) %d %s",
				wb.Code, wb.Body, c.Get("X-Original-URL"), wc.Code, wc.Body)
		}
	})
}

// fuzzForward sends one GET with h to target on mux.
func fuzzForward(t *testing.T, mux http.Handler, target string, h http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.Header = h
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w
}

// answerClass groups forward-auth answers by what the proxy does with
// them: let through, refuse, or send to sign-in (401, or 302 when asked).
func answerClass(status int) string {
	switch status {
	case http.StatusOK:
		return "through"
	case http.StatusUnauthorized, http.StatusFound:
		return "sign in"
	}
	return "refused"
}

// checkForwardAnswer checks one forward-auth answer: a known status, the
// error shape on refusals, the sign-in redirect only to twostep's own
// login page, and a 200 only when every reading is allowed.
func checkForwardAnswer(t *testing.T, name string, w *httptest.ResponseRecorder, readings []reading, session bool) {
	t.Helper()
	switch w.Code {
	case http.StatusOK:
		for _, rd := range readings {
			if !rulesAllow(rd, session) {
				t.Fatalf("%s: 200 for a request a back-end could read as host %q path %q, which the rules refuse (session %v)",
					name, rd.host, rd.path, session)
			}
		}
		if len(readings) == 0 {
			t.Fatalf("%s: 200 for a request that names no http(s) URL", name)
		}
	case http.StatusFound:
		if loc := w.Header().Get("Location"); !strings.HasPrefix(loc, "http://login.example.test/login?rd=") {
			t.Fatalf("%s: redirect to %q, want twostep's sign-in page", name, loc)
		}
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
		checkErrorBody(t, name, w, "")
	default:
		t.Fatalf("%s: status %d: %s", name, w.Code, w.Body)
	}
}

// reading is one way a back-end may understand a request: the host it
// routes on (lower-case name, no port; "" for one no rule names) and the
// path it serves.
type reading struct{ host, path string }

// rulesAllow is forwardAuthFixture's rules written out independently of
// auth.Access: the answer a correct check gives for this reading.
func rulesAllow(rd reading, session bool) bool {
	under := func(prefix string) bool { return rd.path == prefix || strings.HasPrefix(rd.path, prefix+"/") }
	switch {
	case rd.host == "app.example.test":
		switch {
		case under("/public"):
			return true
		case under("/blocked"), under("/admin"): // deny; admins only, and alice is in no group
			return false
		}
		return session
	case strings.HasSuffix(rd.host, ".example.test"):
		return session
	}
	return false // default deny
}

// urlReadings are the readings of an absolute URL as nginx's
// X-Original-URL carries it: split naively at the first "/", "?" or "#"
// after "://", as net/url parses it (user-info, escapes), and as a browser
// would after dropping tabs and newlines and turning '\' into '/'. A URL
// that is not http(s) has no reading (nothing may pass).
func urlReadings(raw string) []reading {
	var out []reading
	naive := func(s string) {
		scheme, rest, ok := strings.Cut(s, "://")
		if !ok || (!strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https")) {
			return
		}
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		out = append(out, hostPathReadings(rest[:end], rest[end:])...)
	}
	naive(raw)
	if len(out) == 0 {
		return nil // not an http(s) URL: nothing may pass
	}
	naive(strings.ReplaceAll(strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(raw), `\`, "/"))
	if u, err := url.Parse(raw); err == nil {
		out = append(out, hostPathReadings(u.Host, u.EscapedPath())...)
	}
	return out
}

// hostPathReadings combines the readings of a host and of a request path.
func hostPathReadings(host, uri string) []reading {
	var out []reading
	for _, h := range hostReadings(host) {
		for _, p := range pathReadings(uri) {
			out = append(out, reading{h, p})
		}
	}
	return out
}

// hostReadings: lower-case, the port cut at the first or the last ':', a
// trailing dot dropped; anything but a plain name reads as "" (no rule).
func hostReadings(h string) []string {
	h = strings.ToLower(h)
	if strings.HasPrefix(h, "[") {
		return []string{""} // an IP literal: no rule names one
	}
	first, last := h, h
	if i := strings.IndexByte(h, ':'); i >= 0 {
		first = h[:i]
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		last = h[:i]
	}
	var out []string
	for _, name := range []string{first, last} {
		name = strings.TrimSuffix(name, ".")
		if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789.-_") != "" {
			name = ""
		}
		out = append(out, name)
	}
	return out
}

// pathReadings are the paths back-ends have been seen to serve for one
// request path: with and without cutting at '#'; decoded zero, one or two
// times (escapes that do not decode stay); after decoding, cut at a
// decoded '?' or '#' or not; with and without truncation at NUL; with '\'
// as a separator or not; with ";params" stripped from each segment or
// not. Each is then resolved (empty and dot segments) and lower-cased, as
// a case-insensitive back-end serves it.
func pathReadings(uri string) []string {
	p, _, _ := strings.Cut(uri, "?")
	var out []string
	for _, cutFragment := range []bool{false, true} {
		q := p
		if cutFragment {
			q, _, _ = strings.Cut(q, "#")
		}
		d := q
		for rounds := 0; rounds <= 2; rounds++ {
			if rounds > 0 {
				d = lenientUnescape(d)
			}
			for _, v := range []string{d, cutAny(d, "?#"), cutAny(d, "\x00")} {
				for _, backslash := range []bool{false, true} {
					for _, params := range []bool{false, true} {
						out = append(out, resolve(v, backslash, params))
					}
				}
			}
		}
	}
	return out
}

// cutAny returns s up to the first of chars.
func cutAny(s, chars string) string {
	if i := strings.IndexAny(s, chars); i >= 0 {
		return s[:i]
	}
	return s
}

// lenientUnescape decodes every valid %XX and leaves anything else as it is.
func lenientUnescape(s string) string {
	unhex := func(c byte) (byte, bool) {
		switch {
		case '0' <= c && c <= '9':
			return c - '0', true
		case 'a' <= c && c <= 'f':
			return c - 'a' + 10, true
		case 'A' <= c && c <= 'F':
			return c - 'A' + 10, true
		}
		return 0, false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b.WriteByte(hi<<4 | lo)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// resolve splits p into segments (at '/', and at '\' when backslash),
// optionally strips ";params", drops empty and "." segments, applies
// "..", and returns the lower-cased absolute path.
func resolve(p string, backslash, params bool) string {
	if backslash {
		p = strings.ReplaceAll(p, `\`, "/")
	}
	var segs []string
	for _, s := range strings.Split(p, "/") {
		if params {
			s, _, _ = strings.Cut(s, ";")
		}
		switch s {
		case "", ".":
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, s)
		}
	}
	return strings.ToLower("/" + strings.Join(segs, "/"))
}
