package gateway

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/sms"
	"github.com/twostep/twostep/internal/sms/gateway/kanneltest"
)

// TestKannelRealGateway sends through a real Kannel (bearerbox, smsbox and
// the fake SMSC from kannel-extras, all on loopback) and reads what the
// fake SMSC received: the exact text, multi-line WebOTP line included.
func TestKannelRealGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the real Kannel gateway")
	}
	g := kanneltest.Start(t)
	sendsms := g.SendSMS
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
	got := waitForFile(t, filepath.Join(g.Dir, "messages.txt"), len(want), 10*time.Second)
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
	if !se.Permanent || se.Msg != sms.MsgUnavailable || !strings.Contains(err.Error(), "status "+strconv.Itoa(http.StatusForbidden)) {
		t.Errorf("wrong password: %v (Permanent=%v, Msg=%q)", err, se.Permanent, se.Msg)
	}
	assertNoLeak(t, err, "wrong-pw-9981")
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
