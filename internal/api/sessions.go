package api

import (
	"net/http"
	"time"

	"github.com/twostep/twostep/internal/auth"
)

// Sessions (docs/api.md "Sessions"): the caller's live sessions, and ending
// one or all others. The rules (aal2, own sessions only, an unknown and
// another user's id alike) are the service's (internal/auth/sessions.go);
// the pages use the same calls.

// sessionJSON is one session as the API shows it. browser and os are ""
// when the user agent names none the service knows.
type sessionJSON struct {
	ID         string    `json:"id"`
	Current    bool      `json:"current"`
	UserAgent  string    `json:"user_agent"`
	Browser    string    `json:"browser"`
	OS         string    `json:"os"`
	IP         string    `json:"ip"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
}

// GET /api/v1/sessions
func (a *API) sessionsList(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	ss, err := a.svc.Sessions(r.Context(), cur)
	if err != nil {
		return err
	}
	out := make([]sessionJSON, 0, len(ss))
	for _, s := range ss {
		out = append(out, sessionJSON{ID: s.ID, Current: s.Current, UserAgent: s.UserAgent, Browser: s.Browser, OS: s.OS,
			IP: s.IP, CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt})
	}
	writeJSON(w, map[string]any{"sessions": out})
	return nil
}

// DELETE /api/v1/sessions/{id}: 204, or 404 not_found for an id that is
// not one of the caller's live sessions (malformed, unknown, ended, or
// another user's: one answer for all).
func (a *API) sessionDelete(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	return noContent(w, a.svc.EndSession(r.Context(), a.client(r), cur, r.PathValue("id")))
}

// DELETE /api/v1/sessions ends every session of the caller but the one
// making the call, and says how many ended: {"ended": 2}.
func (a *API) sessionsDeleteOthers(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	n, err := a.svc.EndOtherSessions(r.Context(), a.client(r), cur)
	if err != nil {
		return err
	}
	writeJSON(w, map[string]int{"ended": n})
	return nil
}
