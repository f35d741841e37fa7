// Package outcome is twostep's one vocabulary of refusals: a Code for every
// outcome a person or a client can act on, and the one error value that
// carries it (code, method, when to retry, a safe detail, the cause). The
// service returns it; httpx maps each code to an HTTP status and, through
// its message catalogue, to the sentence both presenters — the JSON API
// and the pages — show. A new outcome is one constant here and one row in
// each of httpx's two tables.
package outcome

import "time"

// Code names an outcome. Its string is also the JSON API's error code
// unless httpx's status map gives the outcome another public name.
type Code string

// Outcomes of the service.
const (
	InvalidCredentials Code = "invalid_credentials" // wrong username or password (no enumeration)
	InvalidCode        Code = "invalid_code"        // a wrong second-factor code at sign-in
	CodeFormat         Code = "code_format"         // not the shape of a code of the method
	CodeMismatch       Code = "code_mismatch"       // a wrong code while setting up a method
	CodeExpired        Code = "code_expired"        // a texted code past its life or used
	Unauthenticated    Code = "unauthenticated"     // no valid session
	BadToken           Code = "bad_token"           // a missing or wrong operator token
	MFALocked          Code = "mfa_locked"          // second factor locked until an administrator unlocks it
	AAL2Required       Code = "aal2_required"
	RecentAuthRequired Code = "recent_auth_required"
	InviteRequired     Code = "invite_required"
	PlanOrder          Code = "plan_order"
	LastFactor         Code = "last_factor"
	NoFactor           Code = "no_factor"
	NotFound           Code = "not_found"
	UserExists         Code = "user_exists"
	NotImplemented     Code = "not_implemented"
	TooManyAttempts    Code = "too_many_attempts" // second-factor back-off, or a parallel attempt
	RateLimited        Code = "rate_limited"      // a budget of the client, the account or SMS
	Busy               Code = "busy"              // password hashing at capacity
	InvalidRequest     Code = "invalid_request"   // Detail says what is wrong
	InvalidPhone       Code = "invalid_phone"     // Detail says what is wrong
	SMSFailed          Code = "sms_failed"        // Detail may carry the provider's safe sentence
	RotationUnfinished Code = "rotation_unfinished"
	// AuthenticatorNotAllowed: a passkey or security key whose model the
	// AAGUID allow-list does not name.
	AuthenticatorNotAllowed Code = "authenticator_not_allowed"
	// MethodNotAllowed: a method the user's group policy does not allow
	// (mfa.policies), to set up or to sign in with.
	MethodNotAllowed Code = "method_not_allowed"
	// GraceOver: "Set up later" with no grace period left.
	GraceOver Code = "grace_over"
)

// Outcomes of the HTTP front ends themselves.
const (
	Unavailable          Code = "unavailable"    // the database or Redis is unreachable
	Internal             Code = "internal_error" // anything unexpected: the cause goes to the log only
	NoSuchCall           Code = "no_such_call"
	NoSuchPage           Code = "no_such_page"
	UnsupportedMediaType Code = "unsupported_media_type"
	InvalidJSON          Code = "invalid_json"
	BodyTooLarge         Code = "body_too_large"
	UnknownField         Code = "unknown_field" // Detail names the field
	WrongType            Code = "wrong_type"    // Detail names the field
	CrossOrigin          Code = "cross_origin"
	FormExpired          Code = "form_expired"
	BadForm              Code = "bad_form"
	Forbidden            Code = "forbidden"      // forward-auth: the rules deny this user
	BadOriginal          Code = "bad_original"   // forward-auth: the proxy's request headers are unusable
	NoOriginal           Code = "no_original"    // forward-auth: the proxy sent no original request
	EndpointMoved        Code = "endpoint_moved" // forward-auth: the old endpoint
)

// Error is an outcome as a Go error. Compare with errors.Is against a
// sentinel of the same code (Is ignores every other field), and read the
// fields with errors.As.
type Error struct {
	Code Code
	// Method is what the person was doing, for the wording: "totp",
	// "sms", "recovery", "webauthn" (signing in), "totp_setup",
	// "sms_setup", "webauthn_setup" (setting up), "sms_send" (asking for
	// a text); "" when it does not matter.
	Method     string
	RetryAfter time.Duration // > 0: when to try again (Retry-After)
	Detail     string        // a sentence safe to show, where the check itself says what is wrong
	Err        error         // the cause, for the log only
}

// New returns a sentinel error of code.
func New(c Code) *Error { return &Error{Code: c} }

func (e *Error) Error() string {
	s := string(e.Code)
	if e.Method != "" {
		s += " (" + e.Method + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error of the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// With returns a copy of e with the fields of o that are set (Method,
// RetryAfter, Detail, Err); e, usually a sentinel, is not changed.
func (e *Error) With(o Error) *Error {
	c := *e
	if o.Method != "" {
		c.Method = o.Method
	}
	if o.RetryAfter > 0 {
		c.RetryAfter = o.RetryAfter
	}
	if o.Detail != "" {
		c.Detail = o.Detail
	}
	if o.Err != nil {
		c.Err = o.Err
	}
	return &c
}
