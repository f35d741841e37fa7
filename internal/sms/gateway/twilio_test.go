package gateway

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/sms"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "tok3n-s3cr3t-value"
)

// twilioCreated is the start of a real 201 answer of the Messages API.
const twilioCreated = `{"account_sid":"AC0123456789abcdef0123456789abcdef","api_version":"2010-04-01","body":"...","from":"+15005550006","sid":"SM0123456789abcdef0123456789abcdef","status":"queued","to":"+12015550123"}`

func newTestTwilio(t *testing.T, srv *recorder, from string) *Twilio {
	t.Helper()
	tw, err := NewTwilio(TwilioConfig{AccountSID: testSID, AuthToken: testToken, From: from, BaseURL: srv.URL}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return tw
}

func TestTwilioRequest(t *testing.T) {
	tests := []struct {
		name, from         string
		wantField, notWant string
	}{
		{"sender number", "+15005550006", "From", "MessagingServiceSid"},
		{"messaging service", "MG0123456789abcdef0123456789abcdef", "MessagingServiceSid", "From"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRecorder(t, http.StatusCreated, twilioCreated)
			tw := newTestTwilio(t, srv, tt.from)
			m := testMessage()
			if err := tw.Send(context.Background(), m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			r := srv.only(t)
			if r.Method != http.MethodPost {
				t.Errorf("method %s, want POST", r.Method)
			}
			if want := "/2010-04-01/Accounts/" + testSID + "/Messages.json"; r.Path != want {
				t.Errorf("path %s, want %s", r.Path, want)
			}
			if !r.HasAuth || r.User != testSID || r.Pass != testToken {
				t.Errorf("basic auth = %q:%q (%v), want SID:token", r.User, r.Pass, r.HasAuth)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
				t.Errorf("Content-Type %q", ct)
			}
			form, err := url.ParseQuery(string(r.Body))
			if err != nil {
				t.Fatal(err)
			}
			want := url.Values{"To": {m.To}, "Body": {m.Body}, tt.wantField: {tt.from}}
			if len(form) != len(want) {
				t.Errorf("form has fields %v, want exactly %v", form, want)
			}
			for k, v := range want {
				if form.Get(k) != v[0] {
					t.Errorf("form %s = %q, want %q", k, form.Get(k), v[0])
				}
			}
			if form.Has(tt.notWant) {
				t.Errorf("form has %s, want only %s", tt.notWant, tt.wantField)
			}
		})
	}
}

// TestTwilioErrors answers with Twilio's real error shapes and checks each
// maps to the right sentence and permanence, with nothing secret in it.
func TestTwilioErrors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		msg       string
		permanent bool
		cause     string // must appear in err.Error()
	}{
		{
			"21211 invalid To", 400,
			`{"code": 21211, "message": "The 'To' number +12015550123 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}`,
			sms.MsgInvalidTo, true, "error 21211: The 'To' number •••• 0123 is not a valid phone number.",
		},
		{
			"21614 not mobile", 400,
			`{"code": 21614, "message": "'To' number is not a valid mobile number", "more_info": "https://www.twilio.com/docs/errors/21614", "status": 400}`,
			sms.MsgNotMobile, true, "error 21614",
		},
		{
			"21408 region not enabled", 400,
			`{"code": 21408, "message": "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: +12015550123.", "more_info": "https://www.twilio.com/docs/errors/21408", "status": 400}`,
			sms.MsgRegion, true, "error 21408",
		},
		{
			"21610 unsubscribed", 400,
			`{"code": 21610, "message": "Attempt to send to unsubscribed recipient", "more_info": "https://www.twilio.com/docs/errors/21610", "status": 400}`,
			sms.MsgUnsubscribed, true, "error 21610",
		},
		{
			"21612 cannot route", 400,
			`{"code": 21612, "message": "The 'To' phone number: +12015550123, is not currently reachable using the 'From' phone number: +15005550006 via SMS.", "more_info": "https://www.twilio.com/docs/errors/21612", "status": 400}`,
			sms.MsgCannotRoute, true, "error 21612",
		},
		{
			"20003 authentication", 401,
			`{"code": 20003, "detail": "Your AccountSid or AuthToken was incorrect.", "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}`,
			sms.MsgUnavailable, true, "status 401, error 20003: Authenticate",
		},
		{
			"429 too many requests", 429,
			`{"code": 20429, "message": "Too Many Requests", "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429}`,
			sms.MsgUnavailable, false, "status 429, error 20429",
		},
		{
			"500 JSON", 500,
			`{"code": 20500, "message": "An internal server error has occurred", "more_info": "https://www.twilio.com/docs/errors/20500", "status": 500}`,
			sms.MsgUnavailable, false, "status 500, error 20500",
		},
		{
			"503 not JSON", 503, "<html>Service Unavailable</html>",
			sms.MsgUnavailable, false, "status 503: <html>Service Unavailable</html>",
		},
		{
			"unknown 400 code", 400,
			`{"code": 21606, "message": "The From phone number +15005550006 is not a valid, SMS-capable inbound phone number or short code for your account.", "status": 400}`,
			sms.MsgUnavailable, false, "error 21606",
		},
		{
			"answer echoing the token", 400, `{"code": 20001, "message": "bad token tok3n-s3cr3t-value", "status": 400}`,
			sms.MsgUnavailable, false, "bad token [redacted]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRecorder(t, tt.status, tt.body)
			err := newTestTwilio(t, srv, "+15005550006").Send(context.Background(), testMessage())
			se := sendErr(t, err)
			if se.Msg != tt.msg || se.Permanent != tt.permanent {
				t.Errorf("Msg=%q Permanent=%v, want %q %v", se.Msg, se.Permanent, tt.msg, tt.permanent)
			}
			if !strings.Contains(err.Error(), tt.cause) {
				t.Errorf("cause %q lacks %q", err.Error(), tt.cause)
			}
			if strings.Contains(strings.ToLower(se.Msg), "credential") || strings.Contains(strings.ToLower(se.Msg), "token") {
				t.Errorf("Msg %q talks about credentials", se.Msg)
			}
			assertNoLeak(t, err, testToken)
			if n := len(srv.requests()); n != 1 {
				t.Errorf("server got %d requests, want 1: an HTTP answer is never retried", n)
			}
		})
	}
}

func TestNewTwilioConfig(t *testing.T) {
	for _, cfg := range []TwilioConfig{
		{AuthToken: testToken, From: "+1"},
		{AccountSID: "AC", From: "+1"},
		{AccountSID: "AC", AuthToken: testToken},
		{AccountSID: "AC", AuthToken: testToken, From: "+1", BaseURL: "ftp://x"},
		{AccountSID: "AC", AuthToken: testToken, From: "+1", BaseURL: "https://"},
	} {
		if _, err := NewTwilio(cfg, nil); err == nil {
			t.Errorf("NewTwilio(%+v) accepted an incomplete config", cfg)
		} else if cfg.AuthToken != "" && strings.Contains(err.Error(), cfg.AuthToken) {
			t.Errorf("error %q contains the token", err)
		}
	}
	tw, err := NewTwilio(TwilioConfig{AccountSID: "AC1", AuthToken: "t", From: "+15005550006"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json"; tw.endpoint != want {
		t.Errorf("default endpoint %s, want %s", tw.endpoint, want)
	}
	if tw.client.Timeout != defaultTimeout {
		t.Errorf("default client timeout %v, want %v", tw.client.Timeout, defaultTimeout)
	}
	if tw.Name() != "twilio" {
		t.Errorf("Name() = %q", tw.Name())
	}
}
