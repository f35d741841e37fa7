package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/sms"
)

const testKannelPass = "kannel-pw-7731"

func newTestKannel(t *testing.T, srv *recorder, from string) *Kannel {
	t.Helper()
	k, err := NewKannel(KannelConfig{URL: srv.URL + "/cgi-bin/sendsms", Username: "tester", Password: testKannelPass, From: from}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKannelRequest(t *testing.T) {
	tests := []struct {
		name, from string
		status     int
		answer     string
	}{
		{"accepted, default sender", "", http.StatusAccepted, "0: Accepted for delivery"},
		{"sent, own sender", "twostep", http.StatusOK, "0: Sent."},
		{"queued", "", http.StatusAccepted, "3: Queued for later delivery"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRecorder(t, tt.status, tt.answer)
			m := testMessage()
			if err := newTestKannel(t, srv, tt.from).Send(context.Background(), m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			r := srv.only(t)
			if r.Method != http.MethodGet || r.Path != "/cgi-bin/sendsms" {
				t.Errorf("request %s %s, want GET /cgi-bin/sendsms", r.Method, r.Path)
			}
			want := url.Values{
				"username": {"tester"}, "password": {testKannelPass},
				"to": {m.To}, "text": {m.Body},
				"charset": {"UTF-8"}, "coding": {"0"},
			}
			if tt.from != "" {
				want.Set("from", tt.from)
			}
			if len(r.Query) != len(want) {
				t.Errorf("query %v, want exactly %v", r.Query, want)
			}
			for k, v := range want {
				if got := r.Query[k]; len(got) != 1 || got[0] != v[0] {
					t.Errorf("query %s = %q, want %q", k, got, v[0])
				}
			}
		})
	}
}

func TestKannelKeepsURLQuery(t *testing.T) {
	srv := newRecorder(t, http.StatusAccepted, "0: Accepted for delivery")
	k, err := NewKannel(KannelConfig{URL: srv.URL + "/cgi-bin/sendsms?smsc=fake", Username: "tester", Password: "pw"}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Send(context.Background(), testMessage()); err != nil {
		t.Fatal(err)
	}
	if got := srv.only(t).Query.Get("smsc"); got != "fake" {
		t.Errorf("smsc = %q: the configured query was dropped", got)
	}
}

func TestKannelErrors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		answer    string
		permanent bool
	}{
		{"wrong password", http.StatusForbidden, "Authorization failed for sendsms", true},
		{"bad request", http.StatusBadRequest, "Missing receiver number", true},
		{"queue full", http.StatusServiceUnavailable, "Sending failed.", false},
		{"server error", http.StatusInternalServerError, "", false},
		{"answer echoing secrets", http.StatusForbidden, "denied: password=" + testKannelPass + " text=" + testMessage().Body, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRecorder(t, tt.status, tt.answer)
			err := newTestKannel(t, srv, "").Send(context.Background(), testMessage())
			se := sendErr(t, err)
			if se.Msg != sms.MsgUnavailable || se.Permanent != tt.permanent {
				t.Errorf("Msg=%q Permanent=%v, want %q %v", se.Msg, se.Permanent, sms.MsgUnavailable, tt.permanent)
			}
			if strings.Contains(strings.ToLower(se.Msg), "credential") || strings.Contains(strings.ToLower(se.Msg), "password") {
				t.Errorf("Msg %q talks about credentials", se.Msg)
			}
			if want := fmt.Sprintf("kannel: %s: status %d", srv.URL, tt.status); !strings.Contains(err.Error(), want) {
				t.Errorf("cause %q lacks %q", err.Error(), want)
			}
			if tt.answer != "" && !strings.Contains(tt.answer, testKannelPass) && !strings.Contains(err.Error(), tt.answer) {
				t.Errorf("cause %q lacks Kannel's answer %q", err.Error(), tt.answer)
			}
			assertNoLeak(t, err, testKannelPass, "/cgi-bin/sendsms", "username=")
			if n := len(srv.requests()); n != 1 {
				t.Errorf("server got %d requests, want 1", n)
			}
		})
	}
}

func TestNewKannelConfig(t *testing.T) {
	for _, raw := range []string{"", "127.0.0.1:13013/cgi-bin/sendsms", "ftp://host/x", "http://"} {
		if _, err := NewKannel(KannelConfig{URL: raw}, nil); err == nil {
			t.Errorf("NewKannel(%q) accepted a bad URL", raw)
		}
	}
}
