package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/api"
	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/auth/authtest"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/passkey"
	"github.com/twostep/twostep/internal/sms"
	"github.com/twostep/twostep/internal/token"
	"github.com/twostep/twostep/internal/totp"
)

// jsonRoutes are the API calls FuzzAPIJSON posts to: every call that reads
// a body, and the body-less calls of each access level. {id} is filled in
// from the input, or with alice's authenticator app (factor routes) or
// carol (admin routes) when the input leaves it empty.
var jsonRoutes = []struct{ method, path string }{
	{"POST", "/api/v1/login"},
	{"POST", "/api/v1/setup/plan"},
	{"POST", "/api/v1/setup/totp"},
	{"POST", "/api/v1/setup/totp/confirm"},
	{"POST", "/api/v1/setup/sms"},
	{"POST", "/api/v1/setup/sms/confirm"},
	{"POST", "/api/v1/challenge/sms"},
	{"POST", "/api/v1/verify"},
	{"DELETE", "/api/v1/factors/{id}"},
	{"POST", "/api/v1/factors/{id}/preferred"},
	{"POST", "/api/v1/recovery-codes"},
	{"DELETE", "/api/v1/devices/{id}"},
	{"POST", "/api/v1/admin/users"},
	{"POST", "/api/v1/admin/users/{id}/disable"},
	{"POST", "/api/v1/admin/users/{id}/enable"},
	{"POST", "/api/v1/admin/users/{id}/reset-mfa"},
	{"POST", "/api/v1/admin/users/{id}/invite"},
	{"GET", "/api/v1/session"},
	{"DELETE", "/api/v1/session"},
	{"GET", "/api/v1/factors"},
	{"GET", "/api/v1/devices"},
	{"GET", "/api/v1/admin/users"},
	// Added after the saved inputs in testdata/fuzz were pinned: new calls
	// go last, so a saved input's route byte keeps naming its call.
	{"POST", "/api/v1/setup/webauthn"},
	{"POST", "/api/v1/setup/webauthn/confirm"},
	{"POST", "/api/v1/challenge/webauthn"},
	{"POST", "/api/v1/login/passkey"},
	{"POST", "/api/v1/login/passkey/finish"},
	{"PATCH", "/api/v1/factors/{id}"},
	{"GET", "/api/v1/sessions"},
	{"DELETE", "/api/v1/sessions"},
	{"DELETE", "/api/v1/sessions/{id}"},
	{"POST", "/api/v1/setup/later"},
	{"POST", "/api/v1/admin/users/{id}/grace"},
	{"PATCH", "/api/v1/admin/users/{id}"},
}

// Who sends a FuzzAPIJSON request (the input's who byte, modulo count).
const (
	whoNobody      = iota // no credentials
	whoAAL1New            // a password-only session of nofactor, who has no second factor
	whoAAL1               // a password-only session of alice, who has an authenticator app
	whoAAL2               // alice after her second factor, within recent-auth
	whoAAL2Bearer         // the same as Authorization: Bearer
	whoAdmin              // the admin token
	whoAdminNearly        // the admin token with one character more
	whoCount
)

const fuzzAdminToken = "fuzz-admin-token-0123456789abcdef0123456789"

