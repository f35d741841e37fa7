package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"database/sql"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", to inspect the store from outside

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL instances, opened from outside
	"github.com/twostep/twostep/internal/cli"
	"github.com/twostep/twostep/internal/e2e/e2etest"
	"github.com/twostep/twostep/internal/store/storetest"
)

// testPassword is a password that passes the policy; every test user has it.
const testPassword = "correct horse battery staple 42"

// adminToken is a valid admin token (at least 32 characters).
const adminToken = "e2e-admin-token-0123456789abcdef0123456789"

// e2etest.Log is a bytes.Buffer safe for the server goroutine to write while
// the test reads.
// instance is one twostep installation: its environment (database, key
// file, settings) and everything it wrote to stdout and stderr, from CLI
// commands and the server alike.
type instance struct {
	dir     string
	env     []string
	dbPath  string // "" unless the database is SQLite
	dsn     string // the PostgreSQL URL, "" for SQLite
	keyFile string
	log     *e2etest.Log
}

// newInstance returns an instance on database (empty: a new SQLite file in
// a temporary directory) with small argon2 parameters, a debug log and a
// random local port; overrides are KEY=VALUE pairs replacing or adding
// environment variables.
// sqliteOnly skips a test that inspects the SQLite file itself when the
// suite runs on PostgreSQL; its PostgreSQL twin says which.
func sqliteOnly(t *testing.T, twin string) {
	if storetest.OnPostgres() {
		t.Skipf("reads the SQLite database file; on PostgreSQL see %s", twin)
	}
}

func newInstance(t *testing.T, database string, overrides ...string) *instance {
	t.Helper()
	dir := t.TempDir()
	in := &instance{dir: dir, keyFile: filepath.Join(dir, "twostep.key"), log: &e2etest.Log{}}
	if database == "" && storetest.OnPostgres() {
		database = storetest.PostgresDSN(t)
	}
	switch {
	case database == "":
		in.dbPath = filepath.Join(dir, "twostep.db")
		database = "sqlite:" + in.dbPath
	case strings.HasPrefix(database, "postgres"):
		in.dsn = database
	case strings.HasPrefix(database, "sqlite:"):
		in.dbPath = strings.TrimPrefix(database, "sqlite:")
	}
	vars := map[string]string{
		"TWOSTEP_DATABASE":               database,
		"TWOSTEP_KEY_FILE":               in.keyFile,
		"TWOSTEP_PASSWORD_ARGON2_MEMORY": "64",
		"TWOSTEP_PASSWORD_ARGON2_TIME":   "1",
		"TWOSTEP_LOG_LEVEL":              "debug",
		"TWOSTEP_LISTEN":                 "127.0.0.1:0",
	}
	for _, kv := range overrides {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("override %q is not KEY=VALUE", kv)
		}
		vars[k] = v
	}
	for k, v := range vars {
		in.env = append(in.env, k+"="+v)
	}
	slices.Sort(in.env)
	// As an administrator would (or a first `twostep serve`): the
	// administrative commands tests run before starting the server work
	// only on an installation that exists.
	in.mustCLI(t, "", "migrate")
	return in
}

// cli runs a twostep command against the instance and returns its exit code
// and standard output; standard error goes to the instance's log (standard
// output is the command's answer, such as an invite link, not log).
func (in *instance) cli(t *testing.T, stdin string, args ...string) (int, string) {
	t.Helper()
	var out e2etest.Log
	code := cli.RunEnv(context.Background(), args, in.env, strings.NewReader(stdin), &out, in.log)
	return code, out.String()
}

// mustCLI is cli that fails the test on a non-zero exit code.
func (in *instance) mustCLI(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	code, out := in.cli(t, stdin, args...)
	if code != 0 {
		t.Fatalf("twostep %s: exit %d\nstdout: %s\nlog:\n%s", strings.Join(args, " "), code, out, in.log.String())
	}
	return out
}

// addUser creates a user with testPassword through the CLI.
func (in *instance) addUser(t *testing.T, name string) {
	t.Helper()
	in.mustCLI(t, testPassword+"\n", "user", "add", name, "--password-stdin")
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
	addr, stopServe, err := e2etest.Serve(in.env, in.log)
	if err != nil {
		t.Fatalf("%v; log:\n%s", err, in.log.String())
	}
	s, tr := in.serverAt(addr)
	s.stop = func() {
		tr.CloseIdleConnections()
		if code := stopServe(); code != 0 {
			t.Errorf("twostep serve exited with %d after cancel (-1: did not stop within 15 s); log:\n%s", code, in.log.String())
		}
	}
	t.Cleanup(s.stop)
	return s
}

