package web

import (
	"net/http"
)

// POST /setup/sms would send the verification code to the number. The
// service does not support SMS/Text yet (auth.ErrNotImplemented), so the
// page is shown again with the notice; the number is not kept.
func (h *Web) setupSMSPost(w http.ResponseWriter, r *http.Request, s *session) error {
	f := r.PostForm
	v := smsView{RD: h.target(f.Get("rd")), Country: f.Get("country"), Phone: f.Get("phone")}
	if len(v.Phone) > 64 {
		v.Phone = ""
	}
	v.PhoneError = "Sending text messages is not available on this server yet. Use the authenticator app instead."
	h.renderSMS(w, r, s, http.StatusNotImplemented, v)
	return nil
}
