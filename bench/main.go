// Command bench is twostep's load generator: an independent client of the
// public JSON API that seeds users with authenticator apps, then measures
// logins and TOTP verifications per second, latency, errors and the
// server's CPU time and memory. See bench/README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	server      string
	target      string // --target or --targets, comma-separated
	adminToken  string
	pid         int
	pids        string // --pids of the --targets, comma-separated
	instances   int
	database    string
	redis       string
	users       int
	scenario    string
	concurrency int
	duration    time.Duration
	maxRequests int
	seedConc    int
	preConc     int
	settle      time.Duration
	timeout     time.Duration
	json        bool
	anonymous   bool
	httpClient  string
	floor       bool
	rounds      int
	argon2      argon2Params
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "floor-serve" {
		return runFloorServe(args[1:], stderr)
	}
	if len(args) > 0 && args[0] == "startup" {
		return runStartup(args[1:], stdout, stderr)
	}
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	rep, err := bench(ctx, o, stderr)
	if rep != nil {
		rep.Checks = checks(rep)
		if o.json {
			printTable(stderr, rep)
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(rep)
		} else {
			printTable(stdout, rep)
		}
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (--timeout %v reached)", err, o.timeout)
		}
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	f := flag.NewFlagSet("bench", flag.ContinueOnError)
	f.SetOutput(stderr)
	f.StringVar(&o.server, "server", "", "twostep binary to start (`twostep serve` in a fresh temp dir on a free 127.0.0.1 port)")
	f.StringVar(&o.target, "target", "", "base URL of an already-running server instead of --server")
	f.StringVar(&o.target, "targets", "", "comma-separated base URLs of already-running instances sharing one database; requests go round robin")
	f.StringVar(&o.pids, "pids", "", "comma-separated PIDs of the --targets, for CPU and memory figures")
	f.IntVar(&o.instances, "instances", 1, "with --server: instances to start on the same database (more than 1 needs --database postgres://...)")
	f.StringVar(&o.database, "database", "", "with --server: postgres:// URL of an existing (empty) database; default a fresh SQLite file")
	f.StringVar(&o.redis, "redis", "", "with --server: Redis URL; a random key_prefix is added unless one is given")
	f.StringVar(&o.adminToken, "admin-token", "", "admin token of the --target server")
	f.IntVar(&o.pid, "pid", 0, "PID of the --target server, for CPU and memory figures")
	f.IntVar(&o.users, "users", 1000, "users to seed (admin API + TOTP enrolment)")
	f.StringVar(&o.scenario, "scenario", "all", "login, verify-totp, all (login then verify-totp), forward-auth, sms-setup, login-flood or verify-passkey")
	f.IntVar(&o.concurrency, "concurrency", 64, "concurrent workers in the measured scenarios")
	f.DurationVar(&o.duration, "duration", 20*time.Second, "length of the login and forward-auth scenarios")
	f.IntVar(&o.maxRequests, "max-requests", 1_000_000, "cap on requests in the login and forward-auth scenarios")
	f.StringVar(&o.httpClient, "http-client", "lean", "forward-auth: lean (minimal HTTP/1.1, one keep-alive connection per worker) or stdlib (net/http)")
	f.BoolVar(&o.floor, "floor", false, "forward-auth: also measure a bare net/http server (the floor) with the same requests, after twostep, and print the ratio of server CPU per check")
	f.IntVar(&o.rounds, "rounds", 1, "forward-auth: rounds of the scenario (with --floor: twostep then the floor in each round, never together)")
	f.BoolVar(&o.anonymous, "anonymous", false, "forward-auth: send no session at all (expected answer 401) instead of the users' aal2 sessions")
	f.IntVar(&o.seedConc, "seed-concurrency", 8, "concurrency of seeding (not measured)")
	f.IntVar(&o.preConc, "prelogin-concurrency", 4, "concurrency of the aal1 logins before verify-totp (not measured)")
	f.DurationVar(&o.settle, "settle", time.Second, "wait after /readyz before reading idle RSS")
	f.DurationVar(&o.timeout, "timeout", 10*time.Minute, "stop everything (and the started server) after this long")
	f.BoolVar(&o.json, "json", false, "print the report as JSON on stdout (the table goes to stderr)")
	f.IntVar(&o.argon2.MemoryKiB, "argon2-memory", 19456, "argon2id memory in KiB for the started server")
	f.IntVar(&o.argon2.Time, "argon2-time", 2, "argon2id passes for the started server")
	f.IntVar(&o.argon2.Threads, "argon2-threads", 1, "argon2id lanes for the started server")
	if err := f.Parse(args); err != nil {
		return o, err
	}
	var problems []error
	if f.NArg() > 0 {
		problems = append(problems, fmt.Errorf("unexpected arguments %q", f.Args()))
	}
	if (o.server == "") == (o.target == "") {
		problems = append(problems, errors.New("give exactly one of --server BINARY or --target URL"))
	}
	if o.target != "" && o.adminToken == "" {
		problems = append(problems, errors.New("--target needs --admin-token"))
	}
	switch o.scenario {
	case "login", "verify-totp", "all", "forward-auth", "sms-setup", "login-flood", "verify-passkey":
	default:
		problems = append(problems, fmt.Errorf("--scenario %q: want login, verify-totp, all, forward-auth, sms-setup, login-flood or verify-passkey", o.scenario))
	}
	if o.instances < 1 || o.instances > 16 {
		problems = append(problems, fmt.Errorf("--instances %d: want 1 to 16", o.instances))
	}
	if o.server == "" && (o.instances != 1 || o.database != "" || o.redis != "") {
		problems = append(problems, errors.New("--instances, --database and --redis apply to --server only"))
	}
	if o.database != "" && !strings.HasPrefix(o.database, "postgres://") && !strings.HasPrefix(o.database, "postgresql://") {
		problems = append(problems, fmt.Errorf("--database: want a postgres:// URL (SQLite is the default)"))
	}
	if o.instances > 1 && o.database == "" {
		problems = append(problems, errors.New("--instances > 1 needs --database postgres://... (SQLite is single-instance)"))
	}
	if _, err := splitPIDs(o.pids); err != nil {
		problems = append(problems, err)
	} else if o.pids != "" && o.target == "" {
		problems = append(problems, errors.New("--pids applies to --targets only"))
	}
	if o.httpClient != "lean" && o.httpClient != "stdlib" {
		problems = append(problems, fmt.Errorf("--http-client %q: want lean or stdlib", o.httpClient))
	}
	if o.anonymous && o.scenario != "forward-auth" {
		problems = append(problems, errors.New("--anonymous applies to --scenario forward-auth only"))
	}
	if (o.floor || o.rounds != 1) && o.scenario != "forward-auth" {
		problems = append(problems, errors.New("--floor and --rounds apply to --scenario forward-auth only"))
	}
	if o.floor && o.target != "" && o.pid == 0 && o.pids == "" {
		problems = append(problems, errors.New("--floor compares server CPU: with --target, give --pid"))
	}
	if o.rounds < 1 || o.rounds > 20 {
		problems = append(problems, fmt.Errorf("--rounds %d: want 1 to 20", o.rounds))
	}
	for _, c := range []struct {
		name   string
		v, max int
	}{{"users", o.users, 100_000}, {"concurrency", o.concurrency, 4096}, {"seed-concurrency", o.seedConc, 256}, {"prelogin-concurrency", o.preConc, 256}, {"max-requests", o.maxRequests, 100_000_000}} {
		if c.v < 1 || c.v > c.max {
			problems = append(problems, fmt.Errorf("--%s %d: want 1 to %d", c.name, c.v, c.max))
		}
	}
	if o.duration <= 0 || o.duration > time.Hour {
		problems = append(problems, fmt.Errorf("--duration %v: want more than 0 and at most 1h", o.duration))
	}
	if o.timeout <= 0 {
		problems = append(problems, fmt.Errorf("--timeout %v: want more than 0", o.timeout))
	}
	return o, errors.Join(problems...)
}

