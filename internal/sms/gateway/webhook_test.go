package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/sms"
)

const testWebhookSecret = "whsec-0f9e8d7c"

var testNow = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("X", 3600))

func newTestWebhook(t *testing.T, srv *recorder, secret string) *Webhook {
	t.Helper()
	w, err := NewWebhook(WebhookConfig{URL: srv.URL + "/hooks/sms/T0KEN", Secret: secret, Now: func() time.Time { return testNow }}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWebhookRequest(t *testing.T) {
	srv := newRecorder(t, http.StatusNoContent, "")
	m := testMessage()
	if err := newTestWebhook(t, srv, testWebhookSecret).Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r := srv.only(t)
	if r.Method != http.MethodPost || r.Path != "/hooks/sms/T0KEN" {
		t.Errorf("request %s %s", r.Method, r.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var got map[string]string
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatalf("body %q is not a JSON object of strings: %v", r.Body, err)
	}
	want := map[string]string{"to": m.To, "body": m.Body, "sent_at": "2026-03-14T14:09:26.535897932Z"}
	if len(got) != len(want) {
		t.Errorf("body has fields %v, want exactly %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("body %s = %q, want %q", k, got[k], v)
		}
	}

	// Verify as a receiver would: the signed timestamp, then an HMAC over
	// exactly the bytes received, compared in constant time.
	ts := r.Header.Get(TimestampHeader)
	if ts != strconv.FormatInt(testNow.Unix(), 10) {
		t.Errorf("%s = %q, want %d", TimestampHeader, ts, testNow.Unix())
	}
	mac := hmac.New(sha256.New, []byte(testWebhookSecret))
	mac.Write([]byte(ts + "." + string(r.Body)))
	wantSig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if sig := r.Header.Get(SignatureHeader); !hmac.Equal([]byte(sig), []byte(wantSig)) {
		t.Errorf("%s = %q, want %q", SignatureHeader, sig, wantSig)
	}
	if Signature([]byte(testWebhookSecret), ts, r.Body) != wantSig {
		t.Error("Signature disagrees with an independent HMAC")
	}
	// A replay with another timestamp, or another body, fails verification.
	if Signature([]byte(testWebhookSecret), strconv.FormatInt(testNow.Unix()+600, 10), r.Body) == wantSig {
		t.Error("signature does not cover the timestamp")
	}
	if Signature([]byte(testWebhookSecret), ts, append(r.Body, ' ')) == wantSig {
		t.Error("signature does not cover the body")
	}
}

func TestWebhookUnsigned(t *testing.T) {
	srv := newRecorder(t, http.StatusOK, "ok")
	if err := newTestWebhook(t, srv, "").Send(context.Background(), testMessage()); err != nil {
		t.Fatal(err)
	}
	r := srv.only(t)
	for _, h := range []string{TimestampHeader, SignatureHeader} {
		if _, ok := r.Header[http.CanonicalHeaderKey(h)]; ok {
			t.Errorf("header %s sent without a secret", h)
		}
	}
}

func TestWebhookErrors(t *testing.T) {
	tests := []struct {
		status    int
		answer    string
		permanent bool
	}{
		{http.StatusBadRequest, `{"error":"bad number +12015550123"}`, true},
		{http.StatusUnauthorized, "bad signature", true},
		{http.StatusRequestTimeout, "", false},
		{http.StatusTooManyRequests, "slow down", false},
		{http.StatusBadGateway, "upstream gateway down", false},
		{http.StatusFound, "", true}, // redirects are not followed
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			srv := newRecorder(t, tt.status, tt.answer)
			w, err := NewWebhook(WebhookConfig{URL: srv.URL + "/hooks/sms/T0KEN", Secret: testWebhookSecret}, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = w.Send(context.Background(), testMessage())
			se := sendErr(t, err)
			if se.Msg != sms.MsgUnavailable || se.Permanent != tt.permanent {
				t.Errorf("Msg=%q Permanent=%v, want %q %v", se.Msg, se.Permanent, sms.MsgUnavailable, tt.permanent)
			}
			if !strings.Contains(err.Error(), "status "+strconv.Itoa(tt.status)) {
				t.Errorf("cause %q lacks the status", err)
			}
			assertNoLeak(t, err, testWebhookSecret, "T0KEN")
			if n := len(srv.requests()); n != 1 {
				t.Errorf("server got %d requests, want 1", n)
			}
		})
	}
}
