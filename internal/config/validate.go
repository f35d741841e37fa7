package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // pages.time_zone works in a static binary on a host without /usr/share/zoneinfo
	"unicode"
	"unicode/utf8"
)

// minAdminTokenLen is the shortest admin token accepted: 32 random hex
// characters carry 128 bits, out of reach of guessing.
const minAdminTokenLen = 32

// Validate checks the whole configuration and returns every problem found,
// each an *Error naming its key, so an operator fixes them all in one go
// rather than one start-up at a time. It returns nil when the configuration
// is usable.
func (c Config) Validate() []error {
	var p problems

	p.hostPort("listen", c.Listen)
	if c.PublicURLSetting != "" {
		u, ok := p.httpURL("public_url", c.PublicURLSetting, true)
		if ok && u.Scheme == "http" && !isLoopbackHost(u.Hostname()) && !c.InsecureDevCookies {
			// Browsers drop Secure cookies over plain HTTP, and sending
			// session cookies without Secure off localhost must be an
			// explicit choice (ASVS 3.4.1).
			p.add("public_url", "plain http is only allowed for localhost; use https, or set insecure_dev_cookies for a development instance")
		}
	} else if host, _, err := net.SplitHostPort(c.Listen); err == nil && !isLoopbackHost(host) {
		// A derived http://0.0.0.0:8080 would put a useless host into links,
		// redirects and the WebOTP line, and would serve the network over
		// plain HTTP without the operator having said so.
		p.add("public_url", "required when listen (%s) is not a loopback address: set the URL users reach twostep at", c.Listen)
	}
	p.database("database", c.Database)
	if c.Redis != "" {
		p.url("redis", c.Redis, "redis", "rediss", "unix")
	}
	p.required("key_file", c.KeyFile)
	p.required("issuer", c.Issuer)
	if strings.Contains(c.Issuer, ":") {
		// Key Uri Format: the label is "issuer:account"; neither part may
		// contain a colon.
		p.add("issuer", "must not contain a colon (authenticator apps read it as the label separator)")
	}
	p.oneOf("enrollment", c.Enrollment, "password", "invite")
	p.positive("invite_ttl", int64(c.InviteTTL), formatDuration(c.InviteTTL))
	for _, proxy := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(proxy); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(proxy); err == nil {
			continue
		}
		p.add("trusted_proxies", "%q is neither an IP address nor a CIDR range", proxy)
	}
	if c.AdminToken != "" && len(c.AdminToken) < minAdminTokenLen {
		p.add("admin_token", "must be at least %d characters (it has %d); generate one with: openssl rand -hex 32", minAdminTokenLen, len(c.AdminToken))
	}

	p.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	p.oneOf("log.format", c.Log.Format, "text", "json")

	s := c.Session
	p.positive("session.idle_timeout", int64(s.IdleTimeout), formatDuration(s.IdleTimeout))
	p.positive("session.absolute_timeout", int64(s.AbsoluteTimeout), formatDuration(s.AbsoluteTimeout))
	p.positive("session.recent_auth", int64(s.RecentAuth), formatDuration(s.RecentAuth))
	if s.AbsoluteTimeout > 0 && s.IdleTimeout > s.AbsoluteTimeout {
		p.add("session.idle_timeout", "must not exceed session.absolute_timeout (%s > %s)", formatDuration(s.IdleTimeout), formatDuration(s.AbsoluteTimeout))
	}

	p.oneOf("totp.algorithm", c.TOTP.Algorithm, "SHA1", "SHA256", "SHA512")
	if c.TOTP.Digits != 6 && c.TOTP.Digits != 8 {
		p.add("totp.digits", "must be 6 or 8, not %d", c.TOTP.Digits)
	}
	p.between("totp.period", c.TOTP.Period, 15, 120)
	p.between("totp.skew", c.TOTP.Skew, 0, 10)
	p.between("remember_device.days", c.RememberDevice.Days, 0, 365)
	if c.MFA.GracePeriod < 0 || c.MFA.GracePeriod > 365*24*time.Hour {
		p.add("mfa.grace_period", "must be between 0 (off) and 8760h (365 days), not %s", formatDuration(c.MFA.GracePeriod))
	}

	a := c.Password.Argon2
	if a.Threads < 1 {
		p.add("password.argon2.threads", "must be at least 1")
	}
	if a.Time < 1 {
		p.add("password.argon2.time", "must be at least 1")
	}
	if a.Memory < 8*uint32(max(a.Threads, 1)) {
		// RFC 9106 3.1: memory is at least 8 KiB per lane.
		p.add("password.argon2.memory", "must be at least 8 KiB per thread (%d)", 8*uint32(max(a.Threads, 1)))
	}
	if c.Password.Concurrency < 0 {
		p.add("password.concurrency", "must not be negative (0 means the number of CPUs)")
	}
	if c.Password.MaxWait < 0 {
		p.add("password.max_wait", "must not be negative")
	}

	l := c.Limits
	p.atLeast("limits.login_per_ip", l.LoginPerIP, 1)
	p.atLeast("limits.login_per_account", l.LoginPerAccount, 1)
	p.atLeast("limits.login_per_known_browser", l.LoginPerKnownBrowser, 1)
	p.positive("limits.account_window", int64(l.AccountWindow), formatDuration(l.AccountWindow))
	p.atLeast("limits.admin_per_ip", l.AdminPerIP, 1)
	p.atLeast("limits.verify_per_ip", l.VerifyPerIP, 1)
	p.atLeast("limits.verify_per_user", l.VerifyPerUser, 1)
	p.atLeast("limits.max_failures", l.MaxFailures, 1)
	p.positive("limits.backoff_base", int64(l.BackoffBase), formatDuration(l.BackoffBase))
	if l.BackoffMax < l.BackoffBase {
		p.add("limits.backoff_max", "must be at least limits.backoff_base (%s < %s)", formatDuration(l.BackoffMax), formatDuration(l.BackoffBase))
	}
	p.between("limits.lock_after", l.LockAfter, 1, 100)
	if c.Metrics.Token != "" && len(c.Metrics.Token) < minAdminTokenLen {
		p.add("metrics.token", "must be at least %d characters (it has %d); generate one with: openssl rand -hex 32", minAdminTokenLen, len(c.Metrics.Token))
	}
	if c.Metrics.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			p.add("metrics.listen", "%q is not a host:port address", c.Metrics.Listen)
		} else if c.Metrics.Listen == c.Listen && !strings.HasSuffix(c.Listen, ":0") {
			p.add("metrics.listen", "must differ from listen (%s): it is a separate listener", c.Listen)
		}
	}

	sms := c.SMS
	p.oneOf("sms.provider", sms.Provider, "console", "file", "twilio", "kannel", "webhook")
	switch sms.Provider {
	case "file":
		p.required("sms.file", sms.File)
	case "twilio":
		p.required("sms.twilio.account_sid", sms.Twilio.AccountSID)
		p.required("sms.twilio.auth_token", sms.Twilio.AuthToken)
		p.required("sms.twilio.from", sms.Twilio.From)
	case "kannel":
		if p.required("sms.kannel.url", sms.Kannel.URL) {
			p.httpURL("sms.kannel.url", sms.Kannel.URL, false)
		}
	case "webhook":
		if p.required("sms.webhook.url", sms.Webhook.URL) {
			p.httpURL("sms.webhook.url", sms.Webhook.URL, false)
		}
	}
	p.oneOf("access.default_policy", c.Access.DefaultPolicy, "bypass", "one_factor", "two_factor", "strict_two_factor", "deny")
	if c.CookieDomain != "" && (strings.ContainsAny(c.CookieDomain, " /:;,") || strings.HasPrefix(c.CookieDomain, ".")) {
		p.add("cookie_domain", "%q is not a domain name such as example.com", c.CookieDomain)
	}
	if !isCountryCode(sms.DefaultCountry) {
		p.add("sms.default_country", "%q is not a two-letter country code such as US or DE", sms.DefaultCountry)
	}
	if len(sms.AllowedCountries) == 0 {
		p.add("sms.allowed_countries", "must list at least one country code, or * for all")
	}
	for _, cc := range sms.AllowedCountries {
		if cc != "*" && !isCountryCode(cc) {
			p.add("sms.allowed_countries", "%q is not a two-letter country code such as US or DE, or *", cc)
		}
	}
	b := sms.Budget
	for _, k := range []struct {
		key string
		n   int
	}{
		{"number_hour", b.NumberHour}, {"number_day", b.NumberDay}, {"user_hour", b.UserHour}, {"user_day", b.UserDay},
		{"ip_hour", b.IPHour}, {"ip_day", b.IPDay}, {"country_hour", b.CountryHour}, {"country_day", b.CountryDay},
		{"global_hour", b.GlobalHour}, {"global_day", b.GlobalDay},
	} {
		p.atLeast("sms.budget."+k.key, k.n, 1)
	}

	// These become href attributes on every help link: only schemes that
	// cannot run script (no javascript:, data:).
	if c.Support.ContactURL != "" {
		p.url("support.contact_url", c.Support.ContactURL, "https", "http", "mailto")
	}
	if c.Support.ChatURL != "" {
		p.url("support.chat_url", c.Support.ChatURL, "https", "http")
	}

	if utf8.RuneCountInString(c.Brand.Name) > 64 || strings.ContainsFunc(c.Brand.Name, unicode.IsControl) {
		p.add("brand.name", "must be at most 64 characters without control characters")
	}
	if _, err := time.LoadLocation(c.Pages.TimeZone); err != nil || c.Pages.TimeZone == "" || strings.EqualFold(c.Pages.TimeZone, "Local") {
		p.add("pages.time_zone", "%q is not an IANA time zone name such as UTC or Europe/Berlin", c.Pages.TimeZone)
	}
	p.webAuthn(c)
	p.notify(c.Notify)
	if !isHexColor(c.Brand.AccentColor) {
		p.add("brand.accent_color", "%q is not a colour written as #rrggbb, e.g. #1d4ed8", c.Brand.AccentColor)
	}
	if f := c.Brand.LogoFile; f != "" {
		switch strings.ToLower(filepath.Ext(f)) {
		case ".png", ".svg", ".jpg", ".jpeg", ".gif", ".webp":
		default:
			p.add("brand.logo_file", "must be a .png, .svg, .jpg, .jpeg, .gif or .webp file")
		}
	}
	return p
}

