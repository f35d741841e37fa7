package totp

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"time"
)

// Params are the code parameters of one TOTP factor. They travel in the
// otpauth URI and must be stored with the factor, since an app enrolled
// with them keeps using them.
type Params struct {
	Algorithm string // HMAC hash: "SHA1", "SHA256" or "SHA512"
	Digits    int    // code length: 6 or 8
	Period    int    // seconds per time step, > 0
	Skew      int    // time steps accepted either side of now, 0..10
}

// DefaultParams returns SHA1, 6 digits, 30 seconds, ±1 step: the RFC 6238
// defaults, the only ones every authenticator app honours (several ignore
// algorithm and digits in the URI). One step of skew is what RFC 6238 §5.2
// recommends as the network-delay allowance.
func DefaultParams() Params {
	return Params{Algorithm: "SHA1", Digits: 6, Period: 30, Skew: 1}
}

// maxSkew bounds the window: each extra step doubles an online guesser's
// odds per try, so a wide window would undo the attempt limits.
const maxSkew = 10

// Validate reports the first thing wrong with p, or nil.
func (p Params) Validate() error {
	if p.alg() == 0 {
		return fmt.Errorf("totp: algorithm %q: want SHA1, SHA256 or SHA512", p.Algorithm)
	}
	if p.Digits != 6 && p.Digits != 8 {
		return fmt.Errorf("totp: digits %d: want 6 or 8", p.Digits)
	}
	if p.Period <= 0 {
		return fmt.Errorf("totp: period %d: want a positive number of seconds", p.Period)
	}
	if p.Skew < 0 || p.Skew > maxSkew {
		return fmt.Errorf("totp: skew %d: want 0 to %d steps", p.Skew, maxSkew)
	}
	return nil
}

// valid is Validate without building an error, for the hot path.
func (p Params) valid() bool {
	return p.alg() != 0 && (p.Digits == 6 || p.Digits == 8) && p.Period > 0 && p.Skew >= 0 && p.Skew <= maxSkew
}

func (p Params) alg() alg {
	switch p.Algorithm {
	case "SHA1":
		return algSHA1
	case "SHA256":
		return algSHA256
	case "SHA512":
		return algSHA512
	}
	return 0
}

// secretLen is 160 bits: RFC 4226 §4 requires at least 128 and recommends
// 160, the SHA-1 output size; SP 800-63B §5.1.4.1 asks for ≥112 bits.
const secretLen = 20

// NewSecret returns a fresh 160-bit shared secret from crypto/rand. Store
// it sealed (keyring), never in clear (RFC 4226 §7.5, SP 800-63B §5.1.4.2).
func NewSecret() ([]byte, error) {
	b := make([]byte, secretLen)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("totp: %w", err)
	}
	return b, nil
}

// counterAt returns the RFC 6238 §4.2 time step T = floor((t - T0) / X) with
// T0 = 0, flooring for times before 1970 too.
func counterAt(t time.Time, period int) int64 {
	u, x := t.Unix(), int64(period)
	s := u / x
	if u%x < 0 {
		s--
	}
	return s
}

// Code returns the code for time t, zero-padded to p.Digits, or "" when p
// is invalid or secret is empty. Servers need it only in tests and tools;
// they check codes with Validate.
func Code(secret []byte, p Params, t time.Time) string {
	if !p.valid() || len(secret) == 0 {
		return ""
	}
	var k hmacKey
	k.init(p.alg(), secret)
	return format(k.hotp(uint64(counterAt(t, p.Period)), p.Digits), p.Digits)
}

// format writes v as exactly digits decimal digits.
func format(v uint32, digits int) string {
	b := make([]byte, digits)
	for i := digits - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b)
}

// Validate reports whether code is right for secret at time now, accepting
// p.Skew steps either side, and returns the time step it matched (valid
// only when ok). The caller must accept the code only if that step is later
// than the last step it accepted for this factor, recording it atomically,
// so a code cannot be replayed (RFC 6238 §5.2, SP 800-63B §5.1.4.2).
//
// code must be exactly p.Digits ASCII digits; anything else is refused
// before any HMAC is computed. Every step of the window is computed and
// compared in constant time, so timing does not tell which step, if any,
// matched. Validate allocates nothing.
func Validate(secret []byte, p Params, code string, now time.Time) (step int64, ok bool) {
	if !p.valid() || len(secret) == 0 || len(code) != p.Digits {
		return 0, false
	}
	var want uint32
	for i := 0; i < len(code); i++ {
		c := code[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		want = want*10 + uint32(c-'0')
	}
	var k hmacKey
	k.init(p.alg(), secret)
	center := counterAt(now, p.Period)
	var found int // 1 once a step matched
	for s := center - int64(p.Skew); s <= center+int64(p.Skew); s++ {
		eq := subtle.ConstantTimeEq(int32(k.hotp(uint64(s), p.Digits)), int32(want))
		// Keep the first matching step, without a data-dependent branch.
		take := int64(eq &^ found)
		step = step&^-take | s&-take
		found |= eq
	}
	return step, found == 1
}
