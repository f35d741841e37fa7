package web

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/twostep/twostep/internal/auth"
)

// POST /settings/methods/{id}/remove removes a method. The service demands
// a verification within the last few minutes; without one the user
// verifies and comes back to the confirmation page.
func (h *Web) settingsRemovePost(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	err := h.svc.RemoveFactor(r.Context(), h.client(r), s.Current, id)
	switch {
	case errors.Is(err, auth.ErrRecentAuthRequired):
		seeOther(w, withRD("/verify?why=recent", "/settings/methods/"+url.PathEscape(id)+"/remove"))
	case errors.Is(err, auth.ErrLastFactor):
		seeOther(w, defaultLanding+"?error=last_factor")
	case errors.Is(err, auth.ErrNotFound):
		seeOther(w, defaultLanding+"?error=not_found")
	case err != nil:
		return err
	default:
		seeOther(w, defaultLanding+"?done=removed")
	}
	return nil
}
