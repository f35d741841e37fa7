package web

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/twostep/twostep/internal/auth"
)

// POST /settings/methods/{id}/rename gives a method a new name. The service
// checks the name with the rules of every method's name; a refused one is
// shown again with the sentence next to the field.
func (h *Web) settingsRenamePost(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	v := renameView{Name: r.PostForm.Get("name")}
	if len(v.Name) > maxName {
		v.Name = ""
	}
	err := h.svc.RenameFactor(r.Context(), h.client(r), s.Current, id, v.Name)
	switch {
	case err == nil:
		seeOther(w, defaultLanding+"?done=renamed")
		return nil
	case errors.Is(err, auth.ErrNotFound):
		seeOther(w, defaultLanding+"?error=not_found")
		return nil
	case errors.Is(err, auth.ErrRecentAuthRequired):
		seeOther(w, withRD("/verify?why=recent", "/settings/methods/"+url.PathEscape(id)+"/rename"))
		return nil
	}
	p := h.formProblem(w, r, err)
	if unexpected(p) {
		return err
	}
	v.NameError = p.Msg
	return h.renderRename(w, r, s, p.Status, v, false)
}
