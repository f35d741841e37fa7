package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/twostep/twostep/internal/auth"
)

// POST /verify checks the code; the service raises the session to aal2 with
// a new token (new cookie) and the user lands on rd or the settings page.
// A wrong code re-renders the page with the message tied to the code field.
// With send=1 (SMS/Text) it texts a code instead and comes back to the page
// with the code field.
func (h *Web) verifyPost(w http.ResponseWriter, r *http.Request, s *session) error {
	f := r.PostForm
	v := verifyView{RD: h.target(f.Get("rd")), Why: f.Get("why"), Method: f.Get("method"), Phone: f.Get("phone")}
	if v.Method == "sms" && f.Get("send") == "1" {
		return h.verifySend(w, r, s, v)
	}
	code := f.Get("code")
	if v.Method == "totp" || v.Method == "sms" {
		code = normalizeCode(code)
	}
	res, err := h.svc.Verify(r.Context(), h.client(r), s.Current, auth.Proof{Method: v.Method, Code: code, Remember: remembering(r)})
	if err == nil {
		h.cookies.SetPassed(w, res)
		h.finish(w, h.landing(v.RD))
		return nil
	}
	p, ok := describe(err)
	if !ok || errors.Is(err, auth.ErrUnauthenticated) {
		return err
	}
	sms := v.Method == "sms"
	totp := h.svc.Config().TOTP
	switch {
	case errors.Is(err, auth.ErrInvalidCode) && v.Method == "recovery":
		p.msg = "That recovery code is not valid or was already used. Check it and try again."
	case errors.Is(err, auth.ErrInvalidCode) && sms:
		p.msg = "That code is not valid. Check the text message and try again."
	case errors.Is(err, auth.ErrInvalidCode):
		p.msg = fmt.Sprintf("That code is not valid. Enter the code your app shows now: a new one appears every %d seconds.", totp.Period)
	case errors.Is(err, auth.ErrCodeExpired):
		p.msg = "This code has expired or was already used. Press Resend code to get a new one."
	case errors.Is(err, auth.ErrCodeFormat) && v.Method == "recovery":
		p.msg = "Enter a recovery code: 10 letters and digits, like abcde-fghjk."
	case errors.Is(err, auth.ErrCodeFormat) && sms:
		p.msg = "Enter the 6-digit code from the text message."
	case errors.Is(err, auth.ErrCodeFormat):
		p.msg = fmt.Sprintf("Enter the %d-digit code from your authenticator app.", totp.Digits)
	case errors.Is(err, auth.ErrNoFactor) && sms:
		p.msg = "You have no phone set up. Use another method."
	case errors.Is(err, auth.ErrNoFactor):
		p.msg = "You have no authenticator app set up. Use a recovery code instead."
	}
	setRetryAfter(w, p)
	v.CodeError, v.Sent = p.msg, sms
	methods, err := h.svc.Methods(r.Context(), s.User.ID)
	if err != nil {
		return err
	}
	h.renderVerify(w, r, s, p.status, v, methods)
	return nil
}

// verifySend texts a sign-in code to the chosen phone (the button, never
// the page load) and shows the page with the code field. Inside the
// resend cooldown, over a budget or when the provider fails, nothing is sent
// and the page says so next to the button.
func (h *Web) verifySend(w http.ResponseWriter, r *http.Request, s *session, v verifyView) error {
	st, err := h.svc.ChallengeSMS(r.Context(), h.client(r), s.Current, v.Phone)
	if err == nil {
		q := url.Values{"method": {"sms"}, "phone": {st.FactorID}, "sent": {"1"}}
		if v.RD != "" {
			q.Set("rd", v.RD)
		}
		if v.Why == "recent" {
			q.Set("why", v.Why)
		}
		seeOther(w, "/verify?"+q.Encode())
		return nil
	}
	if errors.Is(err, auth.ErrNotFound) {
		v.Phone = "" // not one of the user's phones: offer the preferred one
		err = auth.ErrNoFactor
	}
	p, ok := describe(err)
	if !ok || errors.Is(err, auth.ErrUnauthenticated) {
		return err
	}
	switch {
	case errors.Is(err, auth.ErrRateLimited):
		p.msg = smsWait(p)
		v.Wait = int(p.retry / time.Second)
	case errors.Is(err, auth.ErrNoFactor):
		p.msg = "You have no phone set up. Use another method."
	}
	setRetryAfter(w, p)
	v.SendError, v.Sent = p.msg, r.PostForm.Get("sent") == "1"
	methods, err := h.svc.Methods(r.Context(), s.User.ID)
	if err != nil {
		return err
	}
	h.renderVerify(w, r, s, p.status, v, methods)
	return nil
}
