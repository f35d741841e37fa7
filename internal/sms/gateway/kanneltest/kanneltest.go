// Package kanneltest starts a real Kannel SMS gateway for tests: bearerbox,
// smsbox and the fake SMSC from Debian's kannel and kannel-extras, all on
// free loopback ports, through internal/testkit's kannel-up.sh. Tests skip
// only when Kannel is not installed.
package kanneltest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/testkit"
	"github.com/twostep/twostep/internal/testskip"
)

// Gateway is a running Kannel.
type Gateway struct {
	Dir     string // kannel-up.sh's work directory; the fake SMSC writes messages.txt here
	SendSMS string // smsbox's sendsms URL (user tester, password testpw)
}

// Start starts a gateway, stopped by kannel-down.sh at test cleanup. Start
// and stop are each bounded to 30 s, so a broken gateway fails the test
// instead of holding CI.
func Start(t testing.TB) Gateway {
	t.Helper()
	for _, bin := range []string{"/usr/sbin/bearerbox", "/usr/sbin/smsbox", "/usr/lib/kannel/test/fakesmsc"} {
		if _, err := os.Stat(bin); err != nil {
			testskip.Skip(t, "Kannel is not installed ("+bin+" missing)", "apt-get install -y kannel kannel-extras")
		}
	}
	up, down := testkit.Script(t, "kannel-up.sh"), testkit.Script(t, "kannel-down.sh")

	ports := freePorts(t, 4)
	dir := t.TempDir()
	env := append(os.Environ(),
		"KANNEL_SENDSMS_PORT="+ports[0],
		"KANNEL_ADMIN_PORT="+ports[1],
		"KANNEL_SMSBOX_PORT="+ports[2],
		"KANNEL_FAKE_PORT="+ports[3],
		"KANNEL_TTL=300", // bounds the processes should the cleanup fail
	)
	// Registered before the start, so a half-started gateway is stopped
	// too; kannel-down.sh stops exactly the PIDs kannel-up.sh recorded.
	t.Cleanup(func() {
		if out, err := run(down, dir, env); err != nil {
			t.Errorf("kannel-down.sh: %v\n%s", err, out)
		}
	})
	if out, err := run(up, dir, env); err != nil {
		t.Fatalf("kannel-up.sh: %v\n%s", err, out)
	}
	return Gateway{Dir: dir, SendSMS: "http://127.0.0.1:" + ports[0] + "/cgi-bin/sendsms"}
}

func run(script, dir string, env []string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, dir)
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

// freePorts returns n distinct loopback ports that were free a moment ago
// (all held open together, so none is handed out twice).
func freePorts(t testing.TB, n int) []string {
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
