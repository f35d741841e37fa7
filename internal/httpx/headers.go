package httpx

import (
	"net/http"
	"strings"
)

// SessionCookie is the name of the session cookie (SPEC §3).
const SessionCookie = "twostep_session"

// SecurityHeaders sets the browser hardening headers once for every
// response (OWASP Secure Headers; ASVS V14.4). HSTS only when served over
// TLS (tls true), since on plain HTTP it would be ignored or wrong.
func SecurityHeaders(tls bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		if tls {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
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
