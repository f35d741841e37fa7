package web

import (
	"bytes"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/twostep/twostep/internal/auth"
)

// POST /setup/totp confirms the new authenticator app with a code from it.
// On success the session is now aal2 with a new token (new cookie). When
// this was the user's first method, the answer IS the recovery codes page:
// the codes exist only in this response (the service stores keyed hashes),
// so they are rendered once, here, and never redirected through or kept.
func (h *Web) setupTOTPPost(w http.ResponseWriter, r *http.Request, s *session) error {
	f := r.PostForm
	v := totpView{RD: h.target(f.Get("rd")), FactorID: f.Get("factor_id"), Secret: f.Get("secret"),
		QRBase64: f.Get("qr"), Adding: f.Get("adding") == "1"}
	res, err := h.svc.ConfirmTOTP(r.Context(), h.client(r), s.Current,
		auth.Proof{FactorID: v.FactorID, Code: normalizeCode(f.Get("code")), Remember: remembering(r)})
	if err != nil {
		switch {
		case errors.Is(err, auth.ErrNotFound):
			// The set-up ended meanwhile (replaced in another tab): start anew.
			seeOther(w, withRD("/setup/totp?restarted=1", v.RD))
			return nil
		case errors.Is(err, auth.ErrCodeMismatch), errors.Is(err, auth.ErrCodeFormat),
			errors.Is(err, auth.ErrTooManyAttempts), errors.Is(err, auth.ErrRateLimited):
			// shown next to the code field (with how long to wait)
		default:
			return err // e.g. a verification is due: fail() sends the user on
		}
		uri, okURI := echoedURI(f.Get("uri"))
		if !okURI || !validSecret(v.Secret) || !validQR(v.QRBase64) {
			seeOther(w, withRD("/setup/totp?restarted=1", v.RD))
			return nil
		}
		p := h.formProblem(w, r, err)
		v.URI, v.CodeError = uri, p.Msg
		h.renderTOTP(w, r, s, p.Status, v)
		return nil
	}
	h.setupPassed(w, r, s, res, v.RD, "added", "totp")
	return nil
}

// setupPassed ends a method's set-up that passed: the cookies of the
// rotated session, then the recovery codes of a first method or the next
// step (nextAfterSetup; done names the settings page's confirmation).
func (h *Web) setupPassed(w http.ResponseWriter, r *http.Request, s *session, res auth.Passed, rd, done, method string) {
	h.cookies.SetPassed(w, res)
	s.token = res.Token
	next := h.nextAfterSetup(res.Next, rd, done)
	if res.RecoveryCodes != nil {
		h.renderRecoveryCodes(w, r, s, res.RecoveryCodes, next, method)
		return
	}
	h.finish(w, next)
}

// nextAfterSetup is where the journey goes once a method is active: the
// next step of the set-up plan, else rd, else the settings page with a
// confirmation (done names it).
func (h *Web) nextAfterSetup(next, rd, done string) string {
	switch next {
	case auth.NextSetupSMS:
		return withRD("/setup/sms", rd)
	case auth.NextSetupTOTP:
		return withRD("/setup/totp", rd)
	}
	if rd != "" {
		return rd
	}
	return defaultLanding + "?done=" + done
}

// normalizeCode drops the spaces and dashes people type or paste into a
// code ("123 456"); the service wants the digits alone.
func normalizeCode(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' || r == '\u00a0' {
			return -1
		}
		return r
	}, s)
}

// validSecret checks an echoed base32 secret (shown as text only).
func validSecret(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if !('A' <= c && c <= 'Z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

// validQR checks an echoed QR code: base64 of a PNG, of bounded size, so
// the data: URL it becomes is an image and nothing else.
func validQR(s string) bool {
	if len(s) == 0 || len(s) > 32<<10 {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return err == nil && bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n"))
}

// echoedURI checks an echoed otpauth URI before it becomes a link.
func echoedURI(s string) (template.URL, bool) {
	if len(s) > 1024 || !strings.HasPrefix(s, "otpauth://totp/") {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '\\' || c == 0x7f {
			return "", false
		}
	}
	return template.URL(s), true
}
