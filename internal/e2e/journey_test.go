package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/e2e/e2etest"
	"github.com/twostep/twostep/internal/store/storetest"
)

// secrets is everything secret a test saw: none of it may reach the log or
// the database in the clear.
type secrets struct {
	password  string
	totp      []string // base32 secrets as shown
	codes     []string // TOTP codes sent
	recovery  []string // recovery codes issued, as shown (xxxxx-xxxxx)
	tokens    []string // session (and invite) tokens issued
	adminTok  string
	extraText []string // other secret strings
}

var recoveryRE = regexp.MustCompile(`^[23456789abcdefghjkmnpqrstuvwxyz]{5}-[23456789abcdefghjkmnpqrstuvwxyz]{5}$`)

// journey is the whole sign-in journey (docs/pages.md) through the JSON API for one user on
// the given database setting ("" for a new SQLite file): created with the
// CLI, first sign-in and authenticator-app set-up, logout, sign-in with the
// app, sign-in with a recovery code, and the recovery code refused the
// second time. Some calls present the session as a Bearer token, others as
// the cookie: both must work. It returns the running server and the
// secrets it handled.
func journey(t *testing.T, database string) (*server, secrets) {
	in := newInstance(t, database)
	sec := secrets{password: e2etest.Password}

	if out := in.MustCLI(t, e2etest.Password+"\n", "user", "add", "alice", "--password-stdin"); !strings.Contains(out, "alice") {
		t.Fatalf("user add printed %q, want it to name alice", out)
	}
	s := in.start(t)

	// First sign-in: aal1, a set-up is due, the cookie carries the token.
	res := s.login(t, "alice")
	m := res.obj(t)
	tok1 := res.str(t, "token")
	sec.tokens = append(sec.tokens, tok1)
	if m["aal"] != "aal1" || m["next"] != "setup" {
		t.Fatalf("first login: aal=%v next=%v, want aal1 and setup", m["aal"], m["next"])
	}
	c := res.cookie
	switch {
	case c == nil:
		t.Fatalf("login set no twostep_session cookie; headers %v", res.header)
	case c.Value != tok1:
		t.Fatalf("cookie value differs from the token in the body")
	case !c.HttpOnly:
		t.Errorf("session cookie lacks HttpOnly: %q", res.header.Get("Set-Cookie"))
	case c.SameSite != http.SameSiteLaxMode:
		t.Errorf("session cookie SameSite = %v, want Lax: %q", c.SameSite, res.header.Get("Set-Cookie"))
	}

	// Plan (cookie) and start the authenticator-app set-up (Bearer).
	plan := s.call(t, "POST", "/api/v1/setup/plan", map[string]any{"methods": []string{"totp"}}, cookie(tok1)).want(t, 200, "plan")
	if got := plan.obj(t)["steps"]; !equalJSON(got, []any{"totp"}) {
		t.Errorf("plan steps = %v, want [totp]", got)
	}
	st := s.call(t, "POST", "/api/v1/setup/totp", nil, bearer(tok1)).want(t, 200, "setup totp")
	factorID, secret, uri := st.str(t, "factor_id"), st.str(t, "secret"), st.str(t, "otpauth_uri")
	sec.totp = append(sec.totp, secret)
	if n := len(e2etest.DecodeSecret(t, secret)); n != 20 {
		t.Errorf("TOTP secret has %d bytes, want 20 (160 bits)", n)
	}
	checkOTPAuthURI(t, uri, secret, "alice")
	png, err := base64.StdEncoding.DecodeString(st.str(t, "qr_png"))
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("qr_png is not a base64 PNG (err %v)", err)
	}
	gen := e2etest.NewTOTPGen(t, secret)

	// Confirm with a code computed here (cookie): aal2, a new token, 10 codes.
	code := gen.Next(t)
	sec.codes = append(sec.codes, code)
	res = s.call(t, "POST", "/api/v1/setup/totp/confirm", map[string]string{"code": code, "factor_id": factorID}, cookie(tok1)).
		want(t, 200, "confirm totp")
	m = res.obj(t)
	tok2 := res.str(t, "token")
	sec.tokens = append(sec.tokens, tok2)
	if m["aal"] != "aal2" || m["next"] != "done" {
		t.Errorf("confirm: aal=%v next=%v, want aal2 and done", m["aal"], m["next"])
	}
	if tok2 == tok1 {
		t.Fatal("confirm kept the aal1 token: the session must rotate at the level change")
	}
	if res.setTok != tok2 {
		t.Errorf("confirm set cookie %q, want the new token", res.setTok)
	}
	rcs, _ := m["recovery_codes"].([]any)
	if len(rcs) != 10 {
		t.Fatalf("confirm returned %d recovery codes, want 10: %s", len(rcs), res.body)
	}
	for _, rc := range rcs {
		s, _ := rc.(string)
		if !recoveryRE.MatchString(s) || slices.Contains(sec.recovery, s) {
			t.Errorf("recovery code %q malformed or repeated", s)
		}
		sec.recovery = append(sec.recovery, s)
	}

	// The aal1 token died at the rotation, by Bearer and by cookie alike.
	s.call(t, "GET", "/api/v1/session", nil, bearer(tok1)).wantErr(t, 401, "unauthenticated", "old aal1 token (Bearer)")
	s.call(t, "GET", "/api/v1/session", nil, cookie(tok1)).wantErr(t, 401, "unauthenticated", "old aal1 token (cookie)")

	// The session shows aal2 and the new method.
	checkSession(t, s, cookie(tok2), "alice", "aal2", factorID)
	fl := s.call(t, "GET", "/api/v1/factors", nil, bearer(tok2)).want(t, 200, "factors")
	if fs, _ := fl.obj(t)["factors"].([]any); len(fs) != 1 {
		t.Errorf("factors = %s, want one", fl.body)
	}

	// Logout revokes server-side and clears the cookie.
	res = s.call(t, "DELETE", "/api/v1/session", nil, bearer(tok2)).want(t, 204, "logout")
	if res.cookie == nil || res.cookie.MaxAge >= 0 || res.cookie.Value != "" {
		t.Errorf("logout did not clear the cookie: %q", res.header.Get("Set-Cookie"))
	}
	s.call(t, "GET", "/api/v1/session", nil, bearer(tok2)).wantErr(t, 401, "unauthenticated", "token after logout (Bearer)")
	s.call(t, "GET", "/api/v1/session", nil, cookie(tok2)).wantErr(t, 401, "unauthenticated", "token after logout (cookie)")

	// Returning user: password, then the app (the next step's code).
	res = s.login(t, "alice")
	m = res.obj(t)
	tok3 := res.str(t, "token")
	sec.tokens = append(sec.tokens, tok3)
	if m["aal"] != "aal1" || m["next"] != "verify" {
		t.Fatalf("second login: aal=%v next=%v, want aal1 and verify", m["aal"], m["next"])
	}
	if ms, _ := m["methods"].([]any); len(ms) != 1 || ms[0].(map[string]any)["type"] != "totp" {
		t.Errorf("second login methods = %v, want the authenticator app", m["methods"])
	}
	checkSession(t, s, bearer(tok3), "alice", "aal1", factorID)
	s.call(t, "GET", "/api/v1/factors", nil, bearer(tok3)).wantErr(t, 403, "aal2_required", "factors at aal1")
	s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "totp", "code": sec.codes[0]}, bearer(tok3)).
		wantErr(t, 401, "invalid_code", "the set-up code replayed at sign-in")
	code = gen.Next(t)
	sec.codes = append(sec.codes, code)
	res = s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "totp", "code": code}, cookie(tok3)).want(t, 200, "verify totp")
	tok4 := res.str(t, "token")
	sec.tokens = append(sec.tokens, tok4)
	if aal := res.obj(t)["aal"]; aal != "aal2" || tok4 == tok3 || res.setTok != tok4 {
		t.Errorf("verify: aal=%v, new token %v, cookie updated %v", aal, tok4 != tok3, res.setTok == tok4)
	}
	s.call(t, "GET", "/api/v1/session", nil, cookie(tok3)).wantErr(t, 401, "unauthenticated", "aal1 token after verify")
	checkSession(t, s, cookie(tok4), "alice", "aal2", factorID)
	s.call(t, "DELETE", "/api/v1/session", nil, cookie(tok4)).want(t, 204, "logout")

	// A recovery code signs in once.
	tok5 := s.login(t, "alice").str(t, "token")
	sec.tokens = append(sec.tokens, tok5)
	res = s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "recovery", "code": sec.recovery[0]}, bearer(tok5)).
		want(t, 200, "verify recovery code")
	tok6 := res.str(t, "token")
	sec.tokens = append(sec.tokens, tok6)
	checkSession(t, s, bearer(tok6), "alice", "aal2", factorID)
	s.call(t, "DELETE", "/api/v1/session", nil, bearer(tok6)).want(t, 204, "logout")

	// ... and never again.
	tok7 := s.login(t, "alice").str(t, "token")
	sec.tokens = append(sec.tokens, tok7)
	s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "recovery", "code": sec.recovery[0]}, bearer(tok7)).
		wantErr(t, 401, "invalid_code", "recovery code used twice")
	checkSession(t, s, bearer(tok7), "alice", "aal1", factorID)

	// Recovery codes are read back as people type them: upper case, no dash.
	typed := strings.ToUpper(strings.ReplaceAll(sec.recovery[1], "-", ""))
	res = s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "recovery", "code": typed}, cookie(tok7)).
		want(t, 200, "recovery code typed in upper case without the dash")
	tok8 := res.str(t, "token")
	sec.tokens = append(sec.tokens, tok8)
	s.call(t, "DELETE", "/api/v1/session", nil, cookie(tok8)).want(t, 204, "logout")
	return s, sec
}

