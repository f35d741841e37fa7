package web

import (
	"net/http"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/model"
)

// setupView is the page where a user chooses their method(s).
type setupView struct {
	Page
	RD           string
	TOTP, SMS    bool // ticked
	Passkey      bool // "Passkey or security key" ticked
	Passkeys     bool // offered (webauthn configured and allowed); the script shows it where the browser can use one
	MoreOpen     bool // "More options" starts unfolded
	MethodsError string
	// OfferTOTP and OfferSMS: the user's group policy allows the method
	// (docs/rollout.md); what it does not allow is not listed.
	OfferTOTP, OfferSMS bool
	// Disallowed: the user has methods their policy no longer allows, so
	// they are here to set up an allowed one.
	Disallowed bool
	Grace      graceView
}

// graceView is a grace period as the pages show it: the "Set up later
// (N days left)" choice and the reminder.
type graceView struct {
	Active   bool
	DaysLeft int
	Until    stamp
}

// graceView words the grace state g.
func (h *Web) graceView(g auth.Grace) graceView {
	if !g.Active {
		return graceView{}
	}
	return graceView{Active: true, DaysLeft: g.DaysLeft, Until: h.date(g.Until)}
}

// GET /setup lets a user without a second factor choose one: the
// authenticator app, recommended and preselected; a passkey or security key
// next to it (where the server offers passkeys and the browser can use
// one); SMS/Text behind "More options"; or several (a passkey first, then
// SMS/Text, then the app). A user who already has a
// method adds more from the settings page.
func (h *Web) setupShow(w http.ResponseWriter, r *http.Request, s *session) error {
	rd := h.target(r.URL.Query().Get("rd"))
	methods, err := h.svc.Usable(r.Context(), s.User)
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
	h.renderSetup(w, r, s, http.StatusOK, setupView{RD: rd, TOTP: h.svc.Policy(s.User).Allows("totp")})
	return nil
}

func (h *Web) renderSetup(w http.ResponseWriter, r *http.Request, s *session, status int, v setupView) {
	v.Page = h.page(r, s, "Set up two-step sign-in")
	pol := h.svc.Policy(s.User)
	v.OfferTOTP, v.OfferSMS = pol.Allows("totp"), pol.Allows("sms")
	v.MoreOpen = v.MoreOpen || v.SMS || (v.OfferSMS && !v.OfferTOTP)
	v.Passkeys = h.svc.Passkeys().Enabled && pol.Allows("webauthn")
	v.PasskeyScript = v.Passkeys
	if all, err := h.svc.Methods(r.Context(), s.User.ID); err == nil {
		v.Disallowed = len(all) > 0
	}
	if g, err := h.svc.GraceOf(r.Context(), s.Current); err == nil {
		v.Grace = h.graceView(g)
	}
	h.render(w, r, status, "setup", v)
}
