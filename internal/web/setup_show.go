package web

import (
	"net/http"

	"github.com/twostep/twostep/internal/model"
)

// setupView is the page where a user chooses their method(s).
type setupView struct {
	Page
	RD           string
	TOTP, SMS    bool // ticked
	Passkey      bool // "Passkey or security key" ticked
	Passkeys     bool // offered (webauthn configured); the script shows it where the browser can use one
	MoreOpen     bool // "More options" starts unfolded
	MethodsError string
}

// GET /setup lets a user without a second factor choose one: the
// authenticator app, recommended and preselected; a passkey or security key
// next to it (where the server offers passkeys and the browser can use
// one); SMS/Text behind "More options"; or several (a passkey first, then
// SMS/Text, then the app). A user who already has a
// method adds more from the settings page.
func (h *Web) setupShow(w http.ResponseWriter, r *http.Request, s *session) error {
	rd := h.target(r.URL.Query().Get("rd"))
	methods, err := h.svc.Methods(r.Context(), s.User.ID)
	if err != nil {
		return err
	}
	if len(methods) > 0 {
		if s.Session.AAL == model.AAL2 {
			seeOther(w, h.landing(rd))
		} else {
			seeOther(w, withRD("/verify", rd))
		}
		return nil
	}
	h.renderSetup(w, r, s, http.StatusOK, setupView{RD: rd, TOTP: true})
	return nil
}

func (h *Web) renderSetup(w http.ResponseWriter, r *http.Request, s *session, status int, v setupView) {
	v.Page = h.page(r, s, "Set up two-step sign-in")
	v.MoreOpen = v.MoreOpen || v.SMS
	v.Passkeys = h.svc.Passkeys().Enabled
	v.PasskeyScript = v.Passkeys
	h.render(w, r, status, "setup", v)
}
