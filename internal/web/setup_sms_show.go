package web

import (
	"net/http"
	"strings"
)

// smsView is the SMS/Text set-up page: country, number, "Send verification
// code", then the code from the text message, and "Resend" after a
// cooldown. Until the service supports SMS the form is shown disabled with
// a notice and a way on with the authenticator app.
type smsView struct {
	Page
	RD         string
	SMSReady   bool
	Countries  []country
	Country    string // selected ISO code
	Example    string // example number of the selected country
	Phone      string
	ThenTOTP   bool // the plan continues with the authenticator app
	PhoneError string
}

// GET /setup/sms is the SMS/Text step of the set-up plan; with both methods
// chosen it comes first (SPEC §1).
func (h *Web) setupSMSShow(w http.ResponseWriter, r *http.Request, s *session) error {
	h.renderSMS(w, r, s, http.StatusOK, smsView{RD: h.target(r.URL.Query().Get("rd")), Country: h.country})
	return nil
}

func (h *Web) renderSMS(w http.ResponseWriter, r *http.Request, s *session, status int, v smsView) {
	v.Page = h.page(r, s, "Set up SMS/Text")
	v.SMSReady = smsReady
	v.Countries = countries
	c, ok := countryByCode(v.Country)
	if !ok {
		c, _ = countryByCode(h.country)
	}
	v.Country, v.Example = c.Code, c.Example
	v.ThenTOTP = strings.Contains(s.Session.Plan, "totp")
	h.render(w, r, status, "setup_sms", v)
}
