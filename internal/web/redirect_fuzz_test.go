package web

import (
	"net/url"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/auth"
)

// redirectRules are FuzzRedirectTarget's access rules: an exact host, a
// wildcard, a host with a path, and the catch-all that must not count.
var redirectRules = []string{"app.example.com two_factor", "*.corp.example one_factor", "docs.example.com/admin deny", "* deny"}

// FuzzRedirectTarget fuzzes the rd (return address) check of the sign-in
// pages, Web.target with safeRedirect inside, under an https and a plain
// http public URL (the input's flag).
//
// Invariant (no open redirect, ASVS V5.1.5): an accepted rd is returned
// unchanged, and wherever a browser goes with it — read by browserTarget, an
// independent model built on net/url — is twostep's own public host or a
// host one of redirectRules names, over https (or http while twostep
// itself is plain http). A relative rd starts with exactly one '/' and no
// '\'. The same holds for every form the rd takes after up to four rounds
// of percent-decoding, for a component on the way that decodes it again.
func FuzzRedirectTarget(f *testing.F) {
	// The 37 hostile values of internal/e2e/proxy's TestOpenRedirect, with
	// its hosts and port written in, then more of the same families.
	app, login := "app.example.com", "login.example.com"
	for _, rd := range []string{
		"//evil.com", "///evil.com", "https://evil.com", "http://evil.com/", "HTTPS://EVIL.COM",
		"https://example.test.evil.com", "http://" + app + ".evil.com:8443/x", "http://" + app + ":8443@evil.com/",
		"http://evil.com#@" + app + ":8443/", "http://evil.com?@" + app + ":8443/", "http://evil.com%2F." + app + "/",
		`/\evil.com`, `\\evil.com`, `\/evil.com`, `/\/evil.com`, `http:\\evil.com`, `https:/\evil.com`,
		"http://" + app + `:8443\@evil.com/`, "%2F%2Fevil.com", "/%2F%2Fevil.com", "/%2Fevil.com", "/%5Cevil.com",
		"%5C%5Cevil.com", "/%252F%252Fevil.com", "https:%2F%2Fevil.com", "http:/evil.com", "https:evil.com",
		" //evil.com", "\t//evil.com", "/\t/evil.com", "javascript:alert(1)", "JavaScript:alert(1)",
		"java\tscript:alert(1)", "data:text/html,<script>alert(1)</script>", "http://127.0.0.1:8443/",
		"http://[::1]:8443/", "http://localhost:8443/",
		// More: wildcard and host-with-path rules, encodings in the host,
		// user-info, IDNA look-alikes, and the accepted forms.
		"https://evil.com%2F.wiki.corp.example/", "https://wiki.corp.example%40evil.com/", "https://corp.example/",
		"https://x.corp.example.evil.com/", "https://docs.example.com/admin", "https://APP.example.com.:443/x",
		"https://app.example.com\u3002evil.com/", "https://app.example.com%00.evil.com/", "https://[::1]/",
		"https://app.example.com/x?rd=//evil.com#//evil.com", "/settings?x=//evil.com", "/", "/@evil.com",
		"https://" + login + "/help", "http://" + login + ":8080/help", "https://app.example.com/%2F%2Fevil.com",
		"https:///evil.com", "https://app.example.com:443@evil.com", "https://user@app.example.com/",
		"/%09/evil.com", "/%2e%2e/%2f%2fevil.com", "/%25%32%46%25%32%46evil.com", "\x00/evil.com", "/\x7fevil",
	} {
		f.Add(rd, false)
		f.Add(rd, true)
	}
	var rules []auth.Rule
	for _, s := range redirectRules {
		r, err := auth.ParseRule(s)
		if err != nil {
			f.Fatal(err)
		}
		rules = append(rules, r)
	}
	webs := map[bool]*Web{}
	for _, plain := range []bool{false, true} {
		public := "https://" + login
		if plain {
			public = "http://" + login + ":8080"
		}
		webs[plain] = &Web{svc: auth.New(auth.Config{PublicURL: public, Access: auth.Access{Rules: rules}}, auth.Deps{})}
	}

	f.Fuzz(func(t *testing.T, rd string, plainHTTP bool) {
		h := webs[plainHTTP]
		got := h.target(rd)
		if got == "" {
			if safeRedirect(rd) != "" {
				t.Fatalf("safeRedirect(%q) accepted what target refused", rd)
			}
			return
		}
		if got != rd {
			t.Fatalf("target(%q) = %q: an accepted rd must be returned unchanged", rd, got)
		}
		if rd[0] == '/' && (len(rd) > 1 && (rd[1] == '/' || rd[1] == '\\') || strings.Contains(rd, `\`)) {
			t.Fatalf("target(%q): a relative rd that browsers read as another host", rd)
		}
		public, _ := url.Parse(h.svc.Config().PublicURL)
		s := rd
		for round := 0; round <= 4; round++ {
			if reason := offSite(public, s, plainHTTP); reason != "" {
				t.Fatalf("target(%q) accepted; after %d rounds of decoding, %q: %s", rd, round, s, reason)
			}
			d, err := url.PathUnescape(s)
			if err != nil || d == s {
				break
			}
			s = d
		}
	})
}

// offSite returns why a browser at the public URL, sent to rd, would
// leave twostep and the hosts the rules name ("" when it would not).
func offSite(public *url.URL, rd string, plainHTTP bool) string {
	scheme, host, goes, reason := browserTarget(public, rd)
	switch {
	case reason != "":
		return reason
	case !goes:
		return "" // the browser refuses the URL and stays
	case scheme != "https" && !(scheme == "http" && plainHTTP):
		return "scheme " + scheme
	case host == strings.ToLower(public.Hostname()):
		return ""
	}
	for _, r := range redirectRules {
		pattern, _, _ := strings.Cut(strings.Fields(r)[0], "/")
		switch {
		case pattern == "*": // the catch-all names no host
		case strings.HasPrefix(pattern, "*.") && strings.HasSuffix(host, pattern[1:]) && len(host) > len(pattern)-1:
			return ""
		case host == pattern:
			return ""
		}
	}
	return "host " + host + " is neither twostep's nor named by a rule"
}

// browserTarget reads rd the way a browser at public does (the WHATWG URL
// standard, in the parts that matter here) and returns the scheme and host
// it would go to, or goes false when it refuses the URL and stays. Leading
// and trailing controls and spaces are dropped, tabs and newlines removed
// anywhere, '\' read as '/', and rd resolved against the page. The host is
// the authority as written up to the first '/', '?' or '#', without a
// numeric port, percent-decoded and lower-cased; one holding a forbidden
// domain code point (controls, space, # % / : < > ? @ [ \ ] ^ |) makes the
// URL invalid. An '@' is user-info, which counts as leaving. Non-ASCII is
// left as it is: a browser maps it (IDNA) to letters, digits, '.' or a
// character that makes the URL invalid, which cannot take it outside an
// ASCII suffix such as ".corp.example", and an exact host never matches.
func browserTarget(public *url.URL, rd string) (scheme, host string, goes bool, reason string) {
	s := strings.TrimFunc(rd, func(r rune) bool { return r <= 0x20 })
	s = strings.NewReplacer("\t", "", "\n", "", "\r", "", `\`, "/").Replace(s)
	u, err := url.Parse(s)
	if err != nil {
		return "", "", false, "unparseable: " + err.Error()
	}
	abs := public.ResolveReference(u)
	if !u.IsAbs() && !strings.HasPrefix(s, "//") {
		return abs.Scheme, strings.ToLower(public.Hostname()), true, "" // a path on this host
	}
	_, authority, _ := strings.Cut(s, "//")
	if i := strings.IndexAny(authority, "/?#"); i >= 0 {
		authority = authority[:i]
	}
	if strings.Contains(authority, "@") {
		return "", "", false, "user-info in " + authority
	}
	name := authority
	if strings.HasPrefix(name, "[") {
		end := strings.IndexByte(name, ']')
		if end < 0 {
			return "", "", false, ""
		}
		return abs.Scheme, strings.ToLower(name[:end+1]), true, "" // an IP literal
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		if strings.Trim(name[i+1:], "0123456789") != "" {
			return "", "", false, "" // not a port: invalid
		}
		name = name[:i]
	}
	if d, err := url.PathUnescape(name); err == nil {
		name = d
	}
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if name == "" || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f || strings.ContainsRune(" #%/:<>?@[\\]^|", r) }) {
		return "", "", false, ""
	}
	return abs.Scheme, name, true, ""
}
