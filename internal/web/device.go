package web

import (
	"errors"
	"net/http"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/httpx"
)

// "Remember this device" on the pages (remember_device.days > 0): a
// checkbox on /verify and on the code step of the first method's set-up.
// When ticked and the code is right, the service issues a device token
// that goes into the cookie twostep_device; a later sign-in with the right
// password on this browser then skips the second factor. The cookie is
// host-only: unlike the session cookie it has no Domain even when
// cookie_domain is set, because only twostep reads it, so applications on
// sibling hosts never receive it.

// rememberView is the checkbox as a page shows it.
type rememberView struct {
	Days    int  // 0: the feature is off, no checkbox
	Checked bool // ticked (kept when a form is shown again)
}

// remember returns the checkbox for a form whose ticked state is checked.
func (h *Web) remember(checked bool) rememberView {
	return rememberView{Days: h.svc.RememberDays(), Checked: checked}
}

// rememberDevice runs after a second factor passed on a form with the box
// ticked: it asks the service for a device token for the new session and
// sets the cookie. The sign-in already succeeded, so a failure only means
// the browser is not remembered; it is logged, not shown.
func (h *Web) rememberDevice(w http.ResponseWriter, r *http.Request, sessionTok string) {
	if r.PostForm.Get("remember") != "1" {
		return
	}
	d, err := h.svc.RememberDevice(r.Context(), h.client(r), sessionTok, h.cookies.Get(r, httpx.DeviceCookie))
	if errors.Is(err, auth.ErrRememberOff) {
		return
	}
	if err != nil {
		h.log.WarnContext(r.Context(), "remember device failed", "error", err)
		return
	}
	h.cookies.SetDevice(w, d.Token, d.MaxAge)
}