// checkSession checks GET /api/v1/session for the user, level and the one
// authenticator app.
func checkSession(t *testing.T, s *server, auth reqOpt, user, aal, factorID string) {
	t.Helper()
	m := s.call(t, "GET", "/api/v1/session", nil, auth).want(t, 200, "session").obj(t)
	u, _ := m["user"].(map[string]any)
	ms, _ := m["methods"].([]any)
	if u["username"] != user || u["id"] == "" || m["aal"] != aal {
		t.Fatalf("session = %v, want user %s at %s", m, user, aal)
	}
	if len(ms) != 1 {
		t.Fatalf("session methods = %v, want one authenticator app", m["methods"])
	}
	f := ms[0].(map[string]any)
	if f["id"] != factorID || f["type"] != "totp" || f["label"] == "" || f["preferred"] != true {
		t.Errorf("session method = %v, want the preferred totp factor %s", f, factorID)
	}
}

// checkOTPAuthURI checks the Key URI Format: otpauth://totp/issuer:account
// with the secret, the issuer and the default parameters.
func checkOTPAuthURI(t *testing.T, uri, secret, account string) {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
		t.Fatalf("otpauth_uri %q is not otpauth://totp/...", uri)
	}
	q := u.Query()
	if q.Get("secret") != secret {
		t.Errorf("otpauth_uri secret %q, want %q", q.Get("secret"), secret)
	}
	if q.Get("issuer") != "twostep" {
		t.Errorf("otpauth_uri issuer %q, want twostep", q.Get("issuer"))
	}
	if label := strings.TrimPrefix(u.Path, "/"); label != "twostep:"+account {
		t.Errorf("otpauth_uri label %q, want twostep:%s", label, account)
	}
	for k, want := range map[string]string{"algorithm": "SHA1", "digits": "6", "period": "30"} {
		if v := q.Get(k); v != "" && v != want {
			t.Errorf("otpauth_uri %s=%q, want %q", k, v, want)
		}
	}
}

