package httpx

import (
	"net"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// FuzzSessionToken fuzzes the Authorization and Cookie headers that
// SessionToken reads on every API call, page and forward-auth check.
//
// Invariants: no panic; an Authorization header decides alone — the token
// after "Bearer " with spaces trimmed, or "" for any other scheme, never
// the cookie (a request carries one credential, not a choice of two); and
// otherwise the result lies within the value of a twostep_session cookie
// written in the header (read plainly here: pairs split at ';'). The service then refuses anything over 128 characters
// before hashing it (FuzzTokenHeaders in internal/api checks that).
func FuzzSessionToken(f *testing.F) {
	for _, tc := range [][2]string{
		{"Bearer abc", ""}, {"Bearer  abc \t", "twostep_session=xyz"}, {"bearer abc", ""}, {"Basic abc", "twostep_session=xyz"},
		{"Bearer", ""}, {"Bearer ", ""}, {"", "twostep_session=xyz"}, {"", "twostep_session=\"xyz\""},
		{"", "a=b; twostep_session=1; twostep_session=2"}, {"", "twostep_session=a;b"}, {"", "twostep_session=a b"},
		{"", "twostep_session=" + strings.Repeat("A", 4096)}, {"", "twostep_session"}, {"", ";;;=;"}, {"", "twostep_session=\x00"},
		{"Bearer \x00", ""}, {"Bearer a\r\nb", ""}, {"", "TWOSTEP_SESSION=x"}, {"", "twostep_session =x"},
	} {
		f.Add(tc[0], tc[1])
	}
	f.Fuzz(func(t *testing.T, authorization, cookie string) {
		r := httptest.NewRequest("GET", "/", nil)
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		got := (Cookies{}).SessionToken(r)
		if authorization != "" {
			want := ""
			if rest, ok := strings.CutPrefix(authorization, "Bearer "); ok {
				want = strings.TrimSpace(rest)
			}
			if got != want {
				t.Fatalf("SessionToken(Authorization %q, Cookie %q) = %q, want %q", authorization, cookie, got, want)
			}
			return
		}
		if got == "" {
			return
		}
		found := false
		for _, part := range strings.Split(cookie, ";") {
			// net/http keeps inner spaces of a value (" `" from "= `"):
			// within the value is all that can be said.
			name, value, _ := strings.Cut(part, "=")
			if strings.TrimSpace(name) == SessionCookie && strings.Contains(value, got) {
				found = true
			}
		}
		if !found {
			t.Fatalf("SessionToken(Cookie %q) = %q: not the value of a %s cookie", cookie, got, SessionCookie)
		}
	})
}

// FuzzClientIP fuzzes X-Forwarded-For (and the peer address) that ClientIP
// turns into the key of every per-IP limit and the audit log's IP.
//
// Invariants: no panic; a peer that is no trusted proxy is the client,
// whatever the header says (a client must not choose its own rate-limit
// key); behind a trusted proxy the client is the rightmost hop that is not
// itself trusted, the walk stopping at the first hop that is no address
// (then the last trusted address reached is the client); and the answer
// is always one IP address in canonical form.
func FuzzClientIP(f *testing.F) {
	for _, tc := range [][3]string{
		{"10.0.0.1:1234", "198.51.100.7", ""},
		{"10.0.0.1:1234", "6.6.6.6, 198.51.100.7, 10.0.0.2", ""},
		{"198.51.100.9:1", "6.6.6.6", ""},
		{"10.0.0.1:1", "6.6.6.6,garbage,10.0.0.3", ""},
		{"10.0.0.1:1", "", "1.2.3.4"},
		{"10.0.0.1:1", "::ffff:1.2.3.4", "::ffff:10.0.0.9"},
		{"[::ffff:10.0.0.1]:1", "fe80::1%eth0", ""},
		{"127.0.0.1:1", " 1.2.3.4 ,, ", "5.6.7.8"},
		{"[::1]:1", "2001:db8::1", ""},
		{"unix", "1.2.3.4", ""},
		{"10.0.0.1", "1.2.3.4", ""},
	} {
		f.Add(tc[0], tc[1], tc[2])
	}
	trusted, err := ParseTrusted([]string{"10.0.0.0/8", "127.0.0.1", "::1"})
	if err != nil {
		f.Fatal(err)
	}
	c := ClientIP{Trusted: trusted}
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap()
		return a.Is4() && a.As4()[0] == 10 || a == netip.MustParseAddr("127.0.0.1") || a == netip.IPv6Loopback()
	}
	f.Fuzz(func(t *testing.T, remote, xff1, xff2 string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		for _, v := range []string{xff1, xff2} {
			if v != "" {
				r.Header.Add("X-Forwarded-For", v)
			}
		}
		got := c.Of(r)

		host, _, err := net.SplitHostPort(remote)
		if err != nil {
			host = remote
		}
		peer, err := netip.ParseAddr(host)
		if err != nil {
			// No peer address (only an in-process caller sets one like
			// that): it is the key as it is.
			if got != host {
				t.Fatalf("ClientIP(peer %q) = %q, want %q", remote, got, host)
			}
			return
		}
		want := peer.Unmap()
		if isTrusted(want) {
			var hops []string
			for _, v := range []string{xff1, xff2} {
				if v != "" {
					hops = append(hops, strings.Split(v, ",")...)
				}
			}
			for i := len(hops) - 1; i >= 0; i-- {
				a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
				if err != nil {
					break
				}
				want = a.Unmap()
				if !isTrusted(want) {
					break
				}
			}
		}
		if got != want.String() {
			t.Fatalf("ClientIP(peer %q, X-Forwarded-For %q, %q) = %q, want %q", remote, xff1, xff2, got, want)
		}
		if a, err := netip.ParseAddr(got); err != nil || a.String() != got {
			t.Fatalf("ClientIP(peer %q, X-Forwarded-For %q, %q) = %q: not one canonical address", remote, xff1, xff2, got)
		}
	})
}

