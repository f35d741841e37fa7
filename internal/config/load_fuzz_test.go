package config_test

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/twostep/twostep/internal/config"
)

// urlSecrets are the secret keys whose value is a URL that may carry a
// password; every other secret key is wholly secret. FuzzLoad checks that
// config.Keys reports exactly urlSecrets plus valueSecrets as secret, so a
// new secret key cannot escape the check.
var (
	urlSecrets   = []string{"database", "redis"}
	valueSecrets = []string{"admin_token", "metrics.token", "sms.twilio.auth_token", "sms.kannel.password", "sms.webhook.secret", "notify.smtp.password"}
)

// FuzzLoad fuzzes the configuration file: Load reads it (from a file
// written per input; no environment, no flags).
//
// Invariants: Load never panics; it returns either every problem (each a
// *config.Error) and the zero Config, or a Config that Validate accepts;
// and no secret the file sets — a secret key's value, the password of a
// database or Redis URL, or the whole URL when it does not parse — is
// repeated in an error or in the redacted configuration (ASVS V7.1.1,
// V14.1.3). A secret counts as repeated only when the answer for the same
// file with that secret masked no longer contains it, so text the messages
// hold anyway is not mistaken for a leak.
func FuzzLoad(f *testing.F) {
	var got []string
	for _, k := range config.Keys() {
		if k.Secret {
			got = append(got, k.Path)
		}
	}
	if want := append(slices.Clone(urlSecrets), valueSecrets...); !sameSet(got, want) {
		f.Fatalf("config.Keys reports the secret keys %v; this test knows %v", got, want)
	}

	for _, doc := range []string{
		"",
		"# only a comment\n",
		"listen: 127.0.0.1:8080\nissuer: Example\n",
		"admin_token: S3cr3tAdminToken-0123456789abcdef-XYZ\n",
		"admin_token: S3cr3tShort\n",
		"admin_token: [S3cr3tAdminToken-0123456789abcdef-XYZ]\n",
		"admin_token:\n  S3cr3tAdminToken-0123456789abcdef-XYZ: x\n",
		"admin_token: S3cr3tAdminToken-0123456789abcdef-XYZ\nadmin_token: S3cr3tAdminToken-0123456789abcdef-XYZ\n",
		"admin_tokn: S3cr3tAdminToken-0123456789abcdef-XYZ\n",
		"metrics:\n  token: M3tr1cs-S3cr3t-Token-0123456789abcdef\n  listen: 127.0.0.1:9464\n",
		"notify:\n  channels: [email]\n  from: a@example.com\n  smtp:\n    host: mail.example.com\n    username: u\n    password: Smtp-S3cr3t-Passw0rd\n",
		"notify:\n  channels: [email]\n  smtp:\n    host: mail.example.com\n    tls: none\n    password: Smtp-S3cr3t-Passw0rd\n",
		"metrics:\n  token: M3tr1cs-short\n",
		"database: postgres://twostep:Hunter2-S3cr3t-Password@db.example.com/twostep?sslmode=require\n",
		"database: postgres://twostep:Hunter2-S3cr3t-Password@db.example.com:bad/twostep\n",
		"database: mysql://twostep:Hunter2-S3cr3t-Password@db/x\n",
		"database: \"postgres://db.example.com/twostep?password=Hunter2-S3cr3t-Password\"\n",
		"redis: redis://:Hunter2-S3cr3t-Password@127.0.0.1:6379/0\n",
		"redis: \"http://u:Hunter2-S3cr3t-Password@x\"\n",
		"redis: \"%zz://u:Hunter2-S3cr3t-Password@x\"\n",
		"sms:\n  provider: twilio\n  twilio:\n    account_sid: AC123\n    auth_token: Tw1l10-S3cr3t-Token-abcdef\n    from: \"+15550100\"\n",
		"sms:\n  provider: kannel\n  kannel:\n    url: http://127.0.0.1:13013/cgi-bin/sendsms\n    password: K4nn3l-S3cr3t-Pass\n",
		"sms:\n  provider: webhook\n  webhook:\n    url: ftp://x\n    secret: W3bh00k-S3cr3t-Value\n",
		"sms:\n  provider: kannel\n  kannel: K4nn3l-S3cr3t-Pass\n",
		"access:\n  default_policy: deny\n  rules:\n    - app.example.com/public bypass\n    - \"*.example.com two_factor admins\"\n",
		"access:\n  rules: app.example.com bypass\n",
		"session:\n  idle_timeout: 13h\n  absolute_timeout: 12h\ntotp:\n  digits: 7\n  period: 1e9\n",
		"password:\n  argon2:\n    memory: 4294967296\n    threads: 300\n",
		"trusted_proxies: [10.0.0.0/8, \"::1\", nonsense]\nlimits:\n  login_per_ip: -1\n",
		"base: &b {level: debug}\nlog: *b\n",
		"log: &a\n  level: *a\n",
		"a: &a [*a]\n",
		"---\nlisten: :1\n---\nlisten: :2\n",
		"listen: !!binary aGVsbG8=\n",
		"{listen: [1, {2: 3}], ? [x] : y}\n",
		"public_url: http://user:Hunter2-S3cr3t-Password@login.example.com\n",
		"support:\n  contact_url: javascript:alert(1)\nbrand:\n  name: \"\\x00\"\n  accent_color: red\n  logo_file: x.exe\n",
		"remember_device:\n  days: 366\ncookie_domain: .example.com\n",
		"\t- tab\n",
		"issuer: \"a:b\"\nenrollment: invite\ninvite_ttl: -1s\n",
	} {
		f.Add([]byte(doc))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "twostep.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path, nil, nil)
		if err != nil {
			if !reflect.DeepEqual(cfg, config.Config{}) {
				t.Fatalf("Load failed (%v) but returned a non-zero Config", err)
			}
			for _, e := range joined(err) {
				var ce *config.Error
				if !errors.As(e, &ce) {
					t.Fatalf("Load: a problem that is no *config.Error: %T %v", e, e)
				}
			}
		} else if problems := cfg.Validate(); len(problems) > 0 {
			t.Fatalf("Load accepted a configuration Validate refuses: %v", problems)
		}

		// The answer a reader of the log or the terminal sees.
		answer := func(cfg config.Config, err error) string {
			if err != nil {
				return err.Error()
			}
			return fmt.Sprintf("%+v", cfg.Redacted())
		}
		text := answer(cfg, err)
		for _, s := range fileSecrets(data) {
			if !strings.Contains(text, s) || strings.Contains(path, s) {
				continue
			}
			masked := strings.ReplaceAll(string(data), s, maskOf(s))
			if err := os.WriteFile(path, []byte(masked), 0o600); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(answer(config.Load(path, nil, nil)), s) {
				t.Fatalf("the secret %q set in the file is repeated in:\n%s", s, text)
			}
		}
	})
}

