package api

import (
	"net/http"

	"github.com/twostep/twostep/internal/auth"
)

// GET /api/v1/factors
func (a *API) factorsList(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	fs, err := a.svc.Methods(r.Context(), cur.User.ID)
	if err != nil {
		return err
	}
	writeJSON(w, map[string]any{"factors": factorsJSON(fs)})
	return nil
}

// DELETE /api/v1/factors/{id}
func (a *API) factorDelete(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	if err := a.svc.RemoveFactor(r.Context(), a.client(r), cur, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// POST /api/v1/factors/{id}/preferred
func (a *API) factorPreferred(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	if err := a.svc.SetPreferred(r.Context(), a.client(r), cur, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// POST /api/v1/recovery-codes
func (a *API) recoveryCodes(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	codes, err := a.svc.RegenerateRecoveryCodes(r.Context(), a.client(r), cur)
	if err != nil {
		return err
	}
	writeJSON(w, map[string]any{"recovery_codes": codes})
	return nil
}
