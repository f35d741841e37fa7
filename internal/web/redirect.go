package web

import (
	"net/http"
	"net/url"
	"strings"
)

// defaultLanding is where a user lands after signing in when they did not
// come from somewhere else.
const defaultLanding = "/settings"

// safeRedirect returns rd when it is a path on this host, and "" otherwise
// (no open redirect, ASVS V5.1.5; like miniflux urllib.IsRelativePath and
// tsweb CleanRedirectURL). Allowed: a single leading "/" followed by
// anything that cannot name another host — no "//" or "/\" (browsers read
// both as a scheme-relative URL), no backslash or control character
// anywhere, no scheme — and the same must hold after each round of
// percent-decoding, so "/%2F%2Fevil.com" or "%2F%2Fevil.com" fail too.
//
// Absolute URLs of applications behind forward-auth are the business of
// Web.target.
func safeRedirect(rd string) string {
	if len(rd) > 2048 {
		return ""
	}
	s := rd
	for range 4 { // a few rounds of decoding; deeper nesting is refused
		if !safePath(s) {
			return ""
		}
		d, err := url.PathUnescape(s)
		if err != nil {
			return ""
		}
		if d == s {
			return rd
		}
		s = d
	}
	return ""
}

// safePath checks one (possibly still encoded) form of a redirect target.
func safePath(s string) bool {
	if len(s) == 0 || s[0] != '/' {
		return false
	}
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c < 0x20 || c == 0x7f {
			return false
		}
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && u.Opaque == ""
}

// target returns rd when the user may be sent there after sign-in, else "":
// a path on this host (safeRedirect), or an absolute URL of an application
// behind forward-auth. Such a URL must be http(s) without user info,
// backslash, space or control character, and its host must be named by an
// access rule (auth.Access.Covers, where the service keeps that decision) or
// be twostep's own public host. Plain http is accepted only while twostep
// itself runs on plain http (development), so production never sends a
// signed-in user to an unencrypted page.
func (h *Web) target(rd string) string {
	if p := safeRedirect(rd); p != "" {
		return p
	}
	if len(rd) > 2048 || strings.ContainsAny(rd, "\\ ") {
		return ""
	}
	for i := 0; i < len(rd); i++ {
		if rd[i] < 0x20 || rd[i] == 0x7f {
			return ""
		}
	}
	u, err := url.Parse(rd)
	if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	cfg := h.svc.Config()
	public, _ := url.Parse(cfg.PublicURL)
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && public != nil && public.Scheme == "http":
	default:
		return ""
	}
	if cfg.Access.Covers(u.Host) || (public != nil && strings.EqualFold(u.Host, public.Host)) {
		return rd
	}
	return ""
}

// landing is where a user goes after success: rd when it may be followed,
// else /settings.
func (h *Web) landing(rd string) string {
	if rd = h.target(rd); rd != "" {
		return rd
	}
	return defaultLanding
}

// finish ends a successful POST by sending the user to to (from landing or
// built here). A path gets a 303. An absolute URL goes through GET
// /continue: browsers apply the CSP's form-action 'self' to every redirect
// that follows a form submission, so a 303 from the POST straight to
// another origin would be blocked.
func (h *Web) finish(w http.ResponseWriter, to string) {
	if strings.HasPrefix(to, "/") {
		seeOther(w, to)
		return
	}
	seeOther(w, "/continue?rd="+url.QueryEscape(to))
}

// withRD appends the return path rd (already checked) to a page URL.
func withRD(path, rd string) string {
	if rd == "" {
		return path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "rd=" + url.QueryEscape(rd)
}

// seeOther redirects with 303, so the browser follows with a GET (POST →
// redirect → GET: a reload never repeats the POST). The target is a path
// built here or a target checked by safeRedirect or Web.target.
func seeOther(w http.ResponseWriter, to string) {
	w.Header().Set("Location", to)
	w.WriteHeader(http.StatusSeeOther)
}