// FuzzAPIJSON posts fuzzed bodies with fuzzed content types, path IDs and
// User-Agent headers to every JSON call of the real api.Routes mux, as
// every kind of caller (jsonRoutes, the who constants), each with a fresh
// session.
//
// Invariants: no panic (the mux has no recovery); no 5xx but the
// documented 501 not_implemented; every non-2xx answer is exactly
// {"error":{"code","message"}} with a snake_case code and a sentence; no
// answer carries Go's own error text (decoder, database or runtime
// messages that the request did not contain itself: ASVS V7.4.1); no
// answer repeats a password the request sent; and a refused sign-in is
// in the audit log. Run it on PostgreSQL too (TWOSTEP_TEST_BACKEND, see
// docs/fuzzing.md): it refuses text SQLite stores.
func FuzzAPIJSON(f *testing.F) {
	bodies := []string{
		`{"username":"alice","password":"correct horse battery"}`,
		`{"username":"alice","password":"correct horse battery","invite":"x"}`,
		`{"username":"ALICE ","password":"wrong password!"}`,
		`{"methods":["totp","sms"]}`, `{"methods":["sms","sms"]}`, `{"methods":"totp"}`, `{"methods":[1]}`,
		`{"name":"Laptop (KeePassXC)"}`, `{"code":"123456","factor_id":""}`, `{"code":"12345678"}`,
		`{"country":"US","phone":"(201) 555-0123"}`, `{"country":"DE","phone":"+49 1512 3456789"}`, `{"country":"ZZ","phone":"1"}`,
		`{"factor_id":"x"}`, `{"method":"totp","code":"000000","remember_device":true}`, `{"method":"recovery","code":"abcde-fghjk"}`,
		`{"method":"sms","code":"1"}`, `{"method":"webauthn"}`, `{"username":"dave","password":"another long password"}`,
		``, `null`, `[]`, `"x"`, `{}`, `{"username":1}`, `{"a":1}`, `{"username":"a"}{"b":2}`, `{"username":"a"} x`,
		`{"username":"\ud800","password":"\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000"}`, `{"username":"` + strings.Repeat("a", 9000) + `"}`,
		`{"code":` + strings.Repeat("[", 5000) + `}`, `{"methods":["totp"],"methods":["sms"]}`, `{"Username":"alice","PASSWORD":"x"}`,
		"\xef\xbb\xbf{}", `{"remember_device":"yes"}`, `{"code":1e999}`,
	}
	types := []string{"application/json", "application/json; charset=utf-8", "", "text/plain", "APPLICATION/JSON",
		"application/x-www-form-urlencoded", `application/json; charset="`, "application/json;;", "multipart/form-data; boundary=x"}
	// Few seeds, each a different shape: the fuzzer varies route and
	// caller (one byte each) itself, and a short run in CI has to get
	// through all seeds before it mutates any.
	agents := []string{"", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "curl/8.5.0"}
	bodyRoutes := []int{0, 1, 2, 3, 4, 5, 6, 7, 12, 23, 26, 27} // the calls that read a body
	for i, b := range bodies {
		f.Add(uint8(bodyRoutes[i%len(bodyRoutes)]), uint8(i%whoCount), types[i%len(types)], agents[i%len(agents)], "", []byte(b))
	}
	for r := range jsonRoutes {
		f.Add(uint8(r), uint8(whoNobody), "application/json", "", "", []byte(`{}`))
		f.Add(uint8(r), uint8(r%(whoCount-1)+1), "application/json", "", "", []byte(`{}`))
	}
	for i, id := range []string{"carol", "nobody", "../admin", "%2e%2e", "a/b", "\x00", "alice", "\xff", strings.Repeat("a", 26)} {
		route, who := []uint8{8, 11, 13}[i%3], []uint8{whoAAL2, whoAAL2, whoAdmin}[i%3]
		f.Add(route, who, "application/json", "", id, []byte(nil))
	}

	fx := newAPIFuzzFixture(f)
	f.Fuzz(func(t *testing.T, route, who uint8, contentType, userAgent, id string, body []byte) {
		rt := jsonRoutes[int(route)%len(jsonRoutes)]
		fx.clock.Add(25 * time.Hour) // past every window and back-off the last input may have filled
		target := rt.path
		if strings.Contains(target, "{id}") {
			if id == "" {
				id = fx.factorID
				if strings.Contains(target, "/admin/") {
					id = "carol"
				}
			}
			target = strings.Replace(target, "{id}", url.PathEscape(id), 1)
		}
		r := httptest.NewRequest(rt.method, target, bytes.NewReader(body))
		r.RemoteAddr = "192.0.2.7:1234"
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		r.Header.Set("User-Agent", userAgent)
		fx.authorize(t, r, int(who)%whoCount)
		seq := fx.auditSeq(t)
		w := httptest.NewRecorder()
		fx.mux.ServeHTTP(w, r)
		if redirected(t, r, w) {
			return
		}
		checkAPIAnswer(t, rt.method+" "+target, w, string(body)+"\n"+contentType+"\n"+id, sentPassword(body))

		// A refused sign-in is in the audit log (ASVS V7.2.1), whatever
		// the client wrote in its headers. Over-long credentials are
		// refused before any check, without an entry.
		var in struct{ Username, Password string }
		if rt.path == "/api/v1/login" && w.Code == http.StatusUnauthorized && json.Unmarshal(body, &in) == nil &&
			len(in.Password) <= 1024 && len(in.Username) <= 256 {
			events, err := fx.env.Store.AuditEvents(context.Background(), seq, 100)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(events, func(e model.AuditEvent) bool { return e.Event == "login_failed" }) {
				t.Fatalf("POST /api/v1/login (User-Agent %q) answered 401 but left no login_failed audit entry", userAgent)
			}
		}
	})
}

// apiFuzzFixture is a service on a fresh database with an admin token and
// remembered devices on, its API routes, and the users the callers of
// FuzzAPIJSON act as: alice (authenticator app) and nofactor (none), plus
// carol for the admin calls to act on.
type apiFuzzFixture struct {
	mux      *http.ServeMux
	env      authtest.Env
	clock    *authtest.Clock
	alice    model.User
	nofactor model.User
	factorID string // alice's authenticator app
	seq      int64  // the last audit entry auditSeq saw
}

