package httpx

import (
	"net/http"
	"strings"
	"time"
)

// Cookie names without their prefix. SessionCookie is the API's session
// cookie (docs/api.md); the others are read only by twostep itself.
const (
	SessionCookie = "twostep_session" // session token
	DeviceCookie  = "twostep_device"  // "Remember this device" token
	KnownCookie   = "twostep_known"   // known-browser token (per-account throttling)
	LoginCookie   = "twostep_login"   // double-submit token of the sign-in form
)

// knownBrowserAge is how long a browser keeps its known-browser token; the
// service refuses older ones (auth.KnownBrowserTTL) and reissues it at
// every sign-in.
const knownBrowserAge = 90 * 24 * time.Hour

// Cookies writes and reads every cookie twostep sets, with one set of
// attributes: HttpOnly, SameSite=Lax, Path=/, Secure unless in explicit
// insecure development mode or on plain-HTTP localhost.
//
// Over HTTPS the names carry the __Host- prefix, which browsers accept only
// from a secure origin, with Path=/ and no Domain: a sibling subdomain or a
// network attacker on plain HTTP cannot plant or overwrite such a cookie
// (session fixation, ASVS V3.4.4). The session cookie shared with the
// applications behind forward-auth (cookie_domain set) needs a Domain, so
// it alone then keeps its bare name.
type Cookies struct {
	Secure bool   // false only in explicit insecure dev mode or on localhost HTTP
	Domain string // cookie_domain: shared by the applications behind forward-auth
}

// Name is the name the cookie base has under these settings.
func (c Cookies) Name(base string) string {
	if !c.Secure || (base == SessionCookie && c.Domain != "") {
		return base
	}
	// Constants for the known names: the session cookie's is read on
	// every forward-auth check, and "__Host-" + base would allocate there.
	switch base {
	case SessionCookie:
		return "__Host-" + SessionCookie
	case DeviceCookie:
		return "__Host-" + DeviceCookie
	case KnownCookie:
		return "__Host-" + KnownCookie
	case LoginCookie:
		return "__Host-" + LoginCookie
	}
	return "__Host-" + base
}

func (c Cookies) set(w http.ResponseWriter, base, value string, maxAge time.Duration) {
	ck := &http.Cookie{Name: c.Name(base), Value: value, Path: "/", HttpOnly: true, Secure: c.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(maxAge / time.Second)}
	if base == SessionCookie && !strings.HasPrefix(ck.Name, "__Host-") {
		ck.Domain = c.Domain
	}
	if value == "" {
		ck.MaxAge = -1
	}
	http.SetCookie(w, ck)
}

// Get returns the value of cookie base, or "".
func (c Cookies) Get(r *http.Request, base string) string {
	return cookieValue(r.Header, c.Name(base))
}

// maxCookies is net/http's default limit on the cookies of a request
// (GODEBUG httpcookiemaxnum): past it, Request.Cookie finds none.
const maxCookies = 3000

// cookieValue is r.Cookie(name).Value, or "" — the same parse (RFC 6265
// §5.4 pairs split at ';', ASCII spaces trimmed, the first pair of that
// name with a valid value, surrounding double quotes removed) without
// Request.Cookie's allocations (a slice and a Cookie per call), since the
// session cookie is read on every forward-auth check (issue #12).
// FuzzCookieValue checks that the two agree.
func cookieValue(h http.Header, name string) string {
	lines := h["Cookie"]
	if len(lines) == 0 || name == "" {
		return ""
	}
	n := 0
	for _, line := range lines {
		n += strings.Count(line, ";") + 1
	}
	if n > maxCookies {
		return ""
	}
	for _, line := range lines {
		line = trimSpace(line)
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = trimSpace(part)
			k, v, _ := strings.Cut(part, "=")
			if part == "" || trimSpace(k) != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if validCookieValue(v) {
				return v
			}
		}
	}
	return ""
}

// trimSpace trims ASCII white space (textproto.TrimString), not the
// Unicode spaces strings.TrimSpace would.
func trimSpace(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// validCookieValue: cookie-octets as net/http accepts them (space and comma
// allowed, no controls, '"', ';' or '\\').
func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return false
		}
	}
	return true
}

// SetSession sets the session cookie, a browser-session cookie (the server
// enforces idle and absolute timeouts).
func (c Cookies) SetSession(w http.ResponseWriter, tok string) { c.set(w, SessionCookie, tok, 0) }

// ClearSession removes the session cookie.
func (c Cookies) ClearSession(w http.ResponseWriter) { c.set(w, SessionCookie, "", 0) }

// SetDevice sets the "Remember this device" cookie for maxAge; an empty
// tok removes it. It is host-only even with cookie_domain: only twostep
// reads it, so applications on sibling hosts never receive it.
func (c Cookies) SetDevice(w http.ResponseWriter, tok string, maxAge time.Duration) {
	c.set(w, DeviceCookie, tok, maxAge)
}

// SetKnown sets the known-browser cookie issued at a successful sign-in.
func (c Cookies) SetKnown(w http.ResponseWriter, tok string) {
	if tok != "" {
		c.set(w, KnownCookie, tok, knownBrowserAge)
	}
}

// SetLogin sets the sign-in form's double-submit token cookie.
func (c Cookies) SetLogin(w http.ResponseWriter, tok string) { c.set(w, LoginCookie, tok, 0) }

// BearerToken returns the token of an "Authorization: Bearer" header, or "".
func BearerToken(r *http.Request) string {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	return strings.TrimSpace(tok)
}

// SessionToken returns the session token presented as
// "Authorization: Bearer <token>" or, failing that, the session cookie.
func (c Cookies) SessionToken(r *http.Request) string {
	if r.Header.Get("Authorization") != "" {
		return BearerToken(r)
	}
	return c.Get(r, SessionCookie)
}
