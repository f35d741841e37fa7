package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/model"
)

// verifyView is the second-factor page.
type verifyView struct {
	Page
	RD        string
	Why       string // "recent": a sensitive action asked for a fresh check
	Method    string // "totp", "sms", "webauthn" or "recovery"
	Phone     string // with Method sms: the id of the phone texted
	SMSLabel  string // that phone, masked: •••• 4567
	Sent      bool   // with Method sms: a code was sent, show the code field
	Wait      int    // seconds until "Resend code" works, for the countdown
	SendError string // why no text went out
	Others    []otherMethod
	Again     bool // already verified once in this session
	Issuer    string
	Digits    int
	CodeError string
	Remember  rememberView
	Passkey   passkeyView // with Method webauthn: the ceremony begun for this page
}

// otherMethod is one entry of "Use another method".
type otherMethod struct {
	Label string
	URL   string
}

// GET /verify asks for a code from the user's preferred method (set as
// preferred, or else used last) with a hint where to find it, and lists the
// others under "Use another method". For a passkey the page begins the
// ceremony and offers "Use your passkey" (passkey.go). Text messages are sent only when the
// user presses "Send code" (POST), never on page load; the POST comes back
// here with sent=1, which only changes what the page shows. A signed-in
// user is asked again when a sensitive action needs a recent check
// (?why=recent).
func (h *Web) verifyShow(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	v := verifyView{RD: h.target(q.Get("rd")), Why: q.Get("why"), Method: q.Get("method"), Phone: q.Get("phone"),
		Sent: q.Get("sent") == "1"}
	methods, err := h.svc.Usable(r.Context(), s.User)
	if err != nil {
		return err
	}
	if len(methods) == 0 {
		seeOther(w, withRD("/setup", v.RD))
		return nil
	}
	if v.Sent {
		v.Wait = int(auth.SMSResendWait / time.Second)
	}
	return h.renderVerify(w, r, s, http.StatusOK, v, methods)
}

// renderVerify settles the method shown and the alternatives, begins a
// passkey ceremony when that is the method, and renders.
func (h *Web) renderVerify(w http.ResponseWriter, r *http.Request, s *session, status int, v verifyView, methods []model.Factor) error {
	var totp, preferred string
	var phones []model.Factor
	passkey := false
	offersPasskeys := h.svc.Passkeys().Enabled
	for _, f := range methods {
		switch f.Type {
		case model.FactorTOTP:
			totp = "totp"
		case model.FactorSMS:
			phones = append(phones, f)
		case model.FactorWebAuthn:
			passkey = offersPasskeys
		}
		if f.Preferred && (f.Type == model.FactorTOTP || f.Type == model.FactorSMS || f.Type == model.FactorWebAuthn && passkey) {
			preferred = string(f.Type)
			if f.Type == model.FactorSMS && v.Phone == "" {
				v.Phone = f.ID
			}
		}
	}
	switch {
	case v.Method == "recovery", v.Method == "totp" && totp != "", v.Method == "sms" && len(phones) > 0,
		v.Method == "webauthn" && passkey:
	case preferred != "":
		v.Method = preferred
	case totp != "":
		v.Method = "totp"
	case passkey:
		v.Method = "webauthn"
	case len(phones) > 0:
		v.Method = "sms"
	default:
		v.Method = "recovery"
	}
	if v.Why != "recent" {
		v.Why = ""
	}
	link := func(method, phone string) string {
		q := url.Values{"method": {method}}
		if phone != "" {
			q.Set("phone", phone)
		}
		if v.RD != "" {
			q.Set("rd", v.RD)
		}
		if v.Why != "" {
			q.Set("why", v.Why)
		}
		return "/verify?" + q.Encode()
	}
	if v.Method == "sms" {
		i := 0
		for j, f := range phones {
			if f.ID == v.Phone {
				i = j
			}
		}
		v.Phone, v.SMSLabel = phones[i].ID, phoneLabel(phones[i])
	} else {
		v.Phone, v.Sent, v.Wait = "", false, 0
	}
	if passkey && v.Method != "webauthn" {
		v.Others = append(v.Others, otherMethod{"Passkey or security key", link("webauthn", "")})
	}
	if totp != "" && v.Method != "totp" {
		v.Others = append(v.Others, otherMethod{"Authenticator app", link("totp", "")})
	}
	for _, f := range phones {
		if v.Method != "sms" || f.ID != v.Phone {
			v.Others = append(v.Others, otherMethod{"SMS/Text to " + phoneLabel(f), link("sms", f.ID)})
		}
	}
	if v.Method != "recovery" {
		v.Others = append(v.Others, otherMethod{"Recovery code", link("recovery", "")})
	}
	title := "Enter your code"
	switch v.Method {
	case "recovery":
		title = "Enter a recovery code"
	case "webauthn":
		title = "Use your passkey"
		if err := h.verifyCeremony(w, r, s, &v, &status); err != nil {
			return err
		}
	}
	v.Page = h.page(r, s, title)
	v.PasskeyScript = v.Method == "webauthn"
	v.Again = s.Session.AAL == model.AAL2
	v.Issuer, v.Digits = h.svc.Config().Issuer, h.svc.Config().TOTP.Digits
	if !v.Again {
		v.Remember = h.remember(r.Method == http.MethodPost && r.PostForm.Get("remember") == "1")
	}
	h.render(w, r, status, "verify", v)
	return nil
}

// verifyCeremony begins the passkey ceremony the page hands to the
// browser. When the service will not begin one (a budget, say), the page
// shows why instead of the button, with the other methods.
func (h *Web) verifyCeremony(w http.ResponseWriter, r *http.Request, s *session, v *verifyView, status *int) error {
	c, err := h.svc.ChallengePasskey(r.Context(), h.client(r), s.Current)
	if err == nil {
		v.Passkey = ceremony("get", c, v.Passkey.Error)
		return nil
	}
	p := h.formProblem(w, r, err)
	if unexpected(p) {
		return err
	}
	v.Passkey = passkeyView{Kind: "get", Error: p.Msg}
	*status = p.Status
	return nil
}

// phoneLabel is how the pages name a phone after entry: its masked number
// (the service labels SMS methods "SMS to •••• 4567").
func phoneLabel(f model.Factor) string {
	return strings.TrimPrefix(f.Label, "SMS to ")
}
