package auth

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/model"
)

// Group policies (docs/rollout.md): what each group of users must do about
// a second factor. Written in configuration (mfa.policies) one string per
// policy, the first whose group the user is in wins:
//
//	GROUP required|optional [methods=M+M...] [grace=DURATION]
//
// GROUP is a group name or * (everyone). methods lists the methods the
// policy allows, joined by + (totp, sms, webauthn; all three when not
// given): + rather than a comma, so a policy survives the environment's
// comma-separated lists (TWOSTEP_MFA_POLICIES="admins required
// methods=webauthn+totp grace=0,* required"). grace is how long a user
// without an allowed method may postpone setting one up: a Go duration
// (72h) or days (14d); mfa.grace_period when not given.
//
// Recovery codes are not a method a policy lists: they are the way back in
// when a device is lost, accepted whenever the user has at least one
// method the policy allows, and never for a user who has none (they would
// reach aal2 without any allowed method).
//
// After the configured policies comes an implicit last one for everyone:
// "* required" or "* optional" as mfa.required says, every method, grace
// mfa.grace_period; so a configuration without policies behaves as before.

// MFAPolicy is one group policy.
type MFAPolicy struct {
	Group    string             // a group name, or "*" for everyone
	Required bool               // a second factor must be set up and passed
	Methods  []model.FactorType // the methods allowed; nil allows every method
	// Grace is how long a user without an allowed method may postpone
	// set-up, counted from their first sign-in under this policy; 0 none.
	Grace    time.Duration
	GraceSet bool   // grace= was written; else mfa.grace_period applies
	Text     string // as configured; "" for the implicit default
}

// Key names the policy in the stored grace state: its group. Editing a
// policy's other settings keeps the grace periods running under it; a user
// moved to a policy of another group starts that one's at their next
// sign-in.
func (p MFAPolicy) Key() string { return p.Group }

// Allows reports whether the policy allows the method ("totp", "sms",
// "webauthn"). "recovery" is never in a policy's list: see allowsRecovery.
func (p MFAPolicy) Allows(method string) bool {
	if p.Methods == nil {
		return method == string(model.FactorTOTP) || method == string(model.FactorSMS) || method == string(model.FactorWebAuthn)
	}
	return slices.Contains(p.Methods, model.FactorType(method))
}

// maxGrace bounds a grace period (and an extension): a year is far beyond
// any roll-out, and a typo of 10000d should not silently mean "never".
const maxGrace = 365 * 24 * time.Hour

// ParseGrace reads a grace period or an extension: days ("14d") or a Go
// duration ("72h", "0"), from 0 to 365 days.
func ParseGrace(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("%q is not a number of days like 14d", s)
		}
		if days > 365 {
			return 0, fmt.Errorf("%q is more than 365 days", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not a duration: write days (14d) or hours (72h)", s)
		}
	}
	if d < 0 || d > maxGrace {
		return 0, fmt.Errorf("%q must be between 0 and 365 days", s)
	}
	return d, nil
}

// ParseMFAPolicy parses one entry of mfa.policies. Its errors name the
// part that is wrong (group, requirement, methods, grace); the caller adds
// which policy it was.
func ParseMFAPolicy(s string) (MFAPolicy, error) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return MFAPolicy{}, fmt.Errorf(`want "GROUP required|optional [methods=M+M] [grace=DURATION]"`)
	}
	p := MFAPolicy{Group: f[0], Text: s}
	if p.Group != "*" && !validGroup(p.Group) {
		return MFAPolicy{}, fmt.Errorf("group: %q is not * or a group name (letters, digits and . _ -)", p.Group)
	}
	switch f[1] {
	case "required":
		p.Required = true
	case "optional":
	default:
		return MFAPolicy{}, fmt.Errorf("requirement: %q is neither required nor optional", f[1])
	}
	seen := map[string]bool{}
	for _, opt := range f[2:] {
		key, val, ok := strings.Cut(opt, "=")
		if !ok || (key != "methods" && key != "grace") {
			return MFAPolicy{}, fmt.Errorf("%q: options are methods=M+M and grace=DURATION", opt)
		}
		if seen[key] {
			return MFAPolicy{}, fmt.Errorf("%s: given twice", key)
		}
		seen[key] = true
		if key == "grace" {
			d, err := ParseGrace(val)
			if err != nil {
				return MFAPolicy{}, fmt.Errorf("grace: %w", err)
			}
			p.Grace, p.GraceSet = d, true
			continue
		}
		p.Methods = []model.FactorType{}
		for m := range strings.SplitSeq(val, "+") {
			switch t := model.FactorType(m); t {
			case model.FactorTOTP, model.FactorSMS, model.FactorWebAuthn:
				if slices.Contains(p.Methods, t) {
					return MFAPolicy{}, fmt.Errorf("methods: %s is listed twice", m)
				}
				p.Methods = append(p.Methods, t)
			default:
				return MFAPolicy{}, fmt.Errorf("methods: %q is not totp, sms or webauthn (recovery codes are always a backup)", m)
			}
		}
	}
	if !p.Required && p.GraceSet && p.Grace > 0 {
		return MFAPolicy{}, fmt.Errorf("grace: an optional policy has nothing to postpone")
	}
	return p, nil
}

