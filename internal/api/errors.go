package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/httpx"
)

// errorTable maps each service error to its status, stable code and the
// sentence the client sees. Anything not listed is a 500 whose cause only
// the log sees.
var errorTable = []struct {
	err    error
	status int
	code   string
	msg    string
}{
	{auth.ErrInvalidCredentials, http.StatusUnauthorized, "invalid_credentials", "The username or password is not correct."},
	{auth.ErrInvalidCode, http.StatusUnauthorized, "invalid_code", "That code is not valid. Check it and try again."},
	{auth.ErrCodeFormat, http.StatusBadRequest, "invalid_code", "Enter the 6-digit code from your authenticator app, or a recovery code such as abcde-fghjk."},
	{auth.ErrUnauthenticated, http.StatusUnauthorized, "unauthenticated", "Sign in first."},
	{auth.ErrBadToken, http.StatusUnauthorized, "unauthenticated", "A valid admin token is required."},
	{auth.ErrMFALocked, http.StatusForbidden, "mfa_locked", "Too many wrong codes: your second factor is locked. Ask your administrator to unlock it."},
	{auth.ErrAAL2Required, http.StatusForbidden, "aal2_required", "Verify with your second factor first."},
	{auth.ErrRecentAuthRequired, http.StatusForbidden, "recent_auth_required", "Verify with your second factor again to do this."},
	{auth.ErrInviteRequired, http.StatusForbidden, "invite_required", "Your account needs a set-up link from your administrator. Open the link you were sent, or ask for a new one."},
	{auth.ErrPlanOrder, http.StatusConflict, "plan_order", "Set up SMS/Text first, then the authenticator app."},
	{auth.ErrLastFactor, http.StatusConflict, "last_factor", "You cannot remove your last sign-in method. Add another one first."},
	{auth.ErrNoFactor, http.StatusConflict, "no_factor", "You have no such sign-in method set up."},
	{auth.ErrNotFound, http.StatusNotFound, "not_found", "Not found."},
	{auth.ErrUserExists, http.StatusConflict, "user_exists", "A user with that name already exists."},
	{auth.ErrNotImplemented, http.StatusNotImplemented, "not_implemented", "This method is not available yet."},
	{auth.ErrTooManyAttempts, http.StatusTooManyRequests, "too_many_attempts", "Too many failed attempts. Wait a moment and try again."},
	{auth.ErrRateLimited, http.StatusTooManyRequests, "rate_limited", "Too many requests. Wait a moment and try again."},
	{auth.ErrBusy, http.StatusServiceUnavailable, "busy", "The server is busy. Try again in a moment."},
	{auth.ErrCodeExpired, http.StatusUnauthorized, "code_expired", "This code has expired or was already used. Ask for a new code."},
	{auth.ErrSMSFailed, http.StatusBadGateway, "sms_failed", "We could not send the text. Try again, or use another method."},
}

// toHTTP converts a handler error into the client-facing error.
func toHTTP(err error, r *http.Request) *httpx.Error {
	var he *httpx.Error
	if errors.As(err, &he) {
		return he
	}
	var ie *auth.InputError
	if errors.As(err, &ie) {
		return &httpx.Error{Status: http.StatusBadRequest, Code: "invalid_request", Msg: ie.Msg, Err: err}
	}
	var pe *auth.PhoneError
	if errors.As(err, &pe) {
		return &httpx.Error{Status: http.StatusBadRequest, Code: "invalid_phone", Msg: pe.Msg, Err: err}
	}
	var se *auth.SMSError
	if errors.As(err, &se) && se.Msg != "" {
		return &httpx.Error{Status: http.StatusBadGateway, Code: "sms_failed", Msg: se.Msg, Err: err}
	}
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			out := &httpx.Error{Status: e.status, Code: e.code, Msg: e.msg, Err: err}
			var re *auth.RetryError
			if errors.As(err, &re) {
				out.RetryAfter = re.RetryAfter
			}
			return out
		}
	}
	if httpx.Unavailable(err) {
		return &httpx.Error{Status: http.StatusServiceUnavailable, Code: "unavailable",
			Msg: "The service is briefly unavailable. Try again in a few seconds.", Err: err, RetryAfter: 5 * time.Second}
	}
	return &httpx.Error{Status: http.StatusInternalServerError, Code: "internal_error",
		Msg: "Something went wrong on our side. Reference: " + httpx.RequestID(r.Context()), Err: err}
}
