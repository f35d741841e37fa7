package web

import (
	"net/http"
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

// remembering reports whether the form that sent a code had the box ticked.
func remembering(r *http.Request) bool { return r.PostForm.Get("remember") == "1" }
