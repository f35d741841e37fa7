package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/e2e/e2etest"
)

// TestBadInput sends malformed, unauthorised and cross-origin requests.
// Each gets its status and error code in the API's error shape (docs/api.md) with a message,
// and none changes anything: the database's sessions, factors, recovery
// codes, accepted TOTP steps and audit trail are the same after it, and
// the sessions it used keep their level.
func TestBadInput(t *testing.T) {
	t.Parallel()
	in := newInstance(t, "", "TWOSTEP_LIMITS_VERIFY_PER_USER=1000")
	s := in.start(t)
	u := s.setupTOTP(t, "ivan")
	aal2 := u.aal2
	aal1 := s.login(t, "ivan").str(t, "token")
	db := in.OpenDB(t)

	const (
		none = iota
		withAAL1
		withAAL2
	)
	json := "application/json"
	tests := []struct {
		name        string
		method      string
		path        string
		body        string
		contentType string // "" sends none
		session     int
		headers     map[string]string
		status      int
		code        string
	}{
		// Request bodies.
		{"malformed JSON", "POST", "/api/v1/login", `{"username":"ivan",`, json, none, nil, 400, "invalid_json"},
		{"not an object", "POST", "/api/v1/login", `["ivan"]`, json, none, nil, 400, "invalid_json"},
		{"wrong type", "POST", "/api/v1/login", `{"username":1,"password":"x"}`, json, none, nil, 400, "invalid_request"},
		{"unknown field", "POST", "/api/v1/login", `{"username":"ivan","password":"x","admin":true}`, json, none, nil, 400, "invalid_request"},
		{"trailing data", "POST", "/api/v1/login", `{"username":"ivan","password":"x"} {}`, json, none, nil, 400, "invalid_json"},
		{"empty body", "POST", "/api/v1/login", ``, json, none, nil, 400, "invalid_json"},
		{"body over 8 KiB", "POST", "/api/v1/login", `{"username":"ivan","password":"` + strings.Repeat("a", 9<<10) + `"}`, json, none, nil, 413, "body_too_large"},
		{"no content type", "POST", "/api/v1/login", `{"username":"ivan","password":"x"}`, "", none, nil, 415, "unsupported_media_type"},
		{"form content type", "POST", "/api/v1/login", `username=ivan&password=x`, "application/x-www-form-urlencoded", none, nil, 415, "unsupported_media_type"},
		{"text/plain content type", "POST", "/api/v1/verify", `{"method":"totp","code":"123456"}`, "text/plain", withAAL1, nil, 415, "unsupported_media_type"},
		{"empty credentials", "POST", "/api/v1/login", `{"username":"","password":""}`, json, none, nil, 400, "invalid_request"},

		// Malformed codes: 400 and not counted as failures (more than the
		// five failures that would start a lock).
		{"code with a space", "POST", "/api/v1/verify", `{"method":"totp","code":"12 345"}`, json, withAAL1, nil, 400, "invalid_code"},
		{"code with letters", "POST", "/api/v1/verify", `{"method":"totp","code":"abcdef"}`, json, withAAL1, nil, 400, "invalid_code"},
		{"code too short", "POST", "/api/v1/verify", `{"method":"totp","code":"12345"}`, json, withAAL1, nil, 400, "invalid_code"},
		{"code too long", "POST", "/api/v1/verify", `{"method":"totp","code":"1234567890"}`, json, withAAL1, nil, 400, "invalid_code"},
		{"empty code", "POST", "/api/v1/verify", `{"method":"totp","code":""}`, json, withAAL1, nil, 400, "invalid_code"},
		{"signed code", "POST", "/api/v1/verify", `{"method":"totp","code":"+12345"}`, json, withAAL1, nil, 400, "invalid_code"},
		{"malformed recovery code", "POST", "/api/v1/verify", `{"method":"recovery","code":"0000-iiiii"}`, json, withAAL1, nil, 400, "invalid_code"},
		{"unknown method", "POST", "/api/v1/verify", `{"method":"email","code":"123456"}`, json, withAAL1, nil, 400, "invalid_request"},
		{"unknown plan method", "POST", "/api/v1/setup/plan", `{"methods":["email"]}`, json, withAAL1, nil, 400, "invalid_request"},

		// No session, or too low a level.
		{"no session", "GET", "/api/v1/session", "", "", none, nil, 401, "unauthenticated"},
		{"unknown token", "GET", "/api/v1/session", "", "", none, map[string]string{"Authorization": "Bearer " + strings.Repeat("A", 43)}, 401, "unauthenticated"},
		{"other auth scheme", "GET", "/api/v1/session", "", "", none, map[string]string{"Authorization": "Basic aXZhbjp4"}, 401, "unauthenticated"},
		{"verify without session", "POST", "/api/v1/verify", `{"method":"totp","code":"123456"}`, json, none, nil, 401, "unauthenticated"},
		{"logout without session", "DELETE", "/api/v1/session", "", "", none, nil, 401, "unauthenticated"},
		{"factors at aal1", "GET", "/api/v1/factors", "", "", withAAL1, nil, 403, "aal2_required"},
		{"new recovery codes at aal1", "POST", "/api/v1/recovery-codes", "", "", withAAL1, nil, 403, "aal2_required"},
		{"remove factor at aal1", "DELETE", "/api/v1/factors/" + u.factorID, "", "", withAAL1, nil, 403, "aal2_required"},
		{"preferred at aal1", "POST", "/api/v1/factors/" + u.factorID + "/preferred", "", "", withAAL1, nil, 403, "aal2_required"},
		{"second app at aal1", "POST", "/api/v1/setup/totp", "", "", withAAL1, nil, 403, "aal2_required"},
		{"plan at aal1 with a factor", "POST", "/api/v1/setup/plan", `{"methods":["totp"]}`, json, withAAL1, nil, 403, "aal2_required"},
		{"remove the last factor", "DELETE", "/api/v1/factors/" + u.factorID, "", "", withAAL2, nil, 409, "last_factor"},
		{"remove an unknown factor", "DELETE", "/api/v1/factors/nosuchfactor", "", "", withAAL2, nil, 404, "not_found"},
		{"admin API disabled", "GET", "/api/v1/admin/users", "", "", none, map[string]string{"Authorization": "Bearer " + adminToken}, 401, "unauthenticated"},

		// Unknown calls, methods not built yet, and SMS without a phone.
		{"unknown API path", "GET", "/api/v1/nope", "", "", none, nil, 404, "not_found"},
		{"unknown API version", "POST", "/api/v2/login", `{}`, json, none, nil, 404, "not_found"},
		{"passkey verify", "POST", "/api/v1/verify", `{"method":"webauthn","code":"x"}`, json, withAAL1, nil, 501, "not_implemented"},
		{"SMS set-up at aal1 with a factor", "POST", "/api/v1/setup/sms", `{"country":"US","phone":"(201) 555-0123"}`, json, withAAL1, nil, 403, "aal2_required"},
		{"SMS confirm at aal1 with a factor", "POST", "/api/v1/setup/sms/confirm", `{"code":"123456"}`, json, withAAL1, nil, 403, "aal2_required"},
		{"SMS challenge without a phone", "POST", "/api/v1/challenge/sms", `{}`, json, withAAL1, nil, 409, "no_factor"},
		{"SMS verify without a phone", "POST", "/api/v1/verify", `{"method":"sms","code":"123456"}`, json, withAAL1, nil, 409, "no_factor"},

		// Cross-origin state changes (CSRF).
		{"cross-site login", "POST", "/api/v1/login", `{"username":"ivan","password":"` + e2etest.Password + `"}`, json, none, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "cross_origin"},
		{"foreign origin login", "POST", "/api/v1/login", `{"username":"ivan","password":"` + e2etest.Password + `"}`, json, none, map[string]string{"Origin": "https://evil.example"}, 403, "cross_origin"},
		{"cross-site logout", "DELETE", "/api/v1/session", "", "", withAAL2, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "cross_origin"},
		{"foreign origin verify", "POST", "/api/v1/verify", `{"method":"totp","code":"123456"}`, json, withAAL1, map[string]string{"Origin": "https://evil.example"}, 403, "cross_origin"},
		{"same-site but not same-origin", "POST", "/api/v1/recovery-codes", "", "", withAAL2, map[string]string{"Sec-Fetch-Site": "same-site"}, 403, "cross_origin"},
	}

	before := snapshot(t, db)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []reqOpt
			switch tc.session {
			case withAAL1:
				opts = append(opts, bearer(aal1))
			case withAAL2:
				opts = append(opts, cookie(aal2))
			}
			var body any
			if tc.body != "" || tc.contentType != "" {
				body = tc.body
			}
			opts = append(opts, header("Content-Type", tc.contentType))
			for k, v := range tc.headers {
				opts = append(opts, header(k, v))
			}
			r := s.call(t, tc.method, tc.path, body, opts...)
			r.wantErr(t, tc.status, tc.code, tc.name)
			if got := snapshot(t, db); got != before {
				t.Fatalf("state changed:\nbefore:\n%s\nafter:\n%s", before, got)
			}
		})
	}

	// The sessions kept their levels and the factor list is unchanged.
	if m := s.call(t, "GET", "/api/v1/session", nil, bearer(aal1)).want(t, 200, "aal1 session").obj(t); m["aal"] != "aal1" {
		t.Errorf("aal1 session now at %v", m["aal"])
	}
	fl := s.call(t, "GET", "/api/v1/factors", nil, cookie(aal2)).want(t, 200, "factors")
	if fs, _ := fl.obj(t)["factors"].([]any); len(fs) != 1 || fs[0].(map[string]any)["id"] != u.factorID {
		t.Errorf("factors = %s, want only %s", fl.body, u.factorID)
	}
	// Seven malformed codes were not failures: the right code still works.
	res := s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "totp", "code": u.gen.Next(t)}, bearer(aal1)).
		want(t, http.StatusOK, "right code after the malformed ones")
	if res.obj(t)["aal"] != "aal2" {
		t.Errorf("verify: %s", res.body)
	}
}
