package api

import (
	"net/http"
	"time"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/httpx"
)

// GET /api/v1/admin/users
func (a *API) adminUsers(w http.ResponseWriter, r *http.Request) error {
	us, err := a.svc.ListUsers(r.Context())
	if err != nil {
		return err
	}
	type userJSON struct {
		ID        string    `json:"id"`
		Username  string    `json:"username"`
		Disabled  bool      `json:"disabled"`
		Locked    bool      `json:"locked"`
		Methods   int       `json:"methods"`
		CreatedAt time.Time `json:"created_at"`
	}
	out := make([]userJSON, len(us))
	for i, u := range us {
		out[i] = userJSON{u.ID, u.Username, u.Disabled, u.Locked, u.Methods, u.CreatedAt}
	}
	writeJSON(w, map[string]any{"users": out})
	return nil
}

// POST /api/v1/admin/users {"username","password"}
func (a *API) adminUserCreate(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	u, err := a.svc.CreateUser(r.Context(), a.adminClient(r), in.Username, in.Password)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, map[string]string{"id": u.ID, "username": u.Username})
	return nil
}

func (a *API) adminUserDisable(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, a.svc.SetDisabled(r.Context(), a.adminClient(r), r.PathValue("username"), true))
}

func (a *API) adminUserEnable(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, a.svc.SetDisabled(r.Context(), a.adminClient(r), r.PathValue("username"), false))
}

func (a *API) adminUserUnlock(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, a.svc.Unlock(r.Context(), a.adminClient(r), r.PathValue("username")))
}

func (a *API) adminUserResetMFA(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, a.svc.ResetMFA(r.Context(), a.adminClient(r), r.PathValue("username")))
}

// POST /api/v1/admin/users/{username}/invite
func (a *API) adminUserInvite(w http.ResponseWriter, r *http.Request) error {
	link, tok, exp, err := a.svc.Invite(r.Context(), a.adminClient(r), r.PathValue("username"))
	if err != nil {
		return err
	}
	writeJSON(w, map[string]any{"link": link, "invite": tok, "expires_at": exp})
	return nil
}

// POST /api/v1/admin/users/{username}/grace {"extend":"7d"}: moves the
// user's grace deadline (docs/rollout.md) and answers the new one.
func (a *API) adminUserGrace(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Extend string `json:"extend"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	until, err := a.svc.ExtendGrace(r.Context(), a.adminClient(r), r.PathValue("username"), in.Extend)
	if err != nil {
		return err
	}
	writeJSON(w, map[string]any{"grace_until": until})
	return nil
}

// PATCH /api/v1/admin/users/{username} {"email","groups"}: either may be
// left out to keep its value; "" clears the address, [] the groups.
func (a *API) adminUserPatch(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email  *string   `json:"email"`
		Groups *[]string `json:"groups"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	return noContent(w, a.svc.ChangeAttributes(r.Context(), a.adminClient(r), r.PathValue("username"),
		auth.AttributeChange{Email: in.Email, Groups: in.Groups}))
}

// adminClient marks audit entries of admin API calls.
func (a *API) adminClient(r *http.Request) auth.Client {
	c := a.client(r)
	c.UserAgent = "admin-api " + c.UserAgent
	return c
}

func noContent(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
