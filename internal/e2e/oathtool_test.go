package e2e

import (
	"encoding/base64"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/e2e/e2etest"
	"github.com/twostep/twostep/internal/testkit"
	"github.com/twostep/twostep/internal/testskip"
)

// needTool skips the test when an outside program is not installed.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		testskip.Skip(t, name+" is not installed", "apt-get install -y "+pkg)
	}
	return p
}

// TestIndependentClient sets up the authenticator app the way a person
// would with any RFC 6238 app: the QR code is read by zbarimg, the code is
// computed by oathtool from the scanned URI, and the server accepts it.
func TestIndependentClient(t *testing.T) {
	t.Parallel()
	zbarimg := needTool(t, "zbarimg", "zbar-tools")
	oathtool := needTool(t, "oathtool", "oathtool")

	in := newInstance(t, "")
	in.AddUser(t, "dave")
	s := in.start(t)
	tok := s.login(t, "dave").str(t, "token")
	st := s.call(t, "POST", "/api/v1/setup/totp", map[string]string{"name": "Laptop (oathtool)"}, bearer(tok)).want(t, 200, "setup totp")

	png, err := base64.StdEncoding.DecodeString(st.str(t, "qr_png"))
	if err != nil {
		t.Fatalf("qr_png is not base64: %v", err)
	}
	pngPath := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(pngPath, png, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(zbarimg, "--raw", "-q", pngPath).Output()
	if err != nil {
		t.Fatalf("zbarimg could not read the QR code: %v", err)
	}
	uri := strings.TrimSpace(string(out))
	if uri != st.str(t, "otpauth_uri") {
		t.Errorf("the QR code holds %q, the API said %q", uri, st.str(t, "otpauth_uri"))
	}
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatalf("scanned URI %q: %v", uri, err)
	}
	secret := u.Query().Get("secret")
	checkOTPAuthURI(t, uri, st.str(t, "secret"), "dave")

	// oathtool and this package's RFC 6238 agree at a fixed time, so the
	// other tests' codes are computed right too.
	const at = 1_700_000_000
	fixed, err := exec.Command(oathtool, "--totp", "-b", "-N", "@"+strconv.Itoa(at), secret).Output()
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	if got, want := strings.TrimSpace(string(fixed)), e2etest.TOTPCode(e2etest.DecodeSecret(t, secret), at/e2etest.TOTPPeriod); got != want {
		t.Errorf("oathtool says %s at T=%d, the test's RFC 6238 says %s", got, at, want)
	}

	// oathtool's own clock: should a step boundary pass before the server
	// checks, the ±1 step skew still accepts the code.
	now, err := exec.Command(oathtool, "--totp", "-b", secret).Output()
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	code := strings.TrimSpace(string(now))
	if !regexp.MustCompile(`^[0-9]{6}$`).MatchString(code) {
		t.Fatalf("oathtool printed %q", code)
	}
	res := s.call(t, "POST", "/api/v1/setup/totp/confirm", map[string]string{"code": code}, bearer(tok)).
		want(t, 200, "confirm with oathtool's code")
	if res.obj(t)["aal"] != "aal2" {
		t.Errorf("confirm: %s", res.body)
	}
	m := s.call(t, "GET", "/api/v1/session", nil, bearer(res.str(t, "token"))).want(t, 200, "session").obj(t)
	if ms, _ := m["methods"].([]any); len(ms) != 1 || ms[0].(map[string]any)["label"] != "Laptop (oathtool)" {
		t.Errorf("methods = %v, want the app named Laptop (oathtool)", m["methods"])
	}
}

// TestTOTPChainScript reads the QR code with internal/testkit's
// totp-chain.sh (zbarimg, then oathtool on the scanned URI's parameters),
// the way an operator checks an installation from a shell.
func TestTOTPChainScript(t *testing.T) {
	t.Parallel()
	needTool(t, "zbarimg", "zbar-tools")
	needTool(t, "oathtool", "oathtool")
	script := testkit.Script(t, "totp-chain.sh")
	in := newInstance(t, "")
	in.AddUser(t, "erin")
	s := in.start(t)
	tok := s.login(t, "erin").str(t, "token")
	st := s.call(t, "POST", "/api/v1/setup/totp", nil, bearer(tok)).want(t, 200, "setup totp")
	png, _ := base64.StdEncoding.DecodeString(st.str(t, "qr_png"))
	pngPath := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(pngPath, png, 0o600); err != nil {
		t.Fatal(err)
	}
	// The code for the current step, computed at a time the server will
	// still take even if a step boundary passes meanwhile (±1 step).
	at := time.Now().Unix()
	out, err := exec.Command("bash", script, "--at", strconv.FormatInt(at, 10), pngPath).Output()
	if err != nil {
		t.Fatalf("totp-chain.sh: %v", err)
	}
	code := strings.TrimSpace(string(out))
	if want := e2etest.TOTPCode(e2etest.DecodeSecret(t, st.str(t, "secret")), at/e2etest.TOTPPeriod); code != want {
		t.Errorf("totp-chain.sh printed %s, the test's RFC 6238 says %s", code, want)
	}
	s.call(t, "POST", "/api/v1/setup/totp/confirm", map[string]string{"code": code}, bearer(tok)).
		want(t, 200, "confirm with totp-chain.sh's code")
}
