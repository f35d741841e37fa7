// Package server assembles twostep's HTTP server: the middleware chain that
// wraps every request, the JSON API's and the hosted pages' routes, /healthz
// and /readyz, the server timeouts, graceful shutdown and periodic session
// clean-up.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/twostep/twostep/internal/api"
	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/metrics"
	"github.com/twostep/twostep/internal/outcome"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/web"
)

// Options are the HTTP-level settings.
type Options struct {
	TLS           bool // public URL is https: send HSTS
	SecureCookies bool
	CookieDomain  string // cookie_domain
	ClientIP      httpx.ClientIP
	Metrics       *metrics.Metrics // instruments every route; served by Operations, and here behind metrics.token
	// Pages are the hosted pages' settings (branding, help links, …), as
	// the configuration gave them. Handler sets their ClientIP and Cookies
	// from the fields above, which the API shares.
	Pages web.Options
	// Ready are further checks /readyz runs after the database's, e.g. a
	// ping of the shared Redis: each must answer for the instance to be ready.
	Ready []func(context.Context) error
}

// Handler returns the complete HTTP handler: recovery, request ID, security
// headers and cross-origin protection around every route.
func Handler(svc *auth.Service, st *store.Store, log *slog.Logger, o Options) http.Handler {
	mux := http.NewServeMux()
	cookies := httpx.Cookies{Secure: o.SecureCookies, Domain: o.CookieDomain}
	api.New(svc, log, o.ClientIP, cookies).Routes(mux)
	pages := o.Pages
	pages.ClientIP, pages.Cookies = o.ClientIP, cookies
	web.New(svc, log, pages).Routes(mux)
	health(mux, st, log, o.Ready)

	// Browsers mark cross-site requests (Sec-Fetch-Site / Origin); state
	// changes from another origin are refused (CSRF, ASVS V4.2.2).
	cop, msgs := http.NewCrossOriginProtection(), httpx.NewMessages(svc.Config())
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSONError(w, r, log, msgs.Describe(outcome.New(outcome.CrossOrigin), httpx.RequestID(r.Context())))
	}))
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	// /metrics is operator information (traffic, security events): on the
	// public listener only behind metrics.token, checked like the admin
	// token (throttled, audited). Operations serves it without one.
	mux.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := auth.Client{IP: o.ClientIP.Of(r), UserAgent: r.UserAgent()}
		if err := svc.AuthorizeToken(r.Context(), c, auth.MetricsToken, httpx.BearerToken(r)); err != nil {
			// The same answer as for any unknown path, so the public
			// listener does not advertise the endpoint.
			http.NotFound(w, r)
			return
		}
		o.Metrics.Handler().ServeHTTP(w, r)
	}))
	// Directly around the mux: it sets r.Pattern, the route label.
	var h http.Handler = o.Metrics.Instrument(mux)
	h = cop.Handler(h)
	h = httpx.SecurityHeaders(o.TLS, h)
	h = httpx.WithRequestID(h)
	return httpx.Recover(log, h)
}

// Operations returns the handler of the separate operations listener
// (metrics.listen): /metrics, /healthz, /readyz and /debug/pprof, nothing
// else. Bind it to an address only the monitoring system reaches.
func Operations(st *store.Store, log *slog.Logger, m *metrics.Metrics, checks []func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
	health(mux, st, log, checks)
	mux.Handle("GET /metrics", m.Handler())
	profiling(mux)
	return httpx.Recover(log, mux)
}

// health registers /healthz (alive) and /readyz (database, schema and
// checks).
func health(mux *http.ServeMux, st *store.Store, log *slog.Logger, checks []func(context.Context) error) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := ready(r.Context(), st, checks); err != nil {
			log.WarnContext(r.Context(), "not ready", "error", err)
			httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// ready reports whether the database answers and its schema is current
// (no serving on a schema that is behind), and whether every further check
// passes.
func ready(ctx context.Context, st *store.Store, checks []func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cur, latest, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if cur != latest {
		return errors.New("database schema is not up to date; run twostep migrate")
	}
	for _, check := range checks {
		if err := check(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Job is periodic clean-up work run while the server serves.
type Job struct {
	Name string
	Run  func(context.Context) (int64, error) // how many rows went
}

// Listener is one address served with one handler.
type Listener struct {
	Net     net.Listener
	Handler http.Handler
}

// Serve serves every listener until ctx ends (or one fails), then shuts
// them down gracefully, giving in-flight requests up to 10 s, and logs one
// line saying why and how long the drain took. Timeouts bound slow clients
// (slowloris). Each job runs every cleanEvery.
func Serve(ctx context.Context, log *slog.Logger, ls []Listener, jobs ...Job) error {
	srvs := make([]*http.Server, len(ls))
	errc := make(chan error, len(ls))
	for i, l := range ls {
		srvs[i] = &http.Server{
			Handler:           l.Handler,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       15 * time.Second,
			WriteTimeout:      30 * time.Second, // net/http/pprof extends it for a longer profile
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    32 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		go func() { errc <- srvs[i].Serve(l.Net) }()
	}
	for _, j := range jobs {
		go runEvery(ctx, cleanEvery, j, log)
	}
	var failed error
	select {
	case failed = <-errc:
	case <-ctx.Done():
	}
	start := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	for _, srv := range srvs {
		errs = append(errs, srv.Shutdown(sctx))
	}
	reason := "signal"
	if failed != nil {
		reason = "listener failed"
	}
	log.Info("twostep stopped", "reason", reason, "drain", time.Since(start).Round(time.Millisecond))
	if failed != nil && !errors.Is(failed, http.ErrServerClosed) {
		return failed
	}
	return errors.Join(errs...)
}

const cleanEvery = 10 * time.Minute

func runEvery(ctx context.Context, every time.Duration, j Job, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := j.Run(ctx); err != nil {
				log.Warn("clean-up failed", "job", j.Name, "error", err)
			} else if n > 0 {
				log.Debug("clean-up", "job", j.Name, "deleted", n)
			}
		}
	}
}
