package web

import (
	"html/template"
	"net/http"
	"net/url"
)

// continueView sends the user on to an application on another host.
type continueView struct {
	Page
	URL     template.URL // checked by Web.target
	Refresh string       // "0; url=URL" for the meta refresh
	Host    string
}

// GET /continue?rd=URL is the last step of a sign-in that started at an
// application behind forward-auth. After a form POST the CSP's form-action
// 'self' forbids redirecting to another origin, so this page sends the
// browser on with a meta refresh (a new navigation, no script needed) and
// shows a link in case the refresh is blocked.
func (h *Web) continueShow(w http.ResponseWriter, r *http.Request) error {
	to := h.target(r.URL.Query().Get("rd"))
	if to == "" || to[0] == '/' {
		seeOther(w, h.landing(to))
		return nil
	}
	u, _ := url.Parse(to)
	v := continueView{Page: h.page(r, nil, "Signed in"), URL: template.URL(to), Refresh: "0; url=" + to, Host: u.Host}
	h.render(w, r, http.StatusOK, "continue", v)
	return nil
}
