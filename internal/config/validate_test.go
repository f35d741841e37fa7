package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	longToken := strings.Repeat("k", 32)
	tests := []struct {
		name    string
		change  func(*Config)
		wantKey string // "" means valid
		wantMsg string // substring of the error text
	}{
		{"listen without port", func(c *Config) { c.Listen = "127.0.0.1" }, "listen", "host:port"},
		{"listen bad port", func(c *Config) { c.Listen = "127.0.0.1:http" }, "listen", "port"},
		{"listen port too big", func(c *Config) { c.Listen = "127.0.0.1:70000" }, "listen", "port"},
		{"listen on all interfaces needs public_url", func(c *Config) { c.Listen = ":8080" }, "public_url", "required"},
		{"listen on all interfaces with public_url", func(c *Config) {
			c.Listen = "0.0.0.0:8080"
			c.PublicURLSetting = "https://login.example.com"
		}, "", ""},
		{"listen on localhost by name", func(c *Config) { c.Listen = "localhost:8080" }, "", ""},
		{"public_url relative", func(c *Config) { c.PublicURLSetting = "/login" }, "public_url", "https:, http:"},
		{"public_url javascript", func(c *Config) { c.PublicURLSetting = "javascript:alert(1)" }, "public_url", `not "javascript:"`},
		{"public_url without host", func(c *Config) { c.PublicURLSetting = "https:///x" }, "public_url", "no host"},
		{"public_url with query", func(c *Config) { c.PublicURLSetting = "https://a.example/?x=1" }, "public_url", "query or fragment"},
		{"public_url with fragment", func(c *Config) { c.PublicURLSetting = "https://a.example/#top" }, "public_url", "query or fragment"},
		{"public_url with user", func(c *Config) { c.PublicURLSetting = "https://u:p@a.example/" }, "public_url", "user name"},
		{"public_url plain http off localhost", func(c *Config) { c.PublicURLSetting = "http://login.example.com" }, "public_url", "insecure_dev_cookies"},
		{"public_url plain http with insecure_dev_cookies", func(c *Config) {
			c.PublicURLSetting = "http://twostep.test:8080"
			c.InsecureDevCookies = true
		}, "", ""},
		{"public_url with path", func(c *Config) { c.PublicURLSetting = "https://example.com/auth/" }, "", ""},
		{"database unknown scheme", func(c *Config) { c.Database = "mysql://db/x" }, "database", "sqlite:, postgres://"},
		{"database sqlite without path", func(c *Config) { c.Database = "sqlite:" }, "database", "file path"},
		{"database postgres", func(c *Config) { c.Database = "postgres://u:p@db/twostep" }, "", ""},
		{"database postgresql", func(c *Config) { c.Database = "postgresql://db/twostep" }, "", ""},
		{"database bad postgres URL does not leak it", func(c *Config) { c.Database = "postgres://u:s3cret@db:port/x" }, "database", "not a valid URL"},
		{"redis", func(c *Config) { c.Redis = "redis://127.0.0.1:6379/0" }, "", ""},
		{"redis wrong scheme", func(c *Config) { c.Redis = "http://127.0.0.1:6379" }, "redis", "redis:"},
		{"key_file empty", func(c *Config) { c.KeyFile = "" }, "key_file", "must be set"},
		{"issuer empty", func(c *Config) { c.Issuer = "" }, "issuer", "must be set"},
		{"issuer with colon", func(c *Config) { c.Issuer = "Example: Corp" }, "issuer", "colon"},
		{"enrollment", func(c *Config) { c.Enrollment = "open" }, "enrollment", "password, invite"},
		{"enrollment invite", func(c *Config) { c.Enrollment = "invite" }, "", ""},
		{"invite_ttl zero", func(c *Config) { c.InviteTTL = 0 }, "invite_ttl", "positive"},
		{"trusted_proxies", func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/8", "::1", "proxy.local"} }, "trusted_proxies", `"proxy.local"`},
		{"trusted_proxies bad CIDR", func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/33"} }, "trusted_proxies", "10.0.0.0/33"},
		{"admin_token short", func(c *Config) { c.AdminToken = "short" }, "admin_token", "at least 32"},
		{"admin_token long enough", func(c *Config) { c.AdminToken = longToken }, "", ""},
		{"log.level", func(c *Config) { c.Log.Level = "trace" }, "log.level", "debug, info, warn, error"},
		{"log.format", func(c *Config) { c.Log.Format = "xml" }, "log.format", "text, json"},
		{"session.idle_timeout negative", func(c *Config) { c.Session.IdleTimeout = -time.Minute }, "session.idle_timeout", "positive"},
		{"session.absolute_timeout zero", func(c *Config) { c.Session.AbsoluteTimeout = 0 }, "session.absolute_timeout", "positive"},
		{"session idle above absolute", func(c *Config) { c.Session.IdleTimeout = 13 * time.Hour }, "session.idle_timeout", "must not exceed"},
		{"session.recent_auth zero", func(c *Config) { c.Session.RecentAuth = 0 }, "session.recent_auth", "positive"},
		{"totp.algorithm lower case", func(c *Config) { c.TOTP.Algorithm = "sha1" }, "totp.algorithm", "SHA1, SHA256, SHA512"},
		{"totp.algorithm SHA512", func(c *Config) { c.TOTP.Algorithm = "SHA512" }, "", ""},
		{"totp.digits 7", func(c *Config) { c.TOTP.Digits = 7 }, "totp.digits", "6 or 8"},
		{"totp.digits 8", func(c *Config) { c.TOTP.Digits = 8 }, "", ""},
		{"totp.period low", func(c *Config) { c.TOTP.Period = 14 }, "totp.period", "15 to 120"},
		{"totp.period high", func(c *Config) { c.TOTP.Period = 121 }, "totp.period", "15 to 120"},
		{"totp.period edges", func(c *Config) { c.TOTP.Period = 120 }, "", ""},
		{"totp.skew high", func(c *Config) { c.TOTP.Skew = 11 }, "totp.skew", "0 to 10"},
		{"totp.skew negative", func(c *Config) { c.TOTP.Skew = -1 }, "totp.skew", "0 to 10"},
		{"totp.skew zero", func(c *Config) { c.TOTP.Skew = 0 }, "", ""},
		{"argon2 threads zero", func(c *Config) { c.Password.Argon2.Threads = 0 }, "password.argon2.threads", "at least 1"},
		{"argon2 time zero", func(c *Config) { c.Password.Argon2.Time = 0 }, "password.argon2.time", "at least 1"},
		{"argon2 memory below 8 KiB per lane", func(c *Config) {
			c.Password.Argon2.Threads = 4
			c.Password.Argon2.Memory = 31
		}, "password.argon2.memory", "8 KiB per thread"},
		{"password.concurrency negative", func(c *Config) { c.Password.Concurrency = -1 }, "password.concurrency", "negative"},
		{"password.max_wait negative", func(c *Config) { c.Password.MaxWait = -time.Second }, "password.max_wait", "negative"},
		{"webauthn rp_id equal to the host", func(c *Config) {
			c.PublicURLSetting = "https://login.example.com"
			c.WebAuthn.RPID = "login.example.com"
		}, "", ""},
		{"webauthn rp_id a registrable suffix", func(c *Config) {
			c.PublicURLSetting = "https://login.example.com"
			c.WebAuthn.RPID = "Example.com"
		}, "", ""},
		{"webauthn rp_id another domain", func(c *Config) {
			c.PublicURLSetting = "https://login.example.com"
			c.WebAuthn.RPID = "example.org"
		}, "webauthn.rp_id", "public_url's host login.example.com"},
		{"webauthn rp_id only a name suffix", func(c *Config) {
			c.PublicURLSetting = "https://login.example.com"
			c.WebAuthn.RPID = "ample.com"
		}, "webauthn.rp_id", "public_url's host"},
		{"webauthn rp_id below the host", func(c *Config) {
			c.PublicURLSetting = "https://example.com"
			c.WebAuthn.RPID = "login.example.com"
		}, "webauthn.rp_id", "public_url's host"},
		{"webauthn rp_id a top-level domain", func(c *Config) {
			c.PublicURLSetting = "https://login.example.com"
			c.WebAuthn.RPID = "com"
		}, "webauthn.rp_id", "top-level"},
		{"webauthn rp_id with an IP public_url", func(c *Config) { c.WebAuthn.RPID = "127.0.0.1" }, "webauthn.rp_id", "IP address"},
		{"webauthn rp_id with a port", func(c *Config) {
			c.PublicURLSetting = "https://login.example.com"
			c.WebAuthn.RPID = "login.example.com:443"
		}, "webauthn.rp_id", "not a domain name"},
		{"webauthn localhost", func(c *Config) {
			c.Listen = "localhost:8080"
			c.WebAuthn.RPID = "localhost"
		}, "", ""},
		{"webauthn origins below the RP ID", func(c *Config) {
			c.PublicURLSetting = "https://login.example.com"
			c.WebAuthn.RPID = "example.com"
			c.WebAuthn.Origins = []string{"https://login.example.com", "https://app.example.com:8443"}
		}, "", ""},
		{"webauthn origin elsewhere", func(c *Config) {
			c.PublicURLSetting = "https://login.example.com"
			c.WebAuthn.Origins = []string{"https://evil.example"}
		}, "webauthn.origins", "not at login.example.com"},
		{"webauthn origin with a path", func(c *Config) {
			c.PublicURLSetting = "https://login.example.com"
			c.WebAuthn.Origins = []string{"https://login.example.com/app"}
		}, "webauthn.origins", "not an origin"},
		{"webauthn origin plain http", func(c *Config) {
			c.PublicURLSetting = "https://login.example.com"
			c.WebAuthn.Origins = []string{"http://login.example.com"}
		}, "webauthn.origins", "plain http"},
		{"webauthn user_verification", func(c *Config) { c.WebAuthn.UserVerification = "discouraged" }, "webauthn.user_verification", "preferred, required"},
		{"webauthn attestation", func(c *Config) { c.WebAuthn.Attestation = "enterprise" }, "webauthn.attestation", "none, indirect, direct"},
		{"webauthn timeout short", func(c *Config) { c.WebAuthn.Timeout = 10 * time.Second }, "webauthn.timeout", "30s to 10m"},
		{"webauthn timeout long", func(c *Config) { c.WebAuthn.Timeout = time.Hour }, "webauthn.timeout", "30s to 10m"},
		{"webauthn aaguids", func(c *Config) { c.WebAuthn.AAGUIDs = []string{"ee882879-721c-4913-9775-3dfcce97072a", "yubikey"} }, "webauthn.aaguids", `"yubikey"`},
		{"password.max_wait zero", func(c *Config) { c.Password.MaxWait = 0 }, "", ""},
		{"limits.login_per_ip zero", func(c *Config) { c.Limits.LoginPerIP = 0 }, "limits.login_per_ip", "at least 1"},
		{"limits.verify_per_ip zero", func(c *Config) { c.Limits.VerifyPerIP = 0 }, "limits.verify_per_ip", "at least 1"},
		{"limits.max_failures zero", func(c *Config) { c.Limits.MaxFailures = 0 }, "limits.max_failures", "at least 1"},
		{"limits.backoff_base zero", func(c *Config) { c.Limits.BackoffBase = 0 }, "limits.backoff_base", "positive"},
		{"limits.backoff_max below base", func(c *Config) { c.Limits.BackoffMax = time.Second }, "limits.backoff_max", "at least limits.backoff_base"},
		{"limits.lock_after over 100", func(c *Config) { c.Limits.LockAfter = 101 }, "limits.lock_after", "from 1 to 100"},
		{"limits.login_per_account zero", func(c *Config) { c.Limits.LoginPerAccount = 0 }, "limits.login_per_account", "at least 1"},
		{"metrics.token short", func(c *Config) { c.Metrics.Token = "short" }, "metrics.token", "at least 32"},
		{"metrics.listen bad", func(c *Config) { c.Metrics.Listen = "nope" }, "metrics.listen", "host:port"},
		{"metrics.listen same as listen", func(c *Config) { c.Metrics.Listen = c.Listen }, "metrics.listen", "must differ"},
		{"pages.time_zone bad", func(c *Config) { c.Pages.TimeZone = "Mars/Olympus" }, "pages.time_zone", "IANA time zone"},
		{"pages.time_zone Berlin", func(c *Config) { c.Pages.TimeZone = "Europe/Berlin" }, "", ""},
		{"strict_two_factor default", func(c *Config) { c.Access.DefaultPolicy = "strict_two_factor" }, "", ""},
		{"sms.provider", func(c *Config) { c.SMS.Provider = "pigeon" }, "sms.provider", "console, file, twilio, kannel, webhook"},
		{"sms file without file", func(c *Config) {
			c.SMS.Provider = "file"
			c.SMS.File = ""
		}, "sms.file", "must be set"},
		{"sms file", func(c *Config) { c.SMS.Provider = "file" }, "", ""},
		{"sms twilio without account", func(c *Config) {
			c.SMS.Provider = "twilio"
			c.SMS.Twilio = Twilio{AuthToken: "t", From: "+1"}
		}, "sms.twilio.account_sid", "must be set"},
		{"sms twilio without token", func(c *Config) {
			c.SMS.Provider = "twilio"
			c.SMS.Twilio = Twilio{AccountSID: "AC", From: "+1"}
		}, "sms.twilio.auth_token", "must be set"},
		{"sms twilio without from", func(c *Config) {
			c.SMS.Provider = "twilio"
			c.SMS.Twilio = Twilio{AccountSID: "AC", AuthToken: "t"}
		}, "sms.twilio.from", "must be set"},
		{"sms twilio complete", func(c *Config) {
			c.SMS.Provider = "twilio"
			c.SMS.Twilio = Twilio{AccountSID: "AC", AuthToken: "t", From: "+1"}
		}, "", ""},
		{"sms kannel without url", func(c *Config) { c.SMS.Provider = "kannel" }, "sms.kannel.url", "must be set"},
		{"sms kannel bad url", func(c *Config) {
			c.SMS.Provider = "kannel"
			c.SMS.Kannel.URL = "127.0.0.1:13013"
		}, "sms.kannel.url", ""},
		{"sms kannel", func(c *Config) {
			c.SMS.Provider = "kannel"
			c.SMS.Kannel.URL = "http://127.0.0.1:13013/cgi-bin/sendsms"
		}, "", ""},
		{"sms webhook without url", func(c *Config) { c.SMS.Provider = "webhook" }, "sms.webhook.url", "must be set"},
		{"sms webhook ftp", func(c *Config) {
			c.SMS.Provider = "webhook"
			c.SMS.Webhook.URL = "ftp://example.com/sms"
		}, "sms.webhook.url", "https:, http:"},
		{"sms.default_country lower case", func(c *Config) { c.SMS.DefaultCountry = "us" }, "sms.default_country", "two-letter"},
		{"sms.default_country empty", func(c *Config) { c.SMS.DefaultCountry = "" }, "sms.default_country", "two-letter"},
		{"support.contact_url mailto", func(c *Config) { c.Support.ContactURL = "mailto:help@example.com" }, "", ""},
		{"support.contact_url javascript", func(c *Config) { c.Support.ContactURL = "javascript:alert(1)" }, "support.contact_url", "javascript"},
		{"support.chat_url mailto", func(c *Config) { c.Support.ChatURL = "mailto:help@example.com" }, "support.chat_url", "https:, http:"},
		{"support.chat_url data", func(c *Config) { c.Support.ChatURL = "data:text/html,hi" }, "support.chat_url", "data:"},
		{"support.chat_url https", func(c *Config) { c.Support.ChatURL = "https://chat.example.com/" }, "", ""},
		{"notify email", notifyEmail(nil), "", ""},
		{"notify sms only needs no smtp", func(c *Config) { c.Notify.Channels = []string{"sms"} }, "", ""},
		{"notify.channels unknown", func(c *Config) { c.Notify.Channels = []string{"pager"} }, "notify.channels", `"pager"`},
		{"notify.from missing", notifyEmail(func(c *Config) { c.Notify.From = "" }), "notify.from", "must be set"},
		{"notify.from not an address", notifyEmail(func(c *Config) { c.Notify.From = "security" }), "notify.from", "not an e-mail address"},
		{"notify.smtp.host missing", notifyEmail(func(c *Config) { c.Notify.SMTP.Host = "" }), "notify.smtp.host", "must be set"},
		{"notify.smtp.host with port", notifyEmail(func(c *Config) { c.Notify.SMTP.Host = "mail.example.com:587" }), "notify.smtp.host", "not a host"},
		{"notify.smtp.port", notifyEmail(func(c *Config) { c.Notify.SMTP.Port = 0 }), "notify.smtp.port", "1"},
		{"notify.smtp.tls unknown", notifyEmail(func(c *Config) { c.Notify.SMTP.TLS = "ssl" }), "notify.smtp.tls", "starttls, tls, none"},
		{"notify.smtp.tls none off loopback", notifyEmail(func(c *Config) { c.Notify.SMTP.TLS = "none" }), "notify.smtp.tls", "loopback"},
		{"notify.smtp.tls none to a loopback relay", notifyEmail(func(c *Config) {
			c.Notify.SMTP.TLS = "none"
			c.Notify.SMTP.Host = "127.0.0.1"
		}), "", ""},
		{"notify.smtp.tls implicit", notifyEmail(func(c *Config) { c.Notify.SMTP.TLS, c.Notify.SMTP.Port = "tls", 465 }), "", ""},
		{"notify.smtp.password without user", notifyEmail(func(c *Config) { c.Notify.SMTP.Password = "s3cret" }), "notify.smtp.username", "required"},
		{"notify.smtp.timeout", notifyEmail(func(c *Config) { c.Notify.SMTP.Timeout = 0 }), "notify.smtp.timeout", "positive"},
		{"notify.retry_max below base", func(c *Config) { c.Notify.RetryMax = time.Second }, "notify.retry_max", "at least notify.retry_base"},
		{"notify.max_attempts", func(c *Config) { c.Notify.MaxAttempts = 0 }, "notify.max_attempts", "1"},
		{"notify.queue_size", func(c *Config) { c.Notify.QueueSize = 0 }, "notify.queue_size", "at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			tt.change(&c)
			errs := configErrors(t, errors.Join(c.Validate()...))
			if tt.wantKey == "" {
				if len(errs) != 0 {
					t.Fatalf("Validate() = %v, want no problems", errs)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("Validate() = %v, want exactly one problem with %s", errs, tt.wantKey)
			}
			if errs[0].Key != tt.wantKey {
				t.Errorf("problem %q has Key %q, want %q", errs[0], errs[0].Key, tt.wantKey)
			}
			if !strings.HasPrefix(errs[0].Error(), tt.wantKey+": ") {
				t.Errorf("problem %q does not start with its key", errs[0])
			}
			if !strings.Contains(errs[0].Error(), tt.wantMsg) {
				t.Errorf("problem %q does not contain %q", errs[0], tt.wantMsg)
			}
			if strings.Contains(errs[0].Error(), "s3cret") {
				t.Errorf("problem %q leaks a password", errs[0])
			}
		})
	}
}

// notifyEmail turns the e-mail channel on with a valid SMTP setting, then
// applies change (nil: none).
func notifyEmail(change func(*Config)) func(*Config) {
	return func(c *Config) {
		c.Notify.Channels = []string{"email"}
		c.Notify.From = "Example <security@example.com>"
		c.Notify.SMTP.Host = "mail.example.com"
		if change != nil {
			change(c)
		}
	}
}

func TestValidateCollectsEveryProblem(t *testing.T) {
	c := Defaults()
	c.Listen = "nonsense"
	c.Enrollment = "anyone"
	c.TOTP.Digits = 7
	c.TOTP.Period = 1
	c.Session.IdleTimeout = 24 * time.Hour
	c.AdminToken = "too-short"
	c.SMS.Provider = "twilio"
	c.TrustedProxies = []string{"not-an-ip"}
	c.Log.Level = "loud"

	var got []string
	for _, e := range configErrors(t, errors.Join(c.Validate()...)) {
		got = append(got, e.Key)
	}
	want := []string{
		"listen",
		"enrollment",
		"trusted_proxies",
		"admin_token",
		"log.level",
		"session.idle_timeout",
		"totp.digits",
		"totp.period",
		"sms.twilio.account_sid",
		"sms.twilio.auth_token",
		"sms.twilio.from",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Validate() keys = %q, want %q", got, want)
	}
	paths := map[string]bool{}
	for _, k := range Keys() {
		paths[k.Path] = true
	}
	for _, key := range got {
		if !paths[key] {
			t.Errorf("problem key %q is not a key path", key)
		}
	}
}
