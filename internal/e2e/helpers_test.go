package e2e

import (
	"bytes"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/twostep/twostep/internal/e2e/e2etest"
	"github.com/twostep/twostep/internal/store/storetest"
)

// adminToken is a valid admin token (at least 32 characters).
const adminToken = "e2e-admin-token-0123456789abcdef0123456789"

// instance is one twostep installation (e2etest.Instance) as the tests
// here use it: with a debug log.
type instance struct {
	*e2etest.Instance
}

// sqliteOnly skips a test that inspects the SQLite file itself when the
// suite runs on PostgreSQL; its PostgreSQL twin says which.
func sqliteOnly(t *testing.T, twin string) {
	if storetest.OnPostgres() {
		t.Skipf("reads the SQLite database file; on PostgreSQL see %s", twin)
	}
}

// newInstance returns a migrated instance on database (empty: a new SQLite
// file in a temporary directory, or a new PostgreSQL database when the
// suite runs on PostgreSQL) with a debug log; overrides are KEY=VALUE
// pairs replacing or adding environment variables (e2etest.NewInstance).
func newInstance(t *testing.T, database string, overrides ...string) *instance {
	t.Helper()
	settings := append([]string{"TWOSTEP_LOG_LEVEL=debug"}, overrides...)
	return &instance{e2etest.NewInstance(t, database, settings...)}
}

// server is a running `twostep serve`.
type server struct {
	*instance
	url    string
	client *http.Client
	stop   func() // stops the server and waits for it; safe to call twice
}

// start runs `twostep serve` for the instance in a goroutine, waits for its
// start-up log line and returns the server. It is stopped at test cleanup
// (or earlier by calling stop), and its exit code must then be 0.
func (in *instance) start(t *testing.T) *server {
	t.Helper()
	addr, stopServe := in.Start(t)
	s, tr := in.serverAt(addr)
	s.stop = func() {
		tr.CloseIdleConnections()
		stopServe()
	}
	t.Cleanup(s.stop)
	return s
}

// serverAt is the client side of a server of the instance listening on
// addr; the caller sets stop.
func (in *instance) serverAt(addr string) (*server, *http.Transport) {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	return &server{instance: in, url: "http://" + addr, client: e2etest.NewClient(tr, nil)}, tr
}

// response is an HTTP answer with its body read.
type response struct {
	status int
	header http.Header
	body   []byte
	setTok string // value of the twostep_session cookie set, if any
	cookie *http.Cookie
}

// reqOpt changes a request before it is sent.
type reqOpt func(*http.Request)

// bearer presents tok as "Authorization: Bearer tok".
func bearer(tok string) reqOpt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

// cookie presents tok as the twostep_session cookie.
func cookie(tok string) reqOpt {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "twostep_session", Value: tok}) }
}

// header sets a request header ("" value deletes it).
func header(k, v string) reqOpt {
	return func(r *http.Request) {
		if v == "" {
			r.Header.Del(k)
			return
		}
		r.Header.Set(k, v)
	}
}

// call sends a request. body is nil (no body), a string (sent as is) or a
// value sent as JSON; any body is labelled application/json unless an
// option changes that.
func (s *server) call(t *testing.T, method, path string, body any, opts ...reqOpt) response {
	t.Helper()
	r, err := s.send(method, path, body, opts...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// send is call for any goroutine: it returns the error instead of failing.
func (s *server) send(method, path string, body any, opts ...reqOpt) (response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return response{}, fmt.Errorf("marshal request body: %w", err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		return response{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	res, err := s.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, fmt.Errorf("read body: %w", err)
	}
	r := response{status: res.StatusCode, header: res.Header, body: b}
	for _, c := range res.Cookies() {
		// __Host- over HTTPS (httpx.Cookies)
		if strings.TrimPrefix(c.Name, "__Host-") == "twostep_session" {
			r.cookie, r.setTok = c, c.Value
		}
	}
	return r, nil
}

// together sends n requests at once: each goroutine waits for one start
// signal, so they reach the servers as nearly together as the machine
// allows. It returns the answers and transport errors by request index.
func together(n int, send func(i int) (response, error)) ([]response, []error) {
	res, errs := make([]response, n), make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			res[i], errs[i] = send(i)
		})
	}
	close(start)
	wg.Wait()
	return res, errs
}

// want fails the test unless the status is status.
func (r response) want(t *testing.T, status int, what string) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body: %s", what, r.status, status, r.body)
	}
	return r
}

// obj decodes the body as a JSON object.
func (r response) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// str returns the string field k of the JSON body, failing if it is missing
// or empty.
func (r response) str(t *testing.T, k string) string {
	t.Helper()
	v, ok := r.obj(t)[k].(string)
	if !ok || v == "" {
		t.Fatalf("body has no string %q: %s", k, r.body)
	}
	return v
}