// isHexColor reports whether s is a colour written as #rrggbb.
func isHexColor(s string) bool {
	if len(s) != 7 || s[0] != '#' {
		return false
	}
	for _, c := range s[1:] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// problems collects Validate's findings.
type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, &Error{Key: key, Err: fmt.Errorf(format, args...)})
}

// required reports an empty value and says whether the value is set.
func (p *problems) required(key, value string) bool {
	if value == "" {
		p.add(key, "must be set")
		return false
	}
	return true
}

func (p *problems) oneOf(key, value string, allowed ...string) {
	for _, a := range allowed {
		if value == a {
			return
		}
	}
	p.add(key, "must be one of %s, not %q", strings.Join(allowed, ", "), value)
}

func (p *problems) between(key string, n, lo, hi int) {
	if n < lo || n > hi {
		p.add(key, "must be from %d to %d, not %d", lo, hi, n)
	}
}

func (p *problems) atLeast(key string, n, lo int) {
	if n < lo {
		p.add(key, "must be at least %d, not %d", lo, n)
	}
}

func (p *problems) positive(key string, n int64, text string) {
	if n <= 0 {
		p.add(key, "must be positive, not %s", text)
	}
}

// hostPort checks a listen address: host:port with a numeric port; the host
// may be empty (all interfaces).
func (p *problems) hostPort(key, value string) {
	_, port, err := net.SplitHostPort(value)
	if err != nil {
		p.add(key, "%q is not host:port (e.g. 127.0.0.1:8080 or :8080)", value)
		return
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		p.add(key, "port %q is not a number from 0 to 65535", port)
	}
}