// report is everything one run measured.
type report struct {
	Server       string        `json:"server"`          // binary started, or target URL
	PID          int           `json:"pid,omitempty"`   // 0: unknown (--target without --pid)
	PIDs         []int         `json:"pids,omitempty"`  // every instance measured
	Instances    int           `json:"instances"`       // servers the load was spread over
	Database     string        `json:"database"`        // what the started server used
	Argon2       *argon2Params `json:"argon2id"`        // nil for --target: whatever it runs with
	CPUs         int           `json:"cpus"`            // shared by server and load generator
	GoVersion    string        `json:"go_version"`      // of bench
	StartupMs    *float64      `json:"startup_ms"`      // process start → first 200 on /readyz
	IdleRSSMiB   *float64      `json:"idle_rss_mib"`    // VmRSS after --settle
	Users        int           `json:"users"`           // seeded
	SeedSeconds  float64       `json:"seed_seconds"`    // not a measurement, for context
	SetupRetries int64         `json:"setup_retries"`   // 503s retried while seeding and logging in before verify-totp
	Scenarios    []result      `json:"scenarios"`       //
	Floor        *floorSummary `json:"floor,omitempty"` // --floor: twostep's server CPU per check against the floor's
	Checks       []check       `json:"targets"`         // issue #2 (login, verify-totp), issue #5 (forward-auth)
	StartedAtUTC time.Time     `json:"started_at_utc"`  //
}

