package web

import (
	"errors"
	"net/http"

	"github.com/twostep/twostep/internal/auth"
)

// POST /settings/sessions/{id}/end signs one of the user's sessions out.
// An id that is not one of theirs (ended meanwhile, another user's, made
// up) gets the same "already ended" sentence: the service answers all of
// them alike. Ending this very session is a sign-out: the cookie goes and
// the browser goes to the sign-in page.
func (h *Web) settingsSessionEndPost(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	err := h.svc.EndSession(r.Context(), h.client(r), s.Current, id)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		seeOther(w, sessionsPage+"?error=no_session")
		return nil
	case err != nil:
		return err
	}
	if id == s.Session.ID {
		h.cookies.ClearSession(w)
		seeOther(w, "/login?signed_out=1")
		return nil
	}
	seeOther(w, sessionsPage+"?done=ended")
	return nil
}

// POST /settings/sessions/end-others signs out every session of the user
// but this one.
func (h *Web) settingsSessionsEndOthersPost(w http.ResponseWriter, r *http.Request, s *session) error {
	if _, err := h.svc.EndOtherSessions(r.Context(), h.client(r), s.Current); err != nil {
		return err
	}
	seeOther(w, sessionsPage+"?done=others")
	return nil
}