// httpURL checks an absolute http(s) URL without user info; for the public
// URL also without query or fragment, since paths are appended to it.
func (p *problems) httpURL(key, value string, base bool) (*url.URL, bool) {
	u, ok := p.url(key, value, "https", "http")
	if !ok {
		return nil, false
	}
	if base && u.User != nil {
		p.add(key, "must not contain a user name or password")
		return nil, false
	}
	if base && (u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(value, "#")) {
		p.add(key, "must not have a query or fragment (%q)", value)
		return nil, false
	}
	return u, true
}

// url checks that value parses as a URL with one of the schemes, and has a
// host when the scheme is http or https. Messages never quote the whole
// value: a URL may carry a password.
func (p *problems) url(key, value string, schemes ...string) (*url.URL, bool) {
	u, err := url.Parse(value)
	if err != nil {
		p.add(key, "is not a valid URL")
		return nil, false
	}
	if !slices.Contains(schemes, u.Scheme) {
		p.add(key, "must be a %s: URL, not %q", strings.Join(schemes, ":, "), u.Scheme+":")
		return nil, false
	}
	if (u.Scheme == "http" || u.Scheme == "https") && u.Host == "" {
		p.add(key, "has no host")
		return nil, false
	}
	return u, true
}

// database checks the database setting: sqlite:PATH or a postgres URL.
func (p *problems) database(key, value string) {
	driver, dsn := Config{Database: value}.DatabaseDriver()
	switch driver {
	case "sqlite":
		if dsn == "" {
			p.add(key, "sqlite: needs a file path, e.g. sqlite:./twostep.db")
		}
	case "postgres":
		p.url(key, value, "postgres", "postgresql")
	default:
		p.add(key, "must start with sqlite:, postgres:// or postgresql://")
	}
}

