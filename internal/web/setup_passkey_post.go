package web

import (
	"net/http"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/outcome"
)

// POST /setup/passkey finishes registering the passkey with the browser's
// answer (passkey.js put it in the field credential) and the name typed. On
// success it ends like the authenticator app's confirmation: the session is
// aal2 with a new token, the first method answers with the recovery codes
// page (and may remember this browser), the plan or rd goes on. A refused
// answer shows the page again with a new ceremony and the sentence next to
// the button.
func (h *Web) setupPasskeyPost(w http.ResponseWriter, r *http.Request, s *session) error {
	if !h.svc.Passkeys().Enabled {
		return errNotFound
	}
	f := r.PostForm
	v := passkeySetupView{RD: h.target(f.Get("rd")), Name: f.Get("name")}
	if len(v.Name) > maxName {
		v.Name = ""
	}
	res, err := h.svc.ConfirmPasskey(r.Context(), h.client(r), s.Current, auth.Proof{Code: f.Get("ceremony"),
		Credential: []byte(f.Get("credential")), Name: v.Name, Remember: remembering(r)})
	if err != nil {
		if h.passkeySetupElsewhere(w, s, v.RD, err) {
			return nil
		}
		p := h.formProblem(w, r, err)
		if unexpected(p) || p.Outcome == outcome.NotImplemented {
			return err
		}
		if p.Status == http.StatusUnauthorized {
			// An expired ceremony: the person is signed in and nothing
			// about their sign-in failed; the page offers a new one.
			p.Status = http.StatusUnprocessableEntity
		}
		v.Passkey.Error = p.Msg
		return h.renderPasskeySetup(w, r, s, p.Status, v)
	}
	h.setupPassed(w, r, s, res, v.RD, "passkey", "webauthn")
	return nil
}
