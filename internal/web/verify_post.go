package web

import (
	"errors"
	"net/http"

	"github.com/twostep/twostep/internal/auth"
)

// POST /verify checks the code; the service raises the session to aal2 with
// a new token (new cookie) and the user lands on rd or the settings page.
// A wrong code re-renders the page with the message tied to the code field.
func (h *Web) verifyPost(w http.ResponseWriter, r *http.Request, s *session) error {
	f := r.PostForm
	v := verifyView{RD: h.target(f.Get("rd")), Why: f.Get("why"), Method: f.Get("method")}
	code := f.Get("code")
	if v.Method == "totp" {
		code = normalizeCode(code)
	}
	var err error
	if v.Method == "sms" && f.Get("send") != "" {
		err = auth.ErrNotImplemented // sending sign-in codes arrives with the SMS issue
	} else {
		var res auth.VerifyResult
		res, err = h.svc.Verify(r.Context(), h.client(r), s.Current, v.Method, code)
		if err == nil {
			h.cookies.Set(w, res.Token)
			h.finish(w, h.landing(v.RD))
			return nil
		}
	}
	p, ok := describe(err)
	if !ok || errors.Is(err, auth.ErrUnauthenticated) {
		return err
	}
	switch {
	case errors.Is(err, auth.ErrInvalidCode) && v.Method == "recovery":
		p.msg = "That recovery code is not valid or was already used. Check it and try again."
	case errors.Is(err, auth.ErrInvalidCode):
		p.msg = "That code is not valid. Enter the code your app shows now (a new one appears every few seconds)."
	case errors.Is(err, auth.ErrCodeFormat) && v.Method == "recovery":
		p.msg = "Enter a recovery code: 10 letters and digits, like abcde-fghjk."
	case errors.Is(err, auth.ErrCodeFormat):
		p.msg = "Enter the 6-digit code from your authenticator app."
	case errors.Is(err, auth.ErrNoFactor):
		p.msg = "You have no authenticator app set up. Use a recovery code instead."
	}
	setRetryAfter(w, p)
	v.CodeError = p.msg
	methods, err := h.svc.Methods(r.Context(), s.User.ID)
	if err != nil {
		return err
	}
	h.renderVerify(w, r, s, p.status, v, methods)
	return nil
}
