package e2e

import (
	"testing"
	"time"

	"github.com/twostep/twostep/internal/store/storetest"
)

// cacheBound is how long an instance's forward-auth may go on trusting a
// session it looked up before the session ended elsewhere (docs/api.md
// "Sessions": the session cache's one second).
const cacheBound = time.Second

// TestEndSessionAcrossInstances: two instances on one PostgreSQL database.
// A session signed in on b, known to both instances' forward-auth caches,
// is ended from a through DELETE /api/v1/sessions/{id}: a refuses it at
// once (it dropped its cache entry), and b refuses every request that
// starts after the documented bound. The test polls b until then and
// fails only if a request begun after the bound still gets through, so
// it says nothing about how fast anything runs.
func TestEndSessionAcrossInstances(t *testing.T) {
	t.Parallel()
	in := newInstance(t, storetest.PostgresDSN(t))
	a, b := in.start(t), in.start(t)

	mia := a.setupTOTP(t, "mia")
	tok := b.login(t, "mia").str(t, "token")
	other := b.call(t, "POST", "/api/v1/verify", map[string]string{"method": "recovery", "code": mia.recovery[0]}, bearer(tok)).
		want(t, 200, "verify on b with a recovery code").str(t, "token")
	for name, s := range map[string]*server{"a": a, "b": b} {
		if r, err := s.forwardAuth(other); err != nil || r.status != 200 {
			t.Fatalf("forward-auth on %s before: %v %d", name, err, r.status)
		}
	}

	var id string
	for _, x := range a.call(t, "GET", "/api/v1/sessions", nil, bearer(mia.aal2)).want(t, 200, "list on a").obj(t)["sessions"].([]any) {
		if s := x.(map[string]any); s["current"] == false {
			id = s["id"].(string)
		}
	}
	if id == "" {
		t.Fatal("the session signed in on b is not listed on a")
	}
	a.call(t, "DELETE", "/api/v1/sessions/"+id, nil, bearer(mia.aal2)).want(t, 204, "end b's session from a")
	ended := time.Now()

	if r, err := a.forwardAuth(other); err != nil || r.status != 401 {
		t.Fatalf("forward-auth on a, which ended the session: %v %d, want 401 at once", err, r.status)
	}
	for polls := 0; ; polls++ {
		started := time.Now()
		r, err := b.forwardAuth(other)
		if err != nil {
			t.Fatal(err)
		}
		if r.status == 401 {
			t.Logf("b refused the ended session after %d polls", polls)
			break
		}
		if r.status != 200 {
			t.Fatalf("forward-auth on b: status %d: %s", r.status, r.body)
		}
		if started.Sub(ended) > cacheBound {
			t.Fatalf("b let the ended session through on a request begun %v after it ended (bound %v)", started.Sub(ended), cacheBound)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.call(t, "GET", "/api/v1/session", nil, bearer(other)).wantErr(t, 401, "unauthenticated", "the ended session on b")
	a.call(t, "GET", "/api/v1/session", nil, bearer(mia.aal2)).want(t, 200, "the session that ended the other")
}

// TestCLIDisableSQLite: on SQLite, `twostep user disable` runs as its own
// process beside the server and writes nothing the server's memory sees;
// only the session event its trigger writes (docs/deploy.md "Session
// cache") tells the server. A session the server has cached for more than
// the 1-s rule (and not read again since: the loads metric is flat) is
// refused for every request begun more than 1 s after the command ended.
func TestCLIDisableSQLite(t *testing.T) {
	t.Parallel()
	in := newInstance(t, "", "TWOSTEP_METRICS_TOKEN="+metricsToken)
	s := in.start(t)
	ria := s.setupTOTP(t, "ria")
	check := func(what string) {
		t.Helper()
		if r, err := s.forwardAuth(ria.aal2); err != nil || r.status != 200 {
			t.Fatalf("forward-auth %s: %v %d", what, err, r.status)
		}
	}
	check("after set-up")
	time.Sleep(600 * time.Millisecond) // the watch applies the set-up's own events
	check("once settled")
	loads := metricValue(t, s, "twostep_session_cache_loads_total")
	for range 15 {
		time.Sleep(100 * time.Millisecond)
		check("while cached")
	}
	if n := metricValue(t, s, "twostep_session_cache_loads_total") - loads; n > 0 {
		t.Errorf("the server read the cached session %v times in 1.5 s of checks, want none", n)
	}
	in.MustCLI(t, "", "user", "disable", "ria")
	refusedWithin(t, "twostep user disable on SQLite", time.Now(), ria.aal2, []*server{s})
}
