package api

import (
	"net/http"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/outcome"
)

// Routes registers every API v1 call on mux. Each route is wrapped in a
// chain named for what it demands, so all access rules fit on this screen:
//
//	public  anyone (login)
//	aal1    a valid session at any level
//	aal2    a session that passed a second factor
//	admin   the admin bearer token
//
// "Recent aal2" (removing a method, new recovery codes) is enforced in the
// service, where the time rule lives.
func (a *API) Routes(mux *http.ServeMux) {
	mux.Handle("POST /api/v1/login", a.public(a.login))
	mux.Handle("POST /api/v1/login/passkey", a.public(a.loginPasskey))
	mux.Handle("POST /api/v1/login/passkey/finish", a.public(a.loginPasskeyFinish))
	mux.Handle("GET /api/v1/session", a.aal1(a.sessionShow))
	mux.Handle("DELETE /api/v1/session", a.aal1(a.logout))

	mux.Handle("POST /api/v1/setup/plan", a.aal1(a.setupPlan))
	mux.Handle("POST /api/v1/setup/later", a.aal1(a.setupLater))
	mux.Handle("POST /api/v1/setup/totp", a.aal1(a.setupTOTP))
	mux.Handle("POST /api/v1/setup/totp/confirm", a.aal1(a.setupTOTPConfirm))
	mux.Handle("POST /api/v1/setup/sms", a.aal1(a.setupSMS))
	mux.Handle("POST /api/v1/setup/sms/confirm", a.aal1(a.setupSMSConfirm))
	mux.Handle("POST /api/v1/challenge/sms", a.aal1(a.challengeSMS))
	mux.Handle("POST /api/v1/setup/webauthn", a.aal1(a.setupWebAuthn))
	mux.Handle("POST /api/v1/setup/webauthn/confirm", a.aal1(a.setupWebAuthnConfirm))
	mux.Handle("POST /api/v1/challenge/webauthn", a.aal1(a.challengeWebAuthn))
	mux.Handle("GET /api/v1/countries", a.public(a.countries))
	// Forward-auth: one endpoint per proxy family (forwardauth.go); the
	// access rules decide (internal/auth/access.go).
	mux.Handle("GET /api/v1/auth/auth-request", a.public(a.forwardAuthNginx))
	mux.Handle("GET /api/v1/auth/forward-auth", a.public(a.forwardAuthForwarded))
	mux.Handle("GET /api/v1/auth", a.public(a.forwardAuthMoved))
	mux.Handle("POST /api/v1/verify", a.aal1(a.verify))

	mux.Handle("GET /api/v1/factors", a.aal2(a.factorsList))
	mux.Handle("DELETE /api/v1/factors/{id}", a.aal2(a.factorDelete))
	mux.Handle("PATCH /api/v1/factors/{id}", a.aal2(a.factorRename))
	mux.Handle("POST /api/v1/factors/{id}/preferred", a.aal2(a.factorPreferred))
	mux.Handle("POST /api/v1/recovery-codes", a.aal2(a.recoveryCodes))
	mux.Handle("GET /api/v1/devices", a.aal2(a.devicesList))
	mux.Handle("DELETE /api/v1/devices/{id}", a.aal2(a.deviceDelete))
	mux.Handle("GET /api/v1/sessions", a.aal2(a.sessionsList))
	mux.Handle("DELETE /api/v1/sessions", a.aal2(a.sessionsDeleteOthers))
	mux.Handle("DELETE /api/v1/sessions/{id}", a.aal2(a.sessionDelete))

	mux.Handle("GET /api/v1/admin/users", a.admin(a.adminUsers))
	mux.Handle("POST /api/v1/admin/users", a.admin(a.adminUserCreate))
	mux.Handle("PATCH /api/v1/admin/users/{username}", a.admin(a.adminUserPatch))
	mux.Handle("POST /api/v1/admin/users/{username}/disable", a.admin(a.adminUserDisable))
	mux.Handle("POST /api/v1/admin/users/{username}/enable", a.admin(a.adminUserEnable))
	mux.Handle("POST /api/v1/admin/users/{username}/reset-mfa", a.admin(a.adminUserResetMFA))
	mux.Handle("POST /api/v1/admin/users/{username}/unlock", a.admin(a.adminUserUnlock))
	mux.Handle("POST /api/v1/admin/users/{username}/invite", a.admin(a.adminUserInvite))
	mux.Handle("POST /api/v1/admin/users/{username}/grace", a.admin(a.adminUserGrace))

	mux.Handle("/api/", a.public(func(http.ResponseWriter, *http.Request) error {
		return outcome.New(outcome.NoSuchCall)
	}))
}

func (a *API) public(h handler) http.Handler { return a.serve(h) }

// aal1 resolves the session (cookie or Bearer) and refuses without one.
func (a *API) aal1(h authed) http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request) error {
		cur, err := a.svc.Authenticate(r.Context(), a.cookies.SessionToken(r))
		if err != nil {
			return err
		}
		return h(w, r, cur)
	})
}

// aal2 is aal1 plus a passed second factor.
func (a *API) aal2(h authed) http.Handler {
	return a.aal1(func(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
		if err := auth.RequireAAL2(cur); err != nil {
			return err
		}
		return h(w, r, cur)
	})
}

// admin checks the admin bearer token (throttled, audited and compared in
// constant time by the service).
func (a *API) admin(h handler) http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request) error {
		if err := a.svc.AuthorizeToken(r.Context(), a.client(r), auth.AdminToken, httpx.BearerToken(r)); err != nil {
			return err
		}
		return h(w, r)
	})
}
