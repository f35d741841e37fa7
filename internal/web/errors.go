package web

import (
	"net/http"

	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/outcome"
)

// Errors of the pages themselves; their words are in the one catalogue
// (httpx), like the service's.
var (
	errFormExpired = outcome.New(outcome.FormExpired)
	errBadForm     = outcome.New(outcome.BadForm)
	errNotFound    = outcome.New(outcome.NoSuchPage)
)

// describe is the problem err stands for, in the words the JSON API uses too.
func (h *Web) describe(r *http.Request, err error) *httpx.Problem {
	return h.msgs.Describe(err, httpx.RequestID(r.Context()))
}

// formProblem is the problem a form shows next to a field when it is
// shown again, with Retry-After set when it asks to wait. Where the API
// answers 400 a page answers 422: the form was read, what was typed
// cannot be used (the status browsers' form tooling and tests expect).
func (h *Web) formProblem(w http.ResponseWriter, r *http.Request, err error) *httpx.Problem {
	p := h.describe(r, err)
	if p.Status == http.StatusBadRequest {
		p.Status = http.StatusUnprocessableEntity
	}
	httpx.SetRetryAfter(w, p.RetryAfter)
	return p
}

// unexpected reports whether p is not for the form to show: an internal
// error, or a sign-in problem that fail() turns into a redirect.
func unexpected(p *httpx.Problem) bool {
	switch p.Outcome {
	case outcome.Internal, outcome.Unauthenticated, outcome.AAL2Required, outcome.RecentAuthRequired:
		return true
	}
	return false
}

// errorView is the error page.
type errorView struct {
	Page
	Heading string
	Message string
}

// renderError renders the error page for err: its sentence, which for an
// unexpected error names the request ID the log line carries.
func (h *Web) renderError(w http.ResponseWriter, r *http.Request, s *session, err error) {
	p := h.describe(r, err)
	v := errorView{Page: h.page(r, s, "Something went wrong"), Heading: "Something went wrong", Message: p.Msg}
	switch {
	case p.Outcome == outcome.Internal:
		h.log.ErrorContext(r.Context(), "page failed", "request_id", httpx.RequestID(r.Context()), "method", r.Method,
			"path", r.URL.Path, "error", err)
	case p.Status == http.StatusNotFound:
		v.Title, v.Heading = "Page not found", "Page not found"
	case p.Status == http.StatusTooManyRequests || p.Status == http.StatusServiceUnavailable:
		v.Title, v.Heading = "Please wait", "Please wait a moment"
		httpx.SetRetryAfter(w, p.RetryAfter)
	}
	h.render(w, r, p.Status, "error", v)
}

// notFound answers any path that is not a page.
func (h *Web) notFound(w http.ResponseWriter, r *http.Request) error {
	return errNotFound
}
