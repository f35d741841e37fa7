package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/httpx"
)

// Errors of the pages themselves.
var (
	errFormExpired = errors.New("form token missing or stale")
	errBadForm     = errors.New("form body unreadable")
	errNotFound    = errors.New("no such page")
)

// problem is what a page tells the user about a failure.
type problem struct {
	status int
	msg    string        // a plain sentence, safe to show
	retry  time.Duration // > 0: wait this long (Retry-After)
}

// problems maps each service error to a page-oriented sentence. The JSON
// API has its own table (internal/api/errors.go) with machine codes; these
// sentences speak to a person filling in a form. Anything not listed is a
// 500 whose cause only the log sees.
var problems = []struct {
	err    error
	status int
	msg    string
}{
	{auth.ErrInvalidCredentials, http.StatusUnauthorized, "The username or password is not correct."},
	{auth.ErrInvalidCode, http.StatusUnauthorized, "That code is not valid. Check it and try again."},
	// Each form says how many digits its code has; this is the fallback.
	{auth.ErrCodeFormat, http.StatusUnprocessableEntity, "Enter the code with digits only, as your app or text message shows it."},
	{auth.ErrUnauthenticated, http.StatusUnauthorized, "Your session has ended. Sign in again."},
	{auth.ErrAAL2Required, http.StatusForbidden, "Enter a code from your second method first."},
	{auth.ErrRecentAuthRequired, http.StatusForbidden, "For your security, enter a code again to do this."},
	{auth.ErrInviteRequired, http.StatusForbidden, "Your account needs a set-up link from your administrator. Open the link you were sent, or ask for a new one."},
	{auth.ErrPlanOrder, http.StatusConflict, "Set up SMS/Text first, then the authenticator app."},
	{auth.ErrLastFactor, http.StatusConflict, "You cannot remove your only sign-in method. Add another one first."},
	{auth.ErrNoFactor, http.StatusConflict, "You have no such sign-in method set up."},
	{auth.ErrNotFound, http.StatusNotFound, "We could not find that. It may have been removed already."},
	{auth.ErrNotImplemented, http.StatusNotImplemented, "This method is not available on this server yet."},
	{auth.ErrMFALocked, http.StatusForbidden, "Too many wrong codes: for your security, your second factor is locked. Contact your administrator to unlock it."},
	{auth.ErrTooManyAttempts, http.StatusTooManyRequests, "Too many wrong codes. For your security, wait %s and try again."},
	{auth.ErrRateLimited, http.StatusTooManyRequests, "Too many attempts from your network. Wait %s and try again."},
	{auth.ErrBusy, http.StatusServiceUnavailable, "The server is busy right now. Wait %s and try again."},
	{auth.ErrCodeExpired, http.StatusUnauthorized, "This code has expired or was already used. Ask for a new code."},
	{auth.ErrSMSFailed, http.StatusBadGateway, "We could not send the text. Try again in a moment, or use another method."},
	{auth.ErrInvalidPhone, http.StatusUnprocessableEntity, "That is not a mobile number we can send a text to."},
	{errFormExpired, http.StatusForbidden, "This form has expired. Go back, reload the page and try again."},
	{errBadForm, http.StatusBadRequest, "The form could not be read. Go back, reload the page and try again."},
	{errNotFound, http.StatusNotFound, "There is no page at this address."},
}

// describe returns the problem err stands for; ok is false for an
// unexpected error (a 500).
func describe(err error) (p problem, ok bool) {
	var ie *auth.InputError
	if errors.As(err, &ie) {
		return problem{status: http.StatusUnprocessableEntity, msg: sentence(ie.Msg)}, true
	}
	var pe *auth.PhoneError
	if errors.As(err, &pe) && pe.Msg != "" {
		return problem{status: http.StatusUnprocessableEntity, msg: sentence(pe.Msg)}, true
	}
	var se *auth.SMSError
	if errors.As(err, &se) && se.Msg != "" {
		return problem{status: http.StatusBadGateway, msg: sentence(se.Msg)}, true
	}
	for _, e := range problems {
		if !errors.Is(err, e.err) {
			continue
		}
		p = problem{status: e.status, msg: e.msg}
		if strings.Contains(e.msg, "%s") {
			p.retry = time.Second
			var re *auth.RetryError
			if errors.As(err, &re) && re.RetryAfter > 0 {
				p.retry = re.RetryAfter
			}
			p.msg = fmt.Sprintf(e.msg, waitText(p.retry))
		}
		return p, true
	}
	if httpx.Unavailable(err) {
		// The database or Redis is unreachable: the request was refused
		// (limits fail closed); say when to try again, as the API does.
		p = problem{status: http.StatusServiceUnavailable, retry: 5 * time.Second}
		p.msg = fmt.Sprintf("The service is briefly unavailable. Wait %s and try again.", waitText(p.retry))
		return p, true
	}
	return problem{status: http.StatusInternalServerError}, false
}

// setRetryAfter sets the Retry-After header of a 429 or 503 answer.
func setRetryAfter(w http.ResponseWriter, p problem) {
	if p.retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((p.retry+time.Second-1)/time.Second)))
	}
}

// waitText says how long to wait in words: "30 seconds", "2 minutes".
func waitText(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.FormatInt(n, 10) + " " + unit + "s"
	}
	secs := int64((d + time.Second - 1) / time.Second)
	switch {
	case secs < 60:
		return plural(max(secs, 1), "second")
	case secs < 3600:
		return plural((secs+59)/60, "minute")
	default:
		return plural((secs+3599)/3600, "hour")
	}
}

// sentence turns a service message ("username must be 1 to 64
// characters") into a sentence for the page.
func sentence(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// errorView is the error page.
type errorView struct {
	Page
	Heading   string
	Message   string
	Reference string
}

// renderError renders the error page for err: the mapped sentence, or for
// an unexpected error a generic one with a reference to the log line.
func (h *Web) renderError(w http.ResponseWriter, r *http.Request, s *session, err error) {
	p, ok := describe(err)
	v := errorView{Page: h.page(r, s, "Something went wrong"), Heading: "Something went wrong", Message: p.msg}
	switch {
	case !ok:
		v.Message = "Something went wrong on our side. Try again in a moment; if it keeps happening, contact support and quote the reference below."
		v.Reference = httpx.RequestID(r.Context())
		h.log.ErrorContext(r.Context(), "page failed", "request_id", v.Reference, "method", r.Method,
			"path", r.URL.Path, "error", err)
	case p.status == http.StatusNotFound:
		v.Title, v.Heading = "Page not found", "Page not found"
	case p.status == http.StatusTooManyRequests || p.status == http.StatusServiceUnavailable:
		v.Title, v.Heading = "Please wait", "Please wait a moment"
		setRetryAfter(w, p)
	}
	h.render(w, r, p.status, "error", v)
}

// notFound answers any path that is not a page.
func (h *Web) notFound(w http.ResponseWriter, r *http.Request) error {
	return errNotFound
}
