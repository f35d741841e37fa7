package e2e

import (
	"bufio"
	"bytes"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const metricsToken = "e2e-metrics-token-0123456789abcdef012345678"

// metricValue reads one sample of /metrics on the main listener (with the
// metrics token) by its exact name and labels; 0 when absent.
func metricValue(t *testing.T, s *server, sample string) float64 {
	t.Helper()
	r := s.call(t, "GET", "/metrics", nil, bearer(metricsToken)).want(t, 200, "metrics")
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", sample, err)
			}
			return f
		}
	}
	return 0
}

// TestMetricsNotPublic: /metrics is not served on the public listener by
// default (the review read it anonymously); a configured metrics token
// unlocks it there, and metrics.listen serves it on a separate operations
// listener without one. Neither token opens the other's door.
func TestMetricsNotPublic(t *testing.T) {
	t.Parallel()
	s := newInstance(t, "").start(t)
	for _, opt := range []reqOpt{header("X-None", "1"), bearer(metricsToken), bearer(adminToken)} {
		if r := s.call(t, "GET", "/metrics", nil, opt); r.status != http.StatusNotFound {
			t.Fatalf("default instance: /metrics answered %d, want 404", r.status)
		}
	}

	s = newInstance(t, "", "TWOSTEP_METRICS_TOKEN="+metricsToken, "TWOSTEP_ADMIN_TOKEN="+adminToken,
		"TWOSTEP_METRICS_LISTEN=127.0.0.1:0").start(t)
	for name, opt := range map[string]reqOpt{"no token": header("X-None", "1"), "admin token": bearer(adminToken), "wrong": bearer(metricsToken + "x")} {
		if r := s.call(t, "GET", "/metrics", nil, opt); r.status != http.StatusNotFound {
			t.Errorf("%s: /metrics answered %d, want 404", name, r.status)
		}
	}
	if got := metricValue(t, s, `twostep_security_events_total{event="token_failed"}`); got != 3 {
		t.Errorf("token_failed events = %v, want 3 (every wrong token is audited)", got)
	}
	r := s.call(t, "GET", "/api/v1/admin/users", nil, bearer(metricsToken))
	r.wantErr(t, 401, "unauthenticated", "admin API with the metrics token")

	ops := opsAddr(t, s)
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		res, err := http.Get("http://" + ops + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("operations listener %s: %d", path, res.StatusCode)
		}
	}
	res, err := http.Get("http://" + ops + "/api/v1/countries")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("operations listener serves the API: %d", res.StatusCode)
	}
}

// opsAddr is the operations listener's address, read from the log line
// that announces it.
func opsAddr(t *testing.T, s *server) string {
	t.Helper()
	m := regexp.MustCompile(`msg="operations listener: /metrics, /healthz, /readyz, /debug/pprof" addr=(127\.0\.0\.1:\d+)`).FindStringSubmatch(s.Log.String())
	if m == nil {
		t.Fatalf("no operations listener in the log:\n%s", s.Log.String())
	}
	return m[1]
}

// TestPprofOnlyOnOperations: Go's runtime profiles are served on the
// operations listener (metrics.listen) and never on the public one, not
// even with the metrics or admin token; /debug/pprof/cmdline (the process's
// arguments) and /symbol on neither.
func TestPprofOnlyOnOperations(t *testing.T) {
	t.Parallel()
	s := newInstance(t, "", "TWOSTEP_METRICS_TOKEN="+metricsToken, "TWOSTEP_ADMIN_TOKEN="+adminToken,
		"TWOSTEP_METRICS_LISTEN=127.0.0.1:0").start(t)
	paths := []string{"/debug/pprof/", "/debug/pprof/heap?debug=1", "/debug/pprof/goroutine?debug=2",
		"/debug/pprof/profile?seconds=1", "/debug/pprof/trace?seconds=1", "/debug/pprof/symbol", "/debug/pprof/cmdline"}
	for _, path := range paths {
		for _, opt := range []reqOpt{header("X-None", "1"), bearer(metricsToken), bearer(adminToken)} {
			if r := s.call(t, "GET", path, nil, opt); r.status != http.StatusNotFound {
				t.Errorf("public listener %s answered %d, want 404", path, r.status)
			}
		}
	}

	ops := opsAddr(t, s)
	get := func(path string) (int, string) {
		res, err := http.Get("http://" + ops + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		if _, err := b.ReadFrom(res.Body); err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, b.String()
	}
	for _, c := range []struct{ path, want string }{
		{"/debug/pprof/", "/debug/pprof/heap"},
		{"/debug/pprof/heap?debug=1", "heap profile:"},
		{"/debug/pprof/allocs", ""}, // protobuf, for go tool pprof
		{"/debug/pprof/goroutine?debug=1", "goroutine profile:"},
		{"/debug/pprof/profile?seconds=1", ""},    // a protobuf CPU profile
		{"/debug/pprof/trace?seconds=1", "go 1."}, // the trace's header
	} {
		code, body := get(c.path)
		if code != http.StatusOK || !strings.Contains(body, c.want) || (c.want == "" && len(body) == 0) {
			t.Errorf("operations listener %s: %d %.200q", c.path, code, body)
		}
	}
	for _, path := range []string{"/debug/pprof/cmdline", "/debug/pprof/symbol", "/debug/pprof/nosuch", "/debug/pprof/profile?seconds=0"} {
		if code, _ := get(path); code != http.StatusNotFound && code != http.StatusBadRequest {
			t.Errorf("operations listener %s: %d, want 404 (or 400 for a bad duration)", path, code)
		}
	}
}

// TestAdminTokenFailuresThrottled: wrong admin tokens are counted per
// client and audited; past limits.admin_per_ip the client is refused with
// 429 before the token is compared, even the right one (the review sent 50
// wrong tokens: 50 × 401, no trace).
func TestAdminTokenFailuresThrottled(t *testing.T) {
	t.Parallel()
	in := newInstance(t, "", "TWOSTEP_ADMIN_TOKEN="+adminToken, "TWOSTEP_LIMITS_ADMIN_PER_IP=5")
	s := in.start(t)
	for range 5 {
		s.call(t, "GET", "/api/v1/admin/users", nil, bearer("guess-"+adminToken)).wantErr(t, 401, "unauthenticated", "wrong admin token")
	}
	r := s.call(t, "GET", "/api/v1/admin/users", nil, bearer(adminToken))
	r.wantErr(t, 429, "rate_limited", "right token over the limit")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	db := s.OpenDB(t)
	var failed, limited int
	if err := db.QueryRow(`SELECT COUNT(*) FROM audit_log WHERE event = 'token_failed'`).Scan(&failed); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM audit_log WHERE event = 'rate_limited' AND detail LIKE '%admin_token_per_ip%'`).Scan(&limited); err != nil {
		t.Fatal(err)
	}
	if failed != 5 || limited != 1 {
		t.Fatalf("audit: %d token_failed (want 5), %d rate_limited (want 1)", failed, limited)
	}
}
