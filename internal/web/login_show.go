package web

import (
	"net/http"

	"github.com/twostep/twostep/internal/model"
)

// loginView is the sign-in page.
type loginView struct {
	Page
	Username      string
	Invite        string // one-time set-up link token (enrollment: invite)
	RD            string // where to go afterwards, already checked
	SignedOut     bool
	FormError     string // the same sentence for every credential failure
	UsernameError string
	PasswordError string
	Passkey       bool   // offer "Sign in with a passkey" (webauthn.passwordless)
	PasskeyError  string // why a passkey sign-in did not start or finish
}

// signInView is the sign-in page's view with what every state of it shows.
func (h *Web) signInView(r *http.Request, rd string) loginView {
	v := loginView{Page: h.page(r, nil, "Sign in"), RD: rd, Passkey: h.svc.Passkeys().Passwordless}
	v.PasskeyScript = v.Passkey
	return v
}

// GET /login shows the sign-in form, and "Sign in with a passkey" when
// passwordless sign-in is on (shown by passkey.js where the browser can use
// one). Pressing it begins the ceremony (login_passkey_post.go), so this
// GET stores nothing on the server. A user who already passed a second
// factor goes straight on. The set-up link of enrollment: invite arrives as
// /login?username=NAME&invite=TOKEN and travels in the form.
func (h *Web) loginShow(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	rd := h.target(q.Get("rd"))
	if cur, err := h.svc.Authenticate(r.Context(), h.cookies.SessionToken(r)); err == nil && cur.Session.AAL == model.AAL2 {
		seeOther(w, h.landing(rd))
		return nil
	}
	v := h.signInView(r, rd)
	v.Username, v.Invite, v.SignedOut = q.Get("username"), q.Get("invite"), q.Get("signed_out") == "1"
	if len(v.Username) > 256 || len(v.Invite) > 128 {
		v.Username, v.Invite = "", ""
	}
	v.CSRF = h.loginToken(w, r)
	h.render(w, r, http.StatusOK, "login", v)
	return nil
}
