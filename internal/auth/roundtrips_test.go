package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/auth/authtest"
	"github.com/twostep/twostep/internal/store/storetest"
	"github.com/twostep/twostep/internal/totp"
)

// TestVerifyRoundTrips counts what one successful TOTP verification sends
// to the database, as POST /api/v1/verify runs it: the session's
// authentication, then Verify (the attempt's lease, the factors, the
// rotation, the audit entry). The numbers are asserted, so a change that
// adds a round trip fails here and says which; docs/benchmarks.md explains
// them. Run on PostgreSQL with TWOSTEP_TEST_BACKEND=postgres.
func TestVerifyRoundTrips(t *testing.T) {
	st, counter := storetest.NewCounting(t)
	e := authtest.NewOn(t, authtest.Config(), nil, st)
	svc, ctx := e.Service, context.Background()
	client := auth.Client{IP: "192.0.2.1", UserAgent: "test"}

	// A user with an authenticator app, signed in with the password again.
	_, secret := e.SignedInTOTP(t, "alice")
	res, err := svc.Login(ctx, client, auth.Credentials{Username: "alice", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Add(30 * time.Second) // the confirmation used this step

	counter.Start()
	cur, err := svc.Authenticate(ctx, res.Token)
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Verify(ctx, client, cur, auth.Proof{Method: "totp", Code: totp.Code(secret, totp.DefaultParams(), e.Clock.Now())})
	got := counter.Stop()
	if err != nil || p.AAL != "aal2" {
		t.Fatalf("Verify = %+v, %v", p, err)
	}

	want := struct {
		statements, transactions, roundTrips int
		log                                  string
	}{11, 2, 15, verifyLog}
	if storetest.OnPostgres() {
		// The rotation is one pipelined batch (store.rotatePostgres); the
		// audit queue takes its advisory lock first.
		want.statements, want.roundTrips = 12, 12
		want.log = strings.NewReplacer(
			"BEGIN, UPDATE factors, UPDATE factors, UPDATE users, DELETE sessions, INSERT sessions, COMMIT",
			"BEGIN, BATCH, +UPDATE factors, +UPDATE factors, +UPDATE users, +DELETE sessions, +INSERT sessions, COMMIT",
			"BEGIN, SELECT audit_log", "BEGIN, SELECT pg_advisory_xact_lock, SELECT audit_log").Replace(verifyLog)
	}
	log := strings.Join(got.Log, ", ")
	t.Logf("one TOTP verification: %d statements, %d transactions, %d round trips: %s", got.Statements(), got.Commits, got.RoundTrips(), log)
	if got.Statements() != want.statements || got.Commits != want.transactions || got.RoundTrips() != want.roundTrips || got.Rollbacks != 0 || log != want.log {
		t.Errorf("one TOTP verification sent %d statements in %d transactions, %d round trips; want %d in %d, %d:\n got: %s\nwant: %s",
			got.Statements(), got.Commits, got.RoundTrips(), want.statements, want.transactions, want.roundTrips, log, want.log)
	}
}

// verifyLog is what one TOTP verification sends on SQLite: the session and
// its user (authentication), the attempt's lease (one conditional UPDATE,
// its own commit: it must hold before the code is checked), the user's
// factors; the rotation (the step, the factor's last use, the end of the
// failures and the lease, the old session out, the new one in) in one
// transaction; the audit entry in the audit queue's transaction, which
// concurrent verifications share.
const verifyLog = "SELECT sessions, SELECT users, UPDATE users, SELECT factors, " +
	"BEGIN, UPDATE factors, UPDATE factors, UPDATE users, DELETE sessions, INSERT sessions, COMMIT, " +
	"BEGIN, SELECT audit_log, INSERT audit_log, COMMIT"
