package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/e2e/e2etest"
	"github.com/twostep/twostep/internal/store/storetest"
)

// The SMS/Text factor end to end (docs/sms.md): the journey with
// the file provider, each refusal, the pumping budget, a failing provider
// and what stays out of the log and the database. The real Kannel gateway
// is in kannel_test.go.

const (
	// smsPublicURL gives the texts a real host name for the WebOTP line.
	smsPublicURL = "https://login.example.com"
	smsHost      = "login.example.com"
	smsMasked    = "•••• 0123"
)

// smsInstance is an instance whose texts go to a file provider in its own
// temporary directory (not the instance's, so the database checks never
// read the texts).
func smsInstance(t *testing.T, database string, overrides ...string) (*instance, outbox) {
	t.Helper()
	ob := outbox{e2etest.Outbox{Path: filepath.Join(t.TempDir(), "sms.jsonl")}}
	env := append([]string{
		"TWOSTEP_SMS_PROVIDER=file",
		"TWOSTEP_SMS_FILE=" + ob.Path,
		"TWOSTEP_PUBLIC_URL=" + smsPublicURL,
	}, overrides...)
	return newInstance(t, database, env...), ob
}

// outbox reads what the file provider wrote (e2etest.Outbox).
type outbox struct{ e2etest.Outbox }

// lastCode returns the code of the newest text to e164, failing unless
// exactly want texts went to that number.
func (o outbox) lastCode(t *testing.T, e164 string, want int) string {
	t.Helper()
	ms := o.To(t, e164)
	if len(ms) != want {
		t.Fatalf("%d texts to %s, want %d: %+v", len(ms), e164, want, ms)
	}
	return codeOf(t, ms[len(ms)-1].Body)
}

// webOTPRE is the last line of every code text: "@<host> #<code>", after
// an empty line.
var webOTPRE = regexp.MustCompile(`\n\n@` + regexp.QuoteMeta(smsHost) + ` #([0-9]{6})$`)

// codeOf extracts the code from a text's WebOTP line and checks that the
// readable part carries the same code and the app name.
func codeOf(t *testing.T, body string) string {
	t.Helper()
	m := webOTPRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("text does not end with \"\\n\\n@%s #<6 digits>\": %q", smsHost, body)
	}
	code := m[1]
	human := strings.TrimSuffix(body, m[0])
	if !strings.Contains(human, code) || !strings.Contains(human, "twostep") {
		t.Errorf("the readable part of the text lacks the code or the app name: %q", body)
	}
	return code
}

// wrongCode returns a 6-digit code different from code, a different one
// for each i in 0..100.
func wrongCode(code string, i int) string {
	n, _ := strconv.Atoi(code)
	return fmt.Sprintf("%06d", (n+1+i*7919)%1_000_000)
}

// retryAfter returns the Retry-After seconds of a 429, failing unless they
// are within lo..hi.
func retryAfter(t *testing.T, r response, lo, hi int) int {
	t.Helper()
	ra, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || ra < lo || ra > hi {
		t.Fatalf("Retry-After = %q, want %d..%d seconds", r.header.Get("Retry-After"), lo, hi)
	}
	return ra
}

// userState summarises one user's security state in the SQLite database:
// factors, live SMS codes (hash, attempts, use), sessions, recovery codes
// and, with audit, the number of audit entries. Other users' activity
// (parallel subtests) does not change it.
func userState(t *testing.T, db *sql.DB, username string, audit bool) string {
	t.Helper()
	queries := []string{
		`SELECT f.id, f.type, f.status, f.preferred, f.label FROM factors f JOIN users u ON u.id = f.user_id
			WHERE u.username = $1 ORDER BY f.id`,
		`SELECT c.factor_id, c.code_hash, c.attempts, c.used_at, c.sent_at FROM sms_codes c JOIN users u ON u.id = c.user_id
			WHERE u.username = $1 ORDER BY c.factor_id`,
		`SELECT s.token_hash, s.aal, s.plan FROM sessions s JOIN users u ON u.id = s.user_id
			WHERE u.username = $1 ORDER BY s.token_hash`,
		`SELECT COUNT(*) FROM recovery_codes r JOIN users u ON u.id = r.user_id WHERE u.username = $1 AND r.used_at = 0`,
	}
	if audit {
		queries = append(queries, `SELECT COUNT(*) FROM audit_log WHERE username = $1`)
	}
	var parts []string
	for _, q := range queries {
		parts = append(parts, rowsText(t, db, q, username))
	}
	return strings.Join(parts, "\n")
}