func newAPIFuzzFixture(tb testing.TB) *apiFuzzFixture {
	tb.Helper()
	ctx := context.Background()
	sender, err := sms.NewFile(sms.FileConfig{Path: filepath.Join(tb.TempDir(), "sms.jsonl")})
	if err != nil {
		tb.Fatal(err)
	}
	cfg := authtest.Config()
	cfg.AdminToken, cfg.RememberDeviceDays = fuzzAdminToken, 30
	// Passkeys on (a host name, not an IP), passwordless too, so their
	// calls answer rather than 501.
	cfg.PublicURL = "https://login.example.com"
	cfg.Passkeys = auth.PasskeyConfig{Passwordless: true, Timeout: 5 * time.Minute}
	e := authtest.New(tb, cfg, sender)
	w, err := passkey.New(passkey.Config{RPID: "login.example.com", RPName: "Test", Origins: []string{cfg.PublicURL},
		UserVerification: "preferred", Attestation: "none", Timeout: 5 * time.Minute})
	if err != nil {
		tb.Fatal(err)
	}
	e.Deps.WebAuthn = w
	svc := auth.New(cfg, e.Deps)
	e.Service = svc
	c := auth.Client{IP: "192.0.2.1", UserAgent: "fuzz"}
	const pw = "correct horse battery"
	fx := &apiFuzzFixture{env: e, clock: e.Clock}
	for _, name := range []string{"alice", "nofactor", "carol"} {
		u, err := svc.CreateUser(ctx, c, name, pw)
		if err != nil {
			tb.Fatal(err)
		}
		switch name {
		case "alice":
			fx.alice = u
		case "nofactor":
			fx.nofactor = u
		}
	}
	res, err := svc.Login(ctx, c, auth.Credentials{Username: "alice", Password: pw})
	if err != nil {
		tb.Fatal(err)
	}
	cur, err := svc.Authenticate(ctx, res.Token)
	if err != nil {
		tb.Fatal(err)
	}
	st, err := svc.StartTOTP(ctx, c, cur, "")
	if err != nil {
		tb.Fatal(err)
	}
	secret, err := totp.DecodeSecret(st.Secret)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := svc.ConfirmTOTP(ctx, c, cur, auth.Proof{FactorID: st.FactorID, Code: totp.Code(secret, totp.DefaultParams(), e.Clock.Now())}); err != nil {
		tb.Fatal(err)
	}
	fx.factorID = st.FactorID
	fx.mux = http.NewServeMux()
	api.New(svc, e.Log, httpx.ClientIP{}, httpx.Cookies{}).Routes(fx.mux)
	return fx
}

// redirected reports whether w is net/http's ServeMux sending a path with
// "." or ".." segments or "//" (an {id} of "." here) to its clean form,
// which it does before any route runs; no API call redirects itself, so
// the redirect must name exactly the cleaned path.
func redirected(t *testing.T, r *http.Request, w *httptest.ResponseRecorder) bool {
	t.Helper()
	switch w.Code {
	case http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return false
	}
	want := path.Clean(r.URL.Path)
	if strings.HasSuffix(r.URL.Path, "/") && want != "/" {
		want += "/"
	}
	loc, err := url.Parse(w.Header().Get("Location"))
	if err != nil || loc.Path != want || loc.Host != "" || want == r.URL.Path {
		t.Fatalf("%s %s: status %d to %q, want the mux's clean path %q", r.Method, r.URL, w.Code, w.Header().Get("Location"), want)
	}
	return true
}

// auditSeq returns the sequence number of the last audit entry.
func (fx *apiFuzzFixture) auditSeq(t *testing.T) int64 {
	t.Helper()
	for {
		events, err := fx.env.Store.AuditEvents(context.Background(), fx.seq, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) == 0 {
			return fx.seq
		}
		fx.seq = events[len(events)-1].Seq
	}
}

// session stores a new session of u at aal and returns its token. It is
// written to the store directly, as the service's sign-in would leave it:
// signing in and passing a second factor for every input would spend most
// of the fuzzing time on argon2 and TOTP set-up instead of on the calls.
func (fx *apiFuzzFixture) session(t *testing.T, u model.User, aal model.AAL) string {
	t.Helper()
	tok, now := token.New(), fx.clock.Now()
	ss := model.Session{TokenHash: token.Hash(tok), UserID: u.ID, AAL: aal, CreatedAt: now, LastSeenAt: now}
	if aal == model.AAL2 {
		ss.AAL2At = now
	}
	if err := fx.env.Store.CreateSession(context.Background(), ss); err != nil {
		t.Fatal(err)
	}
	return tok
}

