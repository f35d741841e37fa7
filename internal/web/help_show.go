package web

import "net/http"

// helpView is the help page.
type helpView struct {
	Page
	Issuer       string // the name the authenticator app shows
	Digits       int    // length of an authenticator-app code (totp.digits)
	Period       int    // seconds between codes (totp.period)
	RememberDays int    // remember_device.days; 0: not offered, not explained
}

// GET /help explains MFA, authenticator apps and what to do when the phone
// is lost, and links to support. Every page links here.
func (h *Web) helpShow(w http.ResponseWriter, r *http.Request) error {
	cfg := h.svc.Config()
	v := helpView{Page: h.page(r, nil, "Help"), Issuer: cfg.Issuer, Digits: cfg.TOTP.Digits, Period: cfg.TOTP.Period,
		RememberDays: h.svc.RememberDays()}
	v.Wide = true
	h.render(w, r, http.StatusOK, "help", v)
	return nil
}
