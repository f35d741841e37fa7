package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/twostep/twostep/internal/auth/authtest"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/outcome"
)

// TestMadeUpOutcomeIsOneRow: an outcome no code returns, given one row of
// httpx's table, is a JSON answer (here) and a page (internal/web's twin).
func TestMadeUpOutcomeIsOneRow(t *testing.T) {
	const madeUp outcome.Code = "made_up"
	e := authtest.New(t, authtest.Config(), nil)
	a := New(e.Service, e.Log, httpx.ClientIP{}, httpx.Cookies{})
	a.msgs = a.msgs.With(madeUp, httpx.Row{Status: http.StatusTeapot, Say: map[string]string{
		"":     "Made up for {issuer}.",
		"totp": "Made up for authenticator apps, {digits} digits.",
	}})
	for method, want := range map[string]string{"": "Made up for Test.", "totp": "Made up for authenticator apps, 6 digits."} {
		rec := httptest.NewRecorder()
		a.serve(func(http.ResponseWriter, *http.Request) error {
			return &outcome.Error{Code: madeUp, Method: method}
		}).ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/x", nil))
		var body struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusTeapot ||
			body.Error.Code != "made_up" || body.Error.Message != want {
			t.Fatalf("method %q: %d %s, %v; want 418 made_up %q", method, rec.Code, rec.Body, err, want)
		}
	}
}
