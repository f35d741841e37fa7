package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// argon2Params are the server's password-hashing parameters, passed as
// TWOSTEP_PASSWORD_ARGON2_* and stated in the report.
type argon2Params struct {
	MemoryKiB int `json:"memory_kib"`
	Time      int `json:"time"`
	Threads   int `json:"threads"`
}

// server is the twostep process under test, when bench started it.
type server struct {
	cmd     *exec.Cmd
	dir     string // fresh data directory, removed on stop
	url     string
	token   string // admin token
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error
}

// startServer runs `bin serve` in a fresh temporary directory on a free
// loopback port, with limits raised so one client IP is not throttled,
// and waits for the first 200 on /readyz. It returns the time from process
// start to that answer.
// serverConfig is what instances of one run share. Empty fields mean a
// single SQLite instance with its own key and a fresh admin token.
type serverConfig struct {
	database  string // postgres:// URL; empty: SQLite in the instance's directory
	redis     string // optional Redis URL
	keyFile   string // shared key file; empty: the instance's directory
	token     string // shared admin token; empty: a fresh one
	publicURL string // verify-passkey: a host name, which passkeys need
}

func startServer(ctx context.Context, bin string, a argon2Params, sc serverConfig) (*server, time.Duration, error) {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return nil, 0, err
	}
	dir, err := os.MkdirTemp("", "twostep-bench-")
	if err != nil {
		return nil, 0, err
	}
	addr, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, 0, err
	}
	if sc.token == "" {
		sc.token = randomToken(40)
	}
	if sc.database == "" {
		sc.database = "sqlite:" + filepath.Join(dir, "twostep.db")
	}
	if sc.keyFile == "" {
		sc.keyFile = filepath.Join(dir, "twostep.key")
	}
	s := &server{dir: dir, url: "http://" + addr, token: sc.token, logPath: filepath.Join(dir, "server.log"), done: make(chan struct{})}
	logf, err := os.Create(s.logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, 0, err
	}
	defer logf.Close()

	env := []string{
		"TWOSTEP_LISTEN=" + addr,
		"TWOSTEP_DATABASE=" + sc.database,
		"TWOSTEP_KEY_FILE=" + sc.keyFile,
		"TWOSTEP_ADMIN_TOKEN=" + s.token,
		"TWOSTEP_PASSWORD_ARGON2_MEMORY=" + strconv.Itoa(a.MemoryKiB),
		"TWOSTEP_PASSWORD_ARGON2_TIME=" + strconv.Itoa(a.Time),
		"TWOSTEP_PASSWORD_ARGON2_THREADS=" + strconv.Itoa(a.Threads),
		"TWOSTEP_LIMITS_LOGIN_PER_IP=100000000",
		"TWOSTEP_LIMITS_VERIFY_PER_IP=100000000",
		"TWOSTEP_LIMITS_VERIFY_PER_USER=1000",
		// login-flood answers 503 to most attempts, and an attempt that
		// never reached the hash still counts against the account.
		"TWOSTEP_LIMITS_LOGIN_PER_ACCOUNT=100000000",
		"TWOSTEP_LOG_LEVEL=warn",
		// sms-setup: texts go to a file, budgets out of the way.
		"TWOSTEP_SMS_PROVIDER=file",
		"TWOSTEP_SMS_FILE=" + filepath.Join(dir, "sms.jsonl"),
	}
	if sc.publicURL != "" {
		env = append(env, "TWOSTEP_PUBLIC_URL="+sc.publicURL)
	}
	for _, b := range []string{"NUMBER_HOUR", "NUMBER_DAY", "USER_HOUR", "USER_DAY", "IP_HOUR", "IP_DAY", "COUNTRY_HOUR", "COUNTRY_DAY", "GLOBAL_HOUR", "GLOBAL_DAY"} {
		env = append(env, "TWOSTEP_SMS_BUDGET_"+b+"=100000000")
	}
	if sc.redis != "" {
		env = append(env, "TWOSTEP_REDIS="+sc.redis)
	}
	// The parent's TWOSTEP_* variables must not leak into the run: the
	// server refuses unknown ones and a stray one would change the test.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TWOSTEP_") {
			env = append(env, kv)
		}
	}
	s.cmd = exec.Command(bin, "serve")
	s.cmd.Dir = dir
	s.cmd.Env = env
	s.cmd.Stdout = logf
	s.cmd.Stderr = logf
	s.cmd.SysProcAttr = sysProcAttr()

	poll := &http.Client{Timeout: time.Second}
	start := time.Now()
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, 0, err
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.done) }()

	// Poll every millisecond; 15 s is far beyond any sane start-up.
	deadline := start.Add(15 * time.Second)
	for {
		if ctx.Err() != nil || time.Now().After(deadline) {
			s.stop()
			return nil, 0, fmt.Errorf("server not ready after %v: %w", time.Since(start).Round(time.Millisecond), errors.Join(ctx.Err(), errors.New(s.logTail())))
		}
		select {
		case <-s.done:
			err := fmt.Errorf("server exited during start-up (%v): %s", s.waitErr, s.logTail())
			os.RemoveAll(dir)
			return nil, 0, err
		default:
		}
		resp, err := poll.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, time.Since(start), nil
			}
		}
		time.Sleep(time.Millisecond)
	}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stop ends the server: SIGTERM for a graceful shutdown, SIGKILL after
// 10 s. Only this PID is signalled. The data directory is removed.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	os.RemoveAll(s.dir)
}

// logTail returns the end of the server's log, for error messages.
func (s *server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// freePort asks the kernel for a free loopback port. Another process
// could take it before the server binds it; on this machine that is a
// theoretical race, and start-up fails loudly if it happens.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// randomToken returns n random characters from crypto/rand (base32:
// A–Z and 2–7, 5 bits each).
func randomToken(n int) string {
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(rand.Text())
	}
	return b.String()[:n]
}
