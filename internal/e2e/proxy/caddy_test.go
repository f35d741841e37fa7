package proxy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/twostep/twostep/internal/testskip"

	"github.com/twostep/twostep/internal/e2e/e2etest"
)

const caddyPath = "/usr/bin/caddy"

// caddyfile is the Caddy configuration of the tests: docs/proxies.md shows
// it, with real names and addresses. {port} is Caddy's port, {twostep}
// twostep's address and {app} the application's.
//
// The route block matters: Caddy's default directive order runs
// request_header after forward_auth, so outside a route the lines that
// remove the client's Remote-* headers would also remove twostep's.
const caddyfile = `# written by internal/e2e/proxy; see docs/proxies.md
{
	admin off
	auto_https off
}

# Requests for unknown host names get nothing.
http://:{port} {
	bind 127.0.0.1
	respond 421
}

# twostep itself: the sign-in pages and the JSON API.
http://login.example.test:{port} {
	bind 127.0.0.1
	reverse_proxy {twostep}
}

# A protected application.
http://app.example.test:{port} {
	bind 127.0.0.1
	route {
		# A client's own identity headers never reach the application,
		# whatever twostep answers (Caddy 2.9 to 2.11.1 keep the client's
		# copy of a copy_headers field that the answer lacks), nor do
		# their underscore spellings (Remote_User), which CGI and PHP
		# applications read as REMOTE_USER.
		request_header -Remote-*
		request_header -Remote_*
		forward_auth {twostep} {
			uri /api/v1/auth/forward-auth
			copy_headers Remote-User Remote-Name Remote-Email Remote-Groups
		}
		reverse_proxy {app}
	}
}
`

// startCaddy writes the Caddyfile into a fresh directory and runs Caddy on
// port in front of twostep and the application, with no admin endpoint
// and its own home, configuration and data directories, and stops it by
// its PID when the test ends.
func startCaddy(t *testing.T, port int, tsAddr, appAddr string) frontend {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "Caddyfile")
	text := strings.NewReplacer("{port}", strconv.Itoa(port), "{twostep}", tsAddr, "{app}", appAddr).Replace(caddyfile)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var out e2etest.Log
	cmd := exec.Command(caddyPath, "run", "--config", conf, "--adapter", "caddyfile")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"), "XDG_DATA_HOME=" + filepath.Join(dir, "data")}
	cmd.Stdout, cmd.Stderr = &out, &out
	runPeer(t, "caddy", cmd, syscall.SIGTERM, port, func() string { return "log:\n" + out.String() }, false)
	return frontend{port: port, scheme: "http"}
}

// newCaddySetup is twostep and the application behind a real Caddy, over
// plain HTTP.
func newCaddySetup(t *testing.T) *setup {
	t.Helper()
	if _, err := os.Stat(caddyPath); err != nil {
		testskip.Skip(t, "Caddy is not installed ("+caddyPath+" missing)", "apt-get install -y caddy")
	}
	return newSetupWith(t, nil, startCaddy)
}

// TestCaddyForwardAuth runs the forward-auth journey through a real Caddy
// with docs/proxies.md's Caddyfile, then the attack corpus: header
// injection, path tricks and Host tricks never reach the application, and
// a client's own Remote-* headers (dashes or underscores) never arrive
// beside twostep's.
func TestCaddyForwardAuth(t *testing.T) {
	s := newCaddySetup(t)
	// Debian's Caddy is 2.6.2: copy_headers writes its placeholder into
	// headers twostep leaves out (proxyTraits.placeholderForMissing).
	traits := proxyTraits{placeholderForMissing: true}
	tok := forwardAuthJourney(t, s, traits)
	t.Run("attack corpus", func(t *testing.T) { runCorpus(t, s, tok, traits) })
}
