package web

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strconv"
)

//go:embed templates/*.html
var templateFS embed.FS

// pageNames are the page templates; each is parsed together with
// base.html, which holds the layout every page shares.
var pageNames = []string{
	"login", "help", "error", "setup", "setup_totp", "setup_sms", "recovery_codes",
	"recovery_codes_new", "verify", "settings", "settings_remove", "continue",
	"setup_passkey", "login_passkey", "settings_rename", "settings_sessions",
	"setup_later",
}

// templates holds one parsed template set per page. A parse error is a
// programming error that every test run catches, hence Must.
var templates = func() map[string]*template.Template {
	m := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		m[name] = template.Must(template.New(name).ParseFS(templateFS, "templates/base.html", "templates/"+name+".html"))
	}
	return m
}()

// Page is what the layout needs; every page's view model embeds it.
type Page struct {
	Title    string // the page's name, before " · brand" in <title>
	Brand    brandView
	Assets   assetURLs
	Support  Support
	CSRF     string // form token of the session (or of the sign-in form)
	SignedIn bool   // show "Sign out"
	Wide     bool   // a wider card (settings, help)
	// PasskeyScript loads passkey.js: only pages that offer a passkey
	// carry the script that calls navigator.credentials.
	PasskeyScript bool
}

// brandView is the brand as the layout shows it.
type brandView struct {
	Name    string
	LogoURL string // "" when no logo is configured
}

// page returns the layout data for a page of session s (nil: signed out).
func (h *Web) page(r *http.Request, s *session, title string) Page {
	p := Page{Title: title, Brand: h.brand, Assets: h.assets.urls, Support: h.support}
	if s != nil {
		p.CSRF, p.SignedIn = formToken(s.token), true
	}
	return p
}

// render executes page name with view v into a buffer and only then writes
// it, so a template failure yields a clean 500 instead of half a page
// (unlike miniflux's panicking Render). The failure is logged; the caller
// has nothing left to do.
func (h *Web) render(w http.ResponseWriter, r *http.Request, status int, name string, v any) {
	var buf bytes.Buffer
	t, ok := templates[name]
	if !ok {
		h.log.ErrorContext(r.Context(), "no such page template", "template", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "base", v); err != nil {
		h.log.ErrorContext(r.Context(), "page render failed", "template", name, "error", err)
		http.Error(w, "Something went wrong on our side. Try again in a moment.", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}
