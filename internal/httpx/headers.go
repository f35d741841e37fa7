package httpx

import (
	"net/http"
	"slices"
)

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
