package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeFile writes content to a new file in a test directory and returns
// its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// configErrors returns the *Error values inside err (a single one or an
// errors.Join of them), failing the test on anything else.
func configErrors(t *testing.T, err error) []*Error {
	t.Helper()
	if err == nil {
		return nil
	}
	list := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		list = joined.Unwrap()
	}
	var out []*Error
	for _, e := range list {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("error %q (%T) is not a *config.Error", e, e)
		}
		out = append(out, ce)
	}
	return out
}

func TestLoadNothingGivesDefaults(t *testing.T) {
	got, err := Load("", nil, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !reflect.DeepEqual(got, Defaults()) {
		t.Errorf("Load with no sources = %+v, want Defaults() %+v", got, Defaults())
	}
}

func TestLoadYAMLFile(t *testing.T) {
	path := writeFile(t, "twostep.yaml", `
# a comment
listen: 127.0.0.1:9000
public_url: https://login.example.com/
database: postgres://twostep@db.internal/twostep
issuer: Example Corp
enrollment: invite
invite_ttl: 24h
trusted_proxies:
  - 10.0.0.0/8
  - 192.0.2.7
log:
  level: debug
  format: json
mfa:
  required: false
session:
  idle_timeout: 15m
  absolute_timeout: 8h
totp:
  algorithm: SHA256
  digits: 8
password:
  argon2:
    memory: 47104
    time: 1
limits:
  backoff_max: 2h
sms:
  provider: kannel
  kannel:
    url: http://127.0.0.1:13013/cgi-bin/sendsms
    username: tester
    password: testpw
  default_country: DE
support:
  contact_url: mailto:help@example.com
`)
	got, err := Load(path, nil, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Defaults()
	want.Listen = "127.0.0.1:9000"
	want.PublicURLSetting = "https://login.example.com/"
	want.Database = "postgres://twostep@db.internal/twostep"
	want.Issuer = "Example Corp"
	want.Enrollment = "invite"
	want.InviteTTL = 24 * time.Hour
	want.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.7"}
	want.Log = Log{Level: "debug", Format: "json"}
	want.MFA.Required = false
	want.Session.IdleTimeout = 15 * time.Minute
	want.Session.AbsoluteTimeout = 8 * time.Hour
	want.TOTP.Algorithm = "SHA256"
	want.TOTP.Digits = 8
	want.Password.Argon2.Memory = 47104
	want.Password.Argon2.Time = 1
	want.Limits.BackoffMax = 2 * time.Hour
	want.SMS.Provider = "kannel"
	want.SMS.Kannel = Kannel{URL: "http://127.0.0.1:13013/cgi-bin/sendsms", Username: "tester", Password: "testpw"}
	want.SMS.DefaultCountry = "DE"
	want.Support.ContactURL = "mailto:help@example.com"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(file) =\n%+v\nwant\n%+v", got, want)
	}
	if got.PublicURL() != "https://login.example.com" {
		t.Errorf("PublicURL() = %q, want the setting without trailing slash", got.PublicURL())
	}
}

func TestLoadYAMLEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want func(*Config)
	}{
		{"empty file", "", func(*Config) {}},
		{"only comments", "# nothing here\n", func(*Config) {}},
		{"empty section", "sms:\n", func(*Config) {}},
		{"null value empties a key", "sms:\n  default_country: DE\nredis:\nsupport:\n  chat_url: ~\n", func(c *Config) { c.SMS.DefaultCountry = "DE" }},
		{"list as comma string", "trusted_proxies: 10.0.0.1, 10.0.0.2\n", func(c *Config) { c.TrustedProxies = []string{"10.0.0.1", "10.0.0.2"} }},
		{"empty list", "trusted_proxies: []\n", func(*Config) {}},
		{"quoted number", "totp:\n  digits: \"8\"\n", func(c *Config) { c.TOTP.Digits = 8 }},
		{"alias value", "session:\n  idle_timeout: &t 20m\n  recent_auth: *t\n", func(c *Config) {
			c.Session.IdleTimeout = 20 * time.Minute
			c.Session.RecentAuth = 20 * time.Minute
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(writeFile(t, "c.yaml", tt.yaml), nil, nil)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := Defaults()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestLoadYAMLErrors(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantKey string // Error.Key
		wantMsg string // substring of the error text
	}{
		{"unknown top-level key", "listen: 127.0.0.1:8080\nlisten_addr: x\n", "listen_addr", "unknown key"},
		{"unknown nested key names full path", "sms:\n  providr: twilio\n", "sms.providr", "unknown key"},
		{"unknown deep key", "password:\n  argon2:\n    mem: 1\n", "password.argon2.mem", "unknown key"},
		{"bad integer", "totp:\n  digits: abc\n", "totp.digits", `invalid whole number "abc"`},
		{"bad duration", "session:\n  idle_timeout: 30\n", "session.idle_timeout", "invalid duration"},
		{"bad boolean", "mfa:\n  required: maybe\n", "mfa.required", "invalid boolean"},
		{"negative unsigned", "password:\n  argon2:\n    threads: -1\n", "password.argon2.threads", "invalid whole number"},
		{"out of range", "password:\n  argon2:\n    threads: 300\n", "password.argon2.threads", "out of range"},
		{"list for a value", "listen: [a, b]\n", "listen", "not a list"},
		{"mapping for a value", "listen:\n  host: x\n", "listen", "not a mapping"},
		{"value for a section", "sms: twilio\n", "sms", "expected a mapping"},
		{"duplicate key", "issuer: a\nissuer: b\n", "issuer", "set twice"},
		{"syntax error", "listen: [\n", "", "yaml"},
		{"two documents", "listen: a\n---\nlisten: b\n", "", "more than one YAML document"},
		{"top level is a list", "- listen\n", "", "expected a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "bad.yaml", tt.yaml)
			_, err := Load(path, nil, nil)
			errs := configErrors(t, err)
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1: %v", len(errs), err)
			}
			e := errs[0]
			if e.Key != tt.wantKey {
				t.Errorf("Key = %q, want %q (error %q)", e.Key, tt.wantKey, e)
			}
			if !strings.Contains(e.Source, "file "+path) {
				t.Errorf("Source = %q, want it to name file %s", e.Source, path)
			}
			if !strings.Contains(e.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", e, tt.wantMsg)
			}
		})
	}
}

