package web

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/twostep/twostep/internal/auth"
)

// totpView is the authenticator-app set-up page. The set-up in progress
// (factor id, secret, QR code, otpauth URI) travels in hidden fields, so a
// mistyped code re-renders the same QR code instead of a new one the user
// would have to scan again; the service keeps its own sealed copy of the
// secret and checks the code against that, never against these fields.
type totpView struct {
	Page
	RD            string
	FactorID      string
	Secret        string       // base32, as issued
	SecretGrouped string       // in groups of four for typing
	QR            template.URL // data:image/png;base64,…
	QRBase64      string
	URI           template.URL // otpauth://totp/…, opens the app on a phone
	Issuer        string
	Account       string
	Digits        int
	Period        int
	Adding        bool // the user already has a method: no recovery codes follow
	Restarted     bool // the previous set-up had ended; this is a new one
	CodeError     string
	Remember      rememberView // offered with the first method only
}

// GET /setup/totp starts adding an authenticator app: the service creates a
// pending app with a fresh secret (replacing an unfinished one) and the page
// shows it as a QR code and as grouped text. A user who already has a
// method needs a recent verification first (the service says so) and may
// name the app (?name=Laptop).
func (h *Web) setupTOTPShow(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	rd := h.target(q.Get("rd"))
	st, err := h.svc.StartTOTP(r.Context(), h.client(r), s.Current, q.Get("name"))
	switch {
	case errors.Is(err, auth.ErrPlanOrder):
		seeOther(w, withRD("/setup/sms", rd))
		return nil
	case errors.Is(err, auth.ErrInvalidInput):
		seeOther(w, "/settings?error=name")
		return nil
	case err != nil:
		return err
	}
	methods, err := h.svc.Usable(r.Context(), s.User)
	if err != nil {
		return err
	}
	v := totpView{RD: rd, FactorID: st.FactorID, Secret: st.Secret, QRBase64: base64.StdEncoding.EncodeToString(st.QRPNG),
		URI: template.URL(st.OTPAuthURI), Adding: len(methods) > 0, Restarted: q.Get("restarted") == "1"}
	h.renderTOTP(w, r, s, http.StatusOK, v)
	return nil
}

// renderTOTP fills in what the page derives and renders it.
func (h *Web) renderTOTP(w http.ResponseWriter, r *http.Request, s *session, status int, v totpView) {
	p := h.svc.Config().TOTP
	v.Page = h.page(r, s, "Set up your authenticator app")
	v.Wide = true // room for the QR code beside the key
	v.SecretGrouped = groupSecret(v.Secret)
	v.QR = template.URL("data:image/png;base64," + v.QRBase64)
	v.Issuer, v.Account, v.Digits, v.Period = h.svc.Config().Issuer, s.User.Username, p.Digits, p.Period
	if !v.Adding {
		v.Remember = h.remember(r.Method == http.MethodPost && r.PostForm.Get("remember") == "1")
	}
	h.render(w, r, status, "setup_totp", v)
}

// groupSecret splits a base32 secret into groups of four characters, so it
// can be read and typed without losing one's place (the service accepts the
// secret with or without the spaces).
func groupSecret(secret string) string {
	var b strings.Builder
	for i := 0; i < len(secret); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(secret[i:min(i+4, len(secret))])
	}
	return b.String()
}
