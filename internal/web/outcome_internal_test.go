package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/auth/authtest"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/outcome"
)

// madeUp is an outcome no code returns: one row of httpx's table makes it
// a page (here) and a JSON answer (internal/api's twin of this test).
const madeUp outcome.Code = "made_up"

var madeUpRow = httpx.Row{Status: http.StatusTeapot, Say: map[string]string{
	"":     "Made up for {issuer}.",
	"totp": "Made up for authenticator apps, {digits} digits.",
}}

func TestMadeUpOutcomeIsOneRow(t *testing.T) {
	e := authtest.New(t, authtest.Config(), nil)
	h := New(e.Service, e.Log, Options{})
	h.msgs = h.msgs.With(madeUp, madeUpRow)
	for method, want := range map[string]string{"": "Made up for Test.", "totp": "Made up for authenticator apps, 6 digits."} {
		rec := httptest.NewRecorder()
		h.renderError(rec, httptest.NewRequest("GET", "/settings", nil), nil, &outcome.Error{Code: madeUp, Method: method})
		if rec.Code != http.StatusTeapot || !strings.Contains(rec.Body.String(), want) {
			t.Fatalf("method %q: %d\n%s\nwant 418 and %q", method, rec.Code, rec.Body, want)
		}
	}
}
