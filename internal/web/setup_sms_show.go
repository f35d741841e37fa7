package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/phone"
)

// smsView is the SMS/Text set-up page. It has two steps on one URL: the
// number (country, number, "Send verification code"), then the code from
// the text message with "Resend code". The code step is the answer to the
// POST that sent the text, and carries the country and the number as typed
// in hidden fields, so "Resend" can send again without putting the number
// into a URL (and so into history and logs).
type smsView struct {
	Page
	RD        string
	Countries []country
	Country   string // selected ISO code
	Example   string // example number of the selected country
	Phone     string // as typed
	Replace   string // factor id of the phone this one replaces ("Change phone")
	ThenTOTP  bool   // the plan continues with the authenticator app
	Adding    bool   // the user has a method already (came from settings)
	Notice    string // about the whole page (the set-up had ended)

	PhoneError string

	Sent         bool   // the code step
	Masked       string // the number as shown after entry: •••• 0123
	Wait         int    // seconds until Resend works, for the countdown
	CodeError    string
	ResendError  string
	DifferentURL string // back to the number step
	Remember     rememberView
}

// GET /setup/sms is the SMS/Text step: first in a plan with both methods
// (docs/pages.md), or adding a phone from the settings page, where
// ?replace=<method id> makes it "Change phone": the old phone is removed once
// the new one is confirmed. Adding needs a recent second-factor check, so a
// user without one verifies first and comes back (the service enforces it
// again when the code is sent).
func (h *Web) setupSMSShow(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	_, preselected := h.countries()
	v := smsView{RD: h.target(q.Get("rd")), Country: preselected}
	methods, err := h.svc.Usable(r.Context(), s.User)
	if err != nil {
		return err
	}
	v.Adding = len(methods) > 0
	v.Replace = smsMethod(methods, q.Get("replace"))
	if v.Adding && !h.svc.Recent(s.Current) {
		seeOther(w, withRD("/verify?why=recent", smsSetupURL(v.RD, v.Replace)))
		return nil
	}
	if q.Get("restarted") == "1" {
		v.Notice = "Your earlier code had ended. Enter your number again and we will send a new code."
	}
	h.renderSMS(w, r, s, http.StatusOK, v)
	return nil
}

// smsMethod returns id when it names one of the user's SMS/Text methods,
// else "".
func smsMethod(methods []model.Factor, id string) string {
	for _, f := range methods {
		if id != "" && f.ID == id && f.Type == model.FactorSMS {
			return id
		}
	}
	return ""
}

// smsSetupURL is the set-up page's address with what it keeps.
func smsSetupURL(rd, replace string) string {
	q := url.Values{}
	if replace != "" {
		q.Set("replace", replace)
	}
	if rd != "" {
		q.Set("rd", rd)
	}
	if len(q) == 0 {
		return "/setup/sms"
	}
	return "/setup/sms?" + q.Encode()
}

// renderSMS fills in what the page derives and renders it.
func (h *Web) renderSMS(w http.ResponseWriter, r *http.Request, s *session, status int, v smsView) {
	v.Page = h.page(r, s, "Set up SMS/Text")
	picker, preselected := h.countries()
	v.Countries = picker
	c, ok := findCountry(picker, v.Country)
	if !ok {
		c, _ = findCountry(picker, preselected)
	}
	v.Country, v.Example = c.Code, c.Example
	steps := strings.Split(s.Session.Plan, ",")
	v.ThenTOTP = len(steps) == 2 && steps[0] == "sms" && steps[1] == "totp"
	if v.Sent {
		v.DifferentURL = smsSetupURL(v.RD, v.Replace)
		v.Remember = h.remember(r.PostForm.Get("remember") == "1")
		if v.Adding {
			v.Remember.Days = 0 // offered with the first method only
		}
	}
	h.render(w, r, status, "setup_sms", v)
}

// masked is the typed number in the form shown after entry (•••• 0123), or
// "" when it does not parse (the service decides about the number itself).
func masked(input, country string) string {
	n, err := phone.Parse(input, country)
	if err != nil {
		return ""
	}
	return phone.Mask(n.E164)
}
