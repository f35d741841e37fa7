package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// result is the measurement of one scenario.
type result struct {
	Scenario    string         `json:"scenario"`
	Concurrency int            `json:"concurrency"`
	Requests    int            `json:"requests"`
	WallSeconds float64        `json:"wall_seconds"` // first request start → last request end
	ReqPerSec   float64        `json:"req_per_sec"`
	Latency     latencySummary `json:"latency"`
	Statuses    map[string]int `json:"statuses"`
	Expected    string         `json:"expected_status"` // the answer that counts as success
	Errors      map[string]int `json:"errors"`          // every outcome other than Expected
	ErrorsTotal int            `json:"errors_total"`
	NotSent     int            `json:"not_sent,omitempty"` // verify-totp: window ended first
	TOTPStep    uint64         `json:"totp_step,omitempty"`
	HTTPClient  string         `json:"http_client,omitempty"` // forward-auth: lean or stdlib

	ServerCPUSeconds float64 `json:"server_cpu_seconds"`
	ServerCPUPerReq  float64 `json:"server_cpu_ms_per_request"`
	ServerPeakRSSMiB float64 `json:"server_peak_rss_mib"` // largest instance
	// Several instances: their sum, and each one's figures.
	ServerPeakRSSSumMiB float64        `json:"server_peak_rss_sum_mib"`
	Instances           []instanceStat `json:"instances,omitempty"`
	Busy503             int            `json:"busy_503,omitempty"` // login-flood: intended 503s (not errors)
	PeakRSSScope        string         `json:"peak_rss_scope"`     // "scenario" after a VmHWM reset, else "process lifetime"
	// VmRSS just before and just after the scenario: what the requests
	// left behind (the Go runtime returns freed memory to the OS only
	// slowly, so growth is an upper bound of what was kept).
	ServerRSSStartMiB float64 `json:"server_rss_start_mib"`
	ServerRSSEndMiB   float64 `json:"server_rss_end_mib"`
	BenchCPUSeconds   float64 `json:"bench_cpu_seconds"`
	// Whole machine over the scenario: CPU time available (wall × CPUs),
	// busy, and busy that was neither the server nor bench (other
	// processes sharing the cores).
	MachineCPUSeconds float64 `json:"machine_cpu_seconds"`
	MachineBusySecs   float64 `json:"machine_busy_cpu_seconds"`
	OtherCPUSeconds   float64 `json:"other_processes_cpu_seconds"`
}