// isCountryCode reports whether s looks like an ISO 3166-1 alpha-2 code.
func isCountryCode(s string) bool {
	return len(s) == 2 && 'A' <= s[0] && s[0] <= 'Z' && 'A' <= s[1] && s[1] <= 'Z'
}

// webAuthn checks the webauthn section. The RP ID must be public_url's
// host or a registrable suffix of it (WebAuthn L3 §5.1.4.1: a browser
// refuses any other for pages at that host), so a mismatch is refused at
// start-up rather than by every browser at the first passkey.
func (p *problems) webAuthn(c Config) {
	w := c.WebAuthn
	p.oneOf("webauthn.user_verification", w.UserVerification, "preferred", "required")
	p.oneOf("webauthn.attestation", w.Attestation, "none", "indirect", "direct")
	if w.Timeout < 30*time.Second || w.Timeout > 10*time.Minute {
		p.add("webauthn.timeout", "must be from 30s to 10m, not %s", formatDuration(w.Timeout))
	}
	for _, a := range w.AAGUIDs {
		if !isUUID(a) {
			p.add("webauthn.aaguids", "%q is not a UUID such as 08987058-cadc-4b81-b6e1-30de50dcbe96", a)
		}
	}
	if w.RPName != "" && (utf8.RuneCountInString(w.RPName) > 64 || strings.ContainsFunc(w.RPName, unicode.IsControl)) {
		p.add("webauthn.rp_name", "must be at most 64 characters without control characters")
	}
	pub, err := url.Parse(c.PublicURL())
	if err != nil || pub.Host == "" {
		return // public_url is reported on its own
	}
	host := strings.ToLower(pub.Hostname())
	rpID := strings.ToLower(w.RPID)
	if rpID != "" {
		switch {
		case net.ParseIP(host) != nil:
			p.add("webauthn.rp_id", "passkeys need public_url to name a host, not the IP address %s", host)
		case net.ParseIP(rpID) != nil || strings.ContainsAny(rpID, "/:@ ") || strings.HasPrefix(rpID, ".") || strings.HasSuffix(rpID, "."):
			p.add("webauthn.rp_id", "%q is not a domain name such as example.com", w.RPID)
		case !underDomain(host, rpID):
			p.add("webauthn.rp_id", "%q must be public_url's host %s or a domain it is under", w.RPID, host)
		case rpID != host && !strings.Contains(rpID, "."):
			p.add("webauthn.rp_id", "%q is a top-level domain, not a registrable one", w.RPID)
		}
	} else if len(w.Origins) > 0 && net.ParseIP(host) != nil {
		p.add("webauthn.origins", "passkeys need public_url to name a host, not the IP address %s", host)
	}
	if rpID == "" {
		rpID = host
	}
	for _, o := range w.Origins {
		u, err := url.Parse(o)
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
			p.add("webauthn.origins", "%q is not an origin such as https://login.example.com", o)
		case u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
			p.add("webauthn.origins", "%q: browsers offer passkeys over plain http only on localhost", o)
		case !underDomain(strings.ToLower(u.Hostname()), rpID):
			p.add("webauthn.origins", "%q is not at %s or below it (webauthn.rp_id)", o, rpID)
		}
	}
}

