package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// recoveryCodesView shows a new set of recovery codes, once.
type recoveryCodesView struct {
	Page
	Codes    []string
	Text     string       // the codes as a plain-text file, for copying
	Download template.URL // the same as a data: URL for <a download>
	Next     string       // "I saved them" goes here
	SetUp    string       // confirmation of the first method just set up, if that is why
}

// renderRecoveryCodes renders the recovery codes page as the answer to the
// POST that created them. The codes are in no URL, cookie or store in
// clear: Cache-Control: no-store (httpx) keeps the page out of the cache,
// and the download link is a data: URL built here, so no later request can
// fetch them again.
//
// method is the first method just set up ("totp", "sms" or "webauthn"), or "" when
// the user asked for a new set.
func (h *Web) renderRecoveryCodes(w http.ResponseWriter, r *http.Request, s *session, codes []string, next, method string) {
	var b strings.Builder
	b.WriteString("Recovery codes for " + h.brand.Name + " (" + s.User.Username + ")\n")
	b.WriteString("Each code works once. Keep them somewhere safe.\n\n")
	for _, c := range codes {
		b.WriteString(c + "\n")
	}
	v := recoveryCodesView{Page: h.page(r, s, "Save your recovery codes"), Codes: codes, Text: b.String(), Next: next}
	switch method {
	case "totp":
		v.SetUp = "Your authenticator app is set up."
	case "sms":
		v.SetUp = "Your phone is set up: sign-in codes will come by text message."
	case "webauthn":
		v.SetUp = "Your passkey is set up."
	}
	v.Download = template.URL("data:text/plain;charset=utf-8," + url.PathEscape(v.Text))
	h.render(w, r, http.StatusOK, "recovery_codes", v)
}