func TestLoadYAMLReportsLine(t *testing.T) {
	path := writeFile(t, "c.yaml", "issuer: x\n\ntotp:\n  digits: abc\n")
	_, err := Load(path, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "totp.digits (file "+path+", line 4)") {
		t.Errorf("error %q should name totp.digits, the file and line 4", err)
	}
}

// TestRangeErrorsNameTheirSource: a value that parses but is out of range
// names where it was set, like a value that does not parse ("must be at
// least 1, not -3" alone sent the operator searching).
func TestRangeErrorsNameTheirSource(t *testing.T) {
	path := writeFile(t, "c.yaml", "issuer: x\nlimits:\n  max_failures: -3\n  backoff_base: 1m\n  backoff_max: 10s\n")
	_, err := Load(path, []string{"TWOSTEP_TOTP_SKEW=99"}, map[string]string{"listen": "127.0.0.1:8080"})
	for _, want := range []string{
		"limits.max_failures (file " + path + ", line 3): must be at least 1, not -3",
		"limits.backoff_max (file " + path + ", line 5): must be at least limits.backoff_base",
		"totp.skew (environment TWOSTEP_TOTP_SKEW): must be from 0 to 10, not 99",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %q should contain %q", err, want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil, nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing file) error = %v, want os.ErrNotExist", err)
	}
}

