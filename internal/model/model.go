// Package model holds the plain data types shared by the store and the
// service layer (users, factors, sessions, recovery codes, invites, audit
// events) and the sentinel errors they report. It imports only the standard
// library so every other package may depend on it.
package model

import (
	"errors"
	"time"
)

// Sentinel errors returned by the store and wrapped by callers with %w.
var (
	// ErrNotFound means the row asked for does not exist (or a conditional
	// update matched nothing, e.g. a single-use mark already set).
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique constraint refused the write (duplicate
	// username, session token already rotated).
	ErrConflict = errors.New("conflict")
	// ErrRefused means a passkey's registration or assertion failed the
	// protocol's checks (signature, challenge, origin, RP ID, flags): the
	// WebAuthn implementation wraps every such refusal in it, so the
	// service tells a refused proof from an internal error.
	ErrRefused = errors.New("refused")
)

// AAL is an authenticator assurance level (NIST SP 800-63B §4).
type AAL string

// Assurance levels: aal1 after the password, aal2 after a second factor.
const (
	AAL1 AAL = "aal1"
	AAL2 AAL = "aal2"
)

// User is a person who may sign in.
type User struct {
	ID           string
	Username     string
	PasswordHash string // argon2id PHC string, never the password
	Disabled     bool
	CreatedAt    time.Time
	Email        string   // optional, passed to applications as Remote-Email
	Groups       []string // passed as Remote-Groups and checked by access rules
	// MFAFailures counts consecutive failed second-factor attempts since
	// the last success; MFAFailedAt is the time of the last one.
	MFAFailures int64
	MFAFailedAt time.Time
	LastLoginAt time.Time // the last successful sign-in; zero when never
	// WebAuthnHandle is the user's WebAuthn user handle: 64 random bytes
	// made at the first passkey set-up, nil before; never the user name.
	WebAuthnHandle []byte
	// Grace is where the user's grace period stands (docs/rollout.md).
	Grace Grace
}

// Grace is the stored part of a user's grace period: when and under which
// MFA policy it started, and what an administrator added. The deadline is
// StartedAt + the policy's grace period + Extended; it never renews by
// itself.
type Grace struct {
	Policy    string        // key of the policy it started under ("*" or a group); "" for never
	StartedAt time.Time     // the first sign-in under that policy; zero for never
	Extended  time.Duration // added by administrators
}

// FactorType names a kind of second factor.
type FactorType string

// The second-factor types. SMS and WebAuthn arrive with their own issues;
// the store and services already carry them as plain values.
const (
	FactorTOTP     FactorType = "totp"
	FactorSMS      FactorType = "sms"
	FactorWebAuthn FactorType = "webauthn"
)

// FactorStatus tells whether a factor finished its set-up.
type FactorStatus string

// A factor is pending from set-up start until its first code is confirmed.
const (
	FactorPending FactorStatus = "pending"
	FactorActive  FactorStatus = "active"
)

// Factor is one registered second factor of a user.
type Factor struct {
	ID         string
	UserID     string
	Type       FactorType
	Label      string // user-chosen name, e.g. "Phone" or "Laptop (KeePassXC)"
	Status     FactorStatus
	KeyID      string // keyring key that sealed Secret
	Secret     []byte // sealed (AES-256-GCM) secret; never plaintext
	Params     string // type-specific parameters, e.g. "SHA1:6:30" for TOTP
	Preferred  bool
	CreatedAt  time.Time
	LastUsedAt time.Time // zero when never used
}

// Session is a server-side sign-in session. Only the SHA-256 of its token
// is stored, so a database leak yields no usable session.
type Session struct {
	TokenHash []byte
	// ID is the session's public name (random, never derived from the
	// token; kept across rotations): its user lists and ends it by ID.
	ID         string
	UserID     string
	AAL        AAL
	CreatedAt  time.Time // start of the absolute timeout; kept across rotations
	LastSeenAt time.Time // start of the idle timeout
	AAL2At     time.Time // last successful second-factor check; zero if none
	Plan       string    // set-up plan in progress, e.g. "sms,totp"
	// How the session was signed in, for amr claims (RFC 8176): the methods
	// that passed, in order and each once ("password", "totp", "sms",
	// "recovery", "webauthn", "device" for a remembered browser); whether a
	// passkey that passed verified its user (PIN or biometric); and the
	// factor that passed last ("" for none).
	Methods        []string
	UserVerified   bool
	MethodFactorID string
	// The client that signed in, as it said at the time, cut to a bound
	// length (auth.sessionClient); shown on the sessions page, escaped.
	IP        string
	UserAgent string
}

// Passkey is the credential record of a passkey or security key (WebAuthn
// L3 §4 "credential record"), kept beside its factor row.
type Passkey struct {
	CredentialID      []byte // unique across all users
	FactorID          string
	UserID            string
	PublicKey         []byte // COSE_Key
	SignCount         uint32 // the last signature counter seen; 0 for authenticators without one
	AAGUID            []byte // authenticator model, 16 bytes (zero when not disclosed)
	Transports        []string
	BackupEligible    bool // a synced passkey may be backed up (BE flag)
	BackupState       bool // it is backed up (BS flag), as last seen
	UserVerified      bool // the authenticator verified its user at registration
	AttestationType   string
	AttestationFormat string
	CreatedAt         time.Time
}

// PasskeyAssertion is what a verified assertion says about the passkey
// that signed it.
type PasskeyAssertion struct {
	CredentialID []byte
	SignCount    uint32
	UserVerified bool // UV flag of this assertion
	BackupState  bool
}

// RecoveryCode is one single-use recovery code, stored as a keyed hash.
type RecoveryCode struct {
	ID        string
	UserID    string
	KeyID     string
	CodeHash  []byte
	CreatedAt time.Time
	UsedAt    time.Time // zero while unused
}

// Invite is a one-time, expiring set-up link for enrollment: invite.
type Invite struct {
	TokenHash []byte
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// SMSCode is the live code of an SMS factor, stored as a keyed hash.
type SMSCode struct {
	FactorID  string
	UserID    string
	KeyID     string
	CodeHash  []byte
	SentAt    time.Time
	ExpiresAt time.Time
	Attempts  int
	UsedAt    time.Time
}