// fileSecrets returns the secrets the YAML document data sets, by reading
// it independently of Load: values of valueSecrets, passwords of the URLs
// of urlSecrets (the whole URL when it does not parse). Secrets shorter
// than 8 bytes, and any that also appears as a key, anchor, tag or
// non-secret value (which messages may quote), are left out.
func fileSecrets(data []byte) []string {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return nil
	}
	var secrets, public []string
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		public = append(public, n.Anchor, n.Tag)
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				public = append(public, k.Value)
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				walk(v, p)
			}
		case yaml.ScalarNode:
			switch {
			case slices.Contains(valueSecrets, path):
				secrets = append(secrets, n.Value)
			case slices.Contains(urlSecrets, path):
				u, err := url.Parse(n.Value)
				if err != nil {
					secrets = append(secrets, n.Value)
					break
				}
				if pw, ok := u.User.Password(); ok {
					secrets = append(secrets, pw)
				}
				if pw := u.Query().Get("password"); pw != "" {
					secrets = append(secrets, pw)
				}
			default:
				public = append(public, n.Value)
			}
		case yaml.AliasNode:
			public = append(public, n.Value)
		}
	}
	walk(&doc, "")
	defaults := fmt.Sprintf("%+v", config.Defaults())
	var out []string
	for _, s := range secrets {
		if len(s) < 8 || strings.Contains(defaults, s) || slices.ContainsFunc(public, func(p string) bool { return strings.Contains(p, s) }) {
			continue
		}
		out = append(out, s)
	}
	return out
}

// maskOf returns a string as long as s that shares no byte with it.
func maskOf(s string) string {
	for _, c := range "QZXqzx#" {
		if !strings.ContainsRune(s, c) {
			return strings.Repeat(string(c), len(s))
		}
	}
	return strings.Repeat("\x01", len(s))
}

// joined returns the errors inside an errors.Join, or err itself.
func joined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