func TestLoadEnv(t *testing.T) {
	env := []string{
		"PATH=/usr/bin",
		"TWOSTEP_LISTEN=127.0.0.1:9999",
		"TWOSTEP_SMS_PROVIDER=twilio",
		"TWOSTEP_SMS_TWILIO_ACCOUNT_SID=AC123",
		"TWOSTEP_SMS_TWILIO_AUTH_TOKEN=tok",
		"TWOSTEP_SMS_TWILIO_FROM=+15005550006",
		"TWOSTEP_PASSWORD_ARGON2_MEMORY=65536",
		"TWOSTEP_SESSION_RECENT_AUTH=10m",
		"TWOSTEP_MFA_REQUIRED=false",
		"TWOSTEP_TRUSTED_PROXIES=10.0.0.0/8, 172.16.0.0/12,,fd00::/8",
		"TWOSTEP_SUPPORT_CHAT_URL=https://chat.example.com/?room=help",
		"twostep_issuer=lower case is not ours",
		"NOEQUALS",
	}
	got, err := Load("", env, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Defaults()
	want.Listen = "127.0.0.1:9999"
	want.SMS.Provider = "twilio"
	want.SMS.Twilio = Twilio{AccountSID: "AC123", AuthToken: "tok", From: "+15005550006"}
	want.Password.Argon2.Memory = 65536
	want.Session.RecentAuth = 10 * time.Minute
	want.MFA.Required = false
	want.TrustedProxies = []string{"10.0.0.0/8", "172.16.0.0/12", "fd00::/8"}
	want.Support.ChatURL = "https://chat.example.com/?room=help"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
}

func TestLoadPrecedence(t *testing.T) {
	path := writeFile(t, "c.yaml", "listen: 127.0.0.1:1111\nissuer: from-file\ndatabase: sqlite:file.db\nlog:\n  level: warn\n")
	env := []string{
		"TWOSTEP_LISTEN=127.0.0.1:2222",
		"TWOSTEP_ISSUER=from-env",
	}
	flags := map[string]string{
		"listen":    "127.0.0.1:3333",
		"log.level": "debug",
	}
	got, err := Load(path, env, flags)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	tests := []struct {
		key, got, want string
	}{
		{"listen (file, env, flag)", got.Listen, "127.0.0.1:3333"},
		{"issuer (file, env)", got.Issuer, "from-env"},
		{"database (file)", got.Database, "sqlite:file.db"},
		{"log.level (file, flag)", got.Log.Level, "debug"},
		{"key_file (default)", got.KeyFile, "./twostep.key"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.key, tt.got, tt.want)
		}
	}
}

func TestLoadSecretFromFile(t *testing.T) {
	token := strings.Repeat("a1", 20)
	tokenFile := writeFile(t, "admin_token", "  "+token+"\n")
	dbFile := writeFile(t, "db", "postgres://twostep:s3cret@db/twostep\n")
	tests := []struct {
		name    string
		env     []string
		check   func(Config) bool
		wantErr string // substring; "" means success
	}{
		{
			name:  "admin token from file, trimmed",
			env:   []string{"TWOSTEP_ADMIN_TOKEN_FILE=" + tokenFile},
			check: func(c Config) bool { return c.AdminToken == token },
		},
		{
			name:  "webhook secret from file",
			env:   []string{"TWOSTEP_SMS_WEBHOOK_SECRET_FILE=" + tokenFile},
			check: func(c Config) bool { return c.SMS.Webhook.Secret == token },
		},
		{
			name:  "database URL from file",
			env:   []string{"TWOSTEP_DATABASE_FILE=" + dbFile},
			check: func(c Config) bool { return c.Database == "postgres://twostep:s3cret@db/twostep" },
		},
		{
			name:    "missing file",
			env:     []string{"TWOSTEP_ADMIN_TOKEN_FILE=/nonexistent/token"},
			wantErr: "admin_token (environment TWOSTEP_ADMIN_TOKEN_FILE)",
		},
		{
			name:    "empty file",
			env:     []string{"TWOSTEP_ADMIN_TOKEN_FILE=" + writeFile(t, "empty", "\n")},
			wantErr: "is empty",
		},
		{
			name:    "both variable and file",
			env:     []string{"TWOSTEP_ADMIN_TOKEN=" + token, "TWOSTEP_ADMIN_TOKEN_FILE=" + tokenFile},
			wantErr: "admin_token (environment TWOSTEP_ADMIN_TOKEN and TWOSTEP_ADMIN_TOKEN_FILE): set only one",
		},
		{
			name:    "_FILE of a key that is no secret",
			env:     []string{"TWOSTEP_ISSUER_FILE=" + tokenFile},
			wantErr: "environment TWOSTEP_ISSUER_FILE: names no configuration key",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load("", tt.env, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				configErrors(t, err)
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !tt.check(got) {
				t.Errorf("secret not loaded from file: %+v", got)
			}
		})
	}
}

