package web

import "net/http"

// recoveryNewView explains regenerating recovery codes.
type recoveryNewView struct {
	Page
}

// GET /recovery-codes explains that codes are shown only once and offers a
// new set (the old codes stop working).
func (h *Web) recoveryCodesShow(w http.ResponseWriter, r *http.Request, s *session) error {
	h.render(w, r, http.StatusOK, "recovery_codes_new", recoveryNewView{Page: h.page(r, s, "New recovery codes")})
	return nil
}
