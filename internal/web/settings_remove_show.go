package web

import (
	"net/http"
)

// removeView asks to confirm removing a method.
type removeView struct {
	Page
	Method methodView
	Last   bool // the only method: removing it will be refused
}

// GET /settings/methods/{id}/remove asks "Remove this method?" before the
// POST does it, so one stray click cannot lock a user out of an app.
func (h *Web) settingsRemoveShow(w http.ResponseWriter, r *http.Request, s *session) error {
	fs, err := h.svc.Methods(r.Context(), s.User.ID)
	if err != nil {
		return err
	}
	for _, f := range fs {
		if f.ID == r.PathValue("id") {
			v := removeView{Page: h.page(r, s, "Remove "+f.Label+"?"), Last: len(fs) == 1 && h.svc.Policy(s.User).Required,
				Method: methodView{ID: f.ID, Label: f.Label, Kind: kindName(f.Type)}}
			h.render(w, r, http.StatusOK, "settings_remove", v)
			return nil
		}
	}
	seeOther(w, defaultLanding+"?error=not_found")
	return nil
}
