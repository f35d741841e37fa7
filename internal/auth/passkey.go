package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/ratelimit"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/token"
)

// Passkeys and security keys (WebAuthn; docs/passkeys.md).
//
// The protocol — options, CBOR, COSE keys, signatures, challenge, origin,
// RP ID hash, flags — is Deps.WebAuthn's (internal/passkey, over
// go-webauthn). The decisions are made here:
//
//   - A ceremony (a registration, a second-factor assertion, a
//     passwordless sign-in) has an unguessable id (256 bits, token.New),
//     stored by its hash in the database so any instance can finish what
//     another began; it expires after PasskeyConfig.Timeout and is consumed
//     by one conditional DELETE that also checks its binding: the user and
//     session that asked, or for a passwordless sign-in the id alone, which
//     only the asking browser holds (WebAuthn L3 §13.4.3: a challenge is
//     used once; ASVS V2.9.2: a nonce of at least 64 bits, unique).
//   - Registration follows the enrolment rules of every method (canEnroll:
//     a recent second factor to add one); the credential id is unique
//     across users; the optional AAGUID allow-list refuses other models;
//     the user handle is 64 random bytes, never the user name (L3 §14.6.1).
//   - An assertion's sign counter that does not move forward is refused
//     and audited as a possible clone (L3 §7.2 step 22; §6.1.1), unless the
//     authenticator reports 0 every time; the counter moves by a
//     compare-and-swap in the same transaction as the session.
//   - As a second factor, a passkey is one more method of Verify: the same
//     attempt budget, back-off and lock (attempt.go; NIST SP 800-63B
//     §5.2.2), and the same pass.
//   - Passwordless sign-in needs webauthn.passwordless and user
//     verification (PIN or biometric) by the authenticator: a
//     multi-factor cryptographic authenticator gives aal2 alone (SP 800-63B
//     §4.2.1, §5.1.9). Its attempts count in the per-client sign-in budget
//     like a password.

// WebAuthn is the protocol step of passkeys, implemented by
// internal/passkey. Options are the JSON a browser passes to
// navigator.credentials.create() or .get() ({"publicKey":{...}}); state is
// what finish needs from begin, kept by the service; a response is the
// browser's PublicKeyCredential as JSON. A Finish* error wrapping
// model.ErrRefused means the browser's answer failed a check; any other is
// internal. Handles are WebAuthn user handles.
type WebAuthn interface {
	BeginRegistration(handle []byte, name string, exclude []model.Passkey) (options, state []byte, err error)
	FinishRegistration(handle []byte, state, response []byte) (model.Passkey, error)
	BeginLogin(handle []byte, allow []model.Passkey) (options, state []byte, err error)
	FinishLogin(handle []byte, allow []model.Passkey, state, response []byte) (model.PasskeyAssertion, error)
	BeginDiscoverable() (options, state []byte, err error)
	FinishDiscoverable(state, response []byte, owner func(handle []byte) ([]model.Passkey, error)) (model.PasskeyAssertion, error)
}

// PasskeyConfig is the service's part of webauthn.* in the configuration.
type PasskeyConfig struct {
	Passwordless bool          // a user-verified passkey alone signs in at aal2
	RequireUV    bool          // a passkey as a second factor must verify its user too
	Timeout      time.Duration // life of a ceremony; 0 means 5 minutes
	// AAGUIDs, when not empty, are the authenticator models allowed to
	// register (lower-case UUIDs); a passkey whose model is not disclosed
	// is refused then.
	AAGUIDs []string
}

// PasskeySettings is what the pages need to know about passkeys.
type PasskeySettings struct {
	Enabled      bool // passkeys can be set up and used as a second factor
	Passwordless bool // and sign in alone
}

// Passkeys says whether passkeys are on (a WebAuthn relying party is
// configured) and whether they may sign in alone.
func (s *Service) Passkeys() PasskeySettings {
	on := s.d.WebAuthn != nil
	return PasskeySettings{Enabled: on, Passwordless: on && s.cfg.Passkeys.Passwordless}
}