func TestLoadUnknownEnv(t *testing.T) {
	_, err := Load("", []string{"TWOSTEP_LISTN=127.0.0.1:1", "TWOSTEP_SMS_PROVIDERS=x"}, nil)
	errs := configErrors(t, err)
	if len(errs) != 2 {
		t.Fatalf("got %d errors, want 2: %v", len(errs), err)
	}
	for i, name := range []string{"TWOSTEP_LISTN", "TWOSTEP_SMS_PROVIDERS"} {
		if errs[i].Source != "environment "+name || !strings.Contains(errs[i].Error(), name) {
			t.Errorf("error %d = %q, want it to name %s", i, errs[i], name)
		}
	}
}

func TestLoadIgnoresTestEnv(t *testing.T) {
	env := []string{
		"TWOSTEP_TEST_POSTGRES_URL=postgres://test@localhost/test",
		"TWOSTEP_TEST_ANYTHING=1",
	}
	got, err := Load("", env, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !reflect.DeepEqual(got, Defaults()) {
		t.Errorf("TWOSTEP_TEST_* changed the configuration: %+v", got)
	}
}

func TestLoadBadValuesNameKeyAndSource(t *testing.T) {
	tests := []struct {
		name       string
		env        []string
		flags      map[string]string
		wantKey    string
		wantSource string
	}{
		{"env integer", []string{"TWOSTEP_TOTP_DIGITS=abc"}, nil, "totp.digits", "environment TWOSTEP_TOTP_DIGITS"},
		{"env duration", []string{"TWOSTEP_SESSION_IDLE_TIMEOUT=30"}, nil, "session.idle_timeout", "environment TWOSTEP_SESSION_IDLE_TIMEOUT"},
		{"env boolean", []string{"TWOSTEP_INSECURE_DEV_COOKIES=yes please"}, nil, "insecure_dev_cookies", "environment TWOSTEP_INSECURE_DEV_COOKIES"},
		{"env unsigned", []string{"TWOSTEP_PASSWORD_ARGON2_MEMORY=-5"}, nil, "password.argon2.memory", "environment TWOSTEP_PASSWORD_ARGON2_MEMORY"},
		{"flag integer", nil, map[string]string{"limits.max_failures": "five"}, "limits.max_failures", "flag --limits.max_failures"},
		{"unknown flag", nil, map[string]string{"listen_addr": "x"}, "", "flag --listen_addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("", tt.env, tt.flags)
			errs := configErrors(t, err)
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1: %v", len(errs), err)
			}
			if errs[0].Key != tt.wantKey || errs[0].Source != tt.wantSource {
				t.Errorf("error %q: Key %q Source %q, want %q %q", errs[0], errs[0].Key, errs[0].Source, tt.wantKey, tt.wantSource)
			}
		})
	}
}

func TestLoadReportsEverySourceAndValidation(t *testing.T) {
	path := writeFile(t, "c.yaml", "sms:\n  provider: carrier-pigeon\nbogus: 1\n")
	env := []string{"TWOSTEP_TOTP_DIGITS=abc", "TWOSTEP_NOPE=1", "TWOSTEP_TOTP_PERIOD=5"}
	flags := map[string]string{"session.recent_auth": "soon"}
	_, err := Load(path, env, flags)
	var got []string
	for _, e := range configErrors(t, err) {
		kind, _, _ := strings.Cut(e.Source, " ") // file, environment or flag
		got = append(got, e.Key+" from "+kind)
	}
	want := []string{
		"bogus from file",              // unknown YAML key
		" from environment",            // TWOSTEP_NOPE names no key
		"totp.digits from environment", // bad value
		"session.recent_auth from flag",
		"totp.period from environment", // Validate: range, with its source
		"sms.provider from file",       // Validate: enum, with its source
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors = %q, want %q\n%v", got, want, err)
	}
}
