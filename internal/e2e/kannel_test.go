package e2e

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/sms/gateway/kanneltest"
)

// kannelGateway is a running Kannel: bearerbox, smsbox and the fake SMSC
// from kannel-extras, all on loopback ports that were free.
type kannelGateway struct {
	dir     string // kannel-up.sh's work directory, holding messages.txt
	sendsms string // smsbox's sendsms URL
}

// startKannel starts a Kannel, or skips the test when Kannel or the
// testkit is missing; it stops at cleanup.
func startKannel(t *testing.T) kannelGateway {
	t.Helper()
	g := kanneltest.Start(t)
	return kannelGateway{dir: g.Dir, sendsms: g.SendSMS}
}

// smscHeadRE starts each message in messages.txt: "<sender> <receiver>
// <kind> "; a text's own line breaks follow as they are.
var smscHeadRE = regexp.MustCompile(`(?m)^(\S+) (\+?[0-9]+) (text|data|ucs-2) `)

// received returns the bodies the fake SMSC got for the number, in order.
func (k kannelGateway) received(t *testing.T, to string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(k.dir, "messages.txt"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	s := string(b)
	idx := smscHeadRE.FindAllStringSubmatchIndex(s, -1)
	var out []string
	for i, m := range idx {
		end := len(s)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		body := strings.TrimSuffix(s[m[1]:end], "\n")
		if s[m[4]:m[5]] != to {
			continue
		}
		if s[m[6]:m[7]] == "data" { // non-printable characters: URL-encoded
			if dec, err := url.QueryUnescape(body); err == nil {
				body = dec
			}
		}
		out = append(out, body)
	}
	return out
}

// waitCode waits up to 10 s for the n-th text to the number and returns
// its code.
func (k kannelGateway) waitCode(t *testing.T, to string, n int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := k.received(t, to)
		if len(got) >= n {
			if len(got) > n {
				t.Errorf("the fake SMSC got %d texts to %s, want %d: %q", len(got), to, n, got)
			}
			return codeOf(t, got[n-1])
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(k.dir, "messages.txt"))
			t.Fatalf("text %d to %s did not reach the fake SMSC within 10 s; messages.txt:\n%s", n, to, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSMSKannelGateway sets up a phone and signs in with codes that went
// through a real Kannel (smsbox's sendsms, bearerbox, the fake SMSC): the
// code is read from what the fake SMSC received, WebOTP line and all.
func TestSMSKannelGateway(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: skipping the real Kannel gateway")
	}
	const e164 = "+12015550123"
	k := startKannel(t)
	in := newInstance(t, "",
		"TWOSTEP_SMS_PROVIDER=kannel",
		"TWOSTEP_SMS_KANNEL_URL="+k.sendsms,
		"TWOSTEP_SMS_KANNEL_USERNAME=tester",
		"TWOSTEP_SMS_KANNEL_PASSWORD=testpw",
		"TWOSTEP_PUBLIC_URL="+smsPublicURL,
	)
	in.AddUser(t, "kim")
	s := in.start(t)

	tok := s.login(t, "kim").str(t, "token")
	s.call(t, "POST", "/api/v1/setup/plan", map[string]any{"methods": []string{"sms"}}, bearer(tok)).want(t, 200, "plan sms")
	factorID := checkSMSStarted(t, s.startSMS(t, tok, "US", "(201) 555-0123"), smsMasked, "setup sms through Kannel")
	code := k.waitCode(t, e164, 1)
	res := s.call(t, "POST", "/api/v1/setup/sms/confirm", map[string]string{"code": code}, bearer(tok)).want(t, 200, "confirm")
	if m := res.obj(t); m["aal"] != "aal2" || m["next"] != "done" {
		t.Errorf("confirm: %s, want aal2 and done", res.body)
	}
	s.call(t, "DELETE", "/api/v1/session", nil, bearer(res.str(t, "token"))).want(t, 204, "logout")

	// Later sign-in with a code sent on request.
	res = s.login(t, "kim")
	if m := res.obj(t); m["next"] != "verify" {
		t.Fatalf("login: %s, want next verify", res.body)
	}
	checkSMSMethod(t, res.obj(t)["methods"], factorID, 1)
	tok = res.str(t, "token")
	ageSMSCodes(t, s.OpenDB(t), "kim", 30*time.Second) // past the resend cooldown of the set-up text
	s.challengeSMS(t, tok, e164)
	code = k.waitCode(t, e164, 2)
	res = s.call(t, "POST", "/api/v1/verify", map[string]string{"method": "sms", "code": code}, bearer(tok)).want(t, 200, "verify")
	if res.obj(t)["aal"] != "aal2" {
		t.Errorf("verify: %s, want aal2", res.body)
	}
	// The password travels in smsbox's query string; it must not reach
	// twostep's log.
	if strings.Contains(s.Log.String(), "testpw") {
		t.Error("the log contains the Kannel password")
	}
}
