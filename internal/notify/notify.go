// Package notify sends security notifications: a person is told, by e-mail
// and/or text message, when something changed on their account (a sign-in
// method added or removed, a recovery code used, new recovery codes, an
// administrator's MFA reset or password change, optionally a sign-in from a
// new browser). docs/notifications.md is the reference.
//
// Notices go through a bounded queue in the database (store, migration
// 0009): Queue.Enqueue writes one row per recipient and channel and never
// blocks the request that caused it beyond those writes; Worker sends due
// rows asynchronously, claiming each with a lease, retrying with
// exponential back-off up to a maximum number of attempts. Recipients are
// sealed with the keyring in the queue, as phone numbers are in factors.
//
// Messages never contain a code, a secret or a link that signs in (OWASP
// ASVS V2.2.3 asks for notifications after changes to authentication
// details; NIST SP 800-63B §6.1.2.1/§6.1.2.2 for binding and removal of
// authenticators): they say what happened, when, from which address and
// which browser (a summary from a fixed vocabulary, never the client's own
// text), and whom to contact. The package reaches no HTTP: the SMTP client
// (notify/mailer) and the SMS providers are wired in by cli.
package notify

import (
	"context"
	"errors"
	"time"
)

// Kind names a notice; it is also the queue's event column and selects the
// templates (templates/*.tmpl define one block per kind).
type Kind string

// The notice kinds. auth.Service.record maps audit events to them (the one
// place: internal/auth/notify.go).
const (
	MethodAdded      Kind = "method_added"       // audit factor_added
	MethodRemoved    Kind = "method_removed"     // audit factor_removed
	RecoveryCodeUsed Kind = "recovery_code_used" // audit recovery_code_used
	RecoveryCodesNew Kind = "recovery_codes_new" // audit recovery_codes_generated (not the set issued with a first method)
	MFAReset         Kind = "mfa_reset"          // audit admin_action action=reset_mfa
	PasswordChanged  Kind = "password_changed"   // audit admin_action action=set_password
	NewDevice        Kind = "new_device"         // audit login_ok from a browser that holds no known-browser token (notify.new_device)
	// HelpdeskPass is the slot for issue #15's helpdesk pass: its template
	// exists; the audit event that will map to it is named in
	// internal/auth/notify.go.
	HelpdeskPass Kind = "helpdesk_pass"
)

// Kinds lists every kind, for tests and documentation.
var Kinds = []Kind{MethodAdded, MethodRemoved, RecoveryCodeUsed, RecoveryCodesNew, MFAReset, PasswordChanged, NewDevice, HelpdeskPass}

// Channels.
const (
	Email = "email"
	SMS   = "sms"
)

// Notice is what happened, as the service reports it. It carries no secret:
// the client's User-Agent is reduced to a Browser summary before it is
// stored, and free text a user chose (method labels) is not included.
type Notice struct {
	Kind     Kind      `json:"kind"`
	UserID   string    `json:"-"`
	Username string    `json:"username"`
	At       time.Time `json:"at"`
	// IP is the client's address; "cli" for the server's command line,
	// "" when unknown.
	IP string `json:"ip,omitempty"`
	// Browser is Summarize of the names the service found in the User-Agent
	// ("Firefox on Linux"), never the header itself.
	Browser string `json:"browser,omitempty"`
	// Method is the type of the method added or removed ("totp", "sms",
	// "webauthn"), one of a fixed set.
	Method string `json:"method,omitempty"`
}

// Mail is one e-mail as the worker hands it to a Mailer.
type Mail struct {
	To        string
	Subject   string
	Text      string // text/plain part
	HTML      string // text/html alternative
	MessageID string // "id@domain" (without angle brackets), the same for every attempt of a row
	Date      time.Time
}

// Mailer sends one e-mail. It returns nil only when the server accepted
// the message (250 after DATA); an error wrapping ErrPermanent means
// sending it again would fail the same way.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// ErrPermanent marks a send error that retrying cannot fix (an SMTP 5xx
// for the recipient, an invalid number): the row is given up at once.
var ErrPermanent = errors.New("permanent failure")
