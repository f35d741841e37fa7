package cli

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/config"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/server"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/version"
	"github.com/twostep/twostep/internal/web"
)

// serve runs the HTTP server until the process is interrupted.
func (e *cmdEnv) serve(a *app, _ string) error {
	cfg := a.cfg
	if driver, dsn := cfg.DatabaseDriver(); driver == string(store.SQLite) {
		if err := a.store.LockSQLite(dsn); err != nil {
			return err
		}
		// The one instance: second-factor leases left are those of
		// requests a crash cut off.
		if err := a.store.EndAllMFAAttempts(e.ctx); err != nil {
			return err
		}
	}
	trusted, err := httpx.ParseTrusted(cfg.TrustedProxies)
	if err != nil {
		return fmt.Errorf("trusted_proxies: %w", err)
	}
	pages, err := pageOptions(cfg)
	if err != nil {
		return err
	}
	worker, err := a.notifyWorker()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	// Cookies lose Secure only on plain-HTTP localhost or by explicit choice.
	secure := !cfg.InsecureDevCookies && !cfg.IsLocalhostHTTP()
	h := server.Handler(a.svc, a.store, a.log, server.Options{
		TLS:           strings.HasPrefix(cfg.PublicURL(), "https://"),
		SecureCookies: secure,
		CookieDomain:  cfg.CookieDomain,
		Metrics:       a.metrics,
		Ready:         a.ready,
		ClientIP:      httpx.ClientIP{Trusted: trusted},
		Pages:         pages,
	})
	driver, _ := cfg.DatabaseDriver()
	a.log.Info("twostep listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL(),
		"database", driver, "enrollment", cfg.Enrollment, "sms_provider", cfg.SMS.Provider, "version", version.String())
	if !secure {
		a.log.Warn("development mode: session cookies are sent without the Secure attribute",
			"reason", map[bool]string{true: "insecure_dev_cookies is set", false: "public URL is plain-HTTP localhost"}[cfg.InsecureDevCookies])
	}
	if cfg.SMS.Provider == "console" {
		a.log.Info("SMS messages are printed to this log (sms.provider=console)")
	}
	a.log.Info("configuration", "config", cfg)
	listeners := []server.Listener{{Net: ln, Handler: h}}
	if cfg.Metrics.Listen != "" {
		ops, err := net.Listen("tcp", cfg.Metrics.Listen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics.listen: %w", err)
		}
		a.log.Info("operations listener: /metrics, /healthz, /readyz, /debug/pprof", "addr", ops.Addr().String())
		listeners = append(listeners, server.Listener{Net: ops, Handler: server.Operations(a.store, a.log, a.metrics, a.ready)})
	}
	jobs := []server.Job{
		{Name: "expired sessions and devices", Run: a.svc.ExpireSessions},
		{Name: "old session events", Run: a.svc.PruneSessionEvents},
	}
	// Forward-auth's session cache follows the session events every
	// instance and the CLI write (docs/deploy.md "Session cache").
	a.metrics.SessionCacheLoads(a.svc.SessionLoads)
	go a.svc.WatchSessions(e.ctx)
	if a.counters != nil {
		jobs = append(jobs, server.Job{Name: "expired limit counters", Run: a.counters.Sweep})
	}
	if worker != nil {
		// Security notifications go out beside the requests, never in them.
		go worker.Run(e.ctx)
		a.log.Info("security notifications on", "channels", strings.Join(cfg.Notify.Channels, ","), "new_device", cfg.Notify.NewDevice)
	}
	return server.Serve(e.ctx, a.log, listeners, jobs...)
}

// maxLogo bounds brand.logo_file: every page shows it, so it must stay small.
const maxLogo = 256 << 10

// pageOptions turns the configuration into the hosted pages' options:
// branding, help links, the preselected country and the time zone. It
// reads the logo file (the pages load nothing from another origin, so
// twostep serves the logo itself). server.Handler adds the client-address
// and cookie settings it shares with the API.
func pageOptions(cfg config.Config) (web.Options, error) {
	p := web.Options{
		Brand:          web.Brand{Name: cfg.Brand.Name, AccentColor: cfg.Brand.AccentColor},
		Support:        web.Support{ContactURL: cfg.Support.ContactURL, ChatURL: cfg.Support.ChatURL},
		DefaultCountry: cfg.SMS.DefaultCountry,
	}
	zone, err := time.LoadLocation(cfg.Pages.TimeZone) // validated by config
	if err != nil {
		return p, fmt.Errorf("pages.time_zone: %w", err)
	}
	p.TimeZone = zone
	if cfg.Brand.LogoFile == "" {
		return p, nil
	}
	logo, err := os.ReadFile(cfg.Brand.LogoFile)
	if err != nil {
		return p, fmt.Errorf("brand.logo_file: %w", err)
	}
	if len(logo) > maxLogo {
		return p, fmt.Errorf("brand.logo_file: %s is %d KiB; at most %d KiB are allowed", cfg.Brand.LogoFile, len(logo)>>10, maxLogo>>10)
	}
	types := map[string]string{".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp"}
	p.Brand.Logo, p.Brand.LogoType = logo, types[strings.ToLower(filepath.Ext(cfg.Brand.LogoFile))]
	return p, nil
}
