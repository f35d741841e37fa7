package httpx

import (
	"errors"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/outcome"
)

// Row is how an outcome is answered, by the JSON API and the pages alike:
// its HTTP status, its public code where the JSON API has always called it
// something else ("" means the code itself), and its sentences by method
// (outcome.Error.Method; "" is the fallback for every method without its
// own). The sentences are the one message catalogue, and where
// translations will plug in. Placeholders:
//
//	{wait}    how long to wait ("30 seconds"; Retry-After, at least 1 s)
//	{digits}  {period}  {issuer}   the server's TOTP settings
//	{detail}  the check's own words (a field's name)
//	{ref}     the request ID of an internal error
//
// An outcome whose Detail is set and whose sentence does not place it
// shows the detail as the sentence: the check said exactly what is wrong
// (a phone number, the SMS provider's safe words).
type Row struct {
	Status int
	Public string
	Say    map[string]string
}

func say(s string) map[string]string { return map[string]string{"": s} }

// outcomes is the table: a new outcome is one entry. An outcome missing
// here is answered as an internal error (TestEveryOutcomeHasARow).
var outcomes = map[outcome.Code]Row{
	outcome.InvalidCredentials: {http.StatusUnauthorized, "", say("The username or password is not correct.")},
	outcome.InvalidCode: {http.StatusUnauthorized, "", map[string]string{
		"":         "That code is not valid. Check it and try again.",
		"totp":     "That code is not valid. Enter the code your app shows now: a new one appears every {period} seconds.",
		"sms":      "That code is not valid. Check the text message and try again.",
		"recovery": "That recovery code is not valid or was already used. Check it and try again.",
		"webauthn": "Your passkey or security key was not accepted. Try again, or use another method.",
	}},
	outcome.CodeMismatch: {http.StatusBadRequest, "invalid_code", map[string]string{
		"":               "That code is not valid. Check it and try again.",
		"totp_setup":     "That code did not match. Enter the code your app shows now; if it still fails, check that the time on your device is set automatically.",
		"sms_setup":      "That code is not valid. Check the text message and try again.",
		"webauthn_setup": "Your passkey or security key could not be added. Try again, or use another one.",
	}},
	outcome.CodeFormat: {http.StatusBadRequest, "invalid_code", map[string]string{
		"":               "Enter the code with digits only, as your app or text message shows it.",
		"totp":           "Enter the {digits}-digit code from your authenticator app.",
		"totp_setup":     "Enter the {digits}-digit code your authenticator app shows for {issuer}.",
		"sms":            "Enter the 6-digit code from the text message.",
		"sms_setup":      "Enter the 6-digit code from the text message.",
		"recovery":       "Enter a recovery code: 10 letters and digits, like abcde-fghjk.",
		"webauthn":       "The answer from your passkey or security key could not be read. Try again.",
		"webauthn_setup": "The answer from your passkey or security key could not be read. Try again.",
	}},
	outcome.CodeExpired: {http.StatusUnauthorized, "", map[string]string{
		"":               "This code has expired or was already used. Press Resend code to get a new one.",
		"webauthn":       "This passkey request has expired or was already used. Try again.",
		"webauthn_setup": "This passkey request has expired or was already used. Start adding the passkey again.",
	}},
	outcome.Unauthenticated:    {http.StatusUnauthorized, "", say("Sign in first.")},
	outcome.BadToken:           {http.StatusUnauthorized, "unauthenticated", say("A valid token is required.")},
	outcome.MFALocked:          {http.StatusForbidden, "", say("Too many wrong codes: for your security, your second factor is locked. Contact your administrator to unlock it.")},
	outcome.AAL2Required:       {http.StatusForbidden, "", say("Verify with your second factor first.")},
	outcome.RecentAuthRequired: {http.StatusForbidden, "", say("For your security, verify with your second factor again to do this.")},
	outcome.InviteRequired:     {http.StatusForbidden, "", say("Your account needs a set-up link from your administrator. Open the link you were sent, or ask for a new one.")},
	outcome.PlanOrder:          {http.StatusConflict, "", say("Set up SMS/Text first, then the authenticator app.")},
	outcome.LastFactor:         {http.StatusConflict, "", say("You cannot remove your only sign-in method. Add another one first.")},
	outcome.NoFactor: {http.StatusConflict, "", map[string]string{
		"":         "You have no such sign-in method set up.",
		"totp":     "You have no authenticator app set up. Use a recovery code instead.",
		"sms":      "You have no phone set up. Use another method.",
		"sms_send": "You have no phone set up. Use another method.",
		"webauthn": "You have no passkey or security key set up. Use another method.",
	}},
	outcome.NotFound:        {http.StatusNotFound, "", say("We could not find that. It may have been removed already.")},
	outcome.UserExists:      {http.StatusConflict, "", say("A user with that name already exists.")},
	outcome.NotImplemented:  {http.StatusNotImplemented, "", say("This method is not available on this server yet.")},
	outcome.TooManyAttempts: {http.StatusTooManyRequests, "", say("Too many wrong codes. For your security, wait {wait} and try again.")},
	outcome.RateLimited: {http.StatusTooManyRequests, "", map[string]string{
		"":         "Too many attempts from your network. Wait {wait} and try again.",
		"sms_send": "Wait {wait} before asking for a new code.",
	}},
	outcome.Busy:                    {http.StatusServiceUnavailable, "", say("The server is busy right now. Wait {wait} and try again.")},
	outcome.InvalidRequest:          {http.StatusBadRequest, "", say("The request is not valid.")},
	outcome.InvalidPhone:            {http.StatusBadRequest, "", say("That is not a mobile number we can send a text to.")},
	outcome.SMSFailed:               {http.StatusBadGateway, "", say("We could not send the text. Try again in a moment, or use another method.")},
	outcome.RotationUnfinished:      {http.StatusConflict, "", say("A key rotation is unfinished: finish it first.")},
	outcome.AuthenticatorNotAllowed: {http.StatusForbidden, "", say("This kind of passkey or security key is not allowed here. Use another one, or ask your administrator which ones you may use.")},
	outcome.Unavailable:             {http.StatusServiceUnavailable, "", say("The service is briefly unavailable. Wait {wait} and try again.")},
	outcome.Internal:                {http.StatusInternalServerError, "", say("Something went wrong on our side. Try again in a moment; if it keeps happening, contact support and quote the reference {ref}.")},
	outcome.NoSuchCall:              {http.StatusNotFound, "not_found", say("There is no such API call.")},
	outcome.NoSuchPage:              {http.StatusNotFound, "not_found", say("There is no page at this address.")},
	outcome.UnsupportedMediaType:    {http.StatusUnsupportedMediaType, "", say("Send the request body as application/json.")},
	outcome.InvalidJSON:             {http.StatusBadRequest, "", say("The request body must be a single JSON object.")},
	outcome.BodyTooLarge:            {http.StatusRequestEntityTooLarge, "", say("The request body is too large.")},
	outcome.UnknownField:            {http.StatusBadRequest, "invalid_request", say("Unknown field {detail}.")},
	outcome.WrongType:               {http.StatusBadRequest, "invalid_request", say("Field {detail} has the wrong type.")},
	outcome.CrossOrigin:             {http.StatusForbidden, "", say("Cross-origin requests are not allowed.")},
	outcome.FormExpired:             {http.StatusForbidden, "", say("This form has expired. Go back, reload the page and try again.")},
	outcome.BadForm:                 {http.StatusBadRequest, "", say("The form could not be read. Go back, reload the page and try again.")},
	outcome.Forbidden:               {http.StatusForbidden, "", say("You do not have access to this page.")},
	outcome.BadOriginal:             {http.StatusForbidden, "forbidden", say("This address cannot be checked.")},
	outcome.NoOriginal:              {http.StatusBadRequest, "invalid_request", say("Forward-auth needs the proxy to describe the original request; see docs/proxies.md.")},
	outcome.EndpointMoved:           {http.StatusGone, "", say("Use /api/v1/auth/auth-request (nginx) or /api/v1/auth/forward-auth (Traefik, Caddy); see docs/proxies.md.")},

	// Group policies and grace periods (docs/rollout.md). 403, not 400:
	// the request is well formed, the user's policy refuses it.
	outcome.MethodNotAllowed: {http.StatusForbidden, "", map[string]string{
		"":         "Your organisation does not allow this sign-in method for your account. Use another one.",
		"recovery": "Recovery codes work only once you have a sign-in method your organisation allows. Set one up first.",
	}},
	outcome.GraceOver: {http.StatusForbidden, "", say("The time to set this up later has run out. Set up two-step sign-in now to continue.")},
}

