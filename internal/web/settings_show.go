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
	SMSReady bool
}

// methodView is one method as the settings page lists it.
type methodView struct {
	ID        string
	Label     string
	Kind      string // "Authenticator app", "SMS/Text", "Passkey"
	Added     string
	LastUsed  string // "Never used" when unused
	Preferred bool
}

// Confirmations and problems after a POST → redirect, keyed by a fixed
// word in the query: the page never echoes free text from the URL.
var (
	settingsNotices = map[string]string{
		"added":     "Your new authenticator app is ready.",
		"removed":   "The method was removed.",
		"preferred": "Your preferred method was changed. It will be offered first when you sign in.",
		"codes":     "Your new recovery codes are active. The old ones no longer work.",
	}
	settingsProblems = map[string]string{
		"last_factor": "You cannot remove your only sign-in method. Add another one first.",
		"not_found":   "That method no longer exists. It may have been removed already.",
		"name":        "That name cannot be used. Use at most 64 letters, digits or spaces.",
	}
)

// GET /settings lists the user's methods with their last use, and offers
// to add an authenticator app, remove a method, set the preferred one,
// regenerate recovery codes and sign out.
func (h *Web) settingsShow(w http.ResponseWriter, r *http.Request, s *session) error {
	fs, err := h.svc.Methods(r.Context(), s.User.ID)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	v := settingsView{Page: h.page(r, s, "Your sign-in methods"), Username: s.User.Username, SMSReady: smsReady,
		Notice: settingsNotices[q.Get("done")], Problem: settingsProblems[q.Get("error")]}
	v.Wide = true
	for _, f := range fs {
		m := methodView{ID: f.ID, Label: f.Label, Kind: kindName(f.Type), Added: day(f.CreatedAt), LastUsed: "Never used", Preferred: f.Preferred}
		if !f.LastUsedAt.IsZero() {
			m.LastUsed = "Last used " + day(f.LastUsedAt) + " at " + f.LastUsedAt.UTC().Format("15:04") + " UTC"
		}
		v.Methods = append(v.Methods, m)
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

// day formats a date without ambiguity between countries: 2 Jan 2026.
func day(t time.Time) string { return t.UTC().Format("2 Jan 2006") }
