package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/token"
)

// maxPresentedToken is the longest session or device token the service
// looks up (auth.Authenticate, auth's maxTokenLen): issued tokens have 43
// characters, and a longer one is refused before it is hashed, so a
// client cannot make the server hash and query megabytes per request.
const maxPresentedToken = 128

// FuzzTokenHeaders fuzzes the Cookie and Authorization headers of the
// calls that read a session or device token: GET /api/v1/session (cookie
// or Bearer, httpx.SessionToken), forward-auth (the same, through the
// session cache) and POST /api/v1/login with alice's password (the
// twostep_device cookie).
//
// Every value the headers could be read as (tokenCandidates, a generous
// independent reading) is planted in the store before the requests: as a
// session of alice when it has at most maxPresentedToken characters and
// of the user longtok when longer, and as a remembered device of alice.
// So a longer token that reached the store would be found and show: as
// longtok in an answer, or as its device marked used.
//
// Invariants: no panic, no 5xx; the session call answers 200 or exactly
// the unauthenticated error; no over-long token is ever looked up; and a
// plain cookie with a well-formed token does sign in (else the planted
// sessions would prove nothing).
func FuzzTokenHeaders(f *testing.F) {
	plain := token.New()
	long := strings.Repeat("A", maxPresentedToken+1)
	for _, tc := range [][2]string{
		{httpx.SessionCookie + "=" + plain, ""},
		{"", "Bearer " + plain},
		{"", "Bearer  " + plain + " \t"},
		{"", "bearer " + plain},
		{"", "Basic " + plain},
		{httpx.SessionCookie + "=" + long, ""},
		{"", "Bearer " + long},
		{httpx.SessionCookie + "=" + strings.Repeat("A", maxPresentedToken), ""},
		{httpx.SessionCookie + "=\"" + plain + "\"", ""},
		{httpx.SessionCookie + "=a; " + httpx.SessionCookie + "=" + plain, ""},
		{httpx.SessionCookie + "=" + plain, "Bearer x"},
		{httpx.DeviceCookie + "=" + plain, ""},
		{httpx.DeviceCookie + "=" + long + "; " + httpx.SessionCookie + "=" + long, ""},
		{"twostep_session=; twostep_device=", "Bearer "},
		{strings.Repeat(httpx.SessionCookie+"=x;", 40), ""},
		{"=" + plain + ";;;" + httpx.SessionCookie, "Bearer\x00" + plain},
		{httpx.SessionCookie + "=" + plain + "\x7f", "Bearer " + plain + "\r\n"},
	} {
		f.Add(tc[0], tc[1])
	}

	fx := newAPIFuzzFixture(f)
	ctx := context.Background()
	longtok, err := fx.env.Service.CreateUser(ctx, auth.Client{IP: "192.0.2.1"}, "longtok", "correct horse battery")
	if err != nil {
		f.Fatal(err)
	}
	wellFormed := regexp.MustCompile(`^` + httpx.SessionCookie + `=[A-Za-z0-9_-]{1,128}$`)
	f.Fuzz(func(t *testing.T, cookie, authorization string) {
		fx.clock.Add(25 * time.Hour) // a new "now" per input, and every limit reset
		now := fx.clock.Now()
		cands := tokenCandidates(cookie, authorization)
		if _, err := fx.env.Store.DeleteExpiredDevices(ctx, fx.alice.ID, now); err != nil {
			t.Fatal(err)
		}
		for _, c := range cands {
			u := fx.alice
			if len(c) > maxPresentedToken {
				u = longtok
			}
			// An input seen before planted the same token: replace what
			// it left (its device expired and went above), which has
			// timed out since.
			hash := token.Hash(c)
			if err := fx.env.Store.DeleteSession(ctx, hash); err != nil && !errors.Is(err, model.ErrNotFound) {
				t.Fatal(err)
			}
			ss := model.Session{TokenHash: hash, UserID: u.ID, AAL: model.AAL2, CreatedAt: now, LastSeenAt: now, AAL2At: now}
			if err := fx.env.Store.CreateSession(ctx, ss); err != nil {
				t.Fatal(err)
			}
			d := store.Device{TokenHash: hash, ID: token.NewID(), UserID: fx.alice.ID, Label: "fuzz", CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
			if err := fx.env.Store.CreateDevice(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		send := func(r *http.Request) *httptest.ResponseRecorder {
			if cookie != "" {
				r.Header.Set("Cookie", cookie)
			}
			if authorization != "" {
				r.Header.Set("Authorization", authorization)
			}
			w := httptest.NewRecorder()
			fx.mux.ServeHTTP(w, r)
			if w.Code >= 500 {
				t.Fatalf("%s %s: status %d: %s", r.Method, r.URL, w.Code, w.Body)
			}
			return w
		}

		w := send(httptest.NewRequest("GET", "/api/v1/session", nil))
		switch w.Code {
		case http.StatusOK:
			var s struct{ User struct{ Username string } }
			if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil || s.User.Username != "alice" {
				t.Fatalf("GET /session: signed in as %q (%v): a token over %d characters was looked up", s.User.Username, err, maxPresentedToken)
			}
		case http.StatusUnauthorized:
			checkErrorBody(t, "GET /session", w, "unauthenticated")
			if authorization == "" && wellFormed.MatchString(cookie) {
				t.Fatalf("GET /session with the planted session's cookie %q: 401", cookie)
			}
		default:
			t.Fatalf("GET /session: status %d: %s", w.Code, w.Body)
		}

		r := httptest.NewRequest("GET", "/api/v1/auth/forward-auth", nil)
		r.Header.Set("X-Forwarded-Proto", "https")
		r.Header.Set("X-Forwarded-Host", "app.example.test")
		r.Header.Set("X-Forwarded-Uri", "/x")
		if w := send(r); w.Code == http.StatusOK && w.Header().Get("Remote-User") != "alice" {
			t.Fatalf("forward-auth let %q through: a token over %d characters was looked up", w.Header().Get("Remote-User"), maxPresentedToken)
		}

		r = httptest.NewRequest("POST", "/api/v1/login", strings.NewReader(`{"username":"alice","password":"correct horse battery"}`))
		r.Header.Set("Content-Type", "application/json")
		w = send(r)
		if w.Code != http.StatusOK {
			checkErrorBody(t, "POST /login", w, "")
		}
		for _, c := range cands {
			if len(c) <= maxPresentedToken {
				continue
			}
			d, err := fx.env.Store.DeviceByHash(ctx, token.Hash(c), now)
			if err != nil {
				t.Fatal(err)
			}
			if !d.LastUsedAt.IsZero() {
				t.Fatalf("POST /login used the remembered device of a %d-character token", len(c))
			}
		}
	})
}

// tokenCandidates are the values a Cookie and an Authorization header
// could be read as: the Authorization value after "Bearer " (trimmed or
// not) or whole, and every cookie value, split at ';' and ',', as written,
// trimmed, and without quotes. At most 16, none empty.
func tokenCandidates(cookie, authorization string) []string {
	var out []string
	add := func(s string) {
		if s != "" && len(out) < 16 && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if rest, ok := strings.CutPrefix(authorization, "Bearer "); ok {
		add(strings.TrimSpace(rest))
		add(rest)
	}
	add(strings.TrimSpace(authorization))
	for _, part := range strings.FieldsFunc(cookie, func(r rune) bool { return r == ';' || r == ',' }) {
		_, v, _ := strings.Cut(part, "=")
		add(v) // net/http keeps a value's spaces
		add(strings.TrimSpace(v))
		add(strings.Trim(strings.TrimSpace(v), `"`))
	}
	return out
}