func equalJSON(got any, want []any) bool {
	g, ok := got.([]any)
	return ok && slices.Equal(g, want)
}

// secretForms returns the text forms in which a secret might leak, lower
// cased: the value itself, and for TOTP secrets also grouped for typing, in
// hex and in base64.
func (sec secrets) forms(t *testing.T) map[string]string {
	out := map[string]string{"password": strings.ToLower(sec.password)}
	for i, s := range sec.totp {
		raw := e2etest.DecodeSecret(t, s)
		out["totp secret (base32)"+itoa(i)] = strings.ToLower(s)
		out["totp secret (grouped)"+itoa(i)] = strings.ToLower(groupBy4(s))
		out["totp secret (hex)"+itoa(i)] = hex.EncodeToString(raw)
		out["totp secret (base64)"+itoa(i)] = strings.ToLower(base64.StdEncoding.EncodeToString(raw))
		out["totp secret (base64url)"+itoa(i)] = strings.ToLower(base64.RawURLEncoding.EncodeToString(raw))
	}
	for i, rc := range sec.recovery {
		out["recovery code "+itoa(i)] = rc
		out["recovery code without dash "+itoa(i)] = strings.ReplaceAll(rc, "-", "")
	}
	for i, tok := range sec.tokens {
		out["token "+itoa(i)] = strings.ToLower(tok)
	}
	if sec.adminTok != "" {
		out["admin token"] = strings.ToLower(sec.adminTok)
	}
	for i, x := range sec.extraText {
		out["secret "+itoa(i)] = strings.ToLower(x)
	}
	return out
}

