package web

import (
	"net/http"
	"net/url"

	"github.com/twostep/twostep/internal/model"
)

// verifyView is the second-factor page.
type verifyView struct {
	Page
	RD        string
	Why       string // "recent": a sensitive action asked for a fresh check
	Method    string // "totp", "sms" or "recovery"
	SMSLabel  string // the phone, masked, when Method is sms
	Others    []otherMethod
	Again     bool // already verified once in this session
	Issuer    string
	Digits    int
	CodeError string
}

// otherMethod is one entry of "Use another method".
type otherMethod struct {
	Label string
	URL   string
}

// GET /verify asks for a code from the user's preferred method (set as
// preferred, or else used last) with a hint where to find it, and lists the
// others under "Use another method". Text messages are sent only when the
// user presses the button, never on page load. A signed-in user is asked
// again when a sensitive action needs a recent check (?why=recent).
func (h *Web) verifyShow(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	v := verifyView{RD: h.target(q.Get("rd")), Why: q.Get("why"), Method: q.Get("method")}
	methods, err := h.svc.Methods(r.Context(), s.User.ID)
	if err != nil {
		return err
	}
	if len(methods) == 0 {
		seeOther(w, withRD("/setup", v.RD))
		return nil
	}
	h.renderVerify(w, r, s, http.StatusOK, v, methods)
	return nil
}

// renderVerify settles the method shown and the alternatives, and renders.
func (h *Web) renderVerify(w http.ResponseWriter, r *http.Request, s *session, status int, v verifyView, methods []model.Factor) {
	var totp, preferred string
	var sms []model.Factor
	for _, f := range methods {
		switch f.Type {
		case model.FactorTOTP:
			totp = "totp"
		case model.FactorSMS:
			sms = append(sms, f)
		}
		if f.Preferred && (f.Type == model.FactorTOTP || f.Type == model.FactorSMS) {
			preferred = string(f.Type)
		}
	}
	switch {
	case v.Method == "recovery", v.Method == "totp" && totp != "", v.Method == "sms" && len(sms) > 0:
	case preferred != "":
		v.Method = preferred
	case totp != "":
		v.Method = "totp"
	case len(sms) > 0:
		v.Method = "sms"
	default:
		v.Method = "recovery"
	}
	if v.Why != "recent" {
		v.Why = ""
	}
	link := func(method string) string {
		q := url.Values{"method": {method}}
		if v.RD != "" {
			q.Set("rd", v.RD)
		}
		if v.Why != "" {
			q.Set("why", v.Why)
		}
		return "/verify?" + q.Encode()
	}
	if totp != "" && v.Method != "totp" {
		v.Others = append(v.Others, otherMethod{"Authenticator app", link("totp")})
	}
	if len(sms) > 0 {
		if v.Method == "sms" {
			v.SMSLabel = sms[0].Label
		} else {
			v.Others = append(v.Others, otherMethod{"Text message to " + sms[0].Label, link("sms")})
		}
	}
	if v.Method != "recovery" {
		v.Others = append(v.Others, otherMethod{"Recovery code", link("recovery")})
	}
	title := "Enter your code"
	if v.Method == "recovery" {
		title = "Enter a recovery code"
	}
	v.Page = h.page(r, s, title)
	v.Again = s.Session.AAL == model.AAL2
	v.Issuer, v.Digits = h.svc.Config().Issuer, h.svc.Config().TOTP.Digits
	h.render(w, r, status, "verify", v)
}
