package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestInstrumentAndEvents(t *testing.T) {
	m := New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := m.Instrument(mux)
	for _, p := range []string{"/things/1", "/things/2", "/nowhere"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	m.SecurityEvent("login_failed")
	m.Notification("email", "sent")
	m.Notification("email", "sent")
	m.Notification("sms", "dropped_full")
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`twostep_http_requests_total{code="418",route="GET /things/{id}"} 2`,
		`twostep_http_requests_total{code="404",route="unmatched"} 1`,
		`twostep_security_events_total{event="login_failed"} 1`,
		`twostep_notifications_total{channel="email",state="sent"} 2`,
		`twostep_notifications_total{channel="sms",state="dropped_full"} 1`,
		`twostep_http_request_duration_seconds_count{route="GET /things/{id}"} 2`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(string(body), "/things/1") {
		t.Error("a raw path became a label")
	}
}
