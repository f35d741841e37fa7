package web

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/outcome"
)

// POST /verify checks the code; the service raises the session to aal2 with
// a new token (new cookie) and the user lands on rd or the settings page.
// A wrong code re-renders the page with the message tied to the code field.
// With send=1 (SMS/Text) it texts a code instead and comes back to the page
// with the code field. A passkey's answer (method webauthn) comes with its
// ceremony id; a refused one shows the page again with a new ceremony and
// the sentence next to the button.
func (h *Web) verifyPost(w http.ResponseWriter, r *http.Request, s *session) error {
	f := r.PostForm
	v := verifyView{RD: h.target(f.Get("rd")), Why: f.Get("why"), Method: f.Get("method"), Phone: f.Get("phone")}
	if v.Method == "sms" && f.Get("send") == "1" {
		return h.verifySend(w, r, s, v)
	}
	proof := auth.Proof{Method: v.Method, Code: f.Get("code"), Remember: remembering(r)}
	switch v.Method {
	case "totp", "sms":
		proof.Code = normalizeCode(proof.Code)
	case "webauthn":
		proof.Code, proof.Credential = f.Get("ceremony"), []byte(f.Get("credential"))
	}
	res, err := h.svc.Verify(r.Context(), h.client(r), s.Current, proof)
	if err == nil {
		h.cookies.SetPassed(w, res)
		h.finish(w, h.landing(v.RD))
		return nil
	}
	p := h.formProblem(w, r, err)
	if unexpected(p) {
		return err
	}
	if v.Method == "webauthn" {
		v.Passkey.Error = p.Msg // next to the passkey button, not a code field
	} else {
		v.CodeError, v.Sent = p.Msg, v.Method == "sms"
	}
	methods, err := h.svc.Usable(r.Context(), s.User)
	if err != nil {
		return err
	}
	return h.renderVerify(w, r, s, p.Status, v, methods)
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
		err = auth.ErrNoFactor.With(outcome.Error{Method: "sms_send"})
	}
	p := h.formProblem(w, r, err)
	if unexpected(p) {
		return err
	}
	if p.Outcome == outcome.RateLimited {
		v.Wait = int(p.RetryAfter / time.Second)
	}
	v.SendError, v.Sent = p.Msg, r.PostForm.Get("sent") == "1"
	methods, err := h.svc.Usable(r.Context(), s.User)
	if err != nil {
		return err
	}
	return h.renderVerify(w, r, s, p.Status, v, methods)
}
