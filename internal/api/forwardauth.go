package api

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/httpx"
)

// GET /api/v1/auth — forward-auth for nginx auth_request, Traefik
// forwardAuth and Caddy forward_auth (docs/proxies.md). The proxy passes the
// original request as X-Original-URL (nginx) or X-Forwarded-Proto/Host/Uri.
//
// 200 with Remote-User, Remote-Name, Remote-Email and Remote-Groups when
// the rules allow; 403 when they refuse; otherwise 401 (nginx cannot follow
// a redirect from auth_request) or, with ?mode=redirect or a browser asking
// for HTML through a proxy that passes answers on, 302 to the login page
// with the original URL as rd.
func (a *API) forwardAuth(w http.ResponseWriter, r *http.Request) error {
	orig, ok := originalURL(r)
	if !ok {
		return &httpx.Error{Status: http.StatusBadRequest, Code: "invalid_request",
			Msg: "Forward-auth needs X-Original-URL or X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-Uri."}
	}
	dec, u, err := a.svc.Check(r.Context(), httpx.SessionToken(r), orig.Host, orig.EscapedPath())
	if err != nil {
		return err // store unavailable: 500/503, never a pass (fail closed)
	}
	h := w.Header()
	switch dec {
	case auth.Allow:
		if u.ID != "" {
			h.Set("Remote-User", u.Username)
			h.Set("Remote-Name", u.Username)
			if u.Email != "" {
				h.Set("Remote-Email", u.Email)
			}
			if len(u.Groups) > 0 {
				h.Set("Remote-Groups", strings.Join(u.Groups, ","))
			}
		}
		w.WriteHeader(http.StatusOK)
		return nil
	case auth.Forbidden:
		return &httpx.Error{Status: http.StatusForbidden, Code: "forbidden", Msg: "You do not have access to this page."}
	}
	if wantsRedirect(r) {
		login := a.svc.Config().PublicURL + "/login?" + url.Values{"rd": {orig.String()}}.Encode()
		http.Redirect(w, r, login, http.StatusFound)
		return nil
	}
	return &httpx.Error{Status: http.StatusUnauthorized, Code: "unauthenticated", Msg: "Sign in first."}
}

// originalURL rebuilds the URL the user asked the proxy for.
func originalURL(r *http.Request) (*url.URL, bool) {
	if raw := r.Header.Get("X-Original-URL"); raw != "" {
		u, err := url.Parse(raw)
		return u, err == nil && u.Host != "" && (u.Scheme == "http" || u.Scheme == "https")
	}
	proto, host := r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Host")
	if host == "" || (proto != "http" && proto != "https") {
		return nil, false
	}
	uri := r.Header.Get("X-Forwarded-Uri")
	if uri == "" {
		uri = "/"
	}
	u, err := url.Parse(proto + "://" + host + uri)
	return u, err == nil && u.Host == host
}

// wantsRedirect: ?mode=redirect forces 302 and ?mode=401 forces 401;
// otherwise nginx (which sends X-Original-URL and cannot pass a redirect
// on) gets 401, and a browser asking for HTML gets 302.
func wantsRedirect(r *http.Request) bool {
	switch r.URL.Query().Get("mode") {
	case "redirect":
		return true
	case "401":
		return false
	}
	return r.Header.Get("X-Original-URL") == "" && strings.Contains(r.Header.Get("Accept"), "text/html")
}
