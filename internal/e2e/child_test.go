package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/e2e/e2etest"
)

// The in-process harness (e2etest.Serve) runs `twostep serve` as a
// goroutine, which no signal can kill on its own. Tests that must SIGKILL
// the server build the real binary and run it as a child process.

// buildBinary builds ./cmd/twostep from the module holding the test's
// working directory into the test's temporary directory and returns its
// path. Build it once per test and reuse it across subtests.
func buildBinary(t *testing.T) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	// go test puts GOROOT/bin first on the test's PATH.
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "twostep")
	cmd := exec.Command(goTool, "build", "-o", bin, "./cmd/twostep")
	cmd.Dir = root
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/twostep: %v\n%s", err, out)
	}
	t.Logf("built ./cmd/twostep in %v", time.Since(start).Round(time.Millisecond))
	return bin
}

// moduleRoot is the nearest directory at or above the working directory
// that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory")
		}
		dir = parent
	}
}

// childEnv is the instance's TWOSTEP_* settings plus the parent's
// environment without its own TWOSTEP_* variables: a stray one would
// change the server under test.
func (in *instance) childEnv() []string {
	env := slices.Clone(in.Env)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TWOSTEP_") {
			env = append(env, kv)
		}
	}
	return env
}

// child is one `twostep serve` process.
type child struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and its output is copied
	err  error         // Wait's result, set before done is closed
}

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL to the child's PID (nothing else) and waits for it to
// end; a no-op once it has ended.
func (c *child) kill() {
	if c.exited() {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// spawn runs `bin serve` with the instance's settings, its output going to
// the instance's log, and waits up to 15 s for its start-up line. The
// returned server's stop ends it with SIGTERM and requires exit status 0;
// at cleanup a child still running is killed by its PID.
func (in *instance) spawn(t *testing.T, bin string) (*server, *child) {
	t.Helper()
	from := len(in.Log.String())
	cmd := exec.Command(bin, "serve")
	cmd.Dir = in.Dir
	cmd.Env = in.childEnv()
	cmd.Stdout, cmd.Stderr = in.Log, in.Log
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s serve: %v", bin, err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	t.Cleanup(c.kill)

	var addr string
	for deadline := time.Now().Add(15 * time.Second); ; {
		if addr = e2etest.ListenAddr(in.Log.String()[from:]); addr != "" {
			break
		}
		if c.exited() {
			t.Fatalf("twostep serve (pid %d) exited before listening: %v; log:\n%s", cmd.Process.Pid, c.err, tail(in.Log.String()[from:], 3000))
		}
		if time.Now().After(deadline) {
			c.kill()
			t.Fatalf("twostep serve (pid %d) did not log its address within 15 s; log:\n%s", cmd.Process.Pid, tail(in.Log.String()[from:], 3000))
		}
		time.Sleep(10 * time.Millisecond)
	}
	s, tr := in.serverAt(addr)
	s.stop = func() {
		tr.CloseIdleConnections()
		if c.exited() {
			return
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
			if c.err != nil {
				t.Errorf("twostep serve (pid %d) after SIGTERM: %v; log:\n%s", cmd.Process.Pid, c.err, tail(in.Log.String(), 3000))
			}
		case <-time.After(20 * time.Second):
			c.kill()
			t.Errorf("twostep serve (pid %d) did not stop within 20 s of SIGTERM; killed", cmd.Process.Pid)
		}
	}
	return s, c
}

// runCLI runs `bin args...` with the instance's settings and returns its
// exit code and standard output; standard error goes to the instance's log.
func (in *instance) runCLI(t *testing.T, bin, stdin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = in.Dir
	cmd.Env = in.childEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, in.Log
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	}
	t.Fatalf("run twostep %s: %v", strings.Join(args, " "), err)
	return -1, ""
}
