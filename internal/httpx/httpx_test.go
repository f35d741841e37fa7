package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestClientIP(t *testing.T) {
	trusted, err := ParseTrusted([]string{"10.0.0.0/8", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		trusted bool
		remote  string
		xff     []string
		want    string
	}{
		{"no proxies configured ignores XFF", false, "203.0.113.9:1234", []string{"1.2.3.4"}, "203.0.113.9"},
		{"untrusted peer ignores XFF", true, "203.0.113.9:1234", []string{"1.2.3.4"}, "203.0.113.9"},
		{"trusted peer uses XFF", true, "127.0.0.1:1234", []string{"198.51.100.7"}, "198.51.100.7"},
		{"client-forged left entries ignored", true, "127.0.0.1:1", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"skips trusted hops", true, "127.0.0.1:1", []string{"198.51.100.7, 10.1.2.3"}, "198.51.100.7"},
		{"multiple headers joined", true, "127.0.0.1:1", []string{"6.6.6.6", "198.51.100.7"}, "198.51.100.7"},
		{"garbage stops at last trusted", true, "127.0.0.1:1", []string{"nonsense"}, "127.0.0.1"},
		{"ipv4-mapped ipv6", false, "[::ffff:192.0.2.1]:5", nil, "192.0.2.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ClientIP{}
			if tc.trusted {
				c.Trusted = trusted
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := c.Of(r); got != tc.want {
				t.Fatalf("ClientIP = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSessionToken(t *testing.T) {
	tests := []struct {
		name, auth, cookie, want string
	}{
		{"bearer", "Bearer abc", "", "abc"},
		{"cookie", "", "xyz", "xyz"},
		{"bearer wins", "Bearer abc", "xyz", "abc"},
		{"other scheme refused", "Basic abc", "xyz", ""},
		{"none", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			if tc.cookie != "" {
				r.AddCookie(&http.Cookie{Name: SessionCookie, Value: tc.cookie})
			}
			if got := (Cookies{}).SessionToken(r); got != tc.want {
				t.Fatalf("SessionToken = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCookiePrefixes: over HTTPS every cookie carries __Host- (a sibling
// subdomain or a plain-HTTP attacker cannot plant it), except the session
// cookie shared through cookie_domain; and a cookie under the other name
// is not read, so a planted bare twostep_session does not fix a session.
func TestCookiePrefixes(t *testing.T) {
	tests := []struct {
		c          Cookies
		base, want string
		domain     string
	}{
		{Cookies{Secure: true}, SessionCookie, "__Host-twostep_session", ""},
		{Cookies{Secure: true, Domain: "example.com"}, SessionCookie, "twostep_session", "example.com"},
		{Cookies{Secure: true, Domain: "example.com"}, DeviceCookie, "__Host-twostep_device", ""},
		{Cookies{Secure: true}, KnownCookie, "__Host-twostep_known", ""},
		{Cookies{}, SessionCookie, "twostep_session", ""},
		{Cookies{Domain: "example.com"}, DeviceCookie, "twostep_device", ""},
	}
	for _, tc := range tests {
		w := httptest.NewRecorder()
		tc.c.set(w, tc.base, "v", time.Hour)
		got := w.Result().Cookies()
		if len(got) != 1 || got[0].Name != tc.want || got[0].Domain != tc.domain || got[0].Path != "/" ||
			got[0].Secure != tc.c.Secure || !got[0].HttpOnly {
			t.Errorf("%+v %s: cookie %+v, want name %s domain %q", tc.c, tc.base, got, tc.want, tc.domain)
		}
	}
	c := Cookies{Secure: true}
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: SessionCookie, Value: "planted"})
	if got := c.SessionToken(r); got != "" {
		t.Fatalf("a bare session cookie was read over HTTPS: %q", got)
	}
	r.AddCookie(&http.Cookie{Name: "__Host-" + SessionCookie, Value: "real"})
	if got := c.SessionToken(r); got != "real" {
		t.Fatalf("SessionToken = %q, want the __Host- cookie", got)
	}
}

func TestUnavailable(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	tests := []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("load session: %w", dial), true},
		{fmt.Errorf("query: %w", context.DeadlineExceeded), true},
		{fmt.Errorf("redis incr: %w", io.EOF), true},
		{errors.New("constraint failed"), false},
		{nil, false},
	}
	for _, tc := range tests {
		if got := Unavailable(tc.err); got != tc.want {
			t.Errorf("Unavailable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
