package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// check is one target of issue #2 or #5 against what this run measured.
type check struct {
	Name     string `json:"name"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Pass     bool   `json:"pass"`
}

// MB in the targets is read strictly as 10^6 bytes (25 MB = 23.8 MiB).
const mb = 1e6

// checks compares the run with the targets of issue #2 (login,
// verify-totp), issue #5 (forward-auth) and, with --floor, issue #12 (the
// ratio to the floor). They are defined for c=64,
// 1000 users and SQLite; the caller says whether the run matched.
func checks(r *report) []check {
	var out []check
	if r.StartupMs != nil {
		out = append(out, check{"start-up to 200 on /readyz", "≤ 30 ms", fmt.Sprintf("%.1f ms", *r.StartupMs), *r.StartupMs <= 30})
	}
	if r.IdleRSSMiB != nil {
		out = append(out, check{"idle RSS", "≤ 25 MB (23.8 MiB)", fmt.Sprintf("%.1f MiB", *r.IdleRSSMiB), *r.IdleRSSMiB*(1<<20) <= 25*mb})
	}
	for _, s := range r.Scenarios {
		switch s.Scenario {
		case "login":
			out = append(out, check{fmt.Sprintf("login req/s (c=%d)", s.Concurrency), "≥ 75/s", fmt.Sprintf("%.1f/s", s.ReqPerSec), s.ReqPerSec >= 75})
			if s.PeakRSSScope != "n/a (no --pid)" {
				out = append(out, check{"server peak RSS under login", "≤ 256 MB (244 MiB)", fmt.Sprintf("%.1f MiB", s.ServerPeakRSSMiB), s.ServerPeakRSSMiB*(1<<20) <= 256*mb})
			}
		case "login-flood":
			fivexx := 0
			for k, v := range s.Errors {
				if len(k) == 3 && k[0] == '5' {
					fivexx += v
				}
			}
			out = append(out, check{fmt.Sprintf("login-flood 5xx other than 503 (c=%d)", s.Concurrency), "0", fmt.Sprintf("%d (503 busy: %d)", fivexx, s.Busy503), fivexx == 0})
			if len(s.Instances) > 0 {
				out = append(out, check{"login-flood peak RSS of each instance", "≤ 256 MB (244 MiB)", fmt.Sprintf("%.1f MiB (largest of %d)", s.ServerPeakRSSMiB, len(s.Instances)), s.ServerPeakRSSMiB*(1<<20) <= 256*mb})
			}
		case "verify-totp":
			out = append(out,
				check{fmt.Sprintf("verify-totp req/s (c=%d)", s.Concurrency), "≥ 2000/s", fmt.Sprintf("%.0f/s", s.ReqPerSec), s.ReqPerSec >= 2000},
				check{"verify-totp p99", "≤ 50 ms", fmt.Sprintf("%.1f ms", s.Latency.P99), s.Latency.P99 <= 50},
				check{"verify-totp errors", "0", fmt.Sprintf("%d (+%d not sent)", s.ErrorsTotal, s.NotSent), s.ErrorsTotal == 0 && s.NotSent == 0})
		case "forward-auth", "forward-auth-anonymous":
			out = append(out,
				check{fmt.Sprintf("%s checks/s (c=%d)", s.Scenario, s.Concurrency), "≥ 32000/s", fmt.Sprintf("%.0f/s", s.ReqPerSec), s.ReqPerSec >= 32000},
				check{s.Scenario + " p99", "≤ 5 ms", fmt.Sprintf("%.2f ms", s.Latency.P99), s.Latency.P99 <= 5},
				check{s.Scenario + " errors", "0", fmt.Sprintf("%d", s.ErrorsTotal), s.ErrorsTotal == 0})
			if s.PeakRSSScope != "n/a (no --pid)" {
				out = append(out, check{s.Scenario + " server CPU per check", "≤ 25 µs", fmt.Sprintf("%.1f µs", s.ServerCPUPerReq*1000), s.ServerCPUPerReq*1000 <= 25})
			}
		}
	}
	if f := r.Floor; f != nil && len(f.Ratios) > 0 {
		out = append(out, check{"forward-auth server CPU per check ÷ the floor's (issue #12)", "≤ 1.25", fmt.Sprintf("%.2f (median of %d)", f.MedianRatio, len(f.Ratios)), f.MedianRatio > 0 && f.MedianRatio <= 1.25})
	}
	return out
}

// printTable writes the human-readable report.
func printTable(w io.Writer, r *report) {
	fmt.Fprintln(w)
	fmt.Fprintf(w, "server:     %s", r.Server)
	if r.PID > 0 {
		fmt.Fprintf(w, " (pid %d)", r.PID)
	}
	fmt.Fprintf(w, ", database %s\n", r.Database)
	if r.Argon2 != nil {
		fmt.Fprintf(w, "argon2id:   m=%d KiB, t=%d, p=%d\n", r.Argon2.MemoryKiB, r.Argon2.Time, r.Argon2.Threads)
	} else {
		fmt.Fprintln(w, "argon2id:   the target's own settings")
	}
	fmt.Fprintf(w, "machine:    %d CPUs shared by server and load generator, bench built with %s\n", r.CPUs, r.GoVersion)
	if r.StartupMs != nil {
		fmt.Fprintf(w, "start-up:   %.1f ms (process start → first 200 on GET /readyz, polled every 1 ms)\n", *r.StartupMs)
	}
	if r.IdleRSSMiB != nil {
		fmt.Fprintf(w, "idle RSS:   %.1f MiB (VmRSS before seeding)\n", *r.IdleRSSMiB)
	}
	fmt.Fprintf(w, "users:      %d seeded in %.1f s (not measured; 503s retried in set-up phases: %d)\n\n", r.Users, r.SeedSeconds, r.SetupRetries)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tconc\trequests\twall s\treq/s\tp50 ms\tp95 ms\tp99 ms\tmax ms\terrors\tsrv CPU s\tCPU µs/req\tsrv peak RSS MiB\tbench CPU s\t")
	for _, s := range r.Scenarios {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.1f\t%.2f\t%.2f\t%.2f\t%.1f\t%d\t%.2f\t%.1f\t%.1f\t%.2f\t\n",
			s.Scenario, s.Concurrency, s.Requests, s.WallSeconds, s.ReqPerSec,
			s.Latency.P50, s.Latency.P95, s.Latency.P99, s.Latency.Max, s.ErrorsTotal,
			s.ServerCPUSeconds, s.ServerCPUPerReq*1000, s.ServerPeakRSSMiB, s.BenchCPUSeconds)
	}
	tw.Flush()
	for _, s := range r.Scenarios {
		fmt.Fprintf(w, "%s: statuses %s; errors (not %s) %s", s.Scenario, formatCounts(s.Statuses), s.Expected, formatCounts(s.Errors))
		if s.Scenario == "verify-totp" {
			fmt.Fprintf(w, "; TOTP step %d; not sent before the window ended: %d", s.TOTPStep, s.NotSent)
		}
		if s.HTTPClient != "" {
			fmt.Fprintf(w, "; bench HTTP client: %s", s.HTTPClient)
		}
		fmt.Fprintf(w, "; peak RSS scope: %s", s.PeakRSSScope)
		if s.ServerRSSStartMiB > 0 {
			fmt.Fprintf(w, "; RSS %.1f → %.1f MiB over the scenario", s.ServerRSSStartMiB, s.ServerRSSEndMiB)
		}
		if s.Scenario == "login-flood" {
			fmt.Fprintf(w, "; intended 503 (busy): %d", s.Busy503)
		}
		fmt.Fprintln(w)
		if len(s.Instances) > 1 {
			for _, in := range s.Instances {
				fmt.Fprintf(w, "  instance pid %d: CPU %.2f s, peak RSS %.1f MiB, RSS at end %.1f MiB\n", in.PID, in.CPUSeconds, in.PeakRSSMiB, in.RSSEndMiB)
			}
			fmt.Fprintf(w, "  all %d instances: CPU %.2f s, peak RSS sum %.1f MiB\n", len(s.Instances), s.ServerCPUSeconds, s.ServerPeakRSSSumMiB)
		}
		if s.MachineCPUSeconds > 0 {
			fmt.Fprintf(w, "  machine CPU over the scenario: %.2f s busy of %.2f s available (server %.2f, bench %.2f, other processes %.2f)\n",
				s.MachineBusySecs, s.MachineCPUSeconds, s.ServerCPUSeconds, s.BenchCPUSeconds, s.OtherCPUSeconds)
		}
	}
	if f := r.Floor; f != nil && len(f.Ratios) > 0 {
		fmt.Fprintln(w, "\nforward-auth server CPU per check against the floor (bare net/http, same requests, measured after twostep in each round):")
		for i := range f.Ratios {
			fmt.Fprintf(w, "  round %d: twostep %.1f µs, floor %.1f µs, ratio %.2f\n", i+1, f.TwostepCPUMicros[i], f.FloorCPUMicros[i], f.Ratios[i])
		}
		fmt.Fprintf(w, "  median ratio %.2f over %d round(s)\n", f.MedianRatio, len(f.Ratios))
	}
	if len(r.Checks) > 0 {
		fmt.Fprintln(w, "\ntargets (issue #2: login, verify-totp; issue #5: forward-auth; issue #12: the floor; defined for c=64, 1000 users, SQLite):")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range r.Checks {
			verdict := "MISS"
			if c.Pass {
				verdict = "ok"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Name, c.Target, c.Measured, verdict)
		}
		tw.Flush()
	}
}
