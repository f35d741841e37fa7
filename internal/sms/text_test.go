package sms

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
)

// chromiumOTP is the pattern Chromium's sms_parser.cc applies to find the
// origin-bound code; Safari's parser follows the same spec.
var chromiumOTP = regexp.MustCompile(`(?:^|\s)@([a-zA-Z0-9.-]+) #([^#\s]+)(?: @([a-zA-Z0-9.-]+))?`)

func TestText(t *testing.T) {
	tests := []struct {
		name, app, code, host string
		want                  string
	}{
		{
			"plain", "twostep", "123456", "login.example.com",
			"Your twostep code is 123456. It expires in 5 minutes. Don't share it.\n\n@login.example.com #123456",
		},
		{
			"port dropped", "Example Corp", "000042", "login.example.com:8443",
			"Your Example Corp code is 000042. It expires in 5 minutes. Don't share it.\n\n@login.example.com #000042",
		},
		{
			"upper case host and trailing dot", "twostep", "123456", "Login.Example.COM.",
			"Your twostep code is 123456. It expires in 5 minutes. Don't share it.\n\n@login.example.com #123456",
		},
		{
			"URL given instead of host", "twostep", "123456", "https://login.example.com:443/x",
			"Your twostep code is 123456. It expires in 5 minutes. Don't share it.\n\n@login.example.com #123456",
		},
		{
			"localhost", "twostep", "123456", "localhost:8080",
			"Your twostep code is 123456. It expires in 5 minutes. Don't share it.\n\n@localhost #123456",
		},
		{
			"no host, no WebOTP line", "twostep", "123456", "",
			"Your twostep code is 123456. It expires in 5 minutes. Don't share it.",
		},
		{
			"IPv6 host cannot be written", "twostep", "123456", "[::1]:8080",
			"Your twostep code is 123456. It expires in 5 minutes. Don't share it.",
		},
		{
			"non-ASCII host cannot be written", "twostep", "123456", "münchen.example",
			"Your twostep code is 123456. It expires in 5 minutes. Don't share it.",
		},
		{
			"curly quotes and dashes straightened", "Bob\u2019s \u201cShop\u201d \u2013 Login", "123456", "shop.example",
			"Your Bob's \"Shop\" - Login code is 123456. It expires in 5 minutes. Don't share it.\n\n@shop.example #123456",
		},
		{
			"other non-ASCII replaced", "Café 東京", "123456", "cafe.example",
			"Your Caf? ?? code is 123456. It expires in 5 minutes. Don't share it.\n\n@cafe.example #123456",
		},
		{
			"newline in app cannot forge a WebOTP line", "x\n\n@evil.example #000000\n", "123456", "good.example",
			"Your x  evil.example 000000 code is 123456. It expires in 5 minutes. Don't share it.\n\n@good.example #123456",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Text(tt.app, tt.code, tt.host)
			if got != tt.want {
				t.Errorf("Text(%q, %q, %q) =\n%q\nwant\n%q", tt.app, tt.code, tt.host, got, tt.want)
			}
			for i := 0; i < len(got); i++ {
				if c := got[i]; c > 0x7e || (c < ' ' && c != '\n') {
					t.Fatalf("byte %d of %q is %#x: not printable ASCII", i, got, c)
				}
			}
			lines := strings.Split(got, "\n")
			last := lines[len(lines)-1]
			if strings.HasPrefix(last, "@") {
				m := chromiumOTP.FindStringSubmatch(last)
				if m == nil || m[0] != last || m[2] != tt.code {
					t.Errorf("WebOTP line %q does not parse as host + code %q: %q", last, tt.code, m)
				}
				if lines[len(lines)-2] != "" {
					t.Errorf("WebOTP line is not preceded by a blank line")
				}
			}
		})
	}
}

func TestTextFitsOneSegment(t *testing.T) {
	// GSM 7-bit: 160 characters per single text. A typical message must
	// not cost two.
	if got := Text("Example Corp", "123456", "login.example.com"); len(got) > 160 {
		t.Errorf("message is %d characters, over one SMS segment: %q", len(got), got)
	}
}

func TestSendError(t *testing.T) {
	cause := context.Canceled
	err := error(&SendError{Msg: MsgUnavailable, Err: cause})
	if !errors.Is(err, context.Canceled) {
		t.Error("errors.Is does not reach the cause")
	}
	if got := err.Error(); got != "sms: context canceled" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&SendError{Msg: "m"}).Error(); got != "sms: m" {
		t.Errorf("Error() without cause = %q", got)
	}
}

func TestMaskHelper(t *testing.T) {
	for in, want := range map[string]string{
		"+12015550123": "•••• 0123",
		"+1234567":     "•••• 567",
		"+1234":        "••••",
		"":             "••••",
		"\xff":         "••••",
	} {
		if got := mask(in); got != want {
			t.Errorf("mask(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestQuote(t *testing.T) {
	m := testMessage()
	tests := []struct {
		name, in string
		secrets  []string
		want     string
	}{
		{"number masked", "The 'To' number +12015550123 is not valid.", nil, "The 'To' number •••• 0123 is not valid."},
		{"number without plus masked", "bad to=12015550123", nil, "bad to=•••• 0123"},
		{"body cut", "echo: " + m.Body, nil, "echo: [body]"},
		{"code cut", "code 493817 rejected", nil, "code [digits] rejected"},
		{"short numbers kept", "error 21211 status 400", nil, "error 21211 status 400"},
		{"secret cut", "bad password hunter2", []string{"hunter2"}, "bad password [redacted]"},
		{"control characters flattened", "line1\r\nline2\x00", nil, "line1  line2"},
		{"invalid UTF-8", "a\xffb", nil, "a?b"},
		{"long answer cut", strings.Repeat("é", 300), nil, strings.Repeat("é", 100) + "..."},
	}
	for _, tt := range tests {
		if got := Quote([]byte(tt.in), m, tt.secrets...); got != tt.want {
			t.Errorf("%s: Quote(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

// TestCheckRefuses covers the checks every provider makes before sending.
func TestCheckRefuses(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name      string
		ctx       context.Context
		m         Message
		permanent bool
		msg       string
	}{
		{"cancelled", cancelled, testMessage(), false, MsgUnavailable},
		{"national number", context.Background(), Message{To: "2015550123", Body: "x"}, true, MsgInvalidTo},
		{"short code", context.Background(), Message{To: "+12", Body: "x"}, true, MsgInvalidTo},
		{"injection", context.Background(), Message{To: "+1201555&from=x", Body: "x"}, true, MsgInvalidTo},
		{"leading zero", context.Background(), Message{To: "+0123456789", Body: "x"}, true, MsgInvalidTo},
		{"too long", context.Background(), Message{To: "+1234567890123456", Body: "x"}, true, MsgInvalidTo},
		{"empty body", context.Background(), Message{To: testTo}, true, MsgUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			se := sendErr(t, Check(tt.ctx, "test", tt.m))
			if se.Permanent != tt.permanent || se.Msg != tt.msg {
				t.Errorf("got Permanent=%v Msg=%q, want %v %q", se.Permanent, se.Msg, tt.permanent, tt.msg)
			}
			assertNoLeak(t, se)
		})
	}
	if err := Check(context.Background(), "test", testMessage()); err != nil {
		t.Errorf("Check refused a good message: %v", err)
	}
}
