package web

import (
	"net/http"

	"github.com/twostep/twostep/internal/outcome"
)

// POST /login/passkey/finish signs in with the browser's answer to the
// passwordless ceremony: the service finds the user by the passkey and
// starts an aal2 session (user verification stood for the second factor).
// A refused answer shows the passkey step again with a new ceremony and the
// sentence next to the button.
func (h *Web) loginPasskeyFinishPost(w http.ResponseWriter, r *http.Request) error {
	if !h.svc.Passkeys().Passwordless {
		return errNotFound
	}
	if err := parseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	rd := h.target(f.Get("rd"))
	if !h.checkLoginToken(r, f.Get("csrf")) {
		return h.passkeyLoginRefused(w, r, rd, errFormExpired)
	}
	res, err := h.svc.PasskeyLogin(r.Context(), h.client(r), f.Get("ceremony"), []byte(f.Get("credential")))
	if err != nil {
		p := h.formProblem(w, r, err)
		switch {
		case p.Outcome == outcome.Internal:
			return err
		case p.Outcome == outcome.NotImplemented, p.Status == http.StatusTooManyRequests, p.Status == http.StatusServiceUnavailable:
			return h.passkeyLoginRefused(w, r, rd, err)
		}
		return h.beginPasskeyLogin(w, r, p.Status, rd, p.Msg)
	}
	h.signedIn(w, res, rd)
	return nil
}
