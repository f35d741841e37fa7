// Package metrics exposes twostep's Prometheus metrics at /metrics: HTTP
// requests by route pattern and status, their latency, and security events
// (the audit stream's event names). It holds counts only, never a user,
// address, secret or code.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one registry with twostep's collectors.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	events   *prometheus.CounterVec
	refused  *prometheus.CounterVec
	notices  *prometheus.CounterVec
}

// New registers the collectors (plus the Go runtime and process ones).
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twostep_http_requests_total", Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "twostep_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twostep_security_events_total", Help: "Security events (audit log entries) by event name.",
		}, []string{"event"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twostep_refused_total", Help: "Requests refused by a rate limit, back-off or lock, by limit (only the first of each key's window is audited).",
		}, []string{"limit"}),
	}
	m.notices = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "twostep_notifications_total",
		Help: "Security notifications by channel (email, sms) and state: queued, sent, retried (a send failed and will be tried again), failed (given up), dropped_full (the queue was full), dropped_sms_cap (the user's daily text cap).",
	}, []string{"channel", "state"})
	m.reg.MustRegister(m.requests, m.latency, m.events, m.refused, m.notices,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// SecurityEvent counts one audit event (wired as the audit recorder's hook).
func (m *Metrics) SecurityEvent(name string) { m.events.WithLabelValues(name).Inc() }

// Refused counts one request refused by limit (wired as the audit
// recorder's OnRefused hook). Limit names are a fixed set chosen by the
// service, never a key.
func (m *Metrics) Refused(limit string) { m.refused.WithLabelValues(limit).Inc() }

// Notification counts one security notification of channel reaching state
// (see the metric's help); both are fixed sets chosen by internal/notify.
func (m *Metrics) Notification(channel, state string) {
	m.notices.WithLabelValues(channel, state).Inc()
}

// SessionCacheLoads exports loads, the count of forward-auth session-cache
// misses that read the store (auth.Service.SessionLoads), as
// twostep_session_cache_loads_total: flat while the same sessions are
// checked, it shows the cache is not lapsing (docs/deploy.md "Session
// cache").
func (m *Metrics) SessionCacheLoads(loads func() uint64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "twostep_session_cache_loads_total",
		Help: "Forward-auth session-cache misses that read the session from the database.",
	}, func() float64 { return float64(loads()) }))
}

// Instrument counts and times every request. The route label is the
// ServeMux pattern that matched (a bounded set), never the raw path, which
// a client could vary without end.
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := statusWriters.Get().(*statusWriter)
		*sw = statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := r.Pattern // set by the ServeMux on this request
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
		// A handler may not use its ResponseWriter after it returned
		// (net/http's rule), so the wrapper is reused: one allocation
		// less on every forward-auth check (issue #12). After a panic it
		// is simply not returned.
		*sw = statusWriter{}
		statusWriters.Put(sw)
	})
}

var statusWriters = sync.Pool{New: func() any { return new(statusWriter) }}

type statusWriter struct {
	http.ResponseWriter
	code int
	sent bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.sent {
		w.code, w.sent = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.sent = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
