package web

import "net/http"

// POST /logout ends the session server-side and clears the cookie.
func (h *Web) logoutPost(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := h.svc.Logout(r.Context(), h.client(r), s.Current); err != nil {
		return err
	}
	h.cookies.ClearSession(w)
	seeOther(w, "/login?signed_out=1")
	return nil
}
