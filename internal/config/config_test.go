package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestDefaultsValid(t *testing.T) {
	c := Defaults()
	if errs := c.Validate(); len(errs) != 0 {
		t.Fatalf("Defaults().Validate() = %v, want no problems", errs)
	}
	if got := c.PublicURL(); got != "http://127.0.0.1:8080" {
		t.Errorf("PublicURL() = %q, want http://127.0.0.1:8080", got)
	}
	if !c.IsLocalhostHTTP() {
		t.Error("IsLocalhostHTTP() = false for the zero-config instance, want true")
	}
	if driver, dsn := c.DatabaseDriver(); driver != "sqlite" || dsn != "./twostep.db" {
		t.Errorf("DatabaseDriver() = %q, %q, want sqlite, ./twostep.db", driver, dsn)
	}
}

func TestDatabaseDriver(t *testing.T) {
	tests := []struct {
		database, driver, dsn string
	}{
		{"sqlite:./twostep.db", "sqlite", "./twostep.db"},
		{"sqlite:/var/lib/twostep/db.sqlite", "sqlite", "/var/lib/twostep/db.sqlite"},
		{"sqlite:///var/lib/twostep/db.sqlite", "sqlite", "/var/lib/twostep/db.sqlite"},
		{"sqlite:data.db?_pragma=busy_timeout(5000)", "sqlite", "data.db?_pragma=busy_timeout(5000)"},
		{"postgres://u:p@db:5432/twostep?sslmode=require", "postgres", "postgres://u:p@db:5432/twostep?sslmode=require"},
		{"postgresql://db/twostep", "postgres", "postgresql://db/twostep"},
		{"mysql://db/twostep", "", "mysql://db/twostep"},
	}
	for _, tt := range tests {
		t.Run(tt.database, func(t *testing.T) {
			driver, dsn := Config{Database: tt.database}.DatabaseDriver()
			if driver != tt.driver || dsn != tt.dsn {
				t.Errorf("DatabaseDriver() = %q, %q, want %q, %q", driver, dsn, tt.driver, tt.dsn)
			}
		})
	}
}

func TestPublicURLAndLocalhost(t *testing.T) {
	tests := []struct {
		listen, publicURL string
		wantURL           string
		wantLocalhostHTTP bool
	}{
		{"127.0.0.1:8080", "", "http://127.0.0.1:8080", true},
		{"localhost:8080", "", "http://localhost:8080", true},
		{"[::1]:8080", "", "http://[::1]:8080", true},
		{"127.0.0.1:8080", "http://localhost:8080/", "http://localhost:8080", true},
		{"127.0.0.1:8080", "https://localhost:8443", "https://localhost:8443", false},
		{"0.0.0.0:8080", "https://login.example.com", "https://login.example.com", false},
		{"0.0.0.0:8080", "http://login.example.com", "http://login.example.com", false},
		{"0.0.0.0:8080", "http://localhost.example.com", "http://localhost.example.com", false},
		{"0.0.0.0:8080", "https://example.com/auth/", "https://example.com/auth", false},
	}
	for _, tt := range tests {
		t.Run(tt.listen+" "+tt.publicURL, func(t *testing.T) {
			c := Config{Listen: tt.listen, PublicURLSetting: tt.publicURL}
			if got := c.PublicURL(); got != tt.wantURL {
				t.Errorf("PublicURL() = %q, want %q", got, tt.wantURL)
			}
			if got := c.IsLocalhostHTTP(); got != tt.wantLocalhostHTTP {
				t.Errorf("IsLocalhostHTTP() = %v, want %v", got, tt.wantLocalhostHTTP)
			}
		})
	}
}

func TestRedacted(t *testing.T) {
	c := Defaults()
	c.AdminToken = strings.Repeat("x", 40)
	c.SMS.Twilio.AuthToken = "twilio-token"
	c.SMS.Kannel.Password = "kannel-pw"
	c.SMS.Webhook.Secret = "hook-secret"
	c.Database = "postgres://twostep:db-pw@db.internal/twostep?sslmode=require"
	c.Redis = "redis://:redis-pw@cache:6379/0"
	c.TrustedProxies = []string{"10.0.0.1"}
	before := c.TrustedProxies[0]

	r := c.Redacted()

	tests := []struct {
		key, got, want string
	}{
		{"admin_token", r.AdminToken, "***"},
		{"sms.twilio.auth_token", r.SMS.Twilio.AuthToken, "***"},
		{"sms.kannel.password", r.SMS.Kannel.Password, "***"},
		{"sms.webhook.secret", r.SMS.Webhook.Secret, "***"},
		{"database", r.Database, "postgres://twostep:***@db.internal/twostep?sslmode=require"},
		{"redis", r.Redis, "redis://:***@cache:6379/0"},
		{"issuer (not secret)", r.Issuer, "twostep"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("Redacted %s = %q, want %q", tt.key, tt.got, tt.want)
		}
	}
	for _, secret := range []string{c.AdminToken, "twilio-token", "kannel-pw", "hook-secret", "db-pw", "redis-pw"} {
		if strings.Contains(fmtConfig(r), secret) {
			t.Errorf("Redacted() still contains %q", secret)
		}
	}
	if c.AdminToken == "***" || c.Database != "postgres://twostep:db-pw@db.internal/twostep?sslmode=require" {
		t.Error("Redacted() changed the receiver")
	}
	r.TrustedProxies[0] = "changed"
	if c.TrustedProxies[0] != before {
		t.Error("Redacted() shares TrustedProxies with the receiver")
	}
}