// validGroup is the rule SetAttributes applies to group names.
func validGroup(g string) bool {
	return g != "" && len(g) <= 64 && strings.Trim(g, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == ""
}

// ParseMFAPolicies parses mfa.policies; every bad policy is reported, each
// error naming the key, the policy's place and text, and the part that is
// wrong. A policy after a * policy could never match, so it is an error.
func ParseMFAPolicies(list []string) ([]MFAPolicy, []error) {
	var ps []MFAPolicy
	var errs []error
	catchAll := -1
	for i, s := range list {
		p, err := ParseMFAPolicy(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("mfa.policies[%d] %q: %w", i, s, err))
			continue
		}
		if catchAll >= 0 {
			errs = append(errs, fmt.Errorf("mfa.policies[%d] %q: group: never used, policy %d (*) matches everyone first", i, s, catchAll))
			continue
		}
		if p.Group == "*" {
			catchAll = i
		}
		ps = append(ps, p)
	}
	return ps, errs
}

// policies resolves the configured policies: grace periods not written
// take mfa.grace_period, and the implicit default comes last unless a *
// policy is there already.
func policies(cfg Config) []MFAPolicy {
	ps := make([]MFAPolicy, 0, len(cfg.Policies)+1)
	for _, p := range cfg.Policies {
		if !p.GraceSet && p.Required {
			p.Grace = cfg.GracePeriod
		}
		ps = append(ps, p)
	}
	if len(ps) == 0 || ps[len(ps)-1].Group != "*" {
		def := MFAPolicy{Group: "*", Required: cfg.MFARequired}
		if def.Required {
			def.Grace = cfg.GracePeriod
		}
		ps = append(ps, def)
	}
	return ps
}

// policyFor is the one place that says which policy applies to u: the
// first whose group u is in. Every rule about which method is offered,
// set up or accepted, whether a second factor is required and how long
// set-up may wait asks it.
func (s *Service) policyFor(u model.User) MFAPolicy {
	for _, p := range s.policies {
		if p.Group == "*" || slices.Contains(u.Groups, p.Group) {
			return p
		}
	}
	return s.policies[len(s.policies)-1] // the * default; not reached
}

// Policy returns the policy that applies to u, for presenters that word a
// page by it (which methods to list); the service enforces it itself.
func (s *Service) Policy(u model.User) MFAPolicy { return s.policyFor(u) }

// allowedOf keeps the factors of fs the policy allows.
func allowedOf(p MFAPolicy, fs []model.Factor) []model.Factor {
	var out []model.Factor
	for _, f := range fs {
		if p.Allows(string(f.Type)) {
			out = append(out, f)
		}
	}
	return out
}

// allowMethod refuses a method u's policy does not allow, before anything
// is counted or written: a refusal of the policy, not a wrong code.
func (s *Service) allowMethod(u model.User, method string) error {
	if !s.policyFor(u).Allows(method) {
		return ErrMethodNotAllowed
	}
	return nil
}

// allowsRecovery: recovery codes are accepted only from a user who has an
// active method the policy allows (policy.go, top).
func (s *Service) allowsRecovery(ctx context.Context, u model.User) error {
	active, err := s.activeFactors(ctx, u.ID)
	if err != nil {
		return err
	}
	if len(allowedOf(s.policyFor(u), active)) == 0 {
		return ErrMethodNotAllowed
	}
	return nil
}

// Usable returns the user's active methods their policy allows, with the
// preferred one marked: what sign-in offers, and what decides whether the
// user verifies or sets up. A user whose only methods the policy no
// longer allows gets none, and is sent to set up an allowed one.
func (s *Service) Usable(ctx context.Context, u model.User) ([]model.Factor, error) {
	fs, err := s.activeFactors(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	fs = allowedOf(s.policyFor(u), fs)
	markPreferred(fs)
	return fs, nil
}
