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
	if ck, err := r.Cookie(c.Name(base)); err == nil {
		return ck.Value
	}
	return ""
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
