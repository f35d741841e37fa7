package web

import (
	"net/http"
)

// GET / sends a signed-in user to their settings and anyone else to the
// sign-in page.
func (h *Web) home(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.svc.Authenticate(r.Context(), h.cookies.SessionToken(r)); err != nil {
		seeOther(w, "/login")
		return nil
	}
	seeOther(w, defaultLanding)
	return nil
}
