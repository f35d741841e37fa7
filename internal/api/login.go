package api

import (
	"net/http"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/httpx"
)

// POST /api/v1/login {"username","password","invite"?}. A remembered
// browser's device cookie (see devices.go) makes the answer aal2 and "done".
// A successful answer also sets the known-browser cookie, which keeps this
// client's own password allowance when the account is under attack from
// elsewhere (auth/known.go).
func (a *API) login(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Invite   string `json:"invite"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	res, err := a.svc.Login(r.Context(), a.client(r), auth.Credentials{Username: in.Username, Password: in.Password,
		Invite: in.Invite, Known: a.cookies.Get(r, httpx.KnownCookie)})
	if err != nil {
		return err
	}
	a.writeLogin(w, res)
	return nil
}

// writeLogin answers a sign-in, by password or by passkey: the session
// (also as the cookie), the known-browser cookie, what comes next and the
// user's methods.
func (a *API) writeLogin(w http.ResponseWriter, res auth.LoginResult) {
	a.cookies.SetSession(w, res.Token)
	a.cookies.SetKnown(w, res.Known)
	out := map[string]any{"token": res.Token, "aal": res.AAL, "next": res.Next, "methods": factorsJSON(res.Methods)}
	if !res.Grace.Until.IsZero() {
		out["grace"] = graceJSON(res.Grace)
	}
	writeJSON(w, out)
}

// graceJSON is a grace period as the API shows it (docs/rollout.md):
// whether set-up may be postponed now, the deadline, and whole days left.
func graceJSON(g auth.Grace) map[string]any {
	return map[string]any{"active": g.Active, "until": g.Until, "days_left": g.DaysLeft}
}

// POST /api/v1/setup/later: the "Set up later" choice. 200 with the grace
// period while it lasts; 403 grace_over when set-up is due now.
func (a *API) setupLater(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	g, err := a.svc.SetUpLater(r.Context(), a.client(r), cur)
	if err != nil {
		return err
	}
	writeJSON(w, map[string]any{"grace": graceJSON(g)})
	return nil
}

// GET /api/v1/session
func (a *API) sessionShow(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	methods, err := a.svc.Methods(r.Context(), cur.User.ID)
	if err != nil {
		return err
	}
	out := map[string]any{
		"user":    map[string]string{"id": cur.User.ID, "username": cur.User.Username},
		"aal":     cur.Session.AAL,
		"methods": factorsJSON(methods),
	}
	// An aal1 session of a user who must set up a method shows where
	// their grace period stands: "aal1 with grace" while it is active.
	g, err := a.svc.GraceOf(r.Context(), cur)
	if err != nil {
		return err
	}
	if !g.Until.IsZero() {
		out["grace"] = graceJSON(g)
	}
	writeJSON(w, out)
	return nil
}

// DELETE /api/v1/session (logout)
func (a *API) logout(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	if err := a.svc.Logout(r.Context(), a.client(r), cur); err != nil {
		return err
	}
	a.cookies.ClearSession(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// writeJSON answers 200 with v.
func writeJSON(w http.ResponseWriter, v any) { httpx.WriteJSON(w, http.StatusOK, v) }