// Messages words outcomes with the server's own settings.
type Messages struct {
	Digits, Period int    // TOTP digits and period of new authenticator apps
	Issuer         string // the name apps show
	rows           map[outcome.Code]Row
}

// NewMessages words outcomes with cfg's TOTP settings and issuer.
func NewMessages(cfg auth.Config) Messages {
	return Messages{Digits: cfg.TOTP.Digits, Period: cfg.TOTP.Period, Issuer: cfg.Issuer, rows: outcomes}
}

// With returns m with one more row, or a row replaced (the table itself is
// never changed).
func (m Messages) With(c outcome.Code, r Row) Messages {
	m.rows = maps.Clone(m.table())
	m.rows[c] = r
	return m
}

func (m Messages) table() map[outcome.Code]Row {
	if m.rows == nil {
		return outcomes
	}
	return m.rows
}

// Problem is an outcome ready to show: Status, Code and Msg go to the
// client, Err (the cause) only to the log, tied together by the request ID
// (like tailscale's tsweb.HTTPError and caddy's HandlerError.ID).
type Problem struct {
	Status     int
	Code       string // the public code, stable snake_case
	Msg        string // a plain sentence safe to show
	Err        error  // cause, logged, never sent
	RetryAfter time.Duration
	Outcome    outcome.Code // what a presenter may branch on
}

