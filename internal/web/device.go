package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/twostep/twostep/internal/auth"
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

// deviceToken is the device token this browser presents, or "".
func deviceToken(r *http.Request) string {
	if c, err := r.Cookie(auth.DeviceCookieName); err == nil {
		return c.Value
	}
	return ""
}

// rememberDevice runs after a second factor passed on a form with the box
// ticked: it asks the service for a device token for the new session and
// sets the cookie. The sign-in already succeeded, so a failure only means
// the browser is not remembered; it is logged, not shown.
func (h *Web) rememberDevice(w http.ResponseWriter, r *http.Request, sessionTok string) {
	if r.PostForm.Get("remember") != "1" {
		return
	}
	d, err := h.svc.RememberDevice(r.Context(), h.client(r), sessionTok, deviceToken(r))
	if errors.Is(err, auth.ErrRememberOff) {
		return
	}
	if err != nil {
		h.log.WarnContext(r.Context(), "remember device failed", "error", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: auth.DeviceCookieName, Value: d.Token, Path: "/", MaxAge: int(d.MaxAge / time.Second),
		HttpOnly: true, Secure: h.cookies.Secure, SameSite: http.SameSiteLaxMode})
}

// forgetDeviceCookie removes the device cookie from this browser.
func (h *Web) forgetDeviceCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: auth.DeviceCookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.cookies.Secure, SameSite: http.SameSiteLaxMode})
}
