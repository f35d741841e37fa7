package api

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/outcome"
)

// Forward-auth: a reverse proxy asks before every request to a protected
// application whether to let it through (docs/proxies.md).
//
// There is one endpoint per proxy family, and each reads exactly one family
// of headers and ignores the other (docs/api.md, docs/proxies.md):
//
//	GET /api/v1/auth/auth-request  nginx auth_request: X-Original-URL, X-Original-Method
//	GET /api/v1/auth/forward-auth  Traefik forwardAuth, Caddy forward_auth:
//	                               X-Forwarded-Proto, -Host, -Uri, -Method
//
// Each proxy sets its own family and passes the client's other headers
// through unchanged: Caddy and Traefik forward a client's X-Original-URL,
// nginx a client's X-Forwarded-Host. One endpoint that read both families
// let an anonymous client behind Caddy add X-Original-URL naming a public
// path and reach /admin (OWASP ASVS V4.1.1: access control decided on the
// resource actually served, never on a client-chosen description of it).
//
// 200 with Remote-User, Remote-Name, Remote-Email and Remote-Groups when the
// rules allow; 403 when they refuse or when the original request is
// malformed or ambiguous; otherwise 401, or 302 to the login page with the
// original URL as rd (?mode=redirect, or a browser's GET through a
// forward-auth proxy, which passes answers on; nginx cannot follow a
// redirect from auth_request, so its endpoint answers 401 unless asked).

// original is the request the user sent to the proxy, as the proxy reports it.
type original struct {
	method string // "" when the proxy does not say
	scheme string // http or https
	host   string // validated host[:port]
	uri    string // path and query as sent, "/..."
}

// url is the original request's URL, the rd of a sign-in redirect.
func (o original) url() string { return o.scheme + "://" + o.host + o.uri }

// path is the still percent-encoded path, without the query.
func (o original) path() string {
	p, _, _ := strings.Cut(o.uri, "?")
	return p
}

var (
	errNoOriginal  = outcome.New(outcome.NoOriginal)
	errBadOriginal = outcome.New(outcome.BadOriginal)
	errMoved       = outcome.New(outcome.EndpointMoved)
	errForbidden   = outcome.New(outcome.Forbidden)
)

// GET /api/v1/auth/auth-request (nginx auth_request)
func (a *API) forwardAuthNginx(w http.ResponseWriter, r *http.Request) error {
	o, err := fromOriginalURL(r.Header)
	if err != nil {
		return err
	}
	return a.forwardAuth(w, r, o, false)
}

// GET /api/v1/auth/forward-auth (Traefik forwardAuth, Caddy forward_auth)
func (a *API) forwardAuthForwarded(w http.ResponseWriter, r *http.Request) error {
	o, err := fromForwarded(r.Header)
	if err != nil {
		return err
	}
	return a.forwardAuth(w, r, o, true)
}

// GET /api/v1/auth, the single endpoint of earlier releases that read both
// header families. It refuses (nginx turns that into 500, Traefik and Caddy
// pass it on), so an old proxy configuration fails closed and says why.
func (a *API) forwardAuthMoved(http.ResponseWriter, *http.Request) error { return errMoved }

// forwardAuth decides o. browserRedirect: a browser's GET asking for HTML
// may get the 302 without ?mode=redirect.
func (a *API) forwardAuth(w http.ResponseWriter, r *http.Request, o original, browserRedirect bool) error {
	dec, id, err := a.svc.Check(r.Context(), a.cookies.SessionToken(r), o.host, o.path())
	if err != nil {
		return err // store unavailable: 500/503, never a pass (fail closed)
	}
	switch dec {
	case auth.Allow:
		// All four, empty when unknown (and on bypass): Caddy before 2.9
		// sends a header the answer lacks as its literal placeholder text
		// ("{http.reverse_proxy.header.Remote-User}") to the application.
		// Canonical keys and the identity's shared values: no
		// canonicalisation and no allocation per check (issue #12).
		h := w.Header()
		h["Remote-User"] = id.Name
		h["Remote-Name"] = id.Name
		h["Remote-Email"] = id.Email
		h["Remote-Groups"] = id.Groups
		w.WriteHeader(http.StatusOK)
		return nil
	case auth.Forbidden:
		return errForbidden
	}
	if wantsRedirect(r, o, browserRedirect) {
		login := a.svc.Config().PublicURL + "/login?" + url.Values{"rd": {o.url()}}.Encode()
		http.Redirect(w, r, login, http.StatusFound)
		return nil
	}
	return auth.ErrUnauthenticated
}

