package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/sms"
)

// dialCounter returns an HTTP client whose first `fail` dials go to an
// address nothing listens on (a real "connection refused" dial error) and
// whose later dials reach the real target, and the dial count.
func dialCounter(t *testing.T, fail int32) (*http.Client, *atomic.Int32) {
	t.Helper()
	refused := closedAddr(t)
	var dials atomic.Int32
	var d net.Dialer
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if dials.Add(1) <= fail {
				return d.DialContext(ctx, network, refused)
			}
			return d.DialContext(ctx, network, addr)
		},
		DisableKeepAlives: true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}, &dials
}

// providers builds each HTTP provider against srv with client.
func providers(t *testing.T, srv *recorder, client *http.Client) map[string]sms.Sender {
	t.Helper()
	tw, err := NewTwilio(TwilioConfig{AccountSID: testSID, AuthToken: testToken, From: "+15005550006", BaseURL: srv.URL}, client)
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKannel(KannelConfig{URL: srv.URL + "/cgi-bin/sendsms", Username: "u", Password: testKannelPass}, client)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWebhook(WebhookConfig{URL: srv.URL + "/hook", Secret: testWebhookSecret}, client)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]sms.Sender{"twilio": tw, "kannel": k, "webhook": w}
}

// TestRetryOnlyDialErrors is "never two codes to one person for one click":
// a dial error is retried exactly once, an HTTP answer never.
func TestRetryOnlyDialErrors(t *testing.T) {
	tests := []struct {
		name      string
		failDials int32
		status    int
		wantDials int32
		wantReqs  int
		wantErr   bool
	}{
		{"first dial refused, second succeeds", 1, http.StatusCreated, 2, 1, false},
		{"both dials refused: no third", 10, http.StatusCreated, 2, 0, true},
		{"HTTP 500 is not retried", 0, http.StatusInternalServerError, 1, 1, true},
		{"HTTP 503 is not retried", 0, http.StatusServiceUnavailable, 1, 1, true},
		{"HTTP 429 is not retried", 0, http.StatusTooManyRequests, 1, 1, true},
	}
	for _, tt := range tests {
		for _, name := range []string{"twilio", "kannel", "webhook"} {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				srv := newRecorder(t, tt.status, "")
				client, dials := dialCounter(t, tt.failDials)
				err := providers(t, srv, client)[name].Send(context.Background(), testMessage())
				if (err != nil) != tt.wantErr {
					t.Fatalf("Send error = %v, want error %v", err, tt.wantErr)
				}
				if got := dials.Load(); got != tt.wantDials {
					t.Errorf("%d dials, want %d", got, tt.wantDials)
				}
				if got := len(srv.requests()); got != tt.wantReqs {
					t.Errorf("server got %d requests, want %d", got, tt.wantReqs)
				}
				if err != nil {
					se := sendErr(t, err)
					if se.Msg != sms.MsgUnavailable || se.Permanent {
						t.Errorf("Msg=%q Permanent=%v, want the temporary generic failure", se.Msg, se.Permanent)
					}
					if tt.failDials > 1 && !strings.Contains(err.Error(), "second attempt") {
						t.Errorf("cause %q does not say the retry failed too", err)
					}
					assertNoLeak(t, err, testToken, testKannelPass, testWebhookSecret)
				}
			})
		}
	}
}

// TestDialErrorDefaultClient sends with the default client to an address
// nothing listens on: a clean temporary failure, no URL in the cause.
func TestDialErrorDefaultClient(t *testing.T) {
	addr := closedAddr(t)
	k, err := NewKannel(KannelConfig{URL: "http://" + addr + "/cgi-bin/sendsms", Username: "u", Password: testKannelPass}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = k.Send(context.Background(), testMessage())
	se := sendErr(t, err)
	if se.Permanent || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "second attempt") {
		t.Errorf("error %q (Permanent=%v)", err, se.Permanent)
	}
	assertNoLeak(t, err, testKannelPass, "sendsms", "text=")
}

// TestTimeoutNotRetried: after a timeout the provider may have sent the
// text, so no second request follows.
func TestTimeoutNotRetried(t *testing.T) {
	release := make(chan struct{})
	var reqs atomic.Int32
	srv := newRecorder(t, http.StatusCreated, "")
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // lets the server notice the client leave
		reqs.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	client := srv.Client()
	client.Timeout = 100 * time.Millisecond
	for name, s := range providers(t, srv, client) {
		before := reqs.Load()
		err := s.Send(context.Background(), testMessage())
		se := sendErr(t, err)
		if se.Permanent || se.Msg != sms.MsgUnavailable {
			t.Errorf("%s: Msg=%q Permanent=%v", name, se.Msg, se.Permanent)
		}
		if got := reqs.Load() - before; got != 1 {
			t.Errorf("%s: %d requests after a timeout, want 1", name, got)
		}
		assertNoLeak(t, err, testToken, testKannelPass, testWebhookSecret)
	}
}

// TestCancelledContext: a context cancelled before Send sends nothing; one
// cancelled while the request is in flight stops it, and the error says so.
func TestCancelledContext(t *testing.T) {
	entered := make(chan struct{}, 1)
	var reqs atomic.Int32
	srv := newRecorder(t, http.StatusCreated, "")
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // lets the server notice the client leave
		reqs.Add(1)
		entered <- struct{}{}
		<-r.Context().Done()
	})
	for name, s := range providers(t, srv, srv.Client()) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			err := s.Send(ctx, testMessage())
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Send with cancelled context: %v, want context.Canceled", err)
			}
			sendErr(t, err)
			if n := reqs.Load(); n != 0 {
				t.Fatalf("%d requests sent with a cancelled context", n)
			}

			ctx, cancel = context.WithCancel(context.Background())
			go func() { <-entered; cancel() }()
			err = s.Send(ctx, testMessage())
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Send cancelled in flight: %v, want context.Canceled", err)
			}
			if se := sendErr(t, err); se.Permanent {
				t.Error("a cancelled send is reported permanent")
			}
			if n := reqs.Swap(0); n != 1 {
				t.Errorf("%d requests, want 1: a cancelled request is not retried", n)
			}
			assertNoLeak(t, err, testToken, testKannelPass, testWebhookSecret)
		})
	}
	// The local providers' side of this test is package sms's
	// TestCancelledContextLocal.
}

// TestInvalidRecipientNotSent: no provider passes a non-E.164 recipient on.
func TestInvalidRecipientNotSent(t *testing.T) {
	srv := newRecorder(t, http.StatusCreated, "")
	for name, s := range providers(t, srv, srv.Client()) {
		err := s.Send(context.Background(), sms.Message{To: "12345", Body: "x"})
		if se := sendErr(t, err); !se.Permanent || se.Msg != sms.MsgInvalidTo {
			t.Errorf("%s: Msg=%q Permanent=%v", name, se.Msg, se.Permanent)
		}
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("%d requests for invalid recipients", n)
	}
}
