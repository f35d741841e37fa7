package web

import (
	"errors"
	"net/http"

	"github.com/twostep/twostep/internal/auth"
)

// POST /settings/devices/{id}/forget stops a remembered browser from
// skipping the second factor. Forgetting this very browser also removes
// its cookie.
func (h *Web) settingsForgetDevicePost(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	ds, err := h.svc.Devices(r.Context(), h.client(r), s.Current)
	if err != nil {
		return err
	}
	err = h.svc.ForgetDevice(r.Context(), h.client(r), s.Current, id)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		seeOther(w, sessionsPage+"?error=no_device#devices")
		return nil
	case err != nil:
		return err
	}
	for _, d := range ds {
		if d.ID == id && d.Current {
			h.cookies.SetDevice(w, "", 0)
		}
	}
	seeOther(w, sessionsPage+"?done=forgotten#devices")
	return nil
}
