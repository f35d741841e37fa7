package web

import (
	"net/http"
)

// renameView is the form that names a passkey anew.
type renameView struct {
	Page
	Method    methodView
	Name      string // as typed, shown again with its problem
	NameError string
}

// GET /settings/methods/{id}/rename asks for a passkey's new name, so
// several keys can be told apart ("Work laptop", "Blue key").
func (h *Web) settingsRenameShow(w http.ResponseWriter, r *http.Request, s *session) error {
	return h.renderRename(w, r, s, http.StatusOK, renameView{}, true)
}

// renderRename renders the form for the method named in the path, or sends
// the user back to the list when there is no such method; fresh fills the
// field with the current name.
func (h *Web) renderRename(w http.ResponseWriter, r *http.Request, s *session, status int, v renameView, fresh bool) error {
	fs, err := h.svc.Methods(r.Context(), s.User.ID)
	if err != nil {
		return err
	}
	for _, f := range fs {
		if f.ID == r.PathValue("id") {
			v.Page = h.page(r, s, "Rename "+f.Label)
			v.Method = methodView{ID: f.ID, Label: f.Label, Kind: kindName(f.Type)}
			if fresh {
				v.Name = f.Label
			}
			h.render(w, r, status, "settings_rename", v)
			return nil
		}
	}
	seeOther(w, defaultLanding+"?error=not_found")
	return nil
}
