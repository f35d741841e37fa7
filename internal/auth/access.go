package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/twostep/twostep/internal/model"
)

// Policy is what an access rule demands.
type Policy string

// The policies, from most to least open.
const (
	PolicyBypass    Policy = "bypass"     // no sign-in needed
	PolicyOneFactor Policy = "one_factor" // the password is enough
	PolicyTwoFactor Policy = "two_factor" // the second factor the MFA policy asks of the user
	// PolicyStrictTwoFactor demands a passed second factor of everyone,
	// also, under mfa.required: false, of users who have none set up.
	PolicyStrictTwoFactor Policy = "strict_two_factor"
	PolicyDeny            Policy = "deny" // nobody
)

// Rule maps a host pattern and a path prefix to a policy, optionally
// requiring a group. Written in configuration as
// "HOST[/PATH] POLICY [GROUP]", e.g. "*.example.com/admin two_factor admins".
type Rule struct {
	Host   string // "app.example.com", "*.example.com" (subdomains only) or "*"
	Path   string // prefix, "" for all paths
	Policy Policy
	Group  string // required group, "" for none
	// Grace lets a two_factor rule accept the aal1 session of a user in
	// their grace period (grace.go); written "two_factor+grace". Without
	// it, a two_factor rule does not.
	Grace bool
}

// ParseRule parses the configuration form of a rule.
func ParseRule(s string) (Rule, error) {
	f := strings.Fields(s)
	if len(f) < 2 || len(f) > 3 {
		return Rule{}, fmt.Errorf("rule %q: want \"HOST[/PATH] POLICY [GROUP]\"", s)
	}
	var r Rule
	host, p, hasPath := strings.Cut(f[0], "/")
	r.Host = strings.ToLower(host)
	if hasPath {
		clean, ok := NormalizePath("/" + p)
		if !ok {
			return Rule{}, fmt.Errorf("rule %q: path must be a plain path like /admin", s)
		}
		r.Path = strings.TrimSuffix(clean, "/")
	}
	pol, grace := strings.CutSuffix(f[1], "+grace")
	if grace && pol != string(PolicyTwoFactor) {
		return Rule{}, fmt.Errorf("rule %q: +grace goes only with two_factor (two_factor+grace)", s)
	}
	r.Grace = grace
	switch p := Policy(pol); p {
	case PolicyBypass, PolicyOneFactor, PolicyTwoFactor, PolicyStrictTwoFactor, PolicyDeny:
		r.Policy = p
	default:
		return Rule{}, fmt.Errorf("rule %q: policy must be bypass, one_factor, two_factor, strict_two_factor or deny", s)
	}
	if len(f) == 3 {
		r.Group = f[2]
	}
	if r.Host == "" || (strings.Contains(r.Host, "*") && r.Host != "*" && (!strings.HasPrefix(r.Host, "*.") || strings.Count(r.Host, "*") > 1)) {
		return Rule{}, fmt.Errorf("rule %q: host must be a name, *.domain or *", s)
	}
	return r, nil
}

// matchHost reports whether host (lower-case, no port) fits the pattern.
func matchHost(pattern, host string) bool {
	switch {
	case pattern == "*":
		return true
	case strings.HasPrefix(pattern, "*."):
		return strings.HasSuffix(host, pattern[1:]) && len(host) > len(pattern)-1
	default:
		return host == pattern
	}
}

// Access holds the ordered rules: the first match wins, and a request no
// rule matches gets Default (two_factor unless configured otherwise).
type Access struct {
	Rules   []Rule
	Default Policy
}

// Match returns the rule for host and a path already normalised with
// NormalizePath. A rule path matches itself and what lies below it, on
// segment boundaries: /public covers /public/x but not /publicity.
func (a Access) Match(host, path string) Rule {
	host = canonicalHost(host)
	for _, r := range a.Rules {
		if matchHost(r.Host, host) && (r.Path == "" || path == r.Path || strings.HasPrefix(path, r.Path+"/")) {
			return r
		}
	}
	return Rule{Host: "*", Policy: a.Default}
}

