package e2e

import (
	"fmt"
	"testing"

	"github.com/twostep/twostep/internal/store/storetest"
)

// scaleOut runs two instances on one database, as behind a load balancer
// (docs/deploy.md: replay protection, budgets, throttles and sessions hold
// across instances): a session from one works on the other, a code
// accepted by one is refused by the other, and failed codes spread over
// both still start the back-off after five.
func scaleOut(t *testing.T, database string) {
	in := newInstance(t, database)
	a, b := in.start(t), in.start(t)
	if a.url == b.url {
		t.Fatal("both servers report the same address")
	}
	u := a.setupTOTP(t, "kim")

	// Sessions: a token from a works on b, and b's logout ends it on a.
	tok := a.login(t, "kim").str(t, "token")
	b.call(t, "GET", "/api/v1/session", nil, bearer(tok)).want(t, 200, "a's session on b")

	// Replay: a code accepted by a is refused by b.
	code := u.gen.Next(t)
	a.call(t, "POST", "/api/v1/verify", map[string]string{"method": "totp", "code": code}, bearer(tok)).want(t, 200, "verify on a")
	tokB := b.login(t, "kim").str(t, "token")
	b.call(t, "POST", "/api/v1/verify", map[string]string{"method": "totp", "code": code}, bearer(tokB)).
		wantErr(t, 401, "invalid_code", "the same code on b")
	a.call(t, "DELETE", "/api/v1/session", nil, bearer(tokB)).want(t, 204, "logout on a of b's session")
	b.call(t, "GET", "/api/v1/session", nil, bearer(tokB)).wantErr(t, 401, "unauthenticated", "b's session after logout on a")

	// Throttle: five wrong codes spread over both instances (one of them
	// the replay above) lock the user on both.
	tok = b.login(t, "kim").str(t, "token")
	wrong := u.gen.Wrong()
	for i, s := range []*server{a, b, a, b} {
		s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "totp", "code": wrong}, bearer(tok)).
			wantErr(t, 401, "invalid_code", fmt.Sprintf("wrong code #%d", i+2))
	}
	for name, s := range map[string]*server{"a": a, "b": b} {
		r := s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "totp", "code": wrong}, bearer(tok))
		if r.status != 429 {
			t.Errorf("sixth attempt on %s after five failures spread over two instances: status %d, want 429 (throttles must hold across instances): %s",
				name, r.status, r.body)
		}
	}
}

// There is no SQLite variant: SQLite serves one instance (its limits are
// counted in memory); PostgreSQL is the scale-out backend.
// TestScaleOutPostgres runs two instances on one PostgreSQL database
// (skipped unless TWOSTEP_TEST_POSTGRES_URL is set).
func TestScaleOutPostgres(t *testing.T) {
	t.Parallel()
	scaleOut(t, storetest.PostgresDSN(t))
}
