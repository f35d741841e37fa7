// Package passkey is the WebAuthn protocol step of passkeys and security
// keys, over github.com/go-webauthn/webauthn: it writes the options a
// browser passes to navigator.credentials.create() and .get(), and checks
// what the authenticator answered — CBOR, COSE keys, signatures, the
// challenge, the origin, the RP ID hash, the flags — with the library's
// parse-from-bytes functions (never an *http.Request). It implements
// auth.WebAuthn, exchanging JSON and model types.
//
// It decides nothing beyond the protocol. Who may begin a ceremony, the
// binding of a ceremony to its session, its expiry and single use, sign
// counters, the AAGUID allow-list and user verification for passwordless
// sign-in are the service's (internal/auth, docs/passkeys.md), which keeps
// the library and its net/http out of the service's dependencies.
package passkey

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/twostep/twostep/internal/model"
)

// Config is the relying party (webauthn.* in the configuration).
type Config struct {
	RPID    string   // the domain passkeys are bound to
	RPName  string   // shown by the browser when a passkey is created
	Origins []string // where assertions may come from ("https://login.example.com")
	// UserVerification is asked of registrations and second-factor
	// assertions: "preferred" or "required". Passwordless sign-in always
	// requires it.
	UserVerification string
	Attestation      string        // conveyance asked at registration: "none", "indirect" or "direct"
	Timeout          time.Duration // told to the browser; the service enforces its own expiry
}

// WebAuthn is the protocol step. It is safe for concurrent use.
type WebAuthn struct {
	w  *webauthn.WebAuthn
	uv protocol.UserVerificationRequirement
}

// New checks c and returns the protocol step.
func New(c Config) (*WebAuthn, error) {
	uv := protocol.UserVerificationRequirement(c.UserVerification)
	if uv != protocol.VerificationPreferred && uv != protocol.VerificationRequired {
		return nil, fmt.Errorf("passkey: user verification must be preferred or required, not %q", c.UserVerification)
	}
	att := protocol.ConveyancePreference(c.Attestation)
	switch att {
	case protocol.PreferNoAttestation, protocol.PreferIndirectAttestation, protocol.PreferDirectAttestation:
	default:
		return nil, fmt.Errorf("passkey: attestation must be none, indirect or direct, not %q", c.Attestation)
	}
	timeout := webauthn.TimeoutConfig{Timeout: c.Timeout, TimeoutUVD: c.Timeout}
	w, err := webauthn.New(&webauthn.Config{
		RPID:          c.RPID,
		RPDisplayName: c.RPName,
		RPOrigins:     c.Origins,
		// Each passkey's browser-side discoverability is preferred, not
		// required: a security key without room for resident keys can
		// still be a second factor; passwordless sign-in needs it.
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: uv,
		},
		AttestationPreference: att,
		Timeouts:              webauthn.TimeoutsConfig{Login: timeout, Registration: timeout},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return &WebAuthn{w: w, uv: uv}, nil
}

// user is a WebAuthn user entity: the random handle, the user name to
// display, and the user's credentials.
type user struct {
	handle []byte
	name   string
	creds  []webauthn.Credential
}

func (u user) WebAuthnID() []byte                         { return u.handle }
func (u user) WebAuthnName() string                       { return u.name }
func (u user) WebAuthnDisplayName() string                { return u.name }
func (u user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func newUser(handle []byte, name string, ps []model.Passkey) user {
	u := user{handle: handle, name: name}
	for _, p := range ps {
		u.creds = append(u.creds, credential(p))
	}
	return u
}

// credential is the library's view of a stored record.
func credential(p model.Passkey) webauthn.Credential {
	c := webauthn.Credential{
		ID:                p.CredentialID,
		PublicKey:         p.PublicKey,
		AttestationType:   p.AttestationType,
		AttestationFormat: p.AttestationFormat,
		Flags: webauthn.CredentialFlags{UserPresent: true, UserVerified: p.UserVerified,
			BackupEligible: p.BackupEligible, BackupState: p.BackupState},
		Authenticator: webauthn.Authenticator{AAGUID: p.AAGUID, SignCount: p.SignCount},
	}
	for _, t := range p.Transports {
		c.Transport = append(c.Transport, protocol.AuthenticatorTransport(t))
	}
	return c
}

// refused wraps a failed check: the service counts and words it, the
// library's details (what failed) go to the log through the wrapped error.
func refused(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return fmt.Errorf("%w: %s: %s %s", model.ErrRefused, pe.Type, pe.Details, pe.DevInfo)
	}
	return fmt.Errorf("%w: %v", model.ErrRefused, err)
}

// begin encodes the options for the browser and the state for finish.
func begin(options any, session *webauthn.SessionData, err error) ([]byte, []byte, error) {
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: begin: %w", err)
	}
	o, err := json.Marshal(options)
	if err != nil {
		return nil, nil, err
	}
	st, err := json.Marshal(session)
	if err != nil {
		return nil, nil, err
	}
	return o, st, nil
}

