// Package auth is twostep's service layer: password sign-in, sessions and
// their assurance levels, the set-up plan, TOTP, SMS and passkey enrolment
// and verification, passwordless passkey sign-in, recovery codes, factor
// management and administrator actions. Every
// security decision lives here, not in the HTTP handlers; this package never
// imports net/http, so the JSON API, the pages and the CLI share one set of
// rules.
package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/keyring"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/notify"
	"github.com/twostep/twostep/internal/outcome"
	"github.com/twostep/twostep/internal/password"
	"github.com/twostep/twostep/internal/ratelimit"
	"github.com/twostep/twostep/internal/sms"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/totp"
)

// Config is the part of the configuration the service needs.
type Config struct {
	Issuer          string        // shown in authenticator apps
	PublicURL       string        // base of invite links
	AdminToken      string        // admin API bearer token; empty disables it
	MetricsToken    string        // bearer token of /metrics on the main listener; empty: not served there
	InviteOnly      bool          // enrollment: invite
	MFARequired     bool          // mfa.required
	InviteTTL       time.Duration // lifetime of a set-up link
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	RecentAuth      time.Duration   // how fresh aal2 must be for sensitive actions
	TOTP            totp.Params     // for new authenticator apps
	LoginPerIP      ratelimit.Limit // per client: an IPv4 address or an IPv6 /64
	// LoginPerAccount bounds password attempts on one account from browsers
	// it never signed in on, all together; LoginPerKnownBrowser those from
	// one browser it did (known.go). Both count in Deps.Accounts.
	LoginPerAccount      ratelimit.Limit
	LoginPerKnownBrowser ratelimit.Limit
	VerifyPerIP          ratelimit.Limit
	// AdminPerIP bounds failed admin- and metrics-token attempts per client.
	AdminPerIP ratelimit.Limit
	// VerifyPerUser counts every second-factor attempt of a user before the
	// code is checked. The back-off alone is check-then-count, so a burst of
	// parallel guesses could all pass its check; this budget cannot be
	// outrun because counting is the check.
	VerifyPerUser ratelimit.Limit
	// Second-factor back-off and lock (attempt.go): after MaxFailures
	// consecutive failures each one locks for BackoffBase doubling up to
	// BackoffMax; at LockAfter the second factor locks until unlocked.
	MaxFailures, LockAfter  int64
	BackoffBase, BackoffMax time.Duration

	SMSHost             string   // host named in the WebOTP line of texts
	SMSAllowedCountries []string // ISO codes; "*" allows all
	SMSBudgets          SMSBudgets

	Access Access // forward-auth rules

	// RememberDeviceDays is how long a browser remembered after a second
	// factor may skip it (remember_device.days); 0 turns the feature off.
	RememberDeviceDays int

	// Passkeys are the service's passkey rules (passkey.go); passkeys are
	// on only with a Deps.WebAuthn.
	Passkeys PasskeyConfig

	// Policies are mfa.policies in order (ParseMFAPolicies), MFARequired
	// the implicit last one (policy.go); GracePeriod is mfa.grace_period,
	// for required policies without grace= (grace.go).
	Policies    []MFAPolicy
	GracePeriod time.Duration
	// NotifyNewDevice sends a notice at a password sign-in from a browser
	// without a known-browser token (notify.new_device; notify.go).
	NotifyNewDevice bool
}

// Deps are the collaborators the service uses.
type Deps struct {
	Store  *store.Store
	Keys   *keyring.Keyring
	Hasher *password.Hasher
	// Limiter counts per-client and short per-user budgets; it may live in
	// one process's memory (SQLite's single instance).
	Limiter *ratelimit.Limiter
	// Accounts counts per-account password allowances in a backend every
	// instance and the CLI reach (Redis, else the database), so an
	// administrator's unlock takes effect on a running server.
	Accounts *ratelimit.Limiter
	Audit    *audit.Recorder
	SMS      sms.Sender
	// WebAuthn is the passkey protocol step (internal/passkey); nil turns
	// passkeys off (no relying party: public_url's host is an address).
	WebAuthn WebAuthn
	// Notify queues security notifications (notify.go); nil sends none.
	Notify *notify.Queue
	Log    *slog.Logger
	Now    func() time.Time // nil: time.Now
}

// Service implements the sign-in and set-up rules. It is safe for
// concurrent use.
type Service struct {
	cfg   Config
	d     Deps // not embedded: the collaborators are the service's own, not its callers'
	cache sessionCache

	policies []MFAPolicy // cfg.Policies resolved, the default last (policy.go)
}

// New returns a Service.
func New(cfg Config, d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	if cfg.Access.Default == "" {
		cfg.Access.Default = PolicyTwoFactor
	}
	return &Service{cfg: cfg, d: d, policies: policies(cfg)}
}

// Config returns the service configuration (pages and the API read the
// issuer and enrollment mode from it).
func (s *Service) Config() Config { return s.cfg }

// Client describes who is asking: the address for per-client limits and
// the audit log, and what the browser holds. The presenters build it in one
// place (httpx.Client).
type Client struct {
	IP        string
	UserAgent string
	Device    string // "Remember this device" token the browser presents (device.go)

	// browser is what Login learnt of the known-browser token, for the
	// new-device notice (notify.go); the zero value is "not checked".
	browser browserState
}

