package web

import (
	"errors"
	"net/http"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/model"
)

// Routes registers every page on mux. Each route is wrapped in a chain
// named for what it demands, so all access rules fit on this screen:
//
//	public  anyone
//	aal1    a valid session at any level (after the password)
//	aal2    a session that passed a second factor
//
// "Recent aal2" (adding or removing a method, new recovery codes) is
// enforced by the service; its refusal sends the user to /verify and back.
// Every POST of a signed-in user also carries the session-bound form token
// (csrf.go), checked in aal1.
func (h *Web) Routes(mux *http.ServeMux) {
	mux.Handle("GET /{$}", h.public(h.home))
	mux.Handle("GET /login", h.public(h.loginShow))
	mux.Handle("POST /login", h.public(h.loginPost))
	mux.Handle("POST /login/passkey", h.public(h.loginPasskeyPost))
	mux.Handle("POST /login/passkey/finish", h.public(h.loginPasskeyFinishPost))
	mux.Handle("GET /help", h.public(h.helpShow))
	mux.Handle("GET /continue", h.public(h.continueShow))
	mux.Handle("GET /static/{name}", http.HandlerFunc(h.assets.serve))

	mux.Handle("POST /logout", h.aal1(h.logoutPost))
	mux.Handle("GET /setup", h.aal1(h.setupShow))
	mux.Handle("POST /setup", h.aal1(h.setupPost))
	mux.Handle("GET /setup/later", h.aal1(h.setupLaterShow))
	mux.Handle("POST /setup/later", h.aal1(h.setupLaterPost))
	mux.Handle("GET /setup/totp", h.aal1(h.setupTOTPShow))
	mux.Handle("POST /setup/totp", h.aal1(h.setupTOTPPost))
	mux.Handle("GET /setup/sms", h.aal1(h.setupSMSShow))
	mux.Handle("POST /setup/sms", h.aal1(h.setupSMSPost))
	mux.Handle("POST /setup/sms/confirm", h.aal1(h.setupSMSConfirmPost))
	mux.Handle("GET /setup/passkey", h.aal1(h.setupPasskeyShow))
	mux.Handle("POST /setup/passkey", h.aal1(h.setupPasskeyPost))
	mux.Handle("GET /verify", h.aal1(h.verifyShow))
	mux.Handle("POST /verify", h.aal1(h.verifyPost))

	mux.Handle("GET /settings", h.aal2(h.settingsShow))
	mux.Handle("POST /settings/methods/{id}/preferred", h.aal2(h.settingsPreferredPost))
	mux.Handle("GET /settings/methods/{id}/remove", h.aal2(h.settingsRemoveShow))
	mux.Handle("POST /settings/methods/{id}/remove", h.aal2(h.settingsRemovePost))
	mux.Handle("GET /settings/methods/{id}/rename", h.aal2(h.settingsRenameShow))
	mux.Handle("POST /settings/methods/{id}/rename", h.aal2(h.settingsRenamePost))
	mux.Handle("GET /recovery-codes", h.aal2(h.recoveryCodesShow))
	mux.Handle("POST /recovery-codes", h.aal2(h.recoveryCodesPost))
	mux.Handle("POST /settings/devices/{id}/forget", h.aal2(h.settingsForgetDevicePost))
	mux.Handle("GET /settings/sessions", h.aal2(h.settingsSessionsShow))
	mux.Handle("POST /settings/sessions/{id}/end", h.aal2(h.settingsSessionEndPost))
	mux.Handle("POST /settings/sessions/end-others", h.aal2(h.settingsSessionsEndOthersPost))

	// Anything else outside the API is a page that does not exist.
	mux.Handle("/", h.public(h.notFound))
}

// handler is a page handler that returns its failure.
type handler func(w http.ResponseWriter, r *http.Request) error

// session is a signed-in request: the service's view of it plus the raw
// token, from which the form token is derived (and which changes when the
// service rotates the session).
type session struct {
	auth.Current
	token string
}

// authed is a handler for a request with a valid session.
type authed func(w http.ResponseWriter, r *http.Request, s *session) error

// public adapts a handler: errors become an error page.
func (h *Web) public(fn handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			h.fail(w, r, nil, err)
		}
	})
}

// aal1 resolves the session cookie. Without a valid session, a GET goes to
// the sign-in page and comes back here afterwards; a POST must also carry
// the session's form token.
func (h *Web) aal1(fn authed) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := h.cookies.SessionToken(r)
		cur, err := h.svc.Authenticate(r.Context(), tok)
		if err != nil {
			h.fail(w, r, nil, err)
			return
		}
		s := &session{Current: cur, token: tok}
		if r.Method == http.MethodPost {
			if err := parseForm(w, r); err != nil {
				h.fail(w, r, s, err)
				return
			}
			if !checkFormToken(tok, r.PostForm.Get("csrf")) {
				h.fail(w, r, s, errFormExpired)
				return
			}
		}
		if err := fn(w, r, s); err != nil {
			h.fail(w, r, s, err)
		}
	})
}

// aal2 is aal1 plus a passed second factor: an aal1 session is sent to set
// up its first method or to verify, and then back here.
func (h *Web) aal2(fn authed) http.Handler {
	return h.aal1(func(w http.ResponseWriter, r *http.Request, s *session) error {
		if s.Session.AAL != model.AAL2 {
			return auth.ErrAAL2Required
		}
		return fn(w, r, s)
	})
}

// fail answers a request whose handler failed. Missing or insufficient
// sign-in becomes a redirect to the page that fixes it (and back, for a
// GET); anything else renders the error page with a plain sentence.
func (h *Web) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	back := ""
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		back = safeRedirect(r.URL.RequestURI())
	}
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		if h.cookies.SessionToken(r) != "" {
			h.cookies.ClearSession(w) // expired or revoked: do not present it again
		}
		seeOther(w, withRD("/login", back))
		return
	case s != nil && errors.Is(err, auth.ErrAAL2Required):
		h.toSecondFactor(w, r, s, back)
		return
	case s != nil && errors.Is(err, auth.ErrRecentAuthRequired):
		seeOther(w, withRD("/verify?why=recent", back))
		return
	}
	h.renderError(w, r, s, err)
}

// toSecondFactor sends an aal1 session to where it gets its second factor:
// set-up when it has no method yet, verification otherwise.
func (h *Web) toSecondFactor(w http.ResponseWriter, r *http.Request, s *session, back string) {
	methods, err := h.svc.Usable(r.Context(), s.User)
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	if len(methods) == 0 {
		seeOther(w, withRD("/setup", back))
		return
	}
	seeOther(w, withRD("/verify", back))
}

// parseForm reads a url-encoded form body, bounded: the largest legitimate
// one (a TOTP set-up with its QR code) is far smaller.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return errBadForm
	}
	return nil
}

const maxForm = 64 << 10