// state decodes what begin stored; a state that does not decode is an
// internal error (the database holds only what begin wrote).
func state(b []byte) (webauthn.SessionData, error) {
	var sd webauthn.SessionData
	if err := json.Unmarshal(b, &sd); err != nil {
		return webauthn.SessionData{}, fmt.Errorf("passkey: ceremony state: %w", err)
	}
	return sd, nil
}

// BeginRegistration starts a registration for the user with that handle
// and name; the authenticators holding one of exclude are asked not to
// register again (WebAuthn L3 §5.4 excludeCredentials).
func (w *WebAuthn) BeginRegistration(handle []byte, name string, exclude []model.Passkey) (options, st []byte, err error) {
	u := newUser(handle, name, exclude)
	return begin(w.w.BeginRegistration(u, webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors())))
}

// FinishRegistration checks the browser's answer to BeginRegistration
// (WebAuthn L3 §7.1: type, challenge, origin, RP ID hash, user presence,
// user verification when required, algorithm, attestation statement) and
// returns the new credential record (its factor and user ids unset).
func (w *WebAuthn) FinishRegistration(handle []byte, st, response []byte) (model.Passkey, error) {
	sd, err := state(st)
	if err != nil {
		return model.Passkey{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return model.Passkey{}, refused(err)
	}
	c, err := w.w.CreateCredential(user{handle: handle}, sd, parsed)
	if err != nil {
		return model.Passkey{}, refused(err)
	}
	p := model.Passkey{CredentialID: c.ID, PublicKey: c.PublicKey, SignCount: c.Authenticator.SignCount,
		AAGUID: c.Authenticator.AAGUID, BackupEligible: c.Flags.BackupEligible, BackupState: c.Flags.BackupState,
		UserVerified: c.Flags.UserVerified, AttestationType: c.AttestationType, AttestationFormat: c.AttestationFormat}
	for _, t := range c.Transport {
		p.Transports = append(p.Transports, string(t))
	}
	return p, nil
}

// BeginLogin starts a second-factor assertion limited to the passkeys allow.
func (w *WebAuthn) BeginLogin(handle []byte, allow []model.Passkey) (options, st []byte, err error) {
	return begin(w.w.BeginLogin(newUser(handle, "", allow)))
}

// FinishLogin checks an assertion answering BeginLogin against the
// passkeys allow of the user with that handle (WebAuthn L3 §7.2: the
// credential is one of them, type, challenge, origin, RP ID hash, flags,
// signature). The counter is returned, not judged: that is the service's.
func (w *WebAuthn) FinishLogin(handle []byte, allow []model.Passkey, st, response []byte) (model.PasskeyAssertion, error) {
	sd, err := state(st)
	if err != nil {
		return model.PasskeyAssertion{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return model.PasskeyAssertion{}, refused(err)
	}
	if _, err := w.w.ValidateLogin(newUser(handle, "", allow), sd, parsed); err != nil {
		return model.PasskeyAssertion{}, refused(err)
	}
	return assertion(parsed), nil
}

// BeginDiscoverable starts a passwordless sign-in: no user is named, the
// browser offers the passkeys it holds for the RP ID, and user
// verification is required.
func (w *WebAuthn) BeginDiscoverable() (options, st []byte, err error) {
	return begin(w.w.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired)))
}

// FinishDiscoverable checks an assertion answering BeginDiscoverable:
// owner gives the passkeys of the user whose handle the authenticator
// returned (an error there refuses the assertion), then the checks of
// FinishLogin apply, with user verification required.
func (w *WebAuthn) FinishDiscoverable(st, response []byte, owner func(handle []byte) ([]model.Passkey, error)) (model.PasskeyAssertion, error) {
	sd, err := state(st)
	if err != nil {
		return model.PasskeyAssertion{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return model.PasskeyAssertion{}, refused(err)
	}
	var ownerErr error
	lookup := func(_, handle []byte) (webauthn.User, error) {
		ps, err := owner(handle)
		if err != nil {
			ownerErr = err
			return nil, err
		}
		return newUser(handle, "", ps), nil
	}
	if _, _, err := w.w.ValidatePasskeyLogin(lookup, sd, parsed); err != nil {
		if ownerErr != nil && !errors.Is(ownerErr, model.ErrRefused) {
			return model.PasskeyAssertion{}, ownerErr // the owner's lookup failed: not the client's doing
		}
		return model.PasskeyAssertion{}, refused(err)
	}
	return assertion(parsed), nil
}

func assertion(p *protocol.ParsedCredentialAssertionData) model.PasskeyAssertion {
	ad := p.Response.AuthenticatorData
	return model.PasskeyAssertion{CredentialID: p.RawID, SignCount: ad.Counter,
		UserVerified: ad.Flags.HasUserVerified(), BackupState: ad.Flags.HasBackupState()}
}
