package web

import (
	"net/http"
	"time"

	"github.com/twostep/twostep/internal/model"
)

// settingsView is the page where a signed-in user manages their methods.
type settingsView struct {
	Page
	Username string
	Methods  []methodView
	Notice   string // confirmation of the last action
	Problem  string // why the last action did not happen
	HasPhone bool   // an SMS/Text method is listed
	Passkeys bool   // passkeys are offered (webauthn configured and allowed by the user's group policy)
	// AddTOTP and AddSMS: the user's group policy allows adding an
	// authenticator app, a phone (docs/rollout.md).
	AddTOTP, AddSMS bool
}

// deviceView is one remembered browser as the sessions page lists it.
type deviceView struct {
	ID       string
	Label    string
	Added    stamp
	Expires  stamp
	LastUsed *stamp // nil: "Not used to sign in yet"
	Current  bool   // this browser
}

// methodView is one method as the settings page lists it.
type methodView struct {
	ID        string
	Label     string
	Kind      string // "Authenticator app", "SMS/Text", "Passkey"
	Added     stamp
	LastUsed  *stamp // nil: "Never used"
	Preferred bool
	Phone     bool // SMS/Text: offers "Change phone"
	Passkey   bool // a passkey or security key: offers "Rename"
	// NotAllowed: the user's group policy no longer allows this method;
	// it no longer signs them in, and may be removed.
	NotAllowed bool
}

// stamp is a moment as a page shows it: a <time> element whose text the
// server writes in the configured zone (Options.TimeZone), and whose
// datetime attribute lets the page's script rewrite it in the browser's
// own zone. The server cannot know that zone without JavaScript, so its
// text names the zone it used whenever it shows a time of day.
type stamp struct {
	ISO   string // the instant, RFC 3339 in UTC
	Text  string // "29 Nov 2026" or "29 Nov 2026 at 14:03 UTC"
	Clock bool   // Text has the time of day, not only the date
}

// date returns t as a date in the configured zone: 2 Jan 2026, a form
// no country reads differently.
func (h *Web) date(t time.Time) stamp {
	return stamp{ISO: t.UTC().Format(time.RFC3339), Text: t.In(h.zone).Format("2 Jan 2006")}
}

// dateTime returns t with its time of day and zone: 2 Jan 2026 at 15:04 UTC.
func (h *Web) dateTime(t time.Time) stamp {
	return stamp{ISO: t.UTC().Format(time.RFC3339), Text: t.In(h.zone).Format("2 Jan 2006 at 15:04 MST"), Clock: true}
}

// Confirmations and problems after a POST → redirect, keyed by a fixed
// word in the query: the page never echoes free text from the URL.
var (
	settingsNotices = map[string]string{
		"added":         "Your new authenticator app is ready.",
		"passkey":       "Your new passkey is ready. You can use it the next time you sign in.",
		"renamed":       "The name was changed.",
		"removed":       "The method was removed.",
		"preferred":     "Your preferred method was changed. It will be offered first when you sign in.",
		"codes":         "Your new recovery codes are active. The old ones no longer work.",
		"phone":         "Your phone is ready. Sign-in codes can now come by text message.",
		"phone_changed": "Your phone number was changed. Sign-in codes now go to the new number.",
	}
	settingsProblems = map[string]string{
		"last_factor": "You cannot remove your only sign-in method. Add another one first.",
		"not_found":   "That method no longer exists. It may have been removed already.",
		"name":        "That name cannot be used. Use at most 64 letters, digits or spaces.",
	}
)

// GET /settings lists the user's methods with their last use, and offers
// to add an authenticator app, a passkey or a phone, change a phone, rename
// a passkey, remove a method,
// set the preferred one, regenerate recovery codes, and sign out; it links
// to the sessions and remembered browsers (settings_sessions_show.go).
func (h *Web) settingsShow(w http.ResponseWriter, r *http.Request, s *session) error {
	fs, err := h.svc.Methods(r.Context(), s.User.ID)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	v := settingsView{Page: h.page(r, s, "Your sign-in methods"), Username: s.User.Username,
		Notice: settingsNotices[q.Get("done")], Problem: settingsProblems[q.Get("error")]}
	pol := h.svc.Policy(s.User)
	v.Passkeys = h.svc.Passkeys().Enabled && pol.Allows("webauthn")
	v.AddTOTP, v.AddSMS = pol.Allows("totp"), pol.Allows("sms")
	v.Wide = true
	for _, f := range fs {
		m := methodView{ID: f.ID, Label: f.Label, Kind: kindName(f.Type), Added: h.date(f.CreatedAt),
			Preferred: f.Preferred, Phone: f.Type == model.FactorSMS && pol.Allows("sms"), Passkey: f.Type == model.FactorWebAuthn,
			NotAllowed: !pol.Allows(string(f.Type))}
		if !f.LastUsedAt.IsZero() {
			last := h.dateTime(f.LastUsedAt)
			m.LastUsed = &last
		}
		v.Methods = append(v.Methods, m)
		v.HasPhone = v.HasPhone || m.Phone
	}
	h.render(w, r, http.StatusOK, "settings", v)
	return nil
}

// kindName is how the pages name a type of method.
func kindName(t model.FactorType) string {
	switch t {
	case model.FactorTOTP:
		return "Authenticator app"
	case model.FactorSMS:
		return "SMS/Text"
	case model.FactorWebAuthn:
		return "Passkey or security key"
	}
	return string(t)
}