// auditCount counts the user's audit entries of an event whose detail
// contains detail.
func auditCount(t *testing.T, db *sql.DB, username, event, detail string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM audit_log WHERE username = $1 AND event = $2 AND detail LIKE $3`,
		username, event, "%"+detail+"%").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// startSMS asks for a set-up text to (country, national).
func (s *server) startSMS(t *testing.T, tok, country, national string, opts ...reqOpt) response {
	t.Helper()
	return s.call(t, "POST", "/api/v1/setup/sms", map[string]string{"country": country, "phone": national},
		append([]reqOpt{bearer(tok)}, opts...)...)
}

// checkSMSStarted checks the answer to a set-up or challenge that sent a
// text and returns the factor id.
func checkSMSStarted(t *testing.T, r response, masked, what string) string {
	t.Helper()
	r.want(t, 200, what)
	m := r.obj(t)
	if m["phone"] != masked || m["expires_in"] != 300.0 {
		t.Errorf("%s: %s, want phone %q and expires_in 300", what, r.body, masked)
	}
	return r.str(t, "factor_id")
}

// maskPhone is how the server shows an E.164 number: its last four digits.
func maskPhone(e164 string) string { return "•••• " + e164[len(e164)-4:] }

// challengeSMS asks for a sign-in code (factor_id left to the server),
// which must be sent, and returns the factor it went to.
func (s *server) challengeSMS(t *testing.T, tok, e164 string) string {
	t.Helper()
	return checkSMSStarted(t, s.call(t, "POST", "/api/v1/challenge/sms", map[string]string{}, bearer(tok)), maskPhone(e164), "challenge sms")
}

// challengeRefused checks that a sign-in code asked for within 30 s of
// the phone's last text (the set-up text included) is refused with 429
// rate_limited and Retry-After of at most 30 s, and sends nothing.
func (s *server) challengeRefused(t *testing.T, ob outbox, tok, e164, what string) {
	t.Helper()
	n := len(ob.To(t, e164))
	r := s.call(t, "POST", "/api/v1/challenge/sms", map[string]string{}, bearer(tok))
	r.wantErr(t, 429, "rate_limited", what)
	retryAfter(t, r, 1, 30)
	if got := len(ob.To(t, e164)); got != n {
		t.Errorf("%s: %d texts sent although refused", what, got-n)
	}
}

// ageSMSCodes moves the user's live SMS codes d into the past, as if
// they had been sent d earlier: the server's clock cannot be set from
// outside, and this skips the 30 s resend cooldown or the 5 min validity
// without waiting. (Times in sms_codes are Unix milliseconds, on SQLite
// and PostgreSQL alike.) The 30 s cooldown is also waited out for real
// once, in TestSMSRefusals.
func ageSMSCodes(t *testing.T, db *sql.DB, username string, d time.Duration) {
	t.Helper()
	res, err := db.Exec(`UPDATE sms_codes SET sent_at = sent_at - $1, expires_at = expires_at - $1
		WHERE user_id = (SELECT id FROM users WHERE username = $2)`, d.Milliseconds(), username)
	if err != nil {
		t.Fatalf("age the SMS codes: %v", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatalf("age the SMS codes: %s has none", username)
	}
	// The set-up cooldown is the user's (auth.StartSMS), aged alike.
	if _, err := db.Exec(`UPDATE users SET sms_setup_at = sms_setup_at - $1 WHERE username = $2 AND sms_setup_at > 0`,
		d.Milliseconds(), username); err != nil {
		t.Fatalf("age the SMS set-up: %v", err)
	}
}

// enrolSMS creates the user, signs in and activates a phone with the code
// texted to it; it returns the aal2 token and the factor id.
func (s *server) enrolSMS(t *testing.T, ob outbox, name, national, e164 string) (string, string) {
	t.Helper()
	s.AddUser(t, name)
	tok := s.login(t, name).str(t, "token")
	s.call(t, "POST", "/api/v1/setup/plan", map[string]any{"methods": []string{"sms"}}, bearer(tok)).want(t, 200, "plan sms")
	id := checkSMSStarted(t, s.startSMS(t, tok, "US", national), maskPhone(e164), "setup sms")
	code := ob.lastCode(t, e164, len(ob.To(t, e164)))
	res := s.call(t, "POST", "/api/v1/setup/sms/confirm", map[string]string{"code": code}, bearer(tok)).want(t, 200, "confirm sms")
	if m := res.obj(t); m["aal"] != "aal2" || m["next"] != "done" {
		t.Fatalf("confirm sms: %s, want aal2 and done", res.body)
	}
	return res.str(t, "token"), id
}

// smsSecrets is what a journey handled that must stay secret: the general
// secrets, the SMS codes texted and the phone number in the forms it was
// typed and stored.
type smsSecrets struct {
	secrets
	smsCodes []string
	phone    []string
}

// smsJourney is the journey through the JSON API with the file
// provider: plan both methods, SMS first (the app refused before it), the
// text with its WebOTP line, confirm, then the app; later a sign-in with a
// code texted on request.
func smsJourney(t *testing.T, database string) (*server, outbox, smsSecrets) {
	const e164 = "+12015550123"
	in, ob := smsInstance(t, database)
	in.AddUser(t, "sam")
	s := in.start(t)
	sec := smsSecrets{
		secrets: secrets{password: e2etest.Password},
		phone:   []string{e164, "2015550123", "(201) 555-0123", "201-555-0123", "201 555 0123"},
	}

	res := s.login(t, "sam")
	tok1 := res.str(t, "token")
	sec.tokens = append(sec.tokens, tok1)
	if m := res.obj(t); m["aal"] != "aal1" || m["next"] != "setup" {
		t.Fatalf("first login: %s, want aal1 and setup", res.body)
	}

	// Both methods: SMS first, and the server holds to that order.
	plan := s.call(t, "POST", "/api/v1/setup/plan", map[string]any{"methods": []string{"totp", "sms"}}, bearer(tok1)).want(t, 200, "plan both")
	if got := plan.obj(t)["steps"]; !equalJSON(got, []any{"sms", "totp"}) {
		t.Fatalf("plan steps = %v, want [sms totp]", got)
	}
	s.call(t, "POST", "/api/v1/setup/totp", nil, bearer(tok1)).wantErr(t, 409, "plan_order", "app before SMS in a both-plan")
	if n := len(ob.All(t)); n != 0 {
		t.Fatalf("%d texts sent before any SMS set-up", n)
	}

	// SMS set-up: national input, masked answer, the text in the file.
	before := time.Now()
	factorID := checkSMSStarted(t, s.call(t, "POST", "/api/v1/setup/sms",
		map[string]string{"country": "US", "phone": "(201) 555-0123"}, bearer(tok1)), smsMasked, "setup sms")
	msgs := ob.All(t)
	if len(msgs) != 1 || msgs[0].To != e164 {
		t.Fatalf("texts after set-up: %+v, want one to %s", msgs, e164)
	}
	if at, _ := time.Parse(time.RFC3339Nano, msgs[0].SentAt); at.Before(before.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("sent_at %s is not the time of sending", msgs[0].SentAt)
	}
	code1 := codeOf(t, msgs[0].Body)
	sec.smsCodes = append(sec.smsCodes, code1)
	// A phone not yet confirmed is no method.
	if ms := s.call(t, "GET", "/api/v1/session", nil, bearer(tok1)).want(t, 200, "session").obj(t)["methods"]; !equalJSON(ms, []any{}) {
		t.Errorf("methods before the phone is confirmed: %v, want none", ms)
	}

	res = s.call(t, "POST", "/api/v1/setup/sms/confirm", map[string]string{"code": code1}, bearer(tok1)).want(t, 200, "confirm sms")
	m := res.obj(t)
	tok2 := res.str(t, "token")
	sec.tokens = append(sec.tokens, tok2)
	if m["aal"] != "aal2" || m["next"] != "setup_totp" || tok2 == tok1 {
		t.Errorf("confirm sms: %s, want aal2, next setup_totp and a new token", res.body)
	}
	rcs, _ := m["recovery_codes"].([]any)
	if len(rcs) != 10 {
		t.Fatalf("confirm sms returned %d recovery codes, want 10: %s", len(rcs), res.body)
	}
	for _, rc := range rcs {
		sec.recovery = append(sec.recovery, rc.(string))
	}
	s.call(t, "GET", "/api/v1/session", nil, bearer(tok1)).wantErr(t, 401, "unauthenticated", "aal1 token after confirm")

	// Then the authenticator app; no second set of recovery codes.
	st := s.call(t, "POST", "/api/v1/setup/totp", nil, bearer(tok2)).want(t, 200, "setup totp after sms")
	secret := st.str(t, "secret")
	sec.totp = append(sec.totp, secret)
	gen := e2etest.NewTOTPGen(t, secret)
	tcode := gen.Next(t)
	sec.codes = append(sec.codes, tcode)
	res = s.call(t, "POST", "/api/v1/setup/totp/confirm", map[string]string{"code": tcode}, bearer(tok2)).want(t, 200, "confirm totp")
	m = res.obj(t)
	tok3 := res.str(t, "token")
	sec.tokens = append(sec.tokens, tok3)
	if m["aal"] != "aal2" || m["next"] != "done" {
		t.Errorf("confirm totp: %s, want aal2 and done", res.body)
	}
	if rc, ok := m["recovery_codes"]; ok && !equalJSON(rc, []any{}) {
		t.Errorf("second factor returned recovery codes again: %s", res.body)
	}
	fl := s.call(t, "GET", "/api/v1/factors", nil, bearer(tok3)).want(t, 200, "factors")
	checkSMSMethod(t, fl.obj(t)["factors"], factorID, 2)
	s.call(t, "DELETE", "/api/v1/session", nil, bearer(tok3)).want(t, 204, "logout")

	// Later: password, then a code texted when asked for.
	res = s.login(t, "sam")
	tok4 := res.str(t, "token")
	sec.tokens = append(sec.tokens, tok4)
	m = res.obj(t)
	if m["aal"] != "aal1" || m["next"] != "verify" {
		t.Fatalf("second login: %s, want aal1 and verify", res.body)
	}
	checkSMSMethod(t, m["methods"], factorID, 2)
	if n := len(ob.All(t)); n != 1 {
		t.Errorf("%d texts after sign-in, want still 1: the code is sent only when asked", n)
	}
	// The set-up text came moments ago, but its code was used: a used
	// code holds no resend cooldown, so the sign-in code comes at once.
	if got := s.challengeSMS(t, tok4, e164); got != factorID {
		t.Errorf("challenge answered factor %s, want %s", got, factorID)
	}
	code2 := ob.lastCode(t, e164, 2)
	sec.smsCodes = append(sec.smsCodes, code2)
	res = s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "sms", "code": code2}, bearer(tok4)).want(t, 200, "verify sms")
	tok5 := res.str(t, "token")
	sec.tokens = append(sec.tokens, tok5)
	if res.obj(t)["aal"] != "aal2" || tok5 == tok4 || res.setTok != tok5 {
		t.Errorf("verify sms: %s, want aal2 with a new token in body and cookie", res.body)
	}
	s.call(t, "GET", "/api/v1/session", nil, bearer(tok4)).wantErr(t, 401, "unauthenticated", "aal1 token after verify")
	s.call(t, "DELETE", "/api/v1/session", nil, bearer(tok5)).want(t, 204, "logout")
	return s, ob, sec
}

// checkSMSMethod checks a list of methods: n of them, one the phone with
// its masked label.
func checkSMSMethod(t *testing.T, list any, factorID string, n int) {
	t.Helper()
	ms, _ := list.([]any)
	if len(ms) != n {
		t.Fatalf("methods = %v, want %d", list, n)
	}
	for _, x := range ms {
		f, _ := x.(map[string]any)
		if f["id"] == factorID {
			if f["type"] != "sms" || f["label"] != "SMS to "+smsMasked {
				t.Errorf("phone method = %v, want type sms, label %q", f, "SMS to "+smsMasked)
			}
			return
		}
	}
	t.Errorf("methods %v lack the phone %s", list, factorID)
}

// assertSMSSecretsAbsent fails for every form of the phone number and
// every SMS code found in data (a code counts only as a number of its
// own, not as part of a longer one).
func assertSMSSecretsAbsent(t *testing.T, name string, data []byte, sec smsSecrets) {
	t.Helper()
	for _, p := range sec.phone {
		for _, form := range []string{p, hex.EncodeToString([]byte(p))} {
			if bytes.Contains(bytes.ToLower(data), []byte(form)) {
				t.Errorf("%s contains the phone number as %q", name, form)
			}
		}
	}
	for _, c := range sec.smsCodes {
		if regexp.MustCompile(`(^|[^0-9])` + c + `([^0-9]|$)`).Match(data) {
			t.Errorf("%s contains the SMS code %s", name, c)
		}
	}
}

// TestSMSJourney runs the SMS journey on SQLite, then checks that neither
// the phone number nor any code texted (nor the other secrets) reached the
// log or the database files, and that the audit chain holds.
func TestSMSJourney(t *testing.T) {
	sqliteOnly(t, "TestSMSJourneyPostgres")
	t.Parallel()
	s, _, sec := smsJourney(t, "")
	running := readDBFiles(t, s.DBPath) // with the WAL of the running server
	if _, ok := running["twostep.db-wal"]; !ok {
		t.Error("no -wal file while the server runs: the WAL was not checked")
	}
	s.stop()
	t.Run("no secrets in the log", func(t *testing.T) {
		log := s.Log.String()
		assertLogClean(t, log, sec.secrets)
		assertSMSSecretsAbsent(t, "the log", []byte(log), sec)
	})
	t.Run("no secrets in the database", func(t *testing.T) {
		for _, files := range []map[string][]byte{running, readDBFiles(t, s.DBPath)} {
			assertNotAtRest(t, files, sec.secrets)
			for name, b := range files {
				assertSMSSecretsAbsent(t, name, b, sec)
			}
		}
	})
	t.Run("audit", func(t *testing.T) {
		db := s.OpenDB(t)
		if n := auditCount(t, db, "sam", "code_sent", smsMasked); n != 2 {
			t.Errorf("%d code_sent audit entries naming %s, want 2", n, smsMasked)
		}
		if out := s.MustCLI(t, "", "audit", "verify"); !strings.Contains(out, "intact") {
			t.Errorf("audit verify printed %q", out)
		}
	})
}

// TestSMSJourneyPostgres runs the SMS journey on PostgreSQL (skipped
// unless TWOSTEP_TEST_POSTGRES_URL is set) and searches every row of every
// table, as text, for the phone number and the codes. On PostgreSQL the
// limits and SMS budgets count in the database (table counters), so this
// also checks that no budget key holds the number in the clear.
func TestSMSJourneyPostgres(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresDSN(t)
	s, _, sec := smsJourney(t, dsn)
	db := s.OpenDB(t) // the PostgreSQL database dsn names
	rows, err := db.Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(tables, "factors") {
		t.Fatalf("tables %v lack factors", tables)
	}
	for _, table := range tables {
		var dump string
		if err := db.QueryRow(`SELECT COALESCE(string_agg(t::text, E'\n'), '') FROM "` + table + `" t`).Scan(&dump); err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		assertSMSSecretsAbsent(t, "PostgreSQL table "+table, []byte(dump), sec)
	}
	s.stop()
	assertLogClean(t, s.Log.String(), sec.secrets)
	assertSMSSecretsAbsent(t, "the log", []byte(s.Log.String()), sec)
}

// TestSMSRefusals: each refusal of the issue with its status and code,
// and no change to the user's state. One server; each subtest has its own
// user and number. Budgets are high and the back-off starts late so that
// only the rule under test can answer. Where a subtest needs time to pass
// (expiry, the resend cooldown) it ages the codes in the database, except
// for one real 30 s wait.
func TestSMSRefusals(t *testing.T) {
	t.Parallel()
	in, ob := smsInstance(t, "",
		"TWOSTEP_LIMITS_MAX_FAILURES=100",
		"TWOSTEP_LIMITS_VERIFY_PER_USER=100",
		"TWOSTEP_LIMITS_VERIFY_PER_IP=1000",
		"TWOSTEP_LIMITS_LOGIN_PER_IP=1000",
		"TWOSTEP_SMS_BUDGET_IP_HOUR=1000",
		"TWOSTEP_SMS_BUDGET_IP_DAY=1000",
		"TWOSTEP_SMS_BUDGET_USER_HOUR=1000",
		"TWOSTEP_SMS_BUDGET_USER_DAY=1000",
	)
	s := in.start(t)
	db := s.OpenDB(t)

	t.Run("invalid numbers", func(t *testing.T) {
		t.Parallel()
		s.AddUser(t, "ivan")
		tok := s.login(t, "ivan").str(t, "token")
		s.call(t, "POST", "/api/v1/setup/plan", map[string]any{"methods": []string{"sms"}}, bearer(tok)).want(t, 200, "plan sms")
		tests := []struct {
			name, country, phone string
			says                 []string // the message names what is wrong
		}{
			{"words", "US", "call me", []string{"not a phone number"}},
			{"too short", "US", "555", []string{"too short"}},
			{"no such area code", "US", "(099) 555-0123", []string{"does not exist"}},
			{"GB landline", "GB", "+44 20 7946 0000", []string{"landline"}},
			{"US toll-free", "US", "+1 800 234 5678", []string{"landline or a special number"}},
			{"unknown country", "XX", "2015550199", []string{"country"}},
			// A valid GB mobile, but only US is allowed (the default).
			{"country not allowed, international", "US", "+44 7400 123456", []string{"United Kingdom", "not enabled"}},
			{"country not allowed, national", "GB", "07400 123456", []string{"United Kingdom", "not enabled"}},
		}
		before := userState(t, db, "ivan", true)
		for _, tc := range tests {
			r := s.startSMS(t, tok, tc.country, tc.phone)
			r.wantErr(t, 400, "invalid_phone", tc.name)
			var e struct{ Error struct{ Message string } }
			_ = json.Unmarshal(r.body, &e)
			for _, w := range tc.says {
				if !strings.Contains(e.Error.Message, w) {
					t.Errorf("%s: message %q does not say %q", tc.name, e.Error.Message, w)
				}
			}
		}
		if after := userState(t, db, "ivan", true); after != before {
			t.Errorf("refused numbers changed the user's state:\nbefore %s\nafter  %s", before, after)
		}
		for _, e164 := range []string{"+447400123456", "+12015550199", "+442079460000", "+18002345678"} {
			if n := len(ob.To(t, e164)); n != 0 {
				t.Errorf("%d texts sent to refused number %s", n, e164)
			}
		}
	})

	// Expiry without waiting 5 minutes: the codes are aged in the
	// database (ageSMSCodes); internal/auth's TestSMSSignInCodes covers it
	// with an injected clock as well.
	t.Run("expired code", func(t *testing.T) {
		t.Parallel()
		const e164 = "+12015550110"
		s.AddUser(t, "edna")
		tok := s.login(t, "edna").str(t, "token")
		checkSMSStarted(t, s.startSMS(t, tok, "US", "201 555 0110"), maskPhone(e164), "setup sms")
		code := ob.lastCode(t, e164, 1)
		ageSMSCodes(t, db, "edna", 5*time.Minute+time.Second)
		before := userState(t, db, "edna", false)
		s.call(t, "POST", "/api/v1/setup/sms/confirm", map[string]string{"code": code}, bearer(tok)).
			wantErr(t, 401, "code_expired", "set-up code after 5 minutes")
		if after := userState(t, db, "edna", false); after != before {
			t.Errorf("the expired set-up code changed the state:\nbefore %s\nafter  %s", before, after)
		}

		// A new set-up (the cooldown is long over) and then a sign-in
		// code that expires.
		checkSMSStarted(t, s.startSMS(t, tok, "US", "201 555 0110"), maskPhone(e164), "setup sms again")
		code = ob.lastCode(t, e164, 2)
		res := s.call(t, "POST", "/api/v1/setup/sms/confirm", map[string]string{"code": code}, bearer(tok)).want(t, 200, "confirm")
		s.call(t, "DELETE", "/api/v1/session", nil, bearer(res.str(t, "token"))).want(t, 204, "logout")
		tok = s.login(t, "edna").str(t, "token")
		ageSMSCodes(t, db, "edna", 30*time.Second)
		s.challengeSMS(t, tok, e164)
		code = ob.lastCode(t, e164, 3)
		ageSMSCodes(t, db, "edna", 5*time.Minute+time.Second)
		before = userState(t, db, "edna", false)
		s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "sms", "code": code}, bearer(tok)).
			wantErr(t, 401, "code_expired", "sign-in code after 5 minutes")
		if after := userState(t, db, "edna", false); after != before {
			t.Errorf("the expired sign-in code changed the state:\nbefore %s\nafter  %s", before, after)
		}
		s.call(t, "GET", "/api/v1/factors", nil, bearer(tok)).wantErr(t, 403, "aal2_required", "session after the expired code")
	})

	t.Run("sixth attempt at set-up", func(t *testing.T) {
		t.Parallel()
		const e164 = "+12015550111"
		s.AddUser(t, "sixten")
		tok := s.login(t, "sixten").str(t, "token")
		checkSMSStarted(t, s.startSMS(t, tok, "US", "201-555-0111"), maskPhone(e164), "setup sms")
		code := ob.lastCode(t, e164, 1)
		for i := range 5 {
			s.call(t, "POST", "/api/v1/setup/sms/confirm", map[string]string{"code": wrongCode(code, i)}, bearer(tok)).
				wantErr(t, 400, "invalid_code", fmt.Sprintf("wrong code %d", i+1))
		}
		before := userState(t, db, "sixten", false)
		s.call(t, "POST", "/api/v1/setup/sms/confirm", map[string]string{"code": code}, bearer(tok)).
			wantErr(t, 401, "code_expired", "the right code as the 6th attempt")
		if after := userState(t, db, "sixten", false); after != before {
			t.Errorf("6th attempt changed the state:\nbefore %s\nafter  %s", before, after)
		}
		if !strings.Contains(userState(t, db, "sixten", false), ":pending:") {
			t.Error("the phone is no longer pending after the refused 6th attempt")
		}
		s.call(t, "GET", "/api/v1/factors", nil, bearer(tok)).wantErr(t, 403, "aal2_required", "session after the refused 6th attempt")
	})

	t.Run("sixth attempt at sign-in", func(t *testing.T) {
		t.Parallel()
		const e164 = "+12015550112"
		aal2, _ := s.enrolSMS(t, ob, "sixtina", "201.555.0112", e164)
		s.call(t, "DELETE", "/api/v1/session", nil, bearer(aal2)).want(t, 204, "logout")
		tok := s.login(t, "sixtina").str(t, "token")
		ageSMSCodes(t, db, "sixtina", 30*time.Second)
		s.challengeSMS(t, tok, e164)
		code := ob.lastCode(t, e164, 2)
		for i := range 5 {
			s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "sms", "code": wrongCode(code, i)}, bearer(tok)).
				wantErr(t, 401, "invalid_code", fmt.Sprintf("wrong code %d", i+1))
		}
		before := userState(t, db, "sixtina", false)
		s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "sms", "code": code}, bearer(tok)).
			wantErr(t, 401, "code_expired", "the right code as the 6th attempt")
		if after := userState(t, db, "sixtina", false); after != before {
			t.Errorf("6th attempt changed the state:\nbefore %s\nafter  %s", before, after)
		}
		s.call(t, "GET", "/api/v1/factors", nil, bearer(tok)).wantErr(t, 403, "aal2_required", "session after the refused 6th attempt")
	})

	t.Run("reused code", func(t *testing.T) {
		t.Parallel()
		const e164 = "+12015550113"
		aal2, _ := s.enrolSMS(t, ob, "rhea", "2015550113", e164)
		setupCode := ob.lastCode(t, e164, 1)
		s.call(t, "DELETE", "/api/v1/session", nil, bearer(aal2)).want(t, 204, "logout")
		tok := s.login(t, "rhea").str(t, "token")

		// The set-up code, used by the confirmation, at sign-in.
		before := userState(t, db, "rhea", false)
		s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "sms", "code": setupCode}, bearer(tok)).
			wantErr(t, 401, "code_expired", "the set-up code again at sign-in")
		if after := userState(t, db, "rhea", false); after != before {
			t.Errorf("the reused set-up code changed the state:\nbefore %s\nafter  %s", before, after)
		}

		// A sign-in code, used once, then again at the next sign-in.
		ageSMSCodes(t, db, "rhea", 30*time.Second)
		s.challengeSMS(t, tok, e164)
		code := ob.lastCode(t, e164, 2)
		res := s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "sms", "code": code}, bearer(tok)).want(t, 200, "verify")
		s.call(t, "DELETE", "/api/v1/session", nil, bearer(res.str(t, "token"))).want(t, 204, "logout")

		tok = s.login(t, "rhea").str(t, "token")
		before = userState(t, db, "rhea", false)
		s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "sms", "code": code}, bearer(tok)).
			wantErr(t, 401, "code_expired", "a used code again")
		if after := userState(t, db, "rhea", false); after != before {
			t.Errorf("the reused code changed the state:\nbefore %s\nafter  %s", before, after)
		}
		s.call(t, "GET", "/api/v1/factors", nil, bearer(tok)).wantErr(t, 403, "aal2_required", "session after the reused code")
	})

	// Resends: on the set-up path (a new POST /setup/sms) the 30 s
	// cooldown is waited out for real, the one wait of this package, and
	// the old code is then refused (400 invalid_code, as every wrong code
	// during set-up); on the sign-in path the codes are aged instead, and
	// the old code gets 401 invalid_code. The other subtests run
	// meanwhile.
	t.Run("resend cooldown and old code after resend", func(t *testing.T) {
		t.Parallel()
		const e164 = "+12015550114"
		s.AddUser(t, "oscar")
		tok := s.login(t, "oscar").str(t, "token")

		id0 := checkSMSStarted(t, s.startSMS(t, tok, "US", "(201) 555-0114"), maskPhone(e164), "setup sms")
		code0 := ob.lastCode(t, e164, 1)
		before := userState(t, db, "oscar", true)
		r := s.startSMS(t, tok, "US", "(201) 555-0114")
		r.wantErr(t, 429, "rate_limited", "setup resend at once")
		wait := retryAfter(t, r, 1, 30)
		// Another number does not escape the cooldown either.
		s.startSMS(t, tok, "US", "(201) 555-0115").wantErr(t, 429, "rate_limited", "setup with another number at once")
		if after := userState(t, db, "oscar", true); after != before {
			t.Errorf("the refused resends changed the state:\nbefore %s\nafter  %s", before, after)
		}
		ob.lastCode(t, e164, 1)
		if n := len(ob.To(t, "+12015550115")); n != 0 {
			t.Errorf("%d texts to the other number, want none", n)
		}

		time.Sleep(time.Duration(wait) * time.Second)
		id1 := checkSMSStarted(t, s.startSMS(t, tok, "US", "(201) 555-0114"), maskPhone(e164), "setup resend after Retry-After")
		code1 := ob.lastCode(t, e164, 2)
		if id1 == id0 {
			t.Errorf("the resend kept factor %s; a new set-up replaces the pending one", id0)
		}
		if code1 == code0 {
			t.Log("the new code equals the old one by chance (1 in 10^6); the old-code check is void")
		} else {
			s.call(t, "POST", "/api/v1/setup/sms/confirm", map[string]string{"code": code0}, bearer(tok)).
				wantErr(t, 400, "invalid_code", "the code from before the resend")
			if strings.Contains(userState(t, db, "oscar", false), ":active:") {
				t.Error("the old code activated the phone")
			}
		}
		res := s.call(t, "POST", "/api/v1/setup/sms/confirm", map[string]string{"code": code1}, bearer(tok)).want(t, 200, "the new code")
		if res.obj(t)["aal"] != "aal2" {
			t.Errorf("confirm: %s, want aal2", res.body)
		}
		s.call(t, "DELETE", "/api/v1/session", nil, bearer(res.str(t, "token"))).want(t, 204, "logout")

		// Sign-in: the set-up code was used, so the first sign-in code
		// comes at once; a resend at once is refused, and after the
		// cooldown the new code ends the old one.
		tok = s.login(t, "oscar").str(t, "token")
		s.challengeSMS(t, tok, e164)
		old := ob.lastCode(t, e164, 3)
		s.challengeRefused(t, ob, tok, e164, "sign-in resend at once")
		ageSMSCodes(t, db, "oscar", 30*time.Second)
		s.challengeSMS(t, tok, e164)
		fresh := ob.lastCode(t, e164, 4)
		if fresh == old {
			t.Log("the new code equals the old one by chance (1 in 10^6); the old-code check is void")
		} else {
			before := userState(t, db, "oscar", false)
			s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "sms", "code": old}, bearer(tok)).
				wantErr(t, 401, "invalid_code", "the sign-in code from before the resend")
			// The attempt counts against the new code; nothing else moves.
			if after := userState(t, db, "oscar", false); strings.Contains(after, ":aal2:") || after == "" {
				t.Errorf("the old code raised the session:\nbefore %s\nafter  %s", before, after)
			}
		}
		res = s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "sms", "code": fresh}, bearer(tok)).want(t, 200, "the new code")
		if res.obj(t)["aal"] != "aal2" {
			t.Errorf("verify: %s, want aal2", res.body)
		}
	})
}

// TestSMSPumping: one client IP asks for set-up texts to 1,000 different
// numbers, in parallel, spread over 50 users so that the per-IP budget is
// what binds (users, numbers, country and global have room). Exactly the
// hourly IP budget is sent; every other request is 429 rate_limited with
// Retry-After and sends nothing: those of users without a text in flight
// hit the budget (audited, retry in about an hour), the others the 30 s
// resend cooldown. Another IP still gets its text.
func TestSMSPumping(t *testing.T) {
	t.Parallel()
	const (
		budget  = 20
		users   = 50
		workers = 10
		total   = 1000
		pumpIP  = "203.0.113.66"
		otherIP = "198.51.100.7"
	)
	in, ob := smsInstance(t, "",
		"TWOSTEP_ADMIN_TOKEN="+adminToken,
		"TWOSTEP_METRICS_TOKEN="+metricsToken,
		"TWOSTEP_TRUSTED_PROXIES=127.0.0.1",
		"TWOSTEP_LIMITS_LOGIN_PER_IP=1000",
		"TWOSTEP_SMS_BUDGET_IP_HOUR="+strconv.Itoa(budget),
		"TWOSTEP_SMS_BUDGET_IP_DAY=50",
		"TWOSTEP_SMS_BUDGET_USER_HOUR=1000",
		"TWOSTEP_SMS_BUDGET_USER_DAY=1000",
		"TWOSTEP_SMS_BUDGET_NUMBER_HOUR=1000",
		"TWOSTEP_SMS_BUDGET_NUMBER_DAY=1000",
		"TWOSTEP_SMS_BUDGET_COUNTRY_HOUR=100000",
		"TWOSTEP_SMS_BUDGET_COUNTRY_DAY=100000",
		"TWOSTEP_SMS_BUDGET_GLOBAL_HOUR=100000",
		"TWOSTEP_SMS_BUDGET_GLOBAL_DAY=100000",
	)
	s := in.start(t)

	// 50 users through the admin API, each signed in.
	toks := make([]string, users)
	var wg sync.WaitGroup
	errs := make(chan error, users)
	for i := range users {
		wg.Go(func() {
			name := fmt.Sprintf("pump%02d", i)
			r, err := s.send("POST", "/api/v1/admin/users", map[string]string{"username": name, "password": e2etest.Password}, bearer(adminToken))
			if err == nil && r.status != 201 {
				err = fmt.Errorf("create %s: %d %s", name, r.status, r.body)
			}
			if err == nil {
				r, err = s.send("POST", "/api/v1/login", map[string]string{"username": name, "password": e2etest.Password})
			}
			if err == nil && r.status != 200 {
				err = fmt.Errorf("login %s: %d %s", name, r.status, r.body)
			}
			if err != nil {
				errs <- err
				return
			}
			var m struct{ Token string }
			_ = json.Unmarshal(r.body, &m)
			toks[i] = m.Token
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Worker w owns users w, w+10, ...: requests of one user never run in
	// parallel, so each worker knows whether its user has a text in flight.
	type tally struct{ ok, budget, cooldown int }
	results := make([]tally, workers)
	var sent sync.Map // E.164 numbers answered 200
	var next atomic.Int64
	fail := make(chan string, total)
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			mine := []int{}
			for u := w; u < users; u += workers {
				mine = append(mine, u)
			}
			hasText := map[int]bool{}
			for j := 0; ; j++ {
				n := next.Add(1) - 1
				if n >= total {
					return
				}
				u := mine[j%len(mine)]
				national := fmt.Sprintf("(201) 555-%04d", n)
				r, err := s.send("POST", "/api/v1/setup/sms", map[string]string{"country": "US", "phone": national},
					bearer(toks[u]), header("X-Forwarded-For", pumpIP))
				if err != nil {
					fail <- err.Error()
					return
				}
				ra, _ := strconv.Atoi(r.header.Get("Retry-After"))
				switch {
				case r.status == 200:
					results[w].ok++
					hasText[u] = true
					sent.Store(fmt.Sprintf("+1201555%04d", n), true)
				case r.status == 429 && bytes.Contains(r.body, []byte(`"rate_limited"`)) && hasText[u]:
					results[w].cooldown++
					if ra < 1 || ra > 30 {
						fail <- fmt.Sprintf("cooldown refusal with Retry-After %q", r.header.Get("Retry-After"))
					}
				case r.status == 429 && bytes.Contains(r.body, []byte(`"rate_limited"`)):
					results[w].budget++
					if ra <= 30 || ra > 3600 {
						fail <- fmt.Sprintf("budget refusal with Retry-After %q, want the rest of the hour", r.header.Get("Retry-After"))
					}
				default:
					fail <- fmt.Sprintf("%s: %d %s", national, r.status, r.body)
				}
			}
		})
	}
	wg.Wait()
	close(fail)
	for f := range fail {
		t.Error(f)
	}
	var sum tally
	for _, r := range results {
		sum.ok += r.ok
		sum.budget += r.budget
		sum.cooldown += r.cooldown
	}
	t.Logf("%d requests in %v: %d sent, %d over the IP budget, %d in the resend cooldown",
		total, time.Since(start).Round(time.Millisecond), sum.ok, sum.budget, sum.cooldown)
	if sum.ok != budget || sum.ok+sum.budget+sum.cooldown != total {
		t.Fatalf("%d requests answered 200, want exactly the budget %d (429: %d budget, %d cooldown)", sum.ok, budget, sum.budget, sum.cooldown)
	}

	// The file holds exactly the texts answered 200.
	msgs := ob.All(t)
	if len(msgs) != budget {
		t.Fatalf("%d texts in the file, want %d", len(msgs), budget)
	}
	for _, m := range msgs {
		if _, ok := sent.Load(m.To); !ok {
			t.Errorf("a text went to %s, which was not answered 200", m.To)
		}
		codeOf(t, m.Body)
	}

	// The first budget refusal of the window is audited, every one is
	// counted in the metrics: a flood writes one row, not one per request.
	db := s.OpenDB(t)
	var audited int
	if err := db.QueryRow(`SELECT COUNT(*) FROM audit_log WHERE event = 'rate_limited' AND detail LIKE '%sms_budget%' AND ip = $1`, pumpIP).Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if audited != 1 {
		t.Errorf("%d sms_budget audit entries for %s, want 1 (the first refusal of the window)", audited, pumpIP)
	}
	if got := metricValue(t, s, `twostep_refused_total{limit="sms_budget"}`); got != float64(sum.budget) {
		t.Errorf("twostep_refused_total{limit=\"sms_budget\"} = %v, want %d", got, sum.budget)
	}

	// The budget is the IP's, not everyone's: a user without a text in
	// flight, from another address, gets one.
	for u := range users {
		var pending int
		if err := db.QueryRow(`SELECT COUNT(*) FROM factors f JOIN users x ON x.id = f.user_id WHERE x.username = $1`,
			fmt.Sprintf("pump%02d", u)).Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if pending > 0 {
			continue
		}
		r := s.call(t, "POST", "/api/v1/setup/sms", map[string]string{"country": "US", "phone": "(201) 556-0000"},
			bearer(toks[u]), header("X-Forwarded-For", otherIP))
		checkSMSStarted(t, r, "•••• 0000", "set-up from another IP")
		ob.lastCode(t, "+12015560000", 1)
		return
	}
	t.Fatal("every user has a text in flight: no user left to try another IP")
}

// TestSMSProviderFailure: a webhook gateway answering 500 gets exactly one
// request for the click; the person reads 502 sms_failed with a plain
// sentence, the failure is audited, no phone is left behind, and asking
// again at once is not held up by the resend cooldown (the failed code
// was removed). The second request succeeds and the code it carried
// activates the phone.
func TestSMSProviderFailure(t *testing.T) {
	t.Parallel()
	const secret = "webhook-secret-for-e2e-0123456789"
	var (
		mu     sync.Mutex
		bodies [][]byte
		bad    []string
	)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		bodies = append(bodies, b)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(r.Header.Get("X-Twostep-Timestamp") + "."))
		mac.Write(b)
		if r.Method != "POST" || r.URL.Path != "/hook" || r.Header.Get("Content-Type") != "application/json" ||
			r.Header.Get("X-Twostep-Signature") != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
			bad = append(bad, fmt.Sprintf("%s %s %v", r.Method, r.URL.Path, r.Header))
		}
		if len(bodies) == 1 {
			http.Error(w, "gateway exploded", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(gw.Close)
	hits := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(bodies)
	}

	in := newInstance(t, "",
		"TWOSTEP_SMS_PROVIDER=webhook",
		"TWOSTEP_SMS_WEBHOOK_URL="+gw.URL+"/hook",
		"TWOSTEP_SMS_WEBHOOK_SECRET="+secret,
		"TWOSTEP_PUBLIC_URL="+smsPublicURL,
	)
	in.AddUser(t, "fay")
	s := in.start(t)
	db := s.OpenDB(t)
	tok := s.login(t, "fay").str(t, "token")
	s.call(t, "POST", "/api/v1/setup/plan", map[string]any{"methods": []string{"sms"}}, bearer(tok)).want(t, 200, "plan sms")

	before := userState(t, db, "fay", false)
	r := s.startSMS(t, tok, "US", "(201) 555-0123")
	r.wantErr(t, 502, "sms_failed", "set-up through a failing gateway")
	var e struct{ Error struct{ Message string } }
	_ = json.Unmarshal(r.body, &e)
	if !strings.Contains(e.Error.Message, "could not send the text") {
		t.Errorf("message %q does not say the text could not be sent", e.Error.Message)
	}
	for _, leak := range []string{"500", "exploded", "127.0.0.1", "http", "webhook", "status"} {
		if strings.Contains(strings.ToLower(e.Error.Message), leak) {
			t.Errorf("message %q shows the provider's detail %q", e.Error.Message, leak)
		}
	}
	time.Sleep(200 * time.Millisecond) // room for a stray retry to arrive
	if n := hits(); n != 1 {
		t.Fatalf("the gateway got %d requests for one click, want exactly 1", n)
	}
	if after := userState(t, db, "fay", false); after != before {
		t.Errorf("the failed send left state behind:\nbefore %s\nafter  %s", before, after)
	}
	if ms := s.call(t, "GET", "/api/v1/session", nil, bearer(tok)).want(t, 200, "session").obj(t)["methods"]; !equalJSON(ms, []any{}) {
		t.Errorf("methods after the failed send: %v, want none", ms)
	}
	if n := auditCount(t, db, "fay", "code_send_failed", smsMasked); n != 1 {
		t.Errorf("%d code_send_failed audit entries, want 1", n)
	}
	if !strings.Contains(s.Log.String(), "sms send failed") {
		t.Error("the log does not record the failed send")
	}

	// Again at once: no cooldown, and this time the gateway takes it.
	checkSMSStarted(t, s.startSMS(t, tok, "US", "(201) 555-0123"), smsMasked, "set-up right after the failure")
	if n := hits(); n != 2 {
		t.Fatalf("the gateway got %d requests after the second click, want 2", n)
	}
	mu.Lock()
	var sent e2etest.Text
	err := json.Unmarshal(bodies[1], &sent)
	mu.Unlock()
	if err != nil || sent.To != "+12015550123" {
		t.Fatalf("webhook body %s (%v), want a text to +12015550123", bodies[1], err)
	}
	res := s.call(t, "POST", "/api/v1/setup/sms/confirm", map[string]string{"code": codeOf(t, sent.Body)}, bearer(tok)).
		want(t, 200, "confirm with the code the gateway got")
	if res.obj(t)["aal"] != "aal2" {
		t.Errorf("confirm: %s, want aal2", res.body)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, b := range bad {
		t.Errorf("malformed webhook request: %s", b)
	}
}
