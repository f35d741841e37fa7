package api

import (
	"net/http"
	"time"

	"github.com/twostep/twostep/internal/auth"
)

// "Remember this device" (remember_device.days > 0): after POST /verify or
// a set-up confirmation with "remember_device": true the answer sets the
// cookie twostep_device (writePassed), whose random token (stored hashed) lets a later
// POST /login with the right password start at aal2. The cookie is host-only
// (no Domain, unlike the session cookie with cookie_domain): only twostep
// reads it, so the applications sharing the session cookie never see it.

// deviceJSON is a remembered browser as the API shows it.
type deviceJSON struct {
	ID         string     `json:"id"`
	Label      string     `json:"label"`
	Current    bool       `json:"current"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// GET /api/v1/devices
func (a *API) devicesList(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	ds, err := a.svc.Devices(r.Context(), a.client(r), cur)
	if err != nil {
		return err
	}
	out := make([]deviceJSON, 0, len(ds))
	for _, d := range ds {
		j := deviceJSON{ID: d.ID, Label: d.Label, Current: d.Current, CreatedAt: d.CreatedAt, ExpiresAt: d.ExpiresAt}
		if !d.LastUsedAt.IsZero() {
			t := d.LastUsedAt
			j.LastUsedAt = &t
		}
		out = append(out, j)
	}
	writeJSON(w, map[string]any{"devices": out})
	return nil
}

// DELETE /api/v1/devices/{id}
func (a *API) deviceDelete(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	if err := a.svc.ForgetDevice(r.Context(), a.client(r), cur, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
