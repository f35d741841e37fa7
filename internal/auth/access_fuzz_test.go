package auth_test

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/twostep/twostep/internal/auth"
)

// Fuzz targets of the two parsers that decide forward-auth: the path a rule
// is matched against and the host it is matched for. Both read values an
// anonymous client controls (through the proxy's X-Original-URL or
// X-Forwarded-* headers), so whatever they accept must mean one thing to
// every back-end (OWASP ASVS V4.1.1, V5.1.3). docs/fuzzing.md lists every
// target and how to run them longer.

// attackPaths are the path spellings that split back-ends in published
// path-confusion attacks; every fuzz target of a path parser starts from
// them.
var attackPaths = []string{
	"/public/..;/admin/", "/secret;x", "/admin;/", "/public/%252e%252e/admin/", "/public/%2e%2e/blocked",
	"/%62locked", "//blocked", "/BLOCKED", "/public%2f..%2fblocked", `/public\..\blocked`, "/nul%00", "/bad%ff",
	"/public#/../blocked", "/public/./x/../../blocked/", "/%2E%2E/blocked", "/public/%c0%ae%c0%ae/blocked",
	"/\u212aelvin", "/\u0130", "/a/b/", "/", "", "/public/%3f/../blocked", "/%e2%80%ae", "/x%7f",
	"/blocked%3F", "/blocked%23x", "/blocked?x", "/blocked#x",
}

// FuzzNormalizePath: whatever a client sends as the request path, an
// accepted result is a clean, decoded, lower-case absolute path that reads
// the same after another round of normalisation, so no back-end that
// decodes again, splits on other separators or resolves dot segments
// differently reaches another resource than the rule was matched against.
func FuzzNormalizePath(f *testing.F) {
	for _, p := range attackPaths {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, ok := auth.NormalizePath(raw)
		if !ok {
			if p != "" {
				t.Fatalf("NormalizePath(%q) refused but returned %q", raw, p)
			}
			return
		}
		switch {
		case !strings.HasPrefix(p, "/"):
			t.Fatalf("NormalizePath(%q) = %q: not absolute", raw, p)
		case strings.Contains(p, "//"), strings.Contains(p, "/./"), strings.Contains(p, "/../"),
			strings.HasSuffix(p, "/."), strings.HasSuffix(p, "/.."):
			t.Fatalf("NormalizePath(%q) = %q: empty or dot segment left", raw, p)
		case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			t.Fatalf("NormalizePath(%q) = %q: control character", raw, p)
		case !utf8.ValidString(p):
			t.Fatalf("NormalizePath(%q) = %q: invalid UTF-8", raw, p)
		case strings.ToLower(p) != p:
			t.Fatalf("NormalizePath(%q) = %q: not lower-case", raw, p)
		case strings.ContainsAny(p, `%;\?#`):
			// A '%' would be decoded again by a back-end that decodes
			// twice; ';' and '\' are separators to some back-ends, '?'
			// and '#' end the path to one that splits after decoding.
			t.Fatalf("NormalizePath(%q) = %q: holds a character back-ends read differently", raw, p)
		}
		if again, ok := auth.NormalizePath(p); !ok || again != p {
			t.Fatalf("NormalizePath(%q) = %q, but NormalizePath(%q) = %q, %v: not idempotent", raw, p, p, again, ok)
		}
	})
}

// attackHosts are host values that named another host, or several, to some
// component on the way (user-info, lists, IP literals, junk ports).
var attackHosts = []string{
	"app.example.test", "app.example.test@other.test", "app.example.test,other", "[::1]:8080", "[::1]", "[::1",
	"app.example.test:80x", "app.example.test:", "APP.Example.Test.", "app..example.test", "app.example.test other",
	`app.example.test\@other.test`, "app.example.test/x", "a_b.example.test:65535", "[fe80::1%25eth0]", "[::ffff:127.0.0.1]:1",
	"127.0.0.1:8080", "xn--bcher-kva.example", "app.example.test#", "app.example.test%2f", "",
}

// FuzzValidHost: an accepted host never carries a character that lets
// another component read another host (user-info '@', a list ',', a path
// '/', a backslash, spaces, controls, '%', '?', '#'), and net/url, parsing
// it as the authority of a URL, finds exactly that host and no user-info.
func FuzzValidHost(f *testing.F) {
	for _, h := range attackHosts {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if !auth.ValidHost(host) {
			return
		}
		if host == "" || strings.ContainsAny(host, "@, /\\%?#;") ||
			strings.ContainsFunc(host, func(r rune) bool { return r <= 0x20 || r >= 0x7f }) {
			t.Fatalf("ValidHost(%q) accepted a host with a forbidden character", host)
		}
		u, err := url.Parse("http://" + host + "/")
		if err != nil {
			t.Fatalf("ValidHost(%q) accepted a host net/url refuses: %v", host, err)
		}
		if u.Host != host || u.User != nil || u.Path != "/" {
			t.Fatalf("ValidHost(%q): net/url reads host %q, user %v, path %q", host, u.Host, u.User, u.Path)
		}
	})
}
