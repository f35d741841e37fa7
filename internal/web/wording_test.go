package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/web"
)

// TestCodeWordingFromConfig: with totp.digits 8 and totp.period 60, every
// page and message about the authenticator app says 8 digits and 60
// seconds — one truth, from the configuration — and none says 6 digits,
// 30 seconds or "every few seconds" for the app.
func TestCodeWordingFromConfig(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.TOTP.Digits, c.TOTP.Period = 8, 60 })
	e.addUser("olga")
	b := e.browser()

	help := b.get("/help")
	wantHas(t, help, "a new 8-digit code every 60 seconds")

	b.login("olga", pw)
	p := b.submit("/setup", url.Values{"method": {"totp"}})
	wantHas(t, p, `<label for="code">8-digit code</label>`, "The app shows a new code every 60 seconds.", "8 digits, every 60 seconds")
	p = b.submit("/setup/totp", url.Values{"code": {"123"}})
	wantHas(t, p, "Enter the 8-digit code your authenticator app shows for")
	secret := p.secret(t)
	if code := e.code(secret); len(code) != 8 {
		t.Fatalf("test code %q is not 8 digits", code)
	}
	p = b.submit("/setup/totp", url.Values{"code": {e.code(secret)}})
	p.want(t, http.StatusOK, "/setup/totp", "Save your recovery codes")

	b.submit("/logout", nil)
	p = b.login("olga", pw)
	p.want(t, http.StatusOK, "/verify", "Enter your code")
	wantHas(t, p, `<label for="code">8-digit code</label>`)
	p = b.submit("/verify", url.Values{"code": {"12ab"}})
	wantHas(t, p, "Enter the 8-digit code from your authenticator app.")
	e.clock.Add(60 * time.Second)
	wrong := "00000000"
	if e.code(secret) == wrong {
		wrong = "11111111"
	}
	p = b.submit("/verify", url.Values{"code": {wrong}})
	wantHas(t, p, "a new one appears every 60 seconds")

	for _, pg := range []*page{help, p} {
		for _, s := range []string{"6-digit code from your authenticator", "every 30 seconds", "every few seconds"} {
			if pg.has(s) {
				t.Errorf("%s says %q although the app's codes are 8 digits every 60 seconds", pg.url.Path, s)
			}
		}
	}
}

// TestPlainWordsOnPages: the pages people read name apps they know, not
// protocols or command-line tools (docs/pages.md keeps the technical notes).
func TestPlainWordsOnPages(t *testing.T) {
	e := newEnv(t)
	e.addUser("pia")
	b := e.browser()
	pages := []*page{b.get("/help")}
	b.login("pia", pw)
	pages = append(pages, b.submit("/setup", url.Values{"method": {"totp"}}))
	for _, p := range pages {
		wantHas(t, p, "KeePassXC", "Bitwarden", "1Password", "Microsoft Authenticator", "Google Authenticator")
		text := tagRE.ReplaceAllString(p.body, " ")
		for _, s := range []string{"RFC", "oathtool", "(TOTP", "TOTP)", "HMAC", "SHA1", "otpauth"} {
			if strings.Contains(text, s) {
				t.Errorf("%s shows %q to end users", p.url.Path, s)
			}
		}
	}
}

// tagRE matches markup, so only the words a person reads are checked
// (attribute values such as the app link's otpauth: URL are not read out).
var tagRE = regexp.MustCompile(`(?s)<[^>]*>`)

// TestSettingsTimes: the settings page writes times as <time> elements
// whose text is in the configured zone and names it (the script rewrites
// them in the browser's zone; without it the server's text stays), and
// whose datetime attribute is the exact instant in UTC.
func TestSettingsTimes(t *testing.T) {
	tests := []struct {
		name string
		zone *time.Location // web.Options.TimeZone
		abbr string
		off  time.Duration
	}{
		{"default UTC", nil, "UTC", 0},
		{"configured zone", time.FixedZone("XST", 5*3600+30*60), "XST", 5*time.Hour + 30*time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnvPages(t, func(p *web.Options) { p.TimeZone = tt.zone })
			e.addUser("quinn")
			b := e.browser()
			secret, _ := b.enrol("quinn")
			b.submit("/logout", nil)
			b.login("quinn", pw)
			e.clock.Add(30 * time.Second)
			used := e.clock.Now()
			p := b.submit("/verify", url.Values{"code": {e.code(secret)}})
			p.want(t, http.StatusOK, "/settings", "Your sign-in methods")

			m := lastUsedRE.FindStringSubmatch(p.body)
			if m == nil {
				t.Fatalf("no last-use <time> on the settings page:\n%s", p.body)
			}
			at, err := time.Parse(time.RFC3339, m[1])
			if err != nil || !strings.HasSuffix(m[1], "Z") {
				t.Fatalf("datetime %q: want RFC 3339 in UTC (%v)", m[1], err)
			}
			if d := at.Sub(used); d < -time.Second || d > time.Second {
				t.Errorf("datetime %s, want the verification time %s", at, used)
			}
			local := at.UTC().Add(tt.off)
			if want := local.Format("2 Jan 2006 at 15:04") + " " + tt.abbr; m[2] != want {
				t.Errorf("last use reads %q, want %q", m[2], want)
			}
			if want := `data-local="date">` + local.Format("2 Jan 2006") + `</time>`; !p.has(want) {
				t.Errorf("page lacks the date added, %q:\n%s", want, p.body)
			}
		})
	}
}

// lastUsedRE finds the last-use time on the settings page: its datetime
// attribute and its text.
var lastUsedRE = regexp.MustCompile(`Last used <time datetime="([^"]+)" data-local="datetime">([^<]+)</time>`)

func wantHas(t *testing.T, p *page, ss ...string) {
	t.Helper()
	for _, s := range ss {
		if !p.has(s) {
			t.Errorf("%s (%d) lacks %q:\n%s", p.url, p.status, s, p.body)
		}
	}
}
