package web

import (
	"testing"

	"github.com/twostep/twostep/internal/auth"
)

func TestSafeRedirect(t *testing.T) {
	tests := []struct {
		rd, want string
	}{
		{"/settings", "/settings"},
		{"/settings?tab=1#top", "/settings?tab=1#top"},
		{"/app/path%20with%20space", "/app/path%20with%20space"},
		{"/", "/"},
		{"", ""},
		{"settings", ""},
		{"//evil.com", ""},
		{"///evil.com", ""},
		{"https://evil.com", ""},
		{"http://evil.com/settings", ""},
		{"HTTPS://evil.com", ""},
		{`/\evil.com`, ""},
		{`\/evil.com`, ""},
		{`/foo\bar`, ""},
		{"%2F%2Fevil.com", ""},
		{"/%2F/evil.com", ""},
		{"/%2f%2fevil.com", ""},
		{"/%252F%252Fevil.com", ""},
		{"/%5Cevil.com", ""},
		{"/%5cevil.com", ""},
		{"javascript:alert(1)", ""},
		{"JaVaScRiPt:alert(1)", ""},
		{"data:text/html,<script>alert(1)</script>", ""},
		{"/\t/evil.com", ""},
		{"/\n/evil.com", ""},
		{"/%09/evil.com", ""},
		{"/%0d%0aSet-Cookie:x", ""},
		{" /settings", ""},
		{"/%zz", ""},
		{"/@evil.com", "/@evil.com"}, // a path on this host
		{"/evil.com", "/evil.com"},   // likewise
	}
	for _, tc := range tests {
		if got := safeRedirect(tc.rd); got != tc.want {
			t.Errorf("safeRedirect(%q) = %q, want %q", tc.rd, got, tc.want)
		}
	}
}

func TestWithRD(t *testing.T) {
	if got := withRD("/verify", "/a?b=c&d"); got != "/verify?rd=%2Fa%3Fb%3Dc%26d" {
		t.Errorf("withRD = %q", got)
	}
	if got := withRD("/verify?why=recent", "/x"); got != "/verify?why=recent&rd=%2Fx" {
		t.Errorf("withRD = %q", got)
	}
	if got := withRD("/verify", ""); got != "/verify" {
		t.Errorf("withRD = %q", got)
	}
}

func TestTargetAbsolute(t *testing.T) {
	var rules []auth.Rule
	for _, s := range []string{"app.example.com two_factor", "*.corp.example one_factor", "* deny"} {
		r, err := auth.ParseRule(s)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	h := &Web{svc: auth.New(auth.Config{PublicURL: "https://login.example.com", Access: auth.Access{Rules: rules}}, auth.Deps{})}
	tests := []struct {
		rd, want string
	}{
		{"/settings", "/settings"},
		{"https://app.example.com/x?y=1", "https://app.example.com/x?y=1"},
		{"https://APP.example.com:8443/", "https://APP.example.com:8443/"},
		{"https://wiki.corp.example/page", "https://wiki.corp.example/page"},
		{"https://login.example.com/settings", "https://login.example.com/settings"},
		{"https://corp.example/", ""}, // *.domain covers subdomains only
		{"https://evil.com/", ""},     // only the catch-all rule matches
		{"https://app.example.com.evil.com/", ""},
		{"https://evil.com@app.example.com/", ""}, // user info
		{"https://app.example.com@evil.com/", ""},
		{`https://app.example.com\@evil.com/`, ""},
		{"https://app.example.com /", ""},
		{"https://app.example.com/\t", ""},
		{"http://app.example.com/", ""}, // plain http while twostep is https
		{"//app.example.com/", ""},
		{"javascript://app.example.com/%0aalert(1)", ""},
		{"ftp://app.example.com/", ""},
		{"https:app.example.com", ""},
	}
	for _, tc := range tests {
		if got := h.target(tc.rd); got != tc.want {
			t.Errorf("target(%q) = %q, want %q", tc.rd, got, tc.want)
		}
	}
	if got := h.landing("https://evil.com/"); got != "/settings" {
		t.Errorf("landing(evil) = %q, want /settings", got)
	}
}
