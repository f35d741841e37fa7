package web

import (
	"errors"
	"net/http"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/outcome"
)

// POST /login checks the password and sends the user on: to set-up when
// they have no second factor yet, to verification otherwise (keeping rd),
// or to rd when no second factor is due (also when this browser was
// remembered after an earlier second factor, device.go). Every credential
// failure gets the same sentence (no user enumeration; the service already
// spends the same time on each).
func (h *Web) loginPost(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	v := h.signInView(r, h.target(f.Get("rd")))
	v.Username, v.Invite = f.Get("username"), f.Get("invite")
	tokenOK := h.checkLoginToken(r, f.Get("csrf"))
	v.CSRF = h.loginToken(w, r)
	if !tokenOK {
		v.FormError = "This sign-in form had expired, or your browser blocks cookies. Try again; if it keeps happening, allow cookies for this site."
		h.render(w, r, http.StatusForbidden, "login", v)
		return nil
	}
	pw := f.Get("password")
	if v.Username == "" {
		v.UsernameError = "Enter your username."
	}
	if pw == "" {
		v.PasswordError = "Enter your password."
	}
	if v.UsernameError != "" || v.PasswordError != "" {
		h.render(w, r, http.StatusUnprocessableEntity, "login", v)
		return nil
	}

	res, err := h.svc.Login(r.Context(), h.client(r), auth.Credentials{Username: v.Username, Password: pw, Invite: v.Invite,
		Known: h.cookies.Get(r, httpx.KnownCookie)})
	if err != nil {
		if errors.Is(err, auth.ErrInvalidInput) {
			// A malformed username cannot exist: answer as for a wrong
			// password, so the form reveals nothing either way.
			err = auth.ErrInvalidCredentials
		}
		p := h.formProblem(w, r, err)
		if p.Outcome == outcome.Internal {
			return err
		}
		v.FormError = p.Msg
		h.render(w, r, p.Status, "login", v)
		return nil
	}
	h.signedIn(w, res, v.RD)
	return nil
}

// signedIn answers a sign-in, by password or by passkey: the session and
// known-browser cookies, then the step it still needs, else rd.
func (h *Web) signedIn(w http.ResponseWriter, res auth.LoginResult, rd string) {
	h.cookies.SetSession(w, res.Token)
	h.cookies.SetKnown(w, res.Known)
	switch res.Next {
	case auth.NextSetup:
		seeOther(w, withRD("/setup", rd))
	case auth.NextVerify:
		seeOther(w, withRD("/verify", rd))
	default:
		h.finish(w, h.landing(rd))
	}
}
