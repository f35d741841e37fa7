package auth

import (
	"net"
	"strings"
	"testing"
)

// The allocation-free shortcuts of the forward-auth path (issue #12) must
// answer exactly as the code they skip.

var shortcutPaths = []string{
	"/", "/a", "/a/", "/a/b", "/a/b/", "/public/x", "/a.b/c-d_e~f", "/.well-known/x", "/a/.b", "/a/..b", "/...",
	"//", "/a//b", "/./", "/a/./b", "/a/../b", "/a/.", "/a/..", "/.", "/..", "/A", "/a%2e", "/a;b", `/a\b`,
	"/a?b", "/a#b", "/a b", "/a\x00", "/a\x7f", "/é", "a", "", "/a/b/../../c/", "/~user/", "/a:b@c!$&'()*+,=",
}

func FuzzIsNormal(f *testing.F) {
	for _, p := range shortcutPaths {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if isNormal(raw) {
			if p, ok := normalizeFull(raw); !ok || p != raw {
				t.Fatalf("isNormal(%q) but the full normalisation gives %q, %v", raw, p, ok)
			}
		}
		// Every accepted result is normal, and the full path agrees.
		if p, ok := normalizeFull(raw); ok {
			if again, ok := normalizeFull(p); !ok || again != p {
				t.Fatalf("normalizeFull(%q) = %q, then %q, %v: not idempotent", raw, p, again, ok)
			}
		}
	})
}

// The shortcut is taken for the paths it is meant for, and not for the
// ones that need the full normalisation.
func TestIsNormal(t *testing.T) {
	for _, p := range []string{"/", "/a", "/a/", "/a/b/", "/public/x", "/.well-known/x", "/a/..b", "/..."} {
		if !isNormal(p) {
			t.Errorf("isNormal(%q) = false", p)
		}
	}
	for _, p := range []string{"", "a", "//", "/a//b", "/./", "/a/./b", "/a/../b", "/a/.", "/a/..", "/.", "/..", "/A",
		"/a%2e", "/a;b", `/a\b`, "/a?b", "/a#b", "/a b", "/a\x00", "/a\x7f", "/é"} {
		if isNormal(p) {
			t.Errorf("isNormal(%q) = true", p)
		}
	}
}

// canonicalHostBefore is canonicalHost as it was before the shortcut.
func canonicalHostBefore(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

func FuzzCanonicalHost(f *testing.F) {
	for _, h := range []string{"app.example.test", "app.example.test:8080", "APP.Example.Test.:1", "a:", ":80", "a:b:c",
		"[::1]:8080", "[::1]", "[::1", "a]:80", "a[b:80", "a:b]", "[a:80", "", ":", "::", "[]:1", "[::1]:", "[::1]]:1"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if got, want := canonicalHost(host), canonicalHostBefore(host); got != want {
			t.Fatalf("canonicalHost(%q) = %q, want %q (net.SplitHostPort)", host, got, want)
		}
	})
}

// The shortcuts allocate nothing for the host and path a browser sends
// (lower-case host, clean path); the whole check is measured in
// internal/api (TestForwardAuthCachedAllocs).
func TestShortcutsAllocateNothing(t *testing.T) {
	for _, c := range []struct{ host, path string }{{"app.example.test", "/page"}, {"app.example.test:8443", "/page/"}} {
		if n := testing.AllocsPerRun(50, func() {
			if !isNormal(c.path) || canonicalHost(c.host) == "" {
				t.Fatal("shortcut not taken")
			}
		}); n != 0 {
			t.Errorf("%s%s: %v allocations", c.host, c.path, n)
		}
	}
}
