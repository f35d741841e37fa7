package config

import (
	"log/slog"
	"net/url"
	"reflect"
	"slices"
	"strings"
)

// Redacted returns a copy of c that is safe to log: every secret that is set
// (admin_token, sms.twilio.auth_token, sms.kannel.password,
// sms.webhook.secret) becomes "***", and a password inside the database or
// redis URL becomes "***" while the rest of the URL stays readable.
func (c Config) Redacted() Config {
	v := reflect.ValueOf(&c).Elem()
	for _, k := range table().keys {
		if k.secret == notSecret {
			continue
		}
		f := v.FieldByIndex(k.index)
		if f.String() == "" {
			continue
		}
		switch k.secret {
		case secretValue:
			f.SetString(redactedValue)
		case secretURL:
			f.SetString(redactURL(f.String()))
		}
	}
	// The slice is shared with the receiver; copy it so the result can be
	// changed without touching c.
	c.TrustedProxies = slices.Clone(c.TrustedProxies)
	return c
}

// redactURL hides the password of a URL: in the user info
// (postgres://user:pw@host) and in a password query parameter
// (postgres://host/db?password=pw). A value that does not parse is hidden
// whole.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return redactedValue
	}
	// url escapes "*", so set a plain placeholder and swap it for "***"
	// afterwards, keeping the result readable.
	const placeholder = "REDACTED"
	var replace []string
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), placeholder)
		replace = append(replace, ":"+placeholder+"@", ":"+redactedValue+"@")
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", placeholder)
		u.RawQuery = q.Encode()
		replace = append(replace, "password="+placeholder, "password="+redactedValue)
	}
	return strings.NewReplacer(replace...).Replace(u.String())
}

// LogValue makes a Config log as its key paths and values, redacted like
// Redacted, so the start-up log shows the effective configuration in the
// same names as the documentation and never a secret.
func (c Config) LogValue() slog.Value {
	v := reflect.ValueOf(c.Redacted())
	keys := table().keys
	attrs := make([]slog.Attr, len(keys))
	for i, k := range keys {
		attrs[i] = slog.String(k.Path, formatValue(v.FieldByIndex(k.index)))
	}
	return slog.GroupValue(attrs...)
}
