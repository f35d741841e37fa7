package web

import (
	"errors"
	"net/http"

	"github.com/twostep/twostep/internal/auth"
)

// passkeySetupView is the passkey set-up page: a name, "Create a passkey",
// and, when this browser cannot create one, the way to another method.
type passkeySetupView struct {
	Page
	RD       string
	Name     string // as typed ("Work laptop"); "" lets the service name it
	Adding   bool   // the user has a method already (came from settings)
	ThenPlan string // the set-up plan goes on with this method afterwards ("totp", "sms")
	Passkey  passkeyView
	Remember rememberView // offered with the first method only
	Other    string       // "Use another method": the choice page, or settings when adding
}

// GET /setup/passkey begins registering a passkey or security key: the
// service starts the ceremony under the rules of any new method (the first
// one by the aal1 session; a further one after a recent second factor,
// else the user verifies and comes back) and the page hands its options to
// passkey.js. Without passkeys on the server the page does not exist.
func (h *Web) setupPasskeyShow(w http.ResponseWriter, r *http.Request, s *session) error {
	if !h.svc.Passkeys().Enabled {
		return errNotFound
	}
	return h.renderPasskeySetup(w, r, s, http.StatusOK, passkeySetupView{RD: h.target(r.URL.Query().Get("rd"))})
}

// renderPasskeySetup begins a new ceremony (one is used up by every
// attempt) and renders the page with it; the problem of the attempt before,
// if any, is in v.Passkey.Error.
func (h *Web) renderPasskeySetup(w http.ResponseWriter, r *http.Request, s *session, status int, v passkeySetupView) error {
	c, err := h.svc.StartPasskey(r.Context(), h.client(r), s.Current)
	if err != nil {
		if h.passkeySetupElsewhere(w, s, v.RD, err) {
			return nil
		}
		return err
	}
	methods, err := h.svc.Usable(r.Context(), s.User)
	if err != nil {
		return err
	}
	v.Adding = len(methods) > 0
	v.Passkey = ceremony("create", c, v.Passkey.Error)
	v.Page = h.page(r, s, "Set up a passkey")
	v.PasskeyScript = true
	if steps := planSteps(s.Session.Plan); len(steps) > 0 {
		v.ThenPlan = steps[0]
	}
	v.Other = withRD("/setup", v.RD)
	if v.Adding {
		v.Other = defaultLanding
	} else {
		v.Remember = h.remember(r.Method == http.MethodPost && remembering(r))
	}
	h.render(w, r, status, "setup_passkey", v)
	return nil
}

// passkeySetupElsewhere answers the refusals that send the user elsewhere
// before a passkey can be set up, and reports whether it did: a
// verification is due (and back here afterwards, rd kept), or the set-up
// plan has an earlier step.
func (h *Web) passkeySetupElsewhere(w http.ResponseWriter, s *session, rd string, err error) bool {
	switch {
	case errors.Is(err, auth.ErrRecentAuthRequired):
		seeOther(w, withRD("/verify?why=recent", withRD("/setup/passkey", rd)))
		return true
	case errors.Is(err, auth.ErrPlanOrder):
		if steps := planSteps(s.Session.Plan); len(steps) > 0 {
			seeOther(w, withRD("/setup/"+steps[0], rd))
			return true
		}
	}
	return false
}