// FuzzCookieValue: cookieValue, which reads the session cookie on every
// forward-auth check without allocating, finds exactly what
// Request.Cookie finds, for any one or two Cookie header lines and any of
// twostep's cookie names.
func FuzzCookieValue(f *testing.F) {
	for _, tc := range [][2]string{
		{"twostep_session=xyz", ""}, {"a=b; twostep_session=1; twostep_session=2", ""}, {"twostep_session=\"xyz\"", ""},
		{"twostep_session=a b", ""}, {"twostep_session=a\\b; twostep_session=ok", ""}, {" twostep_session = v ", ""},
		{"twostep_session=\"", ""}, {"twostep_session=\"\"", ""}, {"x=1", "twostep_session=2"}, {"twostep_session=\x7f", "twostep_session=ok"},
		{"\ttwostep_session=v\t", ""}, {"twostep_session=v\u00a0", ""}, {"__Host-twostep_session=h; twostep_session=p", ""},
		{strings.Repeat(";", 3000) + "twostep_session=v", ""}, {strings.Repeat(";", 2998) + "twostep_session=v", ""},
		{"twostep_session", ""}, {"=v", ""}, {";;;=;", "twostep_session=,"},
	} {
		f.Add(tc[0], tc[1])
	}
	f.Fuzz(func(t *testing.T, line1, line2 string) {
		r := httptest.NewRequest("GET", "/", nil)
		for _, l := range []string{line1, line2} {
			if l != "" {
				r.Header.Add("Cookie", l)
			}
		}
		for _, name := range []string{SessionCookie, "__Host-" + SessionCookie, DeviceCookie, ""} {
			want := ""
			if ck, err := r.Cookie(name); err == nil {
				want = ck.Value
			}
			if got := cookieValue(r.Header, name); got != want {
				t.Fatalf("cookieValue(%q, %q) = %q; Request.Cookie finds %q", r.Header["Cookie"], name, got, want)
			}
		}
	})
}

// Reading the session cookie allocates nothing, under either name.
func TestCookieValueAllocs(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", "other=1; __Host-twostep_session=abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ; twostep_session=x")
	for _, c := range []Cookies{{}, {Secure: true}} {
		if n := testing.AllocsPerRun(100, func() {
			if c.SessionToken(r) == "" {
				t.Fatal("no session token")
			}
		}); n != 0 {
			t.Errorf("%+v: SessionToken allocates %v times", c, n)
		}
	}
}