// underDomain reports whether host is domain or a name below it.
func underDomain(host, domain string) bool {
	return host == domain || strings.HasSuffix(host, "."+domain)
}

// isUUID reports whether s is a UUID written 8-4-4-4-12 in hex digits.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// notify checks the notify section. The SMTP settings are checked only
// when e-mail is a channel; none (plain SMTP) only to a loopback host,
// where nothing crosses a network in clear (ASVS V9.2.1: TLS for every
// outbound connection).
func (p *problems) notify(n Notify) {
	email := false
	for _, ch := range n.Channels {
		switch ch {
		case "email":
			email = true
		case "sms":
		default:
			p.add("notify.channels", "%q is not a channel: use email, sms or both", ch)
		}
	}
	p.atLeast("notify.queue_size", n.QueueSize, 1)
	p.between("notify.max_attempts", n.MaxAttempts, 1, 100)
	p.positive("notify.retry_base", int64(n.RetryBase), formatDuration(n.RetryBase))
	if n.RetryMax < n.RetryBase {
		p.add("notify.retry_max", "must be at least notify.retry_base (%s < %s)", formatDuration(n.RetryMax), formatDuration(n.RetryBase))
	}
	p.atLeast("notify.sms_per_user_day", n.SMSPerUserDay, 1)
	p.positive("notify.keep", int64(n.Keep), formatDuration(n.Keep))
	if !email {
		return
	}
	if p.required("notify.from", n.From) {
		if a, err := mail.ParseAddress(n.From); err != nil || !strings.Contains(a.Address, "@") {
			p.add("notify.from", "%q is not an e-mail address such as security@example.com or Example <security@example.com>", n.From)
		}
	}
	s := n.SMTP
	if p.required("notify.smtp.host", s.Host) && (strings.ContainsAny(s.Host, " /:@") && net.ParseIP(s.Host) == nil) {
		p.add("notify.smtp.host", "%q is not a host name or address", s.Host)
	}
	p.between("notify.smtp.port", s.Port, 1, 65535)
	p.oneOf("notify.smtp.tls", s.TLS, "starttls", "tls", "none")
	if s.TLS == "none" && s.Host != "" && !isLoopbackHost(s.Host) {
		p.add("notify.smtp.tls", "none sends mail (and any SMTP password) in clear: it is allowed only to a loopback host, not %s; use starttls or tls", s.Host)
	}
	p.positive("notify.smtp.timeout", int64(s.Timeout), formatDuration(s.Timeout))
	if s.Password != "" && s.Username == "" {
		p.add("notify.smtp.username", "required when notify.smtp.password is set")
	}
}
