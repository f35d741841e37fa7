package web

import (
	"net/http"
	"net/url"
)

// laterView is the page after "Set up later": the deadline, and either
// the way on to the application or why it needs set-up now.
type laterView struct {
	Page
	RD    string
	Grace graceView
	// Refused names the application (its host) whose access rule does
	// not accept a grace period: it needs two-step sign-in now.
	Refused string
}

// POST /setup/later is the "Set up later (N days left)" choice of the
// set-up page (docs/rollout.md). The service says whether postponing is
// still allowed (grace_over otherwise) and audits it; then the person goes
// to the application they came from when its access rule accepts a grace
// period, else to the page that says what to do (GET /setup/later).
func (h *Web) setupLaterPost(w http.ResponseWriter, r *http.Request, s *session) error {
	rd := h.target(r.PostForm.Get("rd"))
	if _, err := h.svc.SetUpLater(r.Context(), h.client(r), s.Current); err != nil {
		return err
	}
	if h.acceptsGrace(rd) {
		h.finish(w, rd)
		return nil
	}
	seeOther(w, withRD("/setup/later", rd))
	return nil
}

// GET /setup/later shows the deadline ("N days left"): when rd is an
// application that does not accept a grace period, it says so and offers
// to set up now; with no grace period left it goes to set-up.
func (h *Web) setupLaterShow(w http.ResponseWriter, r *http.Request, s *session) error {
	rd := h.target(r.URL.Query().Get("rd"))
	g, err := h.svc.GraceOf(r.Context(), s.Current)
	if err != nil {
		return err
	}
	if !g.Active {
		seeOther(w, withRD("/setup", rd))
		return nil
	}
	v := laterView{Page: h.page(r, s, "Set up later"), RD: rd, Grace: h.graceView(g)}
	if rd != "" && rd[0] != '/' && !h.acceptsGrace(rd) {
		if u, err := url.Parse(rd); err == nil {
			v.Refused = u.Host
		}
	}
	h.render(w, r, http.StatusOK, "setup_later", v)
	return nil
}

// acceptsGrace reports whether rd (checked by Web.target) is an
// application whose access rule lets a grace period through. twostep's own
// pages ("/...") are not: they need a method or set one up.
func (h *Web) acceptsGrace(rd string) bool {
	if rd == "" || rd[0] == '/' {
		return false
	}
	u, err := url.Parse(rd)
	if err != nil {
		return false
	}
	return h.svc.AcceptsGrace(u.Host, u.EscapedPath())
}
