package web

import (
	"net/http"

	"github.com/twostep/twostep/internal/auth"
)

// sessionsView is the page where a signed-in user sees where their account
// is signed in and which browsers are remembered, and ends either.
type sessionsView struct {
	Page
	Sessions []sessionView
	Others   int // sessions besides this one: "Sign out all other sessions" when > 0
	Devices  []deviceView
	// RememberDays is remember_device.days; the remembered browsers are
	// listed when it is on or when some are left from when it was.
	RememberDays int
	Notice       string // confirmation of the last action
	Problem      string // why the last action did not happen
}

// sessionView is one session as the page lists it. Label and IP come from
// what the client sent at sign-in: html/template escapes them like any
// other text (a user agent of "<script>…" shows as those characters).
type sessionView struct {
	ID       string
	Label    string // "Firefox on Linux"; an unknown agent's first printable characters
	IP       string
	Started  stamp
	LastSeen stamp
	Current  bool // "This device": the session asking
}

// Confirmations and problems after a POST → redirect, keyed by a fixed
// word in the query: the page never echoes free text from the URL.
var (
	sessionsNotices = map[string]string{
		"ended":     "That session was signed out. Its next page load asks it to sign in again.",
		"others":    "All your other sessions were signed out.",
		"forgotten": "That browser was forgotten. It will be asked for a code at its next sign-in.",
	}
	sessionsProblems = map[string]string{
		"no_session": "That session has already ended.",
		"no_device":  "That browser is no longer remembered. It may have been forgotten already.",
	}
)

// sessionsPage is where the actions of this page return.
const sessionsPage = "/settings/sessions"

// GET /settings/sessions lists the user's live sessions, this one marked
// "This device", each other with "Sign out", and "Sign out all other
// sessions"; then the remembered browsers with "Forget". Plain forms: it
// works without JavaScript.
func (h *Web) settingsSessionsShow(w http.ResponseWriter, r *http.Request, s *session) error {
	ss, err := h.svc.Sessions(r.Context(), s.Current)
	if err != nil {
		return err
	}
	ds, err := h.svc.Devices(r.Context(), h.client(r), s.Current)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	v := sessionsView{Page: h.page(r, s, "Sessions and devices"), RememberDays: h.svc.RememberDays(),
		Notice: sessionsNotices[q.Get("done")], Problem: sessionsProblems[q.Get("error")]}
	v.Wide = true
	for _, x := range ss {
		v.Sessions = append(v.Sessions, sessionView{ID: x.ID, Label: auth.DeviceLabel(x.UserAgent), IP: x.IP,
			Started: h.dateTime(x.CreatedAt), LastSeen: h.dateTime(x.LastSeenAt), Current: x.Current})
		if !x.Current {
			v.Others++
		}
	}
	v.Devices = h.deviceViews(ds)
	h.render(w, r, http.StatusOK, "settings_sessions", v)
	return nil
}

// deviceViews are remembered browsers as the pages list them.
func (h *Web) deviceViews(ds []auth.Device) []deviceView {
	var out []deviceView
	for _, d := range ds {
		dv := deviceView{ID: d.ID, Label: d.Label, Added: h.date(d.CreatedAt), Expires: h.date(d.ExpiresAt), Current: d.Current}
		if !d.LastUsedAt.IsZero() {
			last := h.date(d.LastUsedAt)
			dv.LastUsed = &last
		}
		out = append(out, dv)
	}
	return out
}