// NormalizePath turns a request path as the client wrote it (still
// percent-encoded) into the form rules are compared with, the way the
// application behind the proxy will resolve it: decoded once, dot segments
// and repeated slashes removed, lower-cased (so /BLOCKED on a case-
// insensitive application cannot slip past a rule for /blocked). Without
// this, /public/../admin matched a bypass rule for /public (OWASP ASVS
// V4.1.1: access control on the resource actually served).
//
// What back-ends disagree on is refused (ok false), since no rule can
// safely decide it (docs/api.md, Forward-auth):
//   - ';' path parameters, raw or encoded: Tomcat, Jetty and Spring resolve
//     /public/..;/admin to /admin, most others serve a file named "..;";
//   - an encoded '%' (%25): a back-end that decodes twice reads
//     /public/%252e%252e/admin as /admin;
//   - an encoded slash or backslash and a raw backslash: some back-ends
//     split segments on them after decoding, others do not;
//   - an encoded '#' or '?' (%23, %3F): a back-end that decodes before it
//     splits off the query or fragment (Apache mod_rewrite,
//     CVE-2024-38474) reads /blocked%3F as /blocked, which no rule saw;
//     Caddy and Go proxies also turn a raw '#' into %23 before asking;
//   - NUL and other control characters, and invalid UTF-8 after decoding.
func NormalizePath(escaped string) (string, bool) {
	if isNormal(escaped) {
		return escaped, true
	}
	return normalizeFull(escaped)
}

// normalizeFull is NormalizePath without the shortcut for a path that is
// already normal.
func normalizeFull(escaped string) (string, bool) {
	low := strings.ToLower(escaped)
	for _, bad := range []string{"%2f", "%5c", "%25", "%3b", ";", "\\"} {
		if strings.Contains(low, bad) {
			return "", false
		}
	}
	p, err := url.PathUnescape(escaped)
	if err != nil || !utf8.ValidString(p) || strings.ContainsAny(p, "?#") || strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", false
	}
	trailing := strings.HasSuffix(p, "/")
	p = path.Clean("/" + p)
	if trailing && p != "/" {
		p += "/"
	}
	return strings.ToLower(p), true
}

// isNormal reports whether p is already in the form NormalizePath gives,
// so that the common request path costs a scan and no allocation (issue
// #12): it starts with '/', holds only printable ASCII other than upper-
// case letters, '%', ';', '\\', '?' and '#', and has no empty, "." or ".."
// segment (a trailing '/' is kept by NormalizePath too). Anything else
// takes the full path, whose answer for these inputs is p itself
// (FuzzNormalizePath checks that they agree).
func isNormal(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	seg := 1 // start of the current segment
	for i := 1; i <= len(p); i++ {
		if i < len(p) {
			c := p[i]
			if c <= ' ' || c >= 0x7f || (c >= 'A' && c <= 'Z') {
				return false
			}
			switch c {
			case '%', ';', '\\', '?', '#':
				return false
			case '/':
			default:
				continue
			}
		}
		// a segment p[seg:i] ends here
		switch p[seg:i] {
		case "":
			if i < len(p) { // "//"; an empty last segment is the trailing '/'
				return false
			}
		case ".", "..":
			return false
		}
		seg = i + 1
	}
	return true
}

// ValidHost reports whether hostport is a plain host name or IP literal
// with an optional port: letters, digits, '-', '_' and '.' in non-empty
// labels, or [IPv6]. User-info ("app.example.com@other.example"), a list
// ("a.example, b.example"), spaces or any other character make it invalid,
// so the host a rule is matched against is the host the proxy routed on.
func ValidHost(hostport string) bool {
	host, port := hostport, ""
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return false
		}
		a, err := netip.ParseAddr(hostport[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return false
		}
		host, port = "", hostport[end+1:]
		if port != "" && port[0] != ':' {
			return false
		}
	} else if i := strings.LastIndexByte(hostport, ':'); i >= 0 {
		host, port = hostport[:i], hostport[i:]
	}
	if port != "" && (len(port) < 2 || len(port) > 6 || strings.Trim(port[1:], "0123456789") != "") {
		return false
	}
	if strings.HasPrefix(hostport, "[") {
		return true
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" || len(host) > 253 {
		return false
	}
	// Labels of letters, digits, '-' and '_', 1 to 63 long; no allocation,
	// since this runs on every forward-auth check.
	label := 0
	for i := 0; i < len(host); i++ {
		switch c := host[i]; {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			if label++; label > 63 {
				return false
			}
		default:
			return false
		}
	}
	return label > 0
}