// Ceremony is a WebAuthn ceremony begun: ID is the unguessable single-use
// id (256 bits, base64url) the finish call must present; Options is the
// JSON to hand to the browser: {"publicKey":{...}} as
// navigator.credentials.create() or .get() take it once its base64url
// members are decoded to ArrayBuffers.
type Ceremony struct {
	ID      string
	Options json.RawMessage
	Expires time.Time
}

// Kinds of ceremonies.
const (
	ceremonyRegister = "register"
	ceremonyVerify   = "verify"
	ceremonyLogin    = "login"
)

const (
	webAuthnHandleLen = 64 // bytes, the most WebAuthn allows (L3 §5.4.3)
	// MaxCredentialJSON bounds the browser's answer a finish call reads: a
	// registration with a full attestation certificate chain stays far
	// below it.
	MaxCredentialJSON   = 64 << 10
	defaultPasskeyLabel = "Passkey"
)

func (s *Service) ceremonyTTL() time.Duration {
	if s.cfg.Passkeys.Timeout > 0 {
		return s.cfg.Passkeys.Timeout
	}
	return 5 * time.Minute
}

// beginCeremony stores a ceremony of kind with its state, bound to cur's
// user and session (nil: a passwordless sign-in, bound to its id alone).
func (s *Service) beginCeremony(ctx context.Context, kind string, cur *Current, options, state []byte) (Ceremony, error) {
	id, now := token.New(), s.d.Now()
	c := store.Ceremony{IDHash: token.Hash(id), Kind: kind, State: string(state), CreatedAt: now, ExpiresAt: now.Add(s.ceremonyTTL())}
	if cur != nil {
		c.UserID, c.SessionHash = cur.User.ID, hex.EncodeToString(cur.Session.TokenHash)
	}
	if err := s.d.Store.CreateCeremony(ctx, c); err != nil {
		return Ceremony{}, fmt.Errorf("store ceremony: %w", err)
	}
	return Ceremony{ID: id, Options: options, Expires: c.ExpiresAt}, nil
}

// consumeCeremony takes the state of the ceremony id of kind, bound as
// beginCeremony bound it. An unknown, expired, used or foreign ceremony is
// ErrCodeExpired, and is left as it was.
func (s *Service) consumeCeremony(ctx context.Context, id, kind string, cur *Current) ([]byte, error) {
	var userID, session string
	if cur != nil {
		userID, session = cur.User.ID, hex.EncodeToString(cur.Session.TokenHash)
	}
	st, err := s.d.Store.ConsumeCeremony(ctx, token.Hash(id), kind, userID, session, s.d.Now())
	if errors.Is(err, model.ErrNotFound) {
		return nil, ErrCodeExpired
	}
	if err != nil {
		return nil, fmt.Errorf("consume ceremony: %w", err)
	}
	return []byte(st), nil
}