// instanceStat is one server process's share of a scenario.
type instanceStat struct {
	PID        int     `json:"pid"`
	CPUSeconds float64 `json:"cpu_seconds"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	RSSEndMiB  float64 `json:"rss_end_mib"`
}

// measure runs fn between two samples of the servers' and bench's own
// counters and fills the resource fields of the result fn returns. With
// several instances, CPU is summed, the peak RSS is the largest single
// instance's (the per-instance figures are in Instances) and
// ServerPeakRSSSumMiB adds them up.
func measure(pids []int, fn func() (result, error)) (result, error) {
	scope := "n/a (no --pid)"
	cpu0 := make([]time.Duration, len(pids))
	var rss0 int64
	if len(pids) > 0 {
		scope = "scenario"
		for i, pid := range pids {
			if !resetPeakRSS(pid) {
				scope = "process lifetime"
			}
			cpu0[i], _ = cpuTime(pid)
			r, _ := memStatus(pid, "VmRSS")
			rss0 += r
		}
	}
	self0 := selfCPU()
	busy0, total0, merr := machineCPU()
	r, err := fn()
	if err != nil {
		return r, err
	}
	r.BenchCPUSeconds = (selfCPU() - self0).Seconds()
	if busy1, total1, err := machineCPU(); err == nil && merr == nil {
		r.MachineCPUSeconds = (total1 - total0).Seconds()
		r.MachineBusySecs = (busy1 - busy0).Seconds()
	}
	r.PeakRSSScope = scope
	if len(pids) == 0 {
		return r, nil
	}
	var rss1 int64
	for i, pid := range pids {
		cpu1, err := cpuTime(pid)
		if err != nil {
			return r, fmt.Errorf("server %d cpu: %w", pid, err)
		}
		hwm, err := memStatus(pid, "VmHWM")
		if err != nil {
			return r, fmt.Errorf("server %d peak rss: %w", pid, err)
		}
		end, _ := memStatus(pid, "VmRSS")
		rss1 += end
		st := instanceStat{PID: pid, CPUSeconds: (cpu1 - cpu0[i]).Seconds(), PeakRSSMiB: mib(hwm), RSSEndMiB: mib(end)}
		r.Instances = append(r.Instances, st)
		r.ServerCPUSeconds += st.CPUSeconds
		r.ServerPeakRSSMiB = max(r.ServerPeakRSSMiB, st.PeakRSSMiB)
		r.ServerPeakRSSSumMiB += st.PeakRSSMiB
	}
	r.ServerRSSStartMiB = mib(rss0)
	r.ServerRSSEndMiB = mib(rss1)
	if r.MachineBusySecs > 0 {
		r.OtherCPUSeconds = max(0, r.MachineBusySecs-r.ServerCPUSeconds-r.BenchCPUSeconds)
	}
	if r.Requests > 0 {
		r.ServerCPUPerReq = r.ServerCPUSeconds * 1000 / float64(r.Requests)
	}
	return r, nil
}

// finish turns a recorder into the counting fields of a result; every
// outcome but 200 is an error.
func finish(name string, conc int, rec *recorder) result { return finishExpect(name, conc, rec, "200") }

// finishExpect is finish with another expected outcome.
func finishExpect(name string, conc int, rec *recorder, expected string) result {
	r := result{Scenario: name, Concurrency: conc, Requests: len(rec.latencies), Statuses: rec.statuses,
		Expected: expected, Errors: errorCounts(rec.statuses, expected)}
	for _, v := range r.Errors {
		r.ErrorsTotal += v
	}
	if wall := rec.last.Sub(rec.first); wall > 0 {
		r.WallSeconds = wall.Seconds()
		r.ReqPerSec = float64(r.Requests) / wall.Seconds()
	}
	r.Latency = summarize(rec.latencies)
	return r
}

// runLogin has conc workers post correct passwords for distinct users in
// turn until dur has passed or maxReq requests were started. Requests in
// flight at the deadline finish and count.
//
// As login-flood, a 503 (every hashing slot busy for password.max_wait) is
// the intended answer to overload and counted apart, not as an error.
func runLogin(ctx context.Context, c *client, users []*user, conc int, dur time.Duration, maxReq int, name string) result {
	rec := newRecorder(min(maxReq, 1<<16))
	var next atomic.Int64
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := int(next.Add(1) - 1)
				if i >= maxReq {
					return
				}
				u := users[i%len(users)]
				var a sessionAnswer
				start := time.Now()
				st, err := c.post(ctx, "/api/v1/login", "", map[string]string{"username": u.name, "password": u.password}, &a)
				d := time.Since(start)
				if err == nil && st == 200 && (a.Token == "" || a.AAL != "aal1") {
					err = fmt.Errorf("login answer without an aal1 token")
				}
				rec.add(start, d, outcome(st, err))
			}
		})
	}
	wg.Wait()
	r := finish(name, conc, rec)
	if name == "login-flood" {
		r.Busy503 = r.Errors["503"]
		delete(r.Errors, "503")
		r.ErrorsTotal -= r.Busy503
	}
	return r
}

// smsAreaCodes are assigned US area codes (N11 codes like 211 are not), so
// (AAA) 555-NNNN is valid for libphonenumber's US metadata: 10,000
// numbers per code, 170,000 in all (--users is at most 100,000).
var smsAreaCodes = []int{201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219}

// smsPhone returns the i-th distinct US number of the sms-setup scenario.
func smsPhone(i int) string {
	return fmt.Sprintf("(%03d) 555-%04d", smsAreaCodes[i/10000%len(smsAreaCodes)], i%10000)
}

// runSMSSetup has conc workers take the seeded users in turn, each once,
// and POST /api/v1/setup/sms on the user's aal1 session with a number of
// its own: the server checks budgets, stores the number encrypted and
// sends a text through the file provider. Expected answer 200.
func runSMSSetup(ctx context.Context, c *client, users []*user, conc int, dur time.Duration) result {
	rec := newRecorder(len(users))
	var next atomic.Int64
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := int(next.Add(1) - 1)
				if i >= len(users) {
					return
				}
				var a struct {
					FactorID string `json:"factor_id"`
				}
				start := time.Now()
				st, err := c.post(ctx, "/api/v1/setup/sms", users[i].aal1, map[string]string{"country": "US", "phone": smsPhone(i)}, &a)
				d := time.Since(start)
				if err == nil && st == 200 && a.FactorID == "" {
					err = errors.New("setup answer without factor_id")
				}
				rec.add(start, d, outcome(st, err))
			}
		})
	}
	wg.Wait()
	return finish("sms-setup", conc, rec)
}

// forwardAuthURL is the application URL every forward-auth check asks
// about, as nginx passes it (X-Original-URL). The started server has no
// rule for it, so the default policy, two_factor, applies.
const forwardAuthURL = "http://app.example.test/"

// runForwardAuth has conc workers ask GET /api/v1/auth/auth-request, as a reverse proxy
// does for every request to a protected application, until dur has passed
// or maxReq checks were started: with the aal2 session of each seeded user
// in turn (Authorization: Bearer; expected answer 200 with a Remote-User
// header), or with anonymous no session at all (expected 401). Checks in
// flight at the deadline finish and count. With lean, each worker speaks
// HTTP/1.1 on its own keep-alive connection (leanhttp.go); otherwise the
// workers share c's net/http client.
func runForwardAuth(ctx context.Context, c *client, users []*user, conc int, dur time.Duration, maxReq int, anonymous, lean bool) (result, error) {
	// One prepared request set per instance (the Host header differs);
	// lean worker w talks to instance w mod N on its own connection.
	reqs := make([][][]byte, len(c.bases))
	for b, base := range c.bases {
		host := strings.TrimPrefix(base, "http://")
		reqs[b] = make([][]byte, len(users))
		for i, u := range users {
			if anonymous {
				reqs[b][i] = forwardAuthRequest(host, "")
			} else {
				reqs[b][i] = forwardAuthRequest(host, u.aal2)
			}
		}
		if _, err := newLeanConn(base); lean && err != nil {
			return result{}, err
		}
	}
	// A 200 must name the user; anything else that the scenario does not
	// expect is an error of its own kind.
	label := func(st int, remoteUser bool, err error) string {
		if err == nil && st == 200 && !remoteUser {
			err = errors.New("200 without Remote-User")
		}
		return outcome(st, err)
	}
	rec := newRecorder(min(maxReq, 1<<20))
	var next atomic.Int64
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			inst := w % len(c.bases)
			lc, _ := newLeanConn(c.bases[inst])
			defer lc.close()
			h := http.Header{"X-Original-Url": {forwardAuthURL}}
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := int(next.Add(1) - 1)
				if i >= maxReq {
					return
				}
				start := time.Now()
				if lean {
					a, err := lc.do(ctx, reqs[inst][i%len(users)])
					rec.add(start, time.Since(start), label(a.status, a.remoteUser, err))
					continue
				}
				if !anonymous {
					h.Set("Authorization", "Bearer "+users[i%len(users)].aal2)
				}
				st, hdr, err := c.get(ctx, "/api/v1/auth/auth-request", h)
				rec.add(start, time.Since(start), label(st, hdr.Get("Remote-User") != "", err))
			}
		})
	}
	wg.Wait()
	if anonymous {
		return finishExpect("forward-auth-anonymous", conc, rec, "401"), nil
	}
	return finish("forward-auth", conc, rec), nil
}

// waitWindow sleeps until just after the start of the first TOTP time
// step later than minStep (the confirms of seeding consumed minStep and
// earlier) and returns that step and the end of its window.
func waitWindow(ctx context.Context, minStep uint64, progress io.Writer) (uint64, time.Time, error) {
	boundary := time.Now().Truncate(totpPeriod).Add(totpPeriod)
	for stepAt(boundary) <= minStep {
		boundary = boundary.Add(totpPeriod)
	}
	// Start a little after the boundary so client and server agree on the
	// step even with a few milliseconds of scheduling delay.
	startAt := boundary.Add(20 * time.Millisecond)
	fmt.Fprintf(progress, "  waiting %.1f s for the start of TOTP step %d\n", time.Until(startAt).Seconds(), stepAt(boundary))
	select {
	case <-time.After(time.Until(startAt)):
		return stepAt(boundary), boundary.Add(totpPeriod), nil
	case <-ctx.Done():
		return 0, time.Time{}, ctx.Err()
	}
}

// runVerify has conc workers submit each user's code for TOTP step step
// exactly once, as POST /api/v1/verify on the user's aal1 session. Codes
// not sent before windowEnd are counted in NotSent rather than sent late.
func runVerify(ctx context.Context, c *client, users []*user, conc int, step uint64, windowEnd time.Time) result {
	type job struct {
		u    *user
		body map[string]string
	}
	jobs := make(chan job, len(users))
	for _, u := range users {
		jobs <- job{u, map[string]string{"method": "totp", "code": hotp(u.secret, step, 6)}}
	}
	close(jobs)

	rec := newRecorder(len(users))
	var notSent atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for j := range jobs {
				if ctx.Err() != nil || !time.Now().Before(windowEnd) {
					notSent.Add(1)
					continue
				}
				var a sessionAnswer
				start := time.Now()
				st, err := c.post(ctx, "/api/v1/verify", j.u.aal1, j.body, &a)
				d := time.Since(start)
				if err == nil && st == 200 && (a.Token == "" || a.AAL != "aal2") {
					err = fmt.Errorf("verify answer without an aal2 token")
				}
				rec.add(start, d, outcome(st, err))
			}
		})
	}
	wg.Wait()
	r := finish("verify-totp", conc, rec)
	r.NotSent = int(notSent.Load())
	r.TOTPStep = step
	return r
}