// Describe turns err into the problem both presenters show. An outcome
// error is answered by its row; an unreachable database or Redis becomes
// unavailable (503, try again in 5 s: limits fail closed); anything else
// is internal_error (500), whose cause only the log sees, with ref (the
// request ID) in the sentence.
func (m Messages) Describe(err error, ref string) *Problem {
	var oe *outcome.Error
	switch {
	case errors.As(err, &oe):
	case Unavailable(err):
		oe = &outcome.Error{Code: outcome.Unavailable, RetryAfter: 5 * time.Second}
	default:
		oe = &outcome.Error{Code: outcome.Internal}
	}
	row, ok := m.table()[oe.Code]
	if !ok {
		oe, row = &outcome.Error{Code: outcome.Internal}, outcomes[outcome.Internal]
	}
	p := &Problem{Status: row.Status, Code: row.Public, Err: err, RetryAfter: oe.RetryAfter, Outcome: oe.Code}
	if p.Code == "" {
		p.Code = string(oe.Code)
	}
	t, ok := row.Say[oe.Method]
	if !ok {
		t = row.Say[""]
	}
	p.Msg = m.fill(t, oe, ref, &p.RetryAfter)
	return p
}

// fill puts the values into sentence t; it sets *wait to at least 1 s
// when the sentence asks the reader to wait.
func (m Messages) fill(t string, e *outcome.Error, ref string, wait *time.Duration) string {
	if e.Detail != "" && !strings.Contains(t, "{detail}") {
		return sentence(e.Detail)
	}
	if !strings.Contains(t, "{") {
		return t // most sentences: no replacer to build (forward-auth's 401 is a hot path)
	}
	if strings.Contains(t, "{wait}") && *wait <= 0 {
		*wait = time.Second
	}
	return strings.NewReplacer("{wait}", WaitText(*wait), "{digits}", strconv.Itoa(m.Digits),
		"{period}", strconv.Itoa(m.Period), "{issuer}", m.Issuer, "{detail}", e.Detail, "{ref}", ref).Replace(t)
}

// SetRetryAfter sets the Retry-After header of an answer that asks the
// client to wait, in whole seconds rounded up.
func SetRetryAfter(w http.ResponseWriter, d time.Duration) {
	if d > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
	}
}

// WaitText says how long to wait in words: "30 seconds", "2 minutes".
func WaitText(d time.Duration) string {
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

// sentence turns a detail from a check ("username must be 1 to 64
// characters") into a sentence: capital first letter, full stop.
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