// bench runs the whole benchmark; the report is non-nil once anything was
// measured, even when a later step fails.
func bench(ctx context.Context, o options, log io.Writer) (*report, error) {
	rep := &report{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Users: o.users, StartedAtUTC: time.Now().UTC().Truncate(time.Second)}
	var bases []string
	var pids []int
	token := o.adminToken
	if o.server != "" {
		sc := serverConfig{database: o.database, redis: redisWithPrefix(o.redis)}
		if o.scenario == "verify-passkey" {
			sc.publicURL = passkeyOrigin
		}
		rep.Database = "sqlite (fresh temp dir)"
		if o.database != "" {
			rep.Database = "postgresql " + redactURL(o.database)
		}
		if sc.redis != "" {
			rep.Database += " + redis " + redactURL(sc.redis)
		}
		rep.Server, rep.Argon2, rep.Instances = o.server, &o.argon2, o.instances
		// Instances start one after the other: the first creates the schema
		// and the key file, which the others share.
		for n := range o.instances {
			fmt.Fprintf(log, "starting %s serve #%d (argon2id m=%d KiB t=%d p=%d)\n", o.server, n+1, o.argon2.MemoryKiB, o.argon2.Time, o.argon2.Threads)
			srv, startup, err := startServer(ctx, o.server, o.argon2, sc)
			if err != nil {
				return nil, err
			}
			defer srv.stop() // deferred: the first instance (owner of the key file) stops last
			if n == 0 {
				sc.token, sc.keyFile = srv.token, filepath.Join(srv.dir, "twostep.key")
				ms := float64(startup.Microseconds()) / 1000
				rep.StartupMs = &ms
			}
			bases, pids = append(bases, srv.url), append(pids, srv.pid())
			token = srv.token
			fmt.Fprintf(log, "  pid %d at %s, ready in %.1f ms\n", srv.pid(), srv.url, float64(startup.Microseconds())/1000)
		}
		select {
		case <-time.After(o.settle):
		case <-ctx.Done():
			return rep, ctx.Err()
		}
	} else {
		bases = strings.Split(o.target, ",")
		pids, _ = splitPIDs(o.pids)
		if o.pid > 0 {
			pids = append([]int{o.pid}, pids...)
		}
		rep.Server, rep.Database, rep.Instances = o.target, "as configured on the target", len(bases)
	}
	if len(pids) > 0 {
		rep.PID = pids[0]
		rep.PIDs = pids
		rss, err := memStatus(pids[0], "VmRSS")
		if err != nil {
			return rep, fmt.Errorf("idle rss: %w", err)
		}
		v := mib(rss)
		rep.IdleRSSMiB = &v
	}

	c := newClient(bases, max(o.concurrency, o.seedConc, o.preConc))
	defer func() { rep.SetupRetries = c.setupRetries.Load() }()
	fmt.Fprintf(log, "seeding %d users at concurrency %d (not measured)\n", o.users, o.seedConc)
	t0 := time.Now()
	withTOTP := o.scenario != "sms-setup" && o.scenario != "login-flood" && o.scenario != "verify-passkey"
	users, lastStep, err := seed(ctx, c, token, o.users, o.seedConc, withTOTP, log)
	if err != nil {
		return rep, err
	}
	rep.SeedSeconds = time.Since(t0).Seconds()

	if o.scenario == "login" || o.scenario == "all" || o.scenario == "login-flood" {
		name := "login"
		if o.scenario == "login-flood" {
			name = "login-flood"
		}
		fmt.Fprintf(log, "%s: %d workers for %v over %d instance(s)\n", name, o.concurrency, o.duration, len(bases))
		r, err := measure(pids, func() (result, error) {
			return runLogin(ctx, c, users, o.concurrency, o.duration, o.maxRequests, name), nil
		})
		rep.Scenarios = append(rep.Scenarios, r)
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			return rep, err
		}
	}
	if o.scenario == "sms-setup" {
		fmt.Fprintf(log, "sms-setup: %d workers, one POST /api/v1/setup/sms per user (file provider)\n", o.concurrency)
		r, err := measure(pids, func() (result, error) {
			return runSMSSetup(ctx, c, users, o.concurrency, o.duration), nil
		})
		rep.Scenarios = append(rep.Scenarios, r)
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			return rep, err
		}
	}
	if o.scenario == "forward-auth" {
		what := "the users' aal2 sessions (Bearer), round robin"
		if o.anonymous {
			what = "no session (anonymous)"
		}
		fmt.Fprintf(log, "forward-auth: %d workers for %v, GET /api/v1/auth/auth-request with %s, %s HTTP client\n", o.concurrency, o.duration, what, o.httpClient)
		if err := forwardAuthRounds(ctx, o, rep, c, pids, users, log); err != nil {
			return rep, err
		}
	}
	if o.scenario == "verify-passkey" {
		fmt.Fprintf(log, "verify-passkey: registering a passkey for %d users at concurrency %d (not measured)\n", len(users), o.seedConc)
		if err := enrolPasskeys(ctx, c, users, o.seedConc); err != nil {
			return rep, err
		}
		if err := preLogin(ctx, c, users, o.preConc); err != nil {
			return rep, err
		}
		fmt.Fprintf(log, "verify-passkey: %d workers, one challenge + verify per user (ES256)\n", o.concurrency)
		r, err := measure(pids, func() (result, error) {
			return runVerifyPasskey(ctx, c, users, o.concurrency, o.duration), nil
		})
		rep.Scenarios = append(rep.Scenarios, r)
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			return rep, err
		}
	}
	if o.scenario == "verify-totp" || o.scenario == "all" {
		fmt.Fprintf(log, "verify-totp: logging %d users in at concurrency %d (not measured)\n", len(users), o.preConc)
		if err := preLogin(ctx, c, users, o.preConc); err != nil {
			return rep, err
		}
		step, windowEnd, err := waitWindow(ctx, lastStep, log)
		if err != nil {
			return rep, err
		}
		fmt.Fprintf(log, "verify-totp: %d workers, one code per user\n", o.concurrency)
		r, err := measure(pids, func() (result, error) {
			return runVerify(ctx, c, users, o.concurrency, step, windowEnd), nil
		})
		rep.Scenarios = append(rep.Scenarios, r)
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// splitPIDs parses the --pids list.
func splitPIDs(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("--pids: %q is not a PID", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// redisWithPrefix adds a random key_prefix to a Redis URL that has none,
// so runs never share (or clobber) keys.
func redisWithPrefix(u string) string {
	if u == "" || strings.Contains(u, "key_prefix=") {
		return u
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "key_prefix=bench-" + lowerToken(8) + ":"
}

// redactURL hides a password in a URL for the report.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
