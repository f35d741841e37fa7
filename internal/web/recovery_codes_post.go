package web

import (
	"errors"
	"net/http"

	"github.com/twostep/twostep/internal/auth"
)

// POST /recovery-codes replaces the user's recovery codes and shows the new
// ones, once. It needs a recent verification; without one the user verifies
// and comes back to /recovery-codes to confirm again.
func (h *Web) recoveryCodesPost(w http.ResponseWriter, r *http.Request, s *session) error {
	codes, err := h.svc.RegenerateRecoveryCodes(r.Context(), h.client(r), s.Current)
	if errors.Is(err, auth.ErrRecentAuthRequired) {
		seeOther(w, withRD("/verify?why=recent", "/recovery-codes"))
		return nil
	}
	if err != nil {
		return err
	}
	h.renderRecoveryCodes(w, r, s, codes, defaultLanding+"?done=codes", "")
	return nil
}
