package web

import (
	"errors"
	"net/http"

	"github.com/twostep/twostep/internal/auth"
)

// POST /settings/methods/{id}/preferred makes a method the one offered
// first at sign-in.
func (h *Web) settingsPreferredPost(w http.ResponseWriter, r *http.Request, s *session) error {
	err := h.svc.SetPreferred(r.Context(), h.client(r), s.Current, r.PathValue("id"))
	switch {
	case errors.Is(err, auth.ErrNotFound):
		seeOther(w, defaultLanding+"?error=not_found")
	case err != nil:
		return err
	default:
		seeOther(w, defaultLanding+"?done=preferred")
	}
	return nil
}
