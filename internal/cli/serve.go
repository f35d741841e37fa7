package cli

import (
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/server"
	"github.com/twostep/twostep/internal/version"
)

// serve runs the HTTP server until the process is interrupted.
func (e *cmdEnv) serve(args []string) error {
	f := newFlags("serve", e.stderr, "listen", "database")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := exactly(pos, 0, "no arguments"); err != nil {
		return err
	}
	a, err := e.open(f, e.stderr, slog.LevelDebug)
	if err != nil {
		return err
	}
	defer a.close()
	cfg := a.cfg
	trusted, err := httpx.ParseTrusted(cfg.TrustedProxies)
	if err != nil {
		return fmt.Errorf("trusted_proxies: %w", err)
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
		ClientIP:      httpx.ClientIP{Trusted: trusted},
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
	return server.Serve(e.ctx, ln, h, a.svc, a.log)
}
