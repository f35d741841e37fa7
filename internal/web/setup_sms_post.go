package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/twostep/twostep/internal/auth"
)

// POST /setup/sms sends the verification code to the number typed (and,
// with resend=1, sends a new one from the code step). On success the answer
// is the code step. A number the service refuses is shown again with its
// sentence next to the field; a send inside the 30-second cooldown or over
// a budget sends nothing and says how long to wait.
func (h *Web) setupSMSPost(w http.ResponseWriter, r *http.Request, s *session) error {
	f := r.PostForm
	v := smsView{RD: h.target(f.Get("rd")), Country: f.Get("country"), Phone: f.Get("phone")}
	if len(v.Phone) > 64 {
		v.Phone = ""
	}
	resend := f.Get("resend") == "1"
	methods, err := h.svc.Usable(r.Context(), s.User)
	if err != nil {
		return err
	}
	v.Adding = len(methods) > 0
	v.Replace = smsMethod(methods, f.Get("replace"))

	st, err := h.svc.StartSMS(r.Context(), h.client(r), s.Current, v.Country, v.Phone)
	if err == nil {
		v.Sent, v.Masked, v.Wait = true, st.Phone, int(auth.SMSResendWait/time.Second)
		h.renderSMS(w, r, s, http.StatusOK, v)
		return nil
	}
	switch {
	case errors.Is(err, auth.ErrRecentAuthRequired):
		seeOther(w, withRD("/verify?why=recent", smsSetupURL(v.RD, v.Replace)))
		return nil
	case errors.Is(err, auth.ErrPlanOrder):
		seeOther(w, withRD("/setup/totp", v.RD))
		return nil
	}
	p := h.formProblem(w, r, err)
	if unexpected(p) || p.Status == http.StatusForbidden {
		return err
	}
	if resend {
		if v.Masked = masked(v.Phone, v.Country); v.Masked != "" {
			v.Sent, v.ResendError, v.Wait = true, p.Msg, int(p.RetryAfter/time.Second)
			h.renderSMS(w, r, s, p.Status, v)
			return nil
		}
	}
	v.PhoneError = p.Msg
	h.renderSMS(w, r, s, p.Status, v)
	return nil
}
