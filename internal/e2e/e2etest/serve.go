// Package e2etest is what the black-box suites (internal/e2e, e2e/browser,
// e2e/proxy) share. It runs the real twostep entry point (cli.RunEnv) in
// the test process: an Instance (settings, database, key file, one log)
// with its CLI commands, and `twostep serve` in a goroutine, its
// listening address read from the start-up line (Serve, Instance.Start).
// It plays the other side as independently as it can: RFC 6238 codes
// computed from the RFC (TOTPCode, TOTPGen), the file SMS provider's
// texts read and checked (Outbox), HTTP clients that follow no redirect
// (NewClient), and a headless Chromium with a person at a tab
// (StartChromium, Tab).
package e2etest

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/twostep/twostep/internal/cli"
)

// Log is a goroutine-safe buffer for everything a server and CLI commands
// write.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

var listeningRE = regexp.MustCompile(`msg="twostep listening" addr=(127\.0\.0\.1:\d+)`)

// ListenAddr returns the address of the first start-up line ("twostep
// listening") in log, or "" while there is none: for tests that run the
// built binary as a child process and read its output.
func ListenAddr(log string) string {
	if m := listeningRE.FindStringSubmatch(log); m != nil {
		return m[1]
	}
	return ""
}

// Serve starts `twostep serve` with env (which should set
// TWOSTEP_LISTEN=127.0.0.1:0), writing to log, and waits up to 10 s for
// its start-up line. Several servers may share one log: only what is
// written after the call is searched. stop cancels the server, waits up
// to 15 s and returns its exit code (-1 if it did not stop).
func Serve(env []string, log *Log) (addr string, stop func() int, err error) {
	from := len(log.String())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- cli.RunEnv(ctx, []string{"serve"}, env, strings.NewReader(""), log, log) }()
	var once sync.Once
	code := -1
	stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(15 * time.Second):
			}
		})
		return code
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := listeningRE.FindStringSubmatch(log.String()[from:]); m != nil {
			return m[1], stop, nil
		}
		select {
		case c := <-done:
			cancel()
			return "", func() int { return c }, fmt.Errorf("twostep serve exited with %d before listening", c)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", stop, fmt.Errorf("twostep serve did not log its address within 10 s")
		}
	}
}