// errCode checks the API error shape {"error":{"code","message"}} (JSON
// content type, non-empty message) and returns the code.
func (r response) errCode(t *testing.T) string {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error response Content-Type = %q, want application/json", ct)
	}
	var e struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error == nil {
		t.Fatalf("body is not {\"error\":{...}}: %s", r.body)
	}
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Errorf("error code or message empty: %s", r.body)
	}
	// A human sentence: no hole left by an empty interpolated value.
	if strings.Contains(e.Error.Message, "  ") {
		t.Errorf("error message %q has a gap where a value is missing", e.Error.Message)
	}
	if !regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)*$`).MatchString(e.Error.Code) {
		t.Errorf("error code %q is not snake_case", e.Error.Code)
	}
	return e.Error.Code
}

// wantErr checks status and error code.
func (r response) wantErr(t *testing.T, status int, code, what string) {
	t.Helper()
	r.want(t, status, what)
	if got := r.errCode(t); got != code {
		t.Fatalf("%s: error code %q, want %q; body: %s", what, got, code, r.body)
	}
}

// login posts the credentials and returns the answer, which must be 200.
func (s *server) login(t *testing.T, user string, extra ...reqOpt) response {
	t.Helper()
	return s.call(t, "POST", "/api/v1/login", map[string]string{"username": user, "password": e2etest.Password}, extra...).
		want(t, http.StatusOK, "login "+user)
}

// totpUser is a user with an active authenticator app, as the test knows it.
type totpUser struct {
	name      string
	secret    string // base32 as the server showed it
	gen       *e2etest.TOTPGen
	factorID  string
	aal2      string // token of the aal2 session from the set-up
	recovery  []string
	codesUsed []string
}

// setupTOTP creates user name with the CLI, signs in and sets up an
// authenticator app with a code computed here.
func (s *server) setupTOTP(t *testing.T, name string) *totpUser {
	t.Helper()
	s.AddUser(t, name)
	return s.enrolTOTP(t, name, s.login(t, name).str(t, "token"))
}

// enrolTOTP sets up an authenticator app for the user of the aal1 session
// tok, confirming it with a code computed here.
func (s *server) enrolTOTP(t *testing.T, name, tok string) *totpUser {
	t.Helper()
	s.call(t, "POST", "/api/v1/setup/plan", map[string]any{"methods": []string{"totp"}}, bearer(tok)).want(t, 200, "plan")
	st := s.call(t, "POST", "/api/v1/setup/totp", nil, bearer(tok)).want(t, 200, "setup totp")
	u := &totpUser{name: name, secret: st.str(t, "secret"), factorID: st.str(t, "factor_id")}
	u.gen = e2etest.NewTOTPGen(t, u.secret)
	code := u.gen.Next(t)
	u.codesUsed = append(u.codesUsed, code)
	res := s.call(t, "POST", "/api/v1/setup/totp/confirm", map[string]string{"code": code}, bearer(tok)).want(t, 200, "confirm totp")
	u.aal2 = res.str(t, "token")
	for _, c := range res.obj(t)["recovery_codes"].([]any) {
		u.recovery = append(u.recovery, c.(string))
	}
	return u
}

// snapshot summarises the security state in the database: sessions,
// factors, recovery codes, accepted TOTP steps and the audit trail. A
// refused request must leave it unchanged.
func snapshot(t *testing.T, db *sql.DB) string {
	t.Helper()
	queries := []string{
		`SELECT COUNT(*) FROM sessions`,
		`SELECT token_hash, aal, plan FROM sessions ORDER BY token_hash`,
		`SELECT id, status, preferred FROM factors ORDER BY id`,
		`SELECT COUNT(*) FROM recovery_codes WHERE used_at = 0`,
		`SELECT username, disabled, mfa_failures FROM users ORDER BY username`,
		`SELECT id, totp_last_step FROM factors ORDER BY id`,
		`SELECT COUNT(*) FROM invites WHERE used_at = 0`,
		`SELECT COUNT(*) FROM audit_log`,
	}
	var parts []string
	for _, q := range queries {
		parts = append(parts, rowsText(t, db, q))
	}
	return strings.Join(parts, "\n")
}

// rowsText runs a query (plain SQL, valid on SQLite and PostgreSQL) and
// writes its rows as "col:col,col:col", bytes in hex, for comparing states.
func rowsText(t *testing.T, db *sql.DB, q string, args ...any) string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("state %q: %v", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("state %q: %v", q, err)
		}
		fields := make([]string, len(vals))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				fields[i] = hex.EncodeToString(b)
			} else {
				fields[i] = fmt.Sprint(v)
			}
		}
		out = append(out, strings.Join(fields, ":"))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("state %q: %v", q, err)
	}
	return strings.Join(out, ",")
}