type browserState uint8

const (
	_ browserState = iota // not checked: not a password sign-in
	browserKnown
	browserNew
)

// Errors returned by the service: one value type (outcome.Error), one
// sentinel per outcome, compared with errors.Is. The presenters turn each
// into a status and a sentence (httpx); wrapped causes stay in the log.
var (
	ErrInvalidCredentials = outcome.New(outcome.InvalidCredentials)
	ErrInvalidCode        = outcome.New(outcome.InvalidCode)
	ErrCodeFormat         = outcome.New(outcome.CodeFormat)
	ErrCodeMismatch       = outcome.New(outcome.CodeMismatch)
	ErrCodeExpired        = outcome.New(outcome.CodeExpired)
	ErrUnauthenticated    = outcome.New(outcome.Unauthenticated)
	ErrBadToken           = outcome.New(outcome.BadToken)
	ErrMFALocked          = outcome.New(outcome.MFALocked)
	ErrAAL2Required       = outcome.New(outcome.AAL2Required)
	ErrRecentAuthRequired = outcome.New(outcome.RecentAuthRequired)
	ErrInviteRequired     = outcome.New(outcome.InviteRequired)
	ErrPlanOrder          = outcome.New(outcome.PlanOrder)
	ErrLastFactor         = outcome.New(outcome.LastFactor)
	ErrNoFactor           = outcome.New(outcome.NoFactor)
	ErrNotFound           = outcome.New(outcome.NotFound)
	ErrInvalidInput       = outcome.New(outcome.InvalidRequest)
	ErrInvalidPhone       = outcome.New(outcome.InvalidPhone)
	ErrSMSFailed          = outcome.New(outcome.SMSFailed)
	ErrUserExists         = outcome.New(outcome.UserExists)
	ErrNotImplemented     = outcome.New(outcome.NotImplemented)
	ErrTooManyAttempts    = outcome.New(outcome.TooManyAttempts)
	ErrRateLimited        = outcome.New(outcome.RateLimited)
	ErrBusy               = outcome.New(outcome.Busy)
	ErrRotationUnfinished = outcome.New(outcome.RotationUnfinished)
	// ErrAuthenticatorNotAllowed refuses a passkey whose model the AAGUID
	// allow-list does not name.
	ErrAuthenticatorNotAllowed = outcome.New(outcome.AuthenticatorNotAllowed)

	// ErrMethodNotAllowed refuses a method the user's group policy does
	// not allow (policy.go); ErrGraceOver a "Set up later" with no grace
	// period left (grace.go).
	ErrMethodNotAllowed = outcome.New(outcome.MethodNotAllowed)
	ErrGraceOver        = outcome.New(outcome.GraceOver)
)

// retry is kind (ErrTooManyAttempts, ErrRateLimited, ErrBusy) with the
// time after which the client may try again.
func retry(kind *outcome.Error, after time.Duration) error {
	return kind.With(outcome.Error{RetryAfter: after})
}

// invalid is ErrInvalidInput with a sentence safe to show the client.
func invalid(msg string) error { return ErrInvalidInput.With(outcome.Error{Detail: msg}) }

// about names the method of an outcome a public call returns, so the
// wording can fit it ("the code from the text message"); other errors
// pass unchanged.
func about(method string, err error) error {
	var oe *outcome.Error
	if err == nil || !errors.As(err, &oe) || oe.Method != "" {
		return err
	}
	return oe.With(outcome.Error{Method: method})
}

// limited answers a limiter refusal with kind and its Retry-After. Every
// refusal is counted in metrics, but only the first of its key's window is
// written to the audit chain, so a flood of refused requests costs one row
// (docs/throttling.md). Any other limiter error (backend down) is returned as it
// is, so the request is refused: limits fail closed.
func (s *Service) limited(ctx context.Context, c Client, u model.User, limit string, err error, kind *outcome.Error, attrs map[string]string) error {
	var le *ratelimit.LimitedError
	if !errors.As(err, &le) {
		return err
	}
	s.d.Audit.Refused(ctx, le.First, audit.Event{Name: audit.RateLimited, UserID: u.ID, Username: u.Username,
		IP: c.IP, UserAgent: c.UserAgent, Attrs: attrs}, limit)
	return retry(kind, le.RetryAfter)
}

// clientKey is the per-client key of an address: an IPv4 address as it is,
// an IPv6 address by its /64, since one subscriber usually holds a whole
// /64 and could otherwise rotate through 2^64 keys (OWASP ASVS V2.2.1).
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is6() || a.Is4In6() {
		return ip
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// record writes an audit event; a failed audit write is logged by the
// recorder and does not undo the operation that already happened. It is
// also the one hook of security notifications (notify.go).
func (s *Service) record(ctx context.Context, c Client, name, userID, username string, attrs map[string]string) {
	_ = s.d.Audit.Record(ctx, audit.Event{Name: name, UserID: userID, Username: username, IP: c.IP, UserAgent: c.UserAgent, Attrs: attrs})
	s.notify(ctx, c, name, userID, username, attrs)
}
