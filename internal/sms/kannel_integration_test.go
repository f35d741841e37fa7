package sms

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testkitDir holds kannel-up.sh and kannel-down.sh, relative to this
// package's directory (go test runs in it).
const testkitDir = "../../../shared/testkit"

// TestKannelRealGateway sends through a real Kannel (bearerbox, smsbox and
// the fake SMSC from kannel-extras, all on loopback) and reads what the
// fake SMSC received: the exact text, multi-line WebOTP line included.
func TestKannelRealGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the real Kannel gateway")
	}
	for _, bin := range []string{"/usr/sbin/bearerbox", "/usr/sbin/smsbox", "/usr/lib/kannel/test/fakesmsc"} {
		if _, err := os.Stat(bin); err != nil {
			t.Skipf("Kannel is not installed (%s missing): apt-get install -y kannel kannel-extras", bin)
		}
	}
	up, err := filepath.Abs(filepath.Join(testkitDir, "kannel-up.sh"))
	if err != nil {
		t.Fatal(err)
	}
	down := filepath.Join(filepath.Dir(up), "kannel-down.sh")
	for _, s := range []string{up, down} {
		if _, err := os.Stat(s); err != nil {
			t.Skipf("testkit script %s not found: %v", s, err)
		}
	}

	ports := freePorts(t, 4)
	dir := t.TempDir()
	env := append(os.Environ(),
		"KANNEL_SENDSMS_PORT="+ports[0],
		"KANNEL_ADMIN_PORT="+ports[1],
		"KANNEL_SMSBOX_PORT="+ports[2],
		"KANNEL_FAKE_PORT="+ports[3],
		"KANNEL_TTL=300", // a bound on the processes should cleanup ever fail
	)
	// Registered before starting, so a half-started gateway is stopped too;
	// kannel-down.sh stops exactly the PIDs kannel-up.sh recorded.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, down, dir)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("kannel-down.sh: %v\n%s", err, out)
		}
	})
	// Bounded: a gateway that never comes up fails the test in 30 s
	// instead of holding CI until go test's own timeout.
	upCtx, cancelUp := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelUp()
	cmd := exec.CommandContext(upCtx, up, dir)
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kannel-up.sh: %v\n%s", err, out)
	}

	sendsms := "http://127.0.0.1:" + ports[0] + "/cgi-bin/sendsms"
	k, err := NewKannel(KannelConfig{URL: sendsms, Username: "tester", Password: "testpw", From: "54321"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := testMessage()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := k.Send(ctx, m); err != nil {
		t.Fatalf("Send through Kannel: %v", err)
	}

	// fakesmsc prints "<sender> <receiver> text <message>"; the message's
	// own newlines follow as they are.
	want := "54321 " + m.To + " text " + m.Body + "\n"
	got := waitForFile(t, filepath.Join(dir, "messages.txt"), len(want), 10*time.Second)
	if kind, rest, ok := strings.Cut(strings.TrimPrefix(got, "54321 "+m.To+" "), " "); ok && kind == "data" {
		if dec, err := url.QueryUnescape(strings.TrimSuffix(rest, "\n")); err == nil {
			got = "54321 " + m.To + " text " + dec + "\n"
		}
	}
	if got != want {
		t.Errorf("the fake SMSC received\n%q\nwant\n%q", got, want)
	}
	if !strings.HasSuffix(got, "\n@"+testHost+" #"+testCode+"\n") {
		t.Errorf("the WebOTP line did not arrive intact: %q", got)
	}

	// Wrong password: smsbox answers 403; the person reads the generic
	// sentence, the cause holds neither password nor text.
	bad, err := NewKannel(KannelConfig{URL: sendsms, Username: "tester", Password: "wrong-pw-9981"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bad.Send(ctx, m)
	se := sendErr(t, err)
	if !se.Permanent || se.Msg != msgUnavailable || !strings.Contains(err.Error(), "status "+strconv.Itoa(http.StatusForbidden)) {
		t.Errorf("wrong password: %v (Permanent=%v, Msg=%q)", err, se.Permanent, se.Msg)
	}
	assertNoLeak(t, err, "wrong-pw-9981")
}

// freePorts returns n distinct loopback ports that were free a moment ago:
// all are held open together, so none is handed out twice, then released.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var ports []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	return ports
}

// waitForFile polls path until it holds at least size bytes or timeout
// passes, and returns its content.
func waitForFile(t *testing.T, path string, size int, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(path)
		if err == nil && len(b) >= size {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v %s holds %q (err %v); the message did not arrive", timeout, path, b, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
