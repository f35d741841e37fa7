package web

import (
	"net/http"
	"slices"
)

// POST /setup records the chosen methods as the set-up plan; the service
// orders it (SMS/Text before the authenticator app) and enforces that order
// on the following steps. A passkey is set up first, outside the plan: its
// confirmation goes on with the plan's first step (Passed.Next).
func (h *Web) setupPost(w http.ResponseWriter, r *http.Request, s *session) error {
	chosen := r.PostForm["method"]
	v := setupView{RD: h.target(r.PostForm.Get("rd")), TOTP: slices.Contains(chosen, "totp"), SMS: slices.Contains(chosen, "sms"),
		Passkey: slices.Contains(chosen, "webauthn") && h.svc.Passkeys().Enabled}
	var methods []string
	if v.TOTP {
		methods = append(methods, "totp")
	}
	if v.SMS {
		methods = append(methods, "sms")
	}
	if len(methods) == 0 && v.Passkey {
		seeOther(w, withRD("/setup/passkey", v.RD))
		return nil
	}
	if len(methods) == 0 {
		v.MethodsError = "Choose at least one way to get your codes."
		v.MoreOpen = true
		h.renderSetup(w, r, s, http.StatusUnprocessableEntity, v)
		return nil
	}
	steps, err := h.svc.Plan(r.Context(), s.Current, methods)
	if err != nil {
		return err
	}
	if v.Passkey {
		steps[0] = "passkey"
	}
	seeOther(w, withRD("/setup/"+steps[0], v.RD))
	return nil
}
