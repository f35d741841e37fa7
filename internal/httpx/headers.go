package httpx

import (
	"net/http"
	"slices"
	"strings"
)

// SessionCookie is the name of the session cookie (docs/api.md).
const SessionCookie = "twostep_session"

// SecurityHeaders sets the browser hardening headers once for every
// response (OWASP Secure Headers; ASVS V14.4). HSTS only when served over
// TLS (tls true), since on plain HTTP it would be ignored or wrong.
func SecurityHeaders(tls bool, next http.Handler) http.Handler {
	set := securityHeaders
	if tls {
		set = append(slices.Clone(set), header{"Strict-Transport-Security", []string{"max-age=31536000; includeSubDomains"}})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Direct assignment of shared, already-canonical values: this runs
		// on every forward-auth check, where Header.Set's canonicalisation
		// and one slice per header showed in the profile. Nothing appends
		// to these slices; handlers that change a header replace it.
		for _, kv := range set {
			h[kv.key] = kv.val
		}
		next.ServeHTTP(w, r)
	})
}

type header struct {
	key string // canonical form
	val []string
}

var securityHeaders = []header{
	{"Content-Security-Policy", []string{"default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"}},
	{"X-Frame-Options", []string{"DENY"}},
	{"X-Content-Type-Options", []string{"nosniff"}},
	// same-origin, not no-referrer: under no-referrer browsers send
	// "Origin: null" with same-origin form posts, which cross-origin
	// protection must refuse; other sites still get no referrer.
	{"Referrer-Policy", []string{"same-origin"}},
	{"Cross-Origin-Opener-Policy", []string{"same-origin"}},
	{"Cache-Control", []string{"no-store"}},
}

// SessionToken returns the session token presented as
// "Authorization: Bearer <token>" or, failing that, the session cookie.
func SessionToken(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if tok, ok := strings.CutPrefix(a, "Bearer "); ok {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		return c.Value
	}
	return ""
}

// Cookies writes and clears the session cookie with one set of attributes.
type Cookies struct {
	Secure bool   // false only in explicit insecure dev mode or on localhost HTTP
	Domain string // cookie_domain: shared by the applications behind forward-auth
}

// Set sets the session cookie: HttpOnly, SameSite=Lax, Path=/, a browser
// session cookie (the server enforces idle and absolute timeouts).
func (c Cookies) Set(w http.ResponseWriter, tok string) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: tok, Path: "/", Domain: c.Domain, HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode})
}

// Clear removes the session cookie.
func (c Cookies) Clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", Domain: c.Domain, MaxAge: -1, HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode})
}
