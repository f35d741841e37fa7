package web

import (
	"net/http"

	"github.com/twostep/twostep/internal/outcome"
)

// loginPasskeyView is the passwordless step: the ceremony begun for this
// browser, "Sign in with a passkey", and the way back to the password.
type loginPasskeyView struct {
	Page
	RD      string
	Passkey passkeyView
}

// POST /login/passkey ("Sign in with a passkey" on the sign-in page)
// begins a passwordless ceremony: discoverable credentials, user
// verification required, budgeted per client by the service. The answer is
// the page whose button hands the ceremony to the browser: a browser may
// show its passkey prompt only after a press on the page that asks
// (Safari), so the ceremony never starts by itself. A refusal (a budget)
// shows the sign-in page with its sentence. Without passwordless sign-in
// the page does not exist.
func (h *Web) loginPasskeyPost(w http.ResponseWriter, r *http.Request) error {
	if !h.svc.Passkeys().Passwordless {
		return errNotFound
	}
	if err := parseForm(w, r); err != nil {
		return err
	}
	return h.beginPasskeyLogin(w, r, http.StatusOK, h.target(r.PostForm.Get("rd")), "")
}

// beginPasskeyLogin checks the sign-in form's token, begins a ceremony and
// renders it; problem is the refusal of the attempt before, if any.
func (h *Web) beginPasskeyLogin(w http.ResponseWriter, r *http.Request, status int, rd, problem string) error {
	if !h.checkLoginToken(r, r.PostForm.Get("csrf")) {
		return h.passkeyLoginRefused(w, r, rd, errFormExpired)
	}
	c, err := h.svc.StartPasskeyLogin(r.Context(), h.client(r))
	if err != nil {
		return h.passkeyLoginRefused(w, r, rd, err)
	}
	v := loginPasskeyView{Page: h.page(r, nil, "Sign in with a passkey"), RD: rd, Passkey: ceremony("login", c, problem)}
	v.CSRF, v.PasskeyScript = h.loginToken(w, r), true
	h.render(w, r, status, "login_passkey", v)
	return nil
}

// passkeyLoginRefused shows the sign-in page with the sentence of err at
// its top, so the password is one step away.
func (h *Web) passkeyLoginRefused(w http.ResponseWriter, r *http.Request, rd string, err error) error {
	p := h.formProblem(w, r, err)
	if p.Outcome == outcome.Internal {
		return err
	}
	v := h.signInView(r, rd)
	v.CSRF, v.PasskeyError = h.loginToken(w, r), p.Msg
	h.render(w, r, p.Status, "login", v)
	return nil
}