// serverAt is the client side of a server of the instance listening on
// addr; the caller sets stop.
func (in *instance) serverAt(addr string) (*server, *http.Transport) {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	return &server{instance: in, url: "http://" + addr, client: &http.Client{
		Transport:     tr,
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, tr
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
	return s.call(t, "POST", "/api/v1/login", map[string]string{"username": user, "password": testPassword}, extra...).
		want(t, http.StatusOK, "login "+user)
}

// totpUser is a user with an active authenticator app, as the test knows it.
type totpUser struct {
	name      string
	secret    string // base32 as the server showed it
	gen       *totpGen
	factorID  string
	aal2      string // token of the aal2 session from the set-up
	recovery  []string
	codesUsed []string
}

// setupTOTP creates user name with the CLI, signs in and sets up an
// authenticator app with a code computed here.
func (s *server) setupTOTP(t *testing.T, name string) *totpUser {
	t.Helper()
	s.addUser(t, name)
	return s.enrolTOTP(t, name, s.login(t, name).str(t, "token"))
}

// enrolTOTP sets up an authenticator app for the user of the aal1 session
// tok, confirming it with a code computed here.
func (s *server) enrolTOTP(t *testing.T, name, tok string) *totpUser {
	t.Helper()
	s.call(t, "POST", "/api/v1/setup/plan", map[string]any{"methods": []string{"totp"}}, bearer(tok)).want(t, 200, "plan")
	st := s.call(t, "POST", "/api/v1/setup/totp", nil, bearer(tok)).want(t, 200, "setup totp")
	u := &totpUser{name: name, secret: st.str(t, "secret"), factorID: st.str(t, "factor_id")}
	u.gen = newTOTPGen(t, u.secret)
	code := u.gen.next(t)
	u.codesUsed = append(u.codesUsed, code)
	res := s.call(t, "POST", "/api/v1/setup/totp/confirm", map[string]string{"code": code}, bearer(tok)).want(t, 200, "confirm totp")
	u.aal2 = res.str(t, "token")
	for _, c := range res.obj(t)["recovery_codes"].([]any) {
		u.recovery = append(u.recovery, c.(string))
	}
	return u
}

// RFC 6238 with SHA-1, 6 digits and 30 s steps, written here from the RFC
// so the tests do not trust internal/totp.
const period = 30

func totpCode(secret []byte, step int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	h := m.Sum(nil)
	off := h[len(h)-1] & 0x0f
	v := binary.BigEndian.Uint32(h[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000)
}

func decodeB32(t *testing.T, s string) []byte {
	t.Helper()
	s = strings.ToUpper(strings.ReplaceAll(strings.TrimRight(s, "="), " ", ""))
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		t.Fatalf("secret %q is not base32: %v", s, err)
	}
	return b
}

// totpGen hands out codes for strictly increasing time steps, as the
// server's replay protection demands: the current step first, then the next
// one (accepted thanks to the ±1 step skew), waiting only when a step two
// or more ahead would be needed.
type totpGen struct {
	secret []byte
	last   int64
}

func newTOTPGen(t *testing.T, b32 string) *totpGen {
	return &totpGen{secret: decodeB32(t, b32)}
}

func nowStep() int64 { return time.Now().Unix() / period }

func (g *totpGen) next(t *testing.T) string {
	t.Helper()
	step := max(nowStep(), g.last+1)
	if wait := time.Until(time.Unix((step-1)*period, 0)); wait > 0 {
		t.Logf("waiting %v for TOTP step %d", wait.Round(time.Millisecond), step)
		time.Sleep(wait)
	}
	g.last = step
	return totpCode(g.secret, step)
}

// wrong returns a 6-digit code valid at no step the server could accept
// in the next minutes.
func (g *totpGen) wrong() string {
	now := nowStep()
	for c := 0; ; c++ {
		code := fmt.Sprintf("%06d", (c*137_731)%1_000_000)
		ok := true
		for s := now - 3; s <= now+6; s++ {
			if totpCode(g.secret, s) == code {
				ok = false
			}
		}
		if ok {
			return code
		}
	}
}

// openDB opens the instance's database from outside the server.
func (in *instance) openDB(t *testing.T) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite", "file:"+in.dbPath+"?_pragma=busy_timeout(10000)"
	if in.dsn != "" {
		driver, dsn = "pgx", in.dsn
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
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

// TestTOTPHelper checks the test's own RFC 6238 code against the RFC's
// Appendix B vectors (SHA-1, reduced to 6 digits).
func TestTOTPHelper(t *testing.T) {
	secret := []byte("12345678901234567890")
	tests := []struct {
		unix int64
		want string // last 6 digits of the RFC's 8-digit value
	}{
		{59, "287082"},
		{1111111109, "081804"},
		{1111111111, "050471"},
		{1234567890, "005924"},
		{2000000000, "279037"},
		{20000000000, "353130"},
	}
	for _, tc := range tests {
		if got := totpCode(secret, tc.unix/period); got != tc.want {
			t.Errorf("totpCode(T=%d) = %s, want %s", tc.unix, got, tc.want)
		}
	}
}