func TestRedactedLeavesUnsetSecretsEmpty(t *testing.T) {
	r := Defaults().Redacted()
	if r.AdminToken != "" || r.SMS.Twilio.AuthToken != "" || r.Redis != "" {
		t.Errorf("unset secrets should stay empty so the log shows they are unset: %+v", r)
	}
	if r.Database != Defaults().Database {
		t.Errorf("Database = %q, want the default unchanged", r.Database)
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"sqlite:./twostep.db", "sqlite:./twostep.db"},
		{"postgres://twostep@db/twostep", "postgres://twostep@db/twostep"},
		{"postgres://db/twostep?password=pw&sslmode=disable", "postgres://db/twostep?password=***&sslmode=disable"},
		{"postgres://u:p@[bad", "***"},
	}
	for _, tt := range tests {
		if got := redactURL(tt.in); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// fmtConfig renders every leaf value of c, for searching.
func fmtConfig(c Config) string {
	var b strings.Builder
	v := reflect.ValueOf(c)
	for _, k := range table().keys {
		b.WriteString(formatValue(v.FieldByIndex(k.index)))
		b.WriteByte('\n')
	}
	return b.String()
}

func TestKeys(t *testing.T) {
	keys := Keys()
	byPath := map[string]KeyInfo{}
	envs := map[string]bool{}
	for _, k := range keys {
		if _, dup := byPath[k.Path]; dup {
			t.Errorf("key %s appears twice", k.Path)
		}
		byPath[k.Path] = k
		envs[k.Env] = true
		if k.Help == "" {
			t.Errorf("key %s has no help", k.Path)
		}
		if strings.Contains(k.Help, "|") {
			t.Errorf("help of %s contains |, which breaks the docs table", k.Path)
		}
		if strings.HasPrefix(k.Env, testEnvPrefix) {
			t.Errorf("key %s has env %s, which Load ignores as a test variable", k.Path, k.Env)
		}
	}
	for _, k := range keys {
		if k.Secret && envs[k.Env+fileSuffix] {
			t.Errorf("%s%s is both a key and the file variable of secret %s", k.Env, fileSuffix, k.Path)
		}
	}

	tests := []struct {
		path, env, def string
		secret         bool
	}{
		{"listen", "TWOSTEP_LISTEN", "127.0.0.1:8080", false},
		{"public_url", "TWOSTEP_PUBLIC_URL", "", false},
		{"sms.provider", "TWOSTEP_SMS_PROVIDER", "console", false},
		{"password.argon2.memory", "TWOSTEP_PASSWORD_ARGON2_MEMORY", "19456", false},
		{"invite_ttl", "TWOSTEP_INVITE_TTL", "72h", false},
		{"session.idle_timeout", "TWOSTEP_SESSION_IDLE_TIMEOUT", "30m", false},
		{"password.max_wait", "TWOSTEP_PASSWORD_MAX_WAIT", "2s", false},
		{"mfa.required", "TWOSTEP_MFA_REQUIRED", "true", false},
		{"trusted_proxies", "TWOSTEP_TRUSTED_PROXIES", "", false},
		{"admin_token", "TWOSTEP_ADMIN_TOKEN", "", true},
		{"sms.twilio.auth_token", "TWOSTEP_SMS_TWILIO_AUTH_TOKEN", "", true},
		{"sms.kannel.password", "TWOSTEP_SMS_KANNEL_PASSWORD", "", true},
		{"sms.webhook.secret", "TWOSTEP_SMS_WEBHOOK_SECRET", "", true},
		{"database", "TWOSTEP_DATABASE", "sqlite:./twostep.db", true},
		{"support.chat_url", "TWOSTEP_SUPPORT_CHAT_URL", "", false},
	}
	for _, tt := range tests {
		k, ok := byPath[tt.path]
		if !ok {
			t.Errorf("Keys() lacks %s", tt.path)
			continue
		}
		if k.Env != tt.env || k.Default != tt.def || k.Secret != tt.secret {
			t.Errorf("Keys() %s = {Env %q Default %q Secret %v}, want {%q %q %v}", tt.path, k.Env, k.Default, k.Secret, tt.env, tt.def, tt.secret)
		}
	}
}

// TestDefaultsRoundTrip checks that every default, written as Keys reports
// it, parses back to the same value: the docs table shows what to type.
func TestDefaultsRoundTrip(t *testing.T) {
	var env []string
	for _, k := range Keys() {
		if k.Default != "" {
			env = append(env, k.Env+"="+k.Default)
		}
	}
	got, err := Load("", env, nil)
	if err != nil {
		t.Fatalf("Load(defaults as env): %v", err)
	}
	if !reflect.DeepEqual(got, Defaults()) {
		t.Errorf("defaults did not round-trip:\n%+v\nwant\n%+v", got, Defaults())
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct{ in, want string }{
		{"72h", "72h"}, {"30m", "30m"}, {"1h30m", "1h30m"}, {"2s", "2s"},
		{"1h0m30s", "1h0m30s"}, {"0s", "0s"}, {"1.5s", "1.5s"},
	}
	for _, tt := range tests {
		var c Config
		if err := parseValue(reflectField(&c.InviteTTL), tt.in); err != nil {
			t.Fatal(err)
		}
		if got := formatDuration(c.InviteTTL); got != tt.want {
			t.Errorf("formatDuration(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// reflectField returns the settable value p points to.
func reflectField(p any) reflect.Value { return reflect.ValueOf(p).Elem() }
