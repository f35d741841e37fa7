package web

import (
	"errors"
	"net/http"

	"github.com/twostep/twostep/internal/auth"
)

// POST /setup/sms/confirm checks the code from the text message. On success
// the phone is active and the session is aal2 with a new token (new
// cookie). On the first method the answer IS the recovery codes page, as for
// the authenticator app; in a plan with both methods the app's set-up comes
// next. For "Change phone" the old phone is removed once the new one works.
func (h *Web) setupSMSConfirmPost(w http.ResponseWriter, r *http.Request, s *session) error {
	f := r.PostForm
	v := smsView{RD: h.target(f.Get("rd")), Country: f.Get("country"), Phone: f.Get("phone")}
	if len(v.Phone) > 64 {
		v.Phone = ""
	}
	methods, err := h.svc.Usable(r.Context(), s.User)
	if err != nil {
		return err
	}
	v.Adding = len(methods) > 0
	v.Replace = smsMethod(methods, f.Get("replace"))

	res, err := h.svc.ConfirmSMS(r.Context(), h.client(r), s.Current, auth.Proof{Code: normalizeCode(f.Get("code")), Remember: remembering(r)})
	if err != nil {
		switch {
		case errors.Is(err, auth.ErrNotFound):
			// No phone waiting for its code (replaced in another tab, or
			// never sent): start again.
			seeOther(w, withRD("/setup/sms?restarted=1", v.RD))
			return nil
		case errors.Is(err, auth.ErrCodeMismatch), errors.Is(err, auth.ErrCodeExpired), errors.Is(err, auth.ErrCodeFormat),
			errors.Is(err, auth.ErrTooManyAttempts), errors.Is(err, auth.ErrRateLimited):
			// shown next to the code field (with how long to wait)
		default:
			return err // e.g. a verification is due: fail() sends the user on
		}
		p := h.formProblem(w, r, err)
		if p.Status == http.StatusUnauthorized {
			// An expired code: the person is signed in and nothing about
			// their sign-in failed; the form asks for a new code.
			p.Status = http.StatusUnprocessableEntity
		}
		v.Sent, v.Masked, v.CodeError = true, masked(v.Phone, v.Country), p.Msg
		h.renderSMS(w, r, s, p.Status, v)
		return nil
	}
	done := "phone"
	if v.Replace != "" {
		done = h.replacePhone(r, res.Token, v.Replace)
	}
	h.setupPassed(w, r, s, res, v.RD, done, "sms")
	return nil
}

// replacePhone removes the phone a "Change phone" replaces, as the session
// that just confirmed the new one (so the recent check holds), and names the
// settings page's confirmation. Should the removal fail, both phones stay
// and the settings page lists both; the user can remove the old one there.
func (h *Web) replacePhone(r *http.Request, tok, old string) string {
	cur, err := h.svc.Authenticate(r.Context(), tok)
	if err == nil {
		err = h.svc.RemoveFactor(r.Context(), h.client(r), cur, old)
	}
	if err != nil {
		h.log.WarnContext(r.Context(), "change phone: old phone not removed", "factor_id", old, "error", err)
		return "phone"
	}
	return "phone_changed"
}