// wantsRedirect: ?mode=redirect forces 302 and ?mode=401 forces 401;
// otherwise a browser's GET or HEAD asking for HTML gets 302 where the
// proxy passes answers on (browserRedirect), and anything else 401 (a
// redirect would turn a POST into a GET of the sign-in page).
func wantsRedirect(r *http.Request, o original, browserRedirect bool) bool {
	mode := ""
	if r.URL.RawQuery != "" { // Query parses into a new map: only when there is one
		mode = r.URL.Query().Get("mode")
	}
	switch mode {
	case "redirect":
		return true
	case "401":
		return false
	}
	return browserRedirect && (o.method == "" || o.method == http.MethodGet || o.method == http.MethodHead) &&
		strings.Contains(r.Header.Get("Accept"), "text/html")
}

// single returns the one value of header key: "" and ok when absent, and
// not ok when it is sent twice (which copy would the proxy have meant?).
// key is in canonical form (net/http stores received headers so): looked up
// as it is, where Header.Values would canonicalise, and allocate for a
// non-canonical spelling such as "X-Original-URL", on every check.
func single(h http.Header, key string) (string, bool) {
	v := h[key]
	switch len(v) {
	case 0:
		return "", true
	case 1:
		return v[0], true
	}
	return "", false
}

// fromOriginalURL reads nginx's family: X-Original-URL (absolute http(s)
// URL) and X-Original-Method. Every X-Forwarded-* header is ignored: nginx
// passes the client's own copies through to the subrequest.
func fromOriginalURL(h http.Header) (original, error) {
	raw, ok := single(h, "X-Original-Url")
	if !ok {
		return original{}, errBadOriginal
	}
	if raw == "" {
		return original{}, errNoOriginal
	}
	method, ok := single(h, "X-Original-Method")
	if !ok {
		return original{}, errBadOriginal
	}
	scheme, rest, found := strings.Cut(raw, "://")
	scheme = strings.ToLower(scheme)
	if !found || (scheme != "http" && scheme != "https") {
		return original{}, errBadOriginal
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	host, uri := rest[:end], rest[end:]
	if uri == "" || uri[0] == '?' {
		uri = "/" + uri
	}
	return checked(original{method: method, scheme: scheme, host: host, uri: uri})
}

// fromForwarded reads the forward-auth family: X-Forwarded-Proto, -Host,
// -Uri and -Method. X-Original-URL is ignored: Traefik and Caddy pass a
// client's copy through unchanged.
func fromForwarded(h http.Header) (original, error) {
	var o original
	var oks [4]bool
	o.scheme, oks[0] = single(h, "X-Forwarded-Proto")
	o.host, oks[1] = single(h, "X-Forwarded-Host")
	o.uri, oks[2] = single(h, "X-Forwarded-Uri")
	o.method, oks[3] = single(h, "X-Forwarded-Method")
	if oks != [4]bool{true, true, true, true} {
		return original{}, errBadOriginal
	}
	if o.scheme == "" || o.host == "" {
		return original{}, errNoOriginal
	}
	o.scheme = strings.ToLower(o.scheme)
	if o.scheme != "http" && o.scheme != "https" {
		return original{}, errBadOriginal
	}
	if o.uri == "" {
		o.uri = "/"
	}
	return checked(o)
}

// checked refuses what a back-end could read differently from the rules: a
// request target that is not a path (origin-form, RFC 9112 §3.2.1), a
// fragment (nobody sends one; some back-ends resolve "/public#/../admin"
// to /admin), or a method that is not a token. The host — user-info such
// as "app.example.com@other.example", which url.Parse would judge as
// other.example's, or any other malformed host — and the path are checked
// by the rules (auth.ValidHost, auth.NormalizePath), which refuse them.
func checked(o original) (original, error) {
	if o.uri[0] != '/' || strings.ContainsAny(o.uri, "# \t\r\n") || !isToken(o.method) {
		return original{}, errBadOriginal
	}
	return o, nil
}

// isToken reports whether s is empty or a method name: letters, '-' and
// '_' (a subset of RFC 9110's token that covers GET and VERSION-CONTROL).
func isToken(s string) bool {
	if len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; (c < 'a' || c > 'z') && s[i] != '-' && s[i] != '_' {
			return false
		}
	}
	return true
}