// wellFormedPasskey reports whether a finish call has the shape of one: a
// ceremony id as token.New makes them and a bounded, non-empty answer.
func wellFormedPasskey(ceremony string, credential []byte) bool {
	if len(ceremony) != 43 || len(credential) == 0 || len(credential) > MaxCredentialJSON {
		return false
	}
	for i := 0; i < len(ceremony); i++ {
		c := ceremony[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// refusedPasskey logs why the protocol step refused an answer (the
// library's words, for the operator) and turns it into kind; other errors
// pass unchanged.
func (s *Service) refusedPasskey(ctx context.Context, u model.User, err error, kind error) error {
	if !errors.Is(err, model.ErrRefused) {
		return err
	}
	s.d.Log.InfoContext(ctx, "passkey refused", "user_id", u.ID, "reason", err.Error())
	return kind
}

// StartPasskey begins the registration of a passkey or security key for
// the signed-in user, under the enrolment rules of every method (the first
// with the aal1 session, any further one after a recent second factor).
func (s *Service) StartPasskey(ctx context.Context, c Client, cur Current) (_ Ceremony, err error) {
	defer func() { err = about("webauthn_setup", err) }()
	if s.d.WebAuthn == nil {
		return Ceremony{}, ErrNotImplemented
	}
	if _, err := s.canEnroll(ctx, cur, "webauthn"); err != nil {
		return Ceremony{}, err
	}
	handle, err := s.webAuthnHandle(ctx, cur.User)
	if err != nil {
		return Ceremony{}, err
	}
	mine, err := s.d.Store.Passkeys(ctx, cur.User.ID)
	if err != nil {
		return Ceremony{}, fmt.Errorf("load passkeys: %w", err)
	}
	options, state, err := s.d.WebAuthn.BeginRegistration(handle, cur.User.Username, mine)
	if err != nil {
		return Ceremony{}, err
	}
	return s.beginCeremony(ctx, ceremonyRegister, &cur, options, state)
}

// webAuthnHandle returns u's WebAuthn user handle, making it at the first
// set-up: 64 random bytes, so no handle says anything about the account.
func (s *Service) webAuthnHandle(ctx context.Context, u model.User) ([]byte, error) {
	if len(u.WebAuthnHandle) > 0 {
		return u.WebAuthnHandle, nil
	}
	fresh := make([]byte, webAuthnHandleLen)
	rand.Read(fresh)
	h, err := s.d.Store.WebAuthnHandle(ctx, u.ID, fresh)
	if errors.Is(err, model.ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("webauthn handle: %w", err)
	}
	return h, nil
}

// handleOf returns u's WebAuthn user handle as stored: u may have been
// loaded before its first passkey set-up made it. A user without one has
// no passkey, so nothing made for another handle can pass.
func (s *Service) handleOf(ctx context.Context, u model.User) ([]byte, error) {
	if len(u.WebAuthnHandle) > 0 {
		return u.WebAuthnHandle, nil
	}
	fresh, err := s.d.Store.UserByID(ctx, u.ID)
	if errors.Is(err, model.ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("load user: %w", err)
	}
	return fresh.WebAuthnHandle, nil
}

// ConfirmPasskey finishes a registration begun by StartPasskey: p.Code is
// the ceremony id, p.Credential the browser's answer, p.Name the label
// ("" for "Passkey"). The new passkey is active at once, the user's first
// method brings recovery codes, and the second factor passed (pass).
func (s *Service) ConfirmPasskey(ctx context.Context, c Client, cur Current, p Proof) (_ Passed, err error) {
	defer func() { err = confirming("webauthn_setup", err) }()
	if s.d.WebAuthn == nil {
		return Passed{}, ErrNotImplemented
	}
	active, err := s.canEnroll(ctx, cur, "webauthn")
	if err != nil {
		return Passed{}, err
	}
	if !wellFormedPasskey(p.Code, p.Credential) {
		return Passed{}, ErrCodeFormat
	}
	label, err := cleanLabel(p.Name, defaultPasskeyLabel)
	if err != nil {
		return Passed{}, err
	}
	a, err := s.beginAttempt(ctx, c, cur.User, "webauthn_setup")
	if err != nil {
		return Passed{}, err
	}
	defer a.end(ctx)
	state, err := s.consumeCeremony(ctx, p.Code, ceremonyRegister, &cur)
	if err != nil {
		return Passed{}, a.fail(ctx, err)
	}
	handle, err := s.handleOf(ctx, cur.User)
	if err != nil {
		return Passed{}, err
	}
	pk, err := s.d.WebAuthn.FinishRegistration(handle, state, p.Credential)
	if err != nil {
		return Passed{}, a.fail(ctx, s.refusedPasskey(ctx, cur.User, err, ErrInvalidCode))
	}
	if s.cfg.Passkeys.RequireUV && !pk.UserVerified {
		return Passed{}, a.fail(ctx, s.refusedPasskey(ctx, cur.User, fmt.Errorf("%w: no user verification", model.ErrRefused), ErrInvalidCode))
	}
	if err := s.allowedModel(ctx, c, cur.User, pk); err != nil {
		return Passed{}, err
	}
	now := s.d.Now()
	f := model.Factor{ID: token.NewID(), UserID: cur.User.ID, Type: model.FactorWebAuthn, Label: uniqueLabel(label, active),
		Status: model.FactorActive, CreatedAt: now, LastUsedAt: now}
	pk.FactorID, pk.UserID, pk.CreatedAt = f.ID, cur.User.ID, now
	var codes []string
	var rows []model.RecoveryCode
	if len(active) == 0 {
		if codes, rows, err = s.recoveryCodeSet(cur.User); err != nil {
			return Passed{}, err
		}
	}
	if err := s.d.Store.AddPasskey(ctx, f, pk, rows); err != nil {
		if errors.Is(err, model.ErrConflict) {
			// The credential id is registered already (WebAuthn L3 §7.1
			// step 26): to this user (the exclude list was ignored) or,
			// suspiciously, to another.
			return Passed{}, a.fail(ctx, s.refusedPasskey(ctx, cur.User, fmt.Errorf("%w: credential id registered already", model.ErrRefused), ErrInvalidCode))
		}
		return Passed{}, fmt.Errorf("add passkey: %w", err)
	}
	return s.finishSetup(ctx, c, &cur, p, f, passed{method: "webauthn", uv: pk.UserVerified}, codes, a)
}

// allowedModel applies the AAGUID allow-list (webauthn.aaguids): when it
// is set, only those authenticator models may register, and one whose
// model is not disclosed (an all-zero AAGUID) is refused too. The refusal
// is audited; it is no wrong guess, so it is not counted as a failure.
func (s *Service) allowedModel(ctx context.Context, c Client, u model.User, pk model.Passkey) error {
	allow := s.cfg.Passkeys.AAGUIDs
	if len(allow) == 0 {
		return nil
	}
	id := formatAAGUID(pk.AAGUID)
	if slices.Contains(allow, id) {
		return nil
	}
	s.record(ctx, c, audit.PasskeyRefused, u.ID, u.Username, map[string]string{"reason": "aaguid_not_allowed", "aaguid": id})
	return ErrAuthenticatorNotAllowed
}

// formatAAGUID writes a 16-byte AAGUID as a lower-case UUID; anything
// else as hex.
func formatAAGUID(b []byte) string {
	h := hex.EncodeToString(b)
	if len(b) != 16 {
		return h
	}
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ChallengePasskey begins a second-factor assertion limited to the user's
// passkeys (ErrNoFactor when there are none); Verify with method
// "webauthn" finishes it.
func (s *Service) ChallengePasskey(ctx context.Context, c Client, cur Current) (_ Ceremony, err error) {
	defer func() { err = about("webauthn", err) }()
	if s.d.WebAuthn == nil {
		return Ceremony{}, ErrNotImplemented
	}
	if err := s.allowMethod(cur.User, "webauthn"); err != nil {
		return Ceremony{}, err
	}
	mine, err := s.d.Store.Passkeys(ctx, cur.User.ID)
	if err != nil {
		return Ceremony{}, fmt.Errorf("load passkeys: %w", err)
	}
	if len(mine) == 0 {
		return Ceremony{}, ErrNoFactor
	}
	handle, err := s.handleOf(ctx, cur.User)
	if err != nil {
		return Ceremony{}, err
	}
	options, state, err := s.d.WebAuthn.BeginLogin(handle, mine)
	if err != nil {
		return Ceremony{}, err
	}
	return s.beginCeremony(ctx, ceremonyVerify, &cur, options, state)
}

// verifyPasskey finishes the second-factor ceremony p.Code of cur with the
// assertion p.Credential: the factor that passed, the counter move the
// rotation makes, and whether the passkey verified its user.
func (s *Service) verifyPasskey(ctx context.Context, c Client, cur Current, p Proof) (model.Factor, *store.PasskeyUse, bool, error) {
	state, err := s.consumeCeremony(ctx, p.Code, ceremonyVerify, &cur)
	if err != nil {
		return model.Factor{}, nil, false, err
	}
	mine, err := s.d.Store.Passkeys(ctx, cur.User.ID)
	if err != nil {
		return model.Factor{}, nil, false, fmt.Errorf("load passkeys: %w", err)
	}
	if len(mine) == 0 {
		return model.Factor{}, nil, false, ErrNoFactor // removed since the challenge
	}
	handle, err := s.handleOf(ctx, cur.User)
	if err != nil {
		return model.Factor{}, nil, false, err
	}
	as, err := s.d.WebAuthn.FinishLogin(handle, mine, state, p.Credential)
	if err != nil {
		return model.Factor{}, nil, false, s.refusedPasskey(ctx, cur.User, err, ErrInvalidCode)
	}
	if s.cfg.Passkeys.RequireUV && !as.UserVerified {
		return model.Factor{}, nil, false, s.refusedPasskey(ctx, cur.User, fmt.Errorf("%w: no user verification", model.ErrRefused), ErrInvalidCode)
	}
	pk, use, err := s.checkCounter(ctx, c, cur.User, mine, as)
	if err != nil {
		return model.Factor{}, nil, false, err
	}
	f, err := s.d.Store.Factor(ctx, cur.User.ID, pk.FactorID)
	if err != nil {
		return model.Factor{}, nil, false, fmt.Errorf("load factor: %w", err)
	}
	return f, use, as.UserVerified, nil
}

// checkCounter finds the passkey that signed as among mine and judges its
// signature counter (WebAuthn L3 §7.2 step 22): a counter that does not
// move forward means the key may have been cloned, so the assertion is
// refused and audited, unless the authenticator reports 0 every time (as
// many synced passkeys do). The counter is then moved by a compare-and-swap
// in the transaction that starts the session.
func (s *Service) checkCounter(ctx context.Context, c Client, u model.User, mine []model.Passkey, as model.PasskeyAssertion) (model.Passkey, *store.PasskeyUse, error) {
	i := slices.IndexFunc(mine, func(p model.Passkey) bool { return bytes.Equal(p.CredentialID, as.CredentialID) })
	if i < 0 {
		// The protocol step checked ownership already; never trust that alone.
		return model.Passkey{}, nil, s.refusedPasskey(ctx, u, fmt.Errorf("%w: credential not the user's", model.ErrRefused), ErrInvalidCode)
	}
	pk := mine[i]
	if (pk.SignCount != 0 || as.SignCount != 0) && as.SignCount <= pk.SignCount {
		s.record(ctx, c, audit.PasskeyRefused, u.ID, u.Username, map[string]string{"reason": "counter_regressed",
			"factor_id": pk.FactorID, "stored": strconv.FormatUint(uint64(pk.SignCount), 10), "presented": strconv.FormatUint(uint64(as.SignCount), 10)})
		return model.Passkey{}, nil, ErrInvalidCode
	}
	return pk, &store.PasskeyUse{CredentialID: pk.CredentialID, Seen: pk.SignCount, SignCount: as.SignCount, BackupState: as.BackupState}, nil
}

// StartPasskeyLogin begins a passwordless sign-in: the browser offers the
// passkeys it holds for this site and the person picks one. It is
// ErrNotImplemented unless webauthn.passwordless is on. Each begin counts
// against the client's sign-in budget, so nobody fills the ceremony table.
func (s *Service) StartPasskeyLogin(ctx context.Context, c Client) (_ Ceremony, err error) {
	defer func() { err = about("webauthn", err) }()
	if !s.Passkeys().Passwordless {
		return Ceremony{}, ErrNotImplemented
	}
	if _, err := s.d.Limiter.Allow(ctx, "passkey:begin:ip:"+clientKey(c.IP), s.cfg.LoginPerIP); err != nil {
		return Ceremony{}, s.limited(ctx, c, model.User{}, "passkey_begin_per_ip", err, ErrRateLimited, nil)
	}
	options, state, err := s.d.WebAuthn.BeginDiscoverable()
	if err != nil {
		return Ceremony{}, err
	}
	return s.beginCeremony(ctx, ceremonyLogin, nil, options, state)
}

// PasskeyLogin finishes a passwordless sign-in begun by StartPasskeyLogin:
// the ceremony is the id it returned, assertion the browser's answer. A
// user-verified passkey of an enabled account starts an aal2 session with
// next "done". Every refusal has one answer, ErrInvalidCode, is audited
// (login_failed), and counts like a wrong password: in the client's
// sign-in budget, and once the account is known in its allowance for
// unknown browsers.
func (s *Service) PasskeyLogin(ctx context.Context, c Client, ceremony string, assertion []byte) (_ LoginResult, err error) {
	defer func() { err = about("webauthn", err) }()
	if !s.Passkeys().Passwordless {
		return LoginResult{}, ErrNotImplemented
	}
	if !wellFormedPasskey(ceremony, assertion) {
		return LoginResult{}, ErrCodeFormat
	}
	if _, err := s.d.Limiter.Allow(ctx, "login:ip:"+clientKey(c.IP), s.cfg.LoginPerIP); err != nil {
		return LoginResult{}, s.limited(ctx, c, model.User{}, "login_per_ip", err, ErrRateLimited, nil)
	}
	state, err := s.consumeCeremony(ctx, ceremony, ceremonyLogin, nil)
	if err != nil {
		return LoginResult{}, err
	}
	var u model.User
	var mine []model.Passkey
	owner := func(handle []byte) ([]model.Passkey, error) {
		found, err := s.d.Store.UserByWebAuthnHandle(ctx, handle)
		if errors.Is(err, model.ErrNotFound) {
			return nil, fmt.Errorf("%w: unknown user handle", model.ErrRefused)
		}
		if err != nil {
			return nil, fmt.Errorf("load user: %w", err)
		}
		u = found
		if mine, err = s.d.Store.Passkeys(ctx, u.ID); err != nil {
			return nil, fmt.Errorf("load passkeys: %w", err)
		}
		return mine, nil
	}
	as, err := s.d.WebAuthn.FinishDiscoverable(state, assertion, owner)
	if err != nil {
		return LoginResult{}, s.passkeyLoginFailed(ctx, c, u, "passkey_refused", s.refusedPasskey(ctx, u, err, ErrInvalidCode))
	}
	switch {
	case u.Disabled:
		return LoginResult{}, s.passkeyLoginFailed(ctx, c, u, "disabled", ErrInvalidCode)
	case !as.UserVerified:
		// The protocol step asked for it; the rule is the service's.
		return LoginResult{}, s.passkeyLoginFailed(ctx, c, u, "no_user_verification", ErrInvalidCode)
	case u.MFAFailures >= s.cfg.LockAfter:
		s.d.Audit.CountRefused("mfa_locked")
		return LoginResult{}, ErrMFALocked
	case s.allowMethod(u, "webauthn") != nil:
		// The user's group policy no longer allows passkeys: they sign in
		// with the password and set up an allowed method (policy.go).
		s.record(ctx, c, audit.LoginFailed, u.ID, u.Username, map[string]string{"reason": "method_not_allowed", "method": "webauthn"})
		return LoginResult{}, ErrMethodNotAllowed
	}
	pk, use, err := s.checkCounter(ctx, c, u, mine, as)
	if err != nil {
		return LoginResult{}, s.passkeyLoginFailed(ctx, c, u, "passkey_refused", err)
	}
	tok, now := token.New(), s.d.Now()
	ss := newSessionRow(c, token.Hash(tok), u.ID, model.AAL2, now)
	ss.AAL2At, ss.Methods, ss.UserVerified, ss.MethodFactorID = now, []string{"webauthn"}, true, pk.FactorID
	if err := s.d.Store.CreatePasskeySession(ctx, *use, pk.FactorID, ss); err != nil {
		if errors.Is(err, model.ErrConflict) {
			return LoginResult{}, s.passkeyLoginFailed(ctx, c, u, "passkey_raced", ErrInvalidCode)
		}
		return LoginResult{}, fmt.Errorf("create session: %w", err)
	}
	s.record(ctx, c, audit.LoginOK, u.ID, u.Username, map[string]string{"aal": string(model.AAL2), "next": NextDone,
		"method": "webauthn", "factor_id": pk.FactorID})
	active, err := s.activeFactors(ctx, u.ID)
	if err != nil {
		return LoginResult{}, err
	}
	markPreferred(active)
	if err := s.d.Store.TouchLogin(ctx, u.ID, now); err != nil {
		s.d.Log.WarnContext(ctx, "last sign-in time not recorded", "user_id", u.ID, "error", err)
	}
	return LoginResult{Token: tok, AAL: model.AAL2, Next: NextDone, Methods: active, Known: s.issueKnownBrowser(u.Username)}, nil
}

// passkeyLoginFailed audits a refused passwordless sign-in and, when the
// account is known, counts it in the account's allowance for unknown
// browsers, as a wrong password would be (the count is all: a passkey
// cannot be guessed, so a spent allowance does not block passkeys).
func (s *Service) passkeyLoginFailed(ctx context.Context, c Client, u model.User, reason string, err error) error {
	if !errors.Is(err, ErrInvalidCode) {
		return err
	}
	s.record(ctx, c, audit.LoginFailed, u.ID, u.Username, map[string]string{"reason": reason, "method": "webauthn"})
	if u.ID != "" {
		var le *ratelimit.LimitedError
		if _, aerr := s.d.Accounts.Allow(ctx, allowanceKey(u.Username, ""), s.cfg.LoginPerAccount); aerr != nil && !errors.As(aerr, &le) {
			s.d.Log.WarnContext(ctx, "refused passkey sign-in not counted", "user_id", u.ID, "error", aerr)
		}
	}
	return err
}

// RenameFactor gives one of the user's methods a new name (any method,
// with a second factor passed; the label rules of set-up: up to 64
// printable characters, made unique among the user's methods).
func (s *Service) RenameFactor(ctx context.Context, c Client, cur Current, id, name string) error {
	if err := RequireAAL2(cur); err != nil {
		return err
	}
	if !isID(id) {
		return ErrNotFound
	}
	label, err := cleanLabel(name, "")
	if err != nil {
		return err
	}
	if label == "" {
		return invalid("name must not be empty")
	}
	fs, err := s.d.Store.Factors(ctx, cur.User.ID)
	if err != nil {
		return fmt.Errorf("load factors: %w", err)
	}
	i := slices.IndexFunc(fs, func(f model.Factor) bool { return f.ID == id })
	if i < 0 {
		return ErrNotFound
	}
	if fs[i].Label == label {
		return nil
	}
	label = uniqueLabel(label, slices.Delete(slices.Clone(fs), i, i+1))
	err = s.d.Store.RenameFactor(ctx, cur.User.ID, id, label)
	if errors.Is(err, model.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("rename factor: %w", err)
	}
	s.record(ctx, c, audit.FactorRenamed, cur.User.ID, cur.User.Username, map[string]string{"factor_id": id, "type": string(fs[i].Type)})
	return nil
}

// appendMethod adds m to a session's methods unless it is there.
func appendMethod(ms []string, m string) []string {
	if m == "" || slices.Contains(ms, m) {
		return ms
	}
	return append(slices.Clip(ms), m)
}
