package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"

	"github.com/twostep/twostep/internal/httpx"
)

// Cross-site request forgery: every state-changing request already passes
// http.CrossOriginProtection (server.Handler), which refuses cross-origin
// POSTs by Sec-Fetch-Site or Origin, and the session cookie is
// SameSite=Lax. Browsers that send neither header and ignore SameSite
// (roughly those before 2019) would slip through both, so each form also
// carries a token (defence in depth, ASVS V4.2.2, OWASP CSRF cheat sheet):
//
//   - signed-in forms: HMAC-SHA256 of a fixed label keyed by the session
//     token. Only a holder of the HttpOnly session cookie can compute it, it
//     needs no server-side state or shared key (any instance checks it), and
//     it dies with the session, including at every rotation.
//   - the sign-in form, before any session exists: a double-submit cookie.
//     Its name carries the __Host- prefix whenever cookies are Secure, so a
//     sibling subdomain or a network attacker on plain HTTP cannot plant
//     one (the weakness of naive double-submit).

// formTokenLabel is the HMAC message; the version lets the format change.
const formTokenLabel = "twostep form token v1"

// formToken returns the anti-forgery token for the forms of the session
// with token tok.
func formToken(tok string) string {
	if tok == "" {
		return ""
	}
	m := hmac.New(sha256.New, []byte(tok))
	m.Write([]byte(formTokenLabel))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkFormToken compares a submitted form token in constant time.
func checkFormToken(tok, got string) bool {
	want := formToken(tok)
	return want != "" && hmac.Equal([]byte(want), []byte(got))
}

// loginToken returns the sign-in form's token, setting its cookie when the
// browser has none yet.
func (h *Web) loginToken(w http.ResponseWriter, r *http.Request) string {
	if v := h.cookies.Get(r, httpx.LoginCookie); len(v) == 43 {
		return v
	}
	var b [32]byte
	rand.Read(b[:])
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	h.cookies.SetLogin(w, tok)
	return tok
}

// checkLoginToken reports whether the sign-in form's token matches its
// cookie.
func (h *Web) checkLoginToken(r *http.Request, got string) bool {
	v := h.cookies.Get(r, httpx.LoginCookie)
	return len(v) == 43 && hmac.Equal([]byte(v), []byte(got))
}
