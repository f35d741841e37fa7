package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/token"
)

// maxPresentedToken is the longest session or device token the service
// looks up (auth.Authenticate, auth's maxTokenLen); issued ones have 43
// characters.
const maxPresentedToken = 128

// FuzzPageCookies fuzzes the Cookie header the pages read: the sign-in
// form's double-submit cookie (twostep_login) against a fuzzed form
// token, the session cookie and the remembered-device cookie.
//
// Every value the header could be read as is planted in the store first,
// as a session of alice (with an authenticator app, aal2) and as a
// remembered device of alice, so a token that reached the store would be
// found: a settings page carries the form token of the session that
// opened it, and a used device is marked.
//
// Invariants: no panic, no 5xx; a sign-in (alice's right password)
// succeeds only when the form token is 43 characters and equal to a
// twostep_login cookie in the header, and always does when the header is
// exactly that cookie; no token over maxPresentedToken characters opens a
// page or stands in for the second factor.
func FuzzPageCookies(f *testing.F) {
	good := strings.Repeat("x", 43)
	plain := token.New()
	long := strings.Repeat("A", maxPresentedToken+1)
	for _, tc := range [][2]string{
		{"twostep_login=" + good, good},
		{"twostep_login=" + good, good + "x"},
		{"twostep_login=" + good[:42], good[:42]},
		{"twostep_login=" + good + "; twostep_login=" + plain, plain},
		{"twostep_login=\"" + good + "\"", good},
		{"twostep_login=" + good + "; " + httpx.SessionCookie + "=" + plain, good},
		{httpx.SessionCookie + "=" + long, ""},
		{httpx.DeviceCookie + "=" + long + "; twostep_login=" + good, good},
		{httpx.DeviceCookie + "=" + plain + "; twostep_login=" + good, good},
		{"__Host-twostep_login=" + good, good},
		{"twostep_login=" + good + "\x00", good},
		{"", ""},
		{strings.Repeat("a=b; ", 300), "x"},
	} {
		f.Add(tc[0], tc[1])
	}
	fx := newFormFuzzFixture(f)
	loginCookie := regexp.MustCompile(`^twostep_login=[A-Za-z0-9_-]{43}$`)

	f.Fuzz(func(t *testing.T, cookie, csrf string) {
		ctx := context.Background()
		fx.clock.Add(25 * time.Hour) // a new "now" per input, and every limit reset
		now := fx.clock.Now()
		alice := fx.victimIDs[0]
		cands := cookieValues(cookie)
		if _, err := fx.st.DeleteExpiredDevices(ctx, alice, now); err != nil {
			t.Fatal(err)
		}
		for _, c := range cands {
			hash := token.Hash(c) // planted by an earlier input: replace
			if err := fx.st.DeleteSession(ctx, hash); err != nil && !errors.Is(err, model.ErrNotFound) {
				t.Fatal(err)
			}
			ss := model.Session{TokenHash: hash, UserID: alice, AAL: model.AAL2, CreatedAt: now, LastSeenAt: now, AAL2At: now}
			if err := fx.st.CreateSession(ctx, ss); err != nil {
				t.Fatal(err)
			}
			d := store.Device{TokenHash: hash, ID: token.NewID(), UserID: alice, Label: "fuzz", CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
			if err := fx.st.CreateDevice(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		send := func(method, target, body string) *httptest.ResponseRecorder {
			r := httptest.NewRequest(method, target, strings.NewReader(body))
			if body != "" {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if cookie != "" {
				r.Header.Set("Cookie", cookie)
			}
			w := httptest.NewRecorder()
			fx.mux.ServeHTTP(w, r)
			if w.Code >= 500 {
				t.Fatalf("%s %s: status %d: %s", method, target, w.Code, w.Body)
			}
			return w
		}

		// The sign-in form's token against its cookie.
		w := send("POST", "/login", url.Values{"username": {"alice"}, "password": {"correct horse battery"}, "csrf": {csrf}}.Encode())
		signedIn := slices.ContainsFunc(w.Result().Cookies(), func(c *http.Cookie) bool {
			return c.Name == httpx.SessionCookie && c.Value != "" && c.MaxAge >= 0
		})
		if signedIn && (len(csrf) != 43 || !slices.Contains(cookiePairs(cookie, "twostep_login"), csrf)) {
			t.Fatalf("POST /login signed in with form token %q and Cookie %q", csrf, cookie)
		}
		if !signedIn && loginCookie.MatchString(cookie) && cookie == "twostep_login="+csrf {
			t.Fatalf("POST /login with a matching form token and cookie %q: status %d, not signed in", cookie, w.Code)
		}
		if signedIn {
			for _, c := range cands {
				d, err := fx.st.DeviceByHash(ctx, token.Hash(c), now)
				if err != nil {
					t.Fatal(err)
				}
				if len(c) > maxPresentedToken && !d.LastUsedAt.IsZero() {
					t.Fatalf("POST /login used the remembered device of a %d-character token", len(c))
				}
			}
		}

		// A page opened by the session cookie carries that session's form
		// token: it names the token that was looked up.
		w = send("GET", "/settings", "")
		if w.Code == http.StatusOK {
			m := csrfField.FindStringSubmatch(w.Body.String())
			if m == nil {
				t.Fatalf("GET /settings: 200 without a form token")
			}
			for _, c := range cands {
				if formToken(c) == m[1] && len(c) > maxPresentedToken {
					t.Fatalf("GET /settings opened with a %d-character session token", len(c))
				}
			}
		}
	})
}

// cookieValues are the values a Cookie header could be read as: every
// value, split at ';' and ',', as written, trimmed, and without quotes.
// At most 16, none empty.
func cookieValues(header string) []string {
	var out []string
	for _, part := range strings.FieldsFunc(header, func(r rune) bool { return r == ';' || r == ',' }) {
		_, v, _ := strings.Cut(part, "=")
		for _, s := range []string{v, strings.TrimSpace(v), strings.Trim(strings.TrimSpace(v), `"`)} {
			if s != "" && len(out) < 16 && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// cookiePairs returns the values of the cookies named name in a Cookie
// header, read plainly: pairs split at ';', names and values trimmed of
// spaces, values of quotes.
func cookiePairs(header, name string) []string {
	var out []string
	for _, part := range strings.Split(header, ";") {
		n, v, _ := strings.Cut(part, "=")
		if strings.TrimSpace(n) == name {
			out = append(out, strings.Trim(strings.TrimSpace(v), `"`))
		}
	}
	return out
}