// Covers reports whether a rule names host: only such hosts (and twostep's
// own) are valid redirect targets after sign-in, so twostep is no open
// redirector. A catch-all "*" rule does not count.
func (a Access) Covers(host string) bool {
	host = canonicalHost(host)
	return host != "" && slices.ContainsFunc(a.Rules, func(r Rule) bool { return r.Host != "*" && matchHost(r.Host, host) })
}

// canonicalHost lower-cases and strips the port. A name with one ':' is
// cut there, as net.SplitHostPort would, without the error value
// SplitHostPort allocates for the usual host without a port (issue #12).
func canonicalHost(host string) string {
	switch i := strings.IndexByte(host, ':'); {
	case i < 0: // no port: SplitHostPort fails, the host stays
	case !strings.ContainsAny(host, "[]") && strings.IndexByte(host[i+1:], ':') < 0:
		host = host[:i]
	default:
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// Decision is the outcome of a forward-auth check.
type Decision int

// Forward-auth outcomes.
const (
	Allow     Decision = iota // pass; User is set unless the rule bypasses sign-in
	NeedLogin                 // no (sufficient) session: sign in / verify first
	Forbidden                 // signed in, but the rule or a group refuses
)

// Check decides a forward-auth request for the application URL host+path.
// It is the hot path of every protected request: it reads the session
// through a short-lived cache and never writes (docs/proxies.md; the idle timer is
// moved by the sessions' own requests to twostep). A missing session needs
// sign-in; so does an aal1 session where two_factor applies, except that
// of a user without any second factor while mfa.required is false (their
// sign-in is complete with the password: sending them back to sign in
// would loop). strict_two_factor demands aal2 of everyone: such a user gets
// Forbidden, and is told to set up a method, rather than a sign-in loop.
// Which users need a second factor, and which methods count, is their
// group policy's say (policy.go); a user still within the grace period for
// setting one up passes two_factor+grace rules ("aal1 with grace",
// grace.go), no others.
//
// rawPath is the path as the client sent it (percent-encoded); a path that
// cannot be normalised safely, or a malformed host, is refused. The
// Identity is never nil: on a bypass and without a session every value is
// empty; it is shared with the session cache and read-only.
func (s *Service) Check(ctx context.Context, tok, host, rawPath string) (Decision, *Identity, error) {
	path, ok := NormalizePath(rawPath)
	if !ok || !ValidHost(host) {
		return Forbidden, nobody, nil
	}
	rule := s.cfg.Access.Match(host, path)
	switch rule.Policy {
	case PolicyBypass:
		return Allow, nobody, nil
	case PolicyDeny:
		return Forbidden, nobody, nil
	}
	e, err := s.cachedSession(ctx, tok)
	if errors.Is(err, ErrUnauthenticated) {
		return NeedLogin, nobody, nil
	}
	if err != nil {
		return NeedLogin, nobody, err
	}
	if e.cur.Session.AAL != model.AAL2 && rule.Policy != PolicyOneFactor {
		switch {
		case e.noFactor && s.policyFor(e.cur.User).Required:
			// No allowed method yet, but one is required: only "aal1 with
			// grace" on a rule that accepts it goes on (grace.go).
			if !rule.Grace || !s.inGrace(e.cur.User) {
				return NeedLogin, nobody, nil
			}
		case !e.noFactor:
			return NeedLogin, nobody, nil
		case rule.Policy == PolicyStrictTwoFactor:
			return Forbidden, &e.id, nil
		}
	}
	if rule.Group != "" && !slices.Contains(e.cur.User.Groups, rule.Group) {
		return Forbidden, &e.id, nil
	}
	return Allow, &e.id, nil
}