// authorize adds who's credentials to r.
func (fx *apiFuzzFixture) authorize(t *testing.T, r *http.Request, who int) {
	t.Helper()
	cookie := func(tok string) { r.AddCookie(&http.Cookie{Name: httpx.SessionCookie, Value: tok}) }
	switch who {
	case whoAAL1New:
		cookie(fx.session(t, fx.nofactor, model.AAL1))
	case whoAAL1:
		cookie(fx.session(t, fx.alice, model.AAL1))
	case whoAAL2:
		cookie(fx.session(t, fx.alice, model.AAL2))
	case whoAAL2Bearer:
		r.Header.Set("Authorization", "Bearer "+fx.session(t, fx.alice, model.AAL2))
	case whoAdmin:
		r.Header.Set("Authorization", "Bearer "+fuzzAdminToken)
	case whoAdminNearly:
		r.Header.Set("Authorization", "Bearer "+fuzzAdminToken+"0")
	}
}

// snakeCase is the form of every error code (docs/api.md).
var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// goErrorText are fragments of messages from Go's JSON decoder, the
// database drivers and the runtime: an answer holding one leaks an
// internal error instead of the API's own sentence.
var goErrorText = []string{"json:", "invalid character", "unexpected EOF", "cannot unmarshal", "Go struct", "Go value",
	"sql:", "sqlite", "SQLITE", "SQL", "pq:", "pgx", "runtime", "goroutine", "panic", "nil pointer", "%!", "<nil>", "strconv.",
	"http: ", "context canceled", "deadline exceeded"}

// checkAPIAnswer checks one API answer: no 5xx but 501 not_implemented, a
// JSON body on every answer with content, the error shape on every error,
// no Go error text the request (sent: the text the client controlled) did
// not itself contain, and not the password pw (when not "").
func checkAPIAnswer(t *testing.T, name string, w *httptest.ResponseRecorder, sent, pw string) {
	t.Helper()
	if w.Code >= 500 && w.Code != http.StatusNotImplemented {
		t.Fatalf("%s: status %d: %s", name, w.Code, w.Body)
	}
	body := w.Body.String()
	for _, frag := range goErrorText {
		// Only error answers: a 2xx may carry user data (a user named
		// "panic" created by an earlier input).
		if w.Code >= 300 && strings.Contains(body, frag) && !strings.Contains(sent, frag) {
			t.Fatalf("%s: status %d: the answer holds Go error text %q: %s", name, w.Code, frag, body)
		}
	}
	if quoted, _ := json.Marshal(pw); pw != "" && (strings.Contains(body, pw) || strings.Contains(body, string(quoted[1:len(quoted)-1]))) {
		t.Fatalf("%s: status %d: the answer repeats the password sent: %s", name, w.Code, body)
	}
	switch {
	case w.Code == http.StatusNoContent:
		if body != "" {
			t.Fatalf("%s: 204 with a body: %q", name, body)
		}
	case w.Code >= 200 && w.Code < 300:
		if !json.Valid(w.Body.Bytes()) || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("%s: status %d: not a JSON answer (%s): %q", name, w.Code, w.Header().Get("Content-Type"), body)
		}
	default:
		checkErrorBody(t, name, w, "")
	}
}

// checkErrorBody requires exactly {"error":{"code":"snake_case","message":"…"}}
// (and the code want, when given).
func checkErrorBody(t *testing.T, name string, w *httptest.ResponseRecorder, want string) {
	t.Helper()
	var e struct {
		Error *struct {
			Code    *string `json:"code"`
			Message *string `json:"message"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error == nil || e.Error.Code == nil || e.Error.Message == nil ||
		!snakeCase.MatchString(*e.Error.Code) || *e.Error.Message == "" || dec.Decode(&struct{}{}) != io.EOF {
		t.Fatalf("%s: status %d: not the error shape: %q", name, w.Code, w.Body)
	}
	if want != "" && *e.Error.Code != want {
		t.Fatalf("%s: error code %q, want %q", name, *e.Error.Code, want)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: error answer with Content-Type %q", name, ct)
	}
}

// sentPassword returns the password of a body that is a JSON object with
// one, when it is long enough to be told apart from other text of an
// answer and no other field of the body repeats it ("" otherwise).
func sentPassword(body []byte) string {
	var in map[string]any
	if json.Unmarshal(body, &in) != nil {
		return ""
	}
	pw, _ := in["password"].(string)
	if len(pw) < 8 {
		return ""
	}
	for k, v := range in {
		if s, ok := v.(string); k != "password" && ok && strings.Contains(s, pw) {
			return ""
		}
	}
	return pw
}
