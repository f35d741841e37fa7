package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/model"
)

// TestSessionsAPI: GET /api/v1/sessions lists the caller's live sessions
// with the documented fields; DELETE /api/v1/sessions/{id} ends one of the
// caller's own (204) and answers every other id, another user's included,
// with the same 404 not_found; DELETE /api/v1/sessions ends all but the
// caller's; all three need aal2.
func TestSessionsAPI(t *testing.T) {
	fx := newAPIFuzzFixture(t)
	me := fx.session(t, fx.alice, model.AAL2)
	other := fx.session(t, fx.alice, model.AAL2)
	carolish := fx.session(t, fx.nofactor, model.AAL2) // another user's session

	// A sign-in through the API keeps its client's address and user agent.
	r := httptest.NewRequest("POST", "/api/v1/login", strings.NewReader(`{"username":"alice","password":"correct horse battery"}`))
	r.RemoteAddr, r.Header["Content-Type"] = "198.51.100.9:4000", []string{"application/json"}
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 <b>")
	w := httptest.NewRecorder()
	fx.mux.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	var login struct{ Token string }
	json.Unmarshal(w.Body.Bytes(), &login)

	list := func(tok string) (int, []map[string]any) {
		t.Helper()
		var out struct{ Sessions []map[string]any }
		st := call(t, fx.mux, "GET", "/api/v1/sessions", tok, nil, &out)
		return st, out.Sessions
	}
	st, ss := list(me)
	// The fixture signed alice in once itself (user agent "fuzz").
	if st != http.StatusOK || len(ss) != 4 {
		t.Fatalf("GET /api/v1/sessions = %d, %d sessions: %v", st, len(ss), ss)
	}
	var mine, otherID, fromLogin string
	for _, s := range ss {
		for _, k := range []string{"id", "current", "user_agent", "browser", "os", "ip", "created_at", "last_seen_at"} {
			if _, ok := s[k]; !ok {
				t.Fatalf("session without %q: %v", k, s)
			}
		}
		switch {
		case s["current"] == true:
			mine = s["id"].(string)
		case s["ip"] == "198.51.100.9":
			fromLogin = s["id"].(string)
			if s["browser"] != "Firefox" || s["os"] != "Linux" || !strings.HasSuffix(s["user_agent"].(string), "Firefox/128.0 <b>") {
				t.Fatalf("the API sign-in's session: %v", s)
			}
		case s["user_agent"] == "fuzz":
		default:
			otherID = s["id"].(string)
		}
	}
	if mine == "" || otherID == "" || fromLogin == "" {
		t.Fatalf("sessions: %v", ss)
	}
	_, carols := list(carolish)
	if len(carols) != 1 {
		t.Fatalf("nofactor's sessions: %v", carols)
	}
	carolID := carols[0]["id"].(string)

	// Someone else's id, and ids that are not ids: one answer, nothing ends.
	for _, id := range []string{carolID, "aaaaaaaaaaaaaaaaaaaaaaaaaa", "x", strings.ToUpper(otherID), "%00"} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("DELETE", "/api/v1/sessions/"+id, nil)
		r.Header.Set("Authorization", "Bearer "+me)
		fx.mux.ServeHTTP(w, r)
		if w.Code != http.StatusNotFound {
			t.Fatalf("DELETE %s: %d %s", id, w.Code, w.Body)
		}
		checkErrorBody(t, "DELETE /api/v1/sessions/"+id, w, "not_found")
	}
	if st := call(t, fx.mux, "GET", "/api/v1/session", carolish, nil, nil); st != http.StatusOK {
		t.Fatalf("the other user's session after the attempt: %d", st)
	}

	if st := call(t, fx.mux, "DELETE", "/api/v1/sessions/"+otherID, me, nil, nil); st != http.StatusNoContent {
		t.Fatalf("DELETE own session: %d", st)
	}
	if st := call(t, fx.mux, "GET", "/api/v1/session", other, nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("the ended session: %d, want 401", st)
	}
	if st := call(t, fx.mux, "DELETE", "/api/v1/sessions/"+otherID, me, nil, nil); st != http.StatusNotFound {
		t.Fatalf("DELETE the same id again: %d", st)
	}

	// aal1 (the API sign-in, before its second factor) may do none of it.
	for _, c := range []struct{ method, path string }{{"GET", "/api/v1/sessions"}, {"DELETE", "/api/v1/sessions"}, {"DELETE", "/api/v1/sessions/" + mine}} {
		if st := call(t, fx.mux, c.method, c.path, login.Token, nil, nil); st != http.StatusForbidden {
			t.Fatalf("%s %s at aal1: %d, want 403", c.method, c.path, st)
		}
		if st := call(t, fx.mux, c.method, c.path, "", nil, nil); st != http.StatusUnauthorized {
			t.Fatalf("%s %s without a session: %d, want 401", c.method, c.path, st)
		}
	}

	var ended struct{ Ended int }
	if st := call(t, fx.mux, "DELETE", "/api/v1/sessions", me, nil, &ended); st != http.StatusOK || ended.Ended != 2 {
		t.Fatalf("DELETE /api/v1/sessions = %d, %+v; want 200 and 2 (the aal1 sign-in, the fixture's)", st, ended)
	}
	if st := call(t, fx.mux, "GET", "/api/v1/session", login.Token, nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("an ended session: %d", st)
	}
	if st, ss := list(me); st != http.StatusOK || len(ss) != 1 || ss[0]["id"] != mine {
		t.Fatalf("after ending the others: %d %v", st, ss)
	}
	if st := call(t, fx.mux, "GET", "/api/v1/session", carolish, nil, nil); st != http.StatusOK {
		t.Fatalf("the other user's session after DELETE /api/v1/sessions: %d", st)
	}
}