func itoa(i int) string { return " #" + strconv.Itoa(i) }

func groupBy4(s string) string {
	var parts []string
	for i := 0; i < len(s); i += 4 {
		parts = append(parts, s[i:min(i+4, len(s))])
	}
	return strings.Join(parts, " ")
}

// assertLogClean fails for every secret found in the log (case-insensitive)
// and every code used, as a number of its own.
func assertLogClean(t *testing.T, log string, sec secrets) {
	t.Helper()
	if log == "" {
		t.Fatal("the log is empty: nothing to check")
	}
	lower := strings.ToLower(log)
	for what, v := range sec.forms(t) {
		if strings.Contains(lower, v) {
			t.Errorf("the log contains the %s", what)
		}
	}
	for _, code := range sec.codes {
		if regexp.MustCompile(`(^|[^0-9])` + code + `([^0-9]|$)`).MatchString(log) {
			t.Errorf("the log contains the TOTP code %s", code)
		}
	}
}

// assertNotAtRest fails for every secret found in the raw bytes of the
// SQLite database files: the TOTP secrets (raw and base32), the password,
// the recovery codes and the session tokens.
func assertNotAtRest(t *testing.T, files map[string][]byte, sec secrets) {
	t.Helper()
	if len(files) == 0 {
		t.Fatal("no database files read")
	}
	for name, b := range files {
		lower := bytes.ToLower(b)
		for what, v := range sec.forms(t) {
			if bytes.Contains(lower, []byte(v)) {
				t.Errorf("%s contains the %s", name, what)
			}
		}
		for i, s := range sec.totp {
			if bytes.Contains(b, e2etest.DecodeSecret(t, s)) {
				t.Errorf("%s contains TOTP secret %d as raw bytes", name, i)
			}
		}
	}
}

// readDBFiles reads the SQLite database and its -wal and -shm files.
func readDBFiles(t *testing.T, path string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		b, err := os.ReadFile(path + suffix)
		if errors.Is(err, fs.ErrNotExist) && suffix != "" {
			continue
		}
		if err != nil {
			t.Fatalf("read database file: %v", err)
		}
		out["twostep.db"+suffix] = b
	}
	return out
}

// assertKeyFileGuard removes the key file of an installation whose
// database holds sealed secrets: twostep must refuse to start rather than
// create a new key and strand them, and must not create the file.
func assertKeyFileGuard(t *testing.T, in *instance) {
	t.Helper()
	if err := os.Remove(in.KeyFile); err != nil {
		t.Fatal(err)
	}
	code, _ := in.CLI(t, "", "user", "list")
	if code != 1 {
		t.Errorf("user list without the key file: exit %d, want 1", code)
	}
	if !strings.Contains(in.Log.String(), "is missing") {
		t.Errorf("no error naming the missing key file; log tail:\n%s", tail(in.Log.String(), 600))
	}
	if _, err := os.Stat(in.KeyFile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a new key file was created although the database holds secrets (stat: %v)", err)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestJourney runs the whole journey on SQLite, then checks that no
// secret reached the log or the database files, and that the installation
// refuses to run without its key file.
func TestJourney(t *testing.T) {
	sqliteOnly(t, "TestJourneyPostgres")
	t.Parallel()
	s, sec := journey(t, "")
	running := readDBFiles(t, s.DBPath) // with the WAL of the running server
	s.stop()
	t.Run("no secrets in the log", func(t *testing.T) {
		assertLogClean(t, s.Log.String(), sec)
	})
	t.Run("no secrets in the database", func(t *testing.T) {
		assertNotAtRest(t, running, sec)
		assertNotAtRest(t, readDBFiles(t, s.DBPath), sec)
	})
	t.Run("audit chain intact", func(t *testing.T) {
		if out := s.MustCLI(t, "", "audit", "verify"); !strings.Contains(out, "intact") {
			t.Errorf("audit verify printed %q", out)
		}
	})
	t.Run("key file guard", func(t *testing.T) { assertKeyFileGuard(t, s.instance) })
}

// TestJourneyPostgres runs the same journey on a fresh PostgreSQL database
// (skipped unless TWOSTEP_TEST_POSTGRES_URL is set).
func TestJourneyPostgres(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresDSN(t)
	s, sec := journey(t, dsn)
	s.stop()
	t.Run("no secrets in the log", func(t *testing.T) {
		assertLogClean(t, s.Log.String(), sec)
	})
	t.Run("key file guard", func(t *testing.T) { assertKeyFileGuard(t, s.instance) })
}
