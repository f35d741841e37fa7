package token

import (
	"crypto/rand"
	"strings"
)

// recoveryAlphabet leaves out 0/o, 1/i/l so that codes read aloud or copied
// from paper are not mistyped. Its 31 symbols give 10·log2(31) ≈ 49.5 bits
// per code, well above the 20 bits SP 800-63B §5.1.2.1 requires of look-up
// secrets when attempts are rate-limited.
const recoveryAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"

// recoveryLen is the number of symbols in a recovery code.
const recoveryLen = 10

// maxRecoveryInput bounds what NormalizeRecoveryCode looks at, so a hostile
// client cannot make the server walk a megabyte of spaces.
const maxRecoveryInput = 64

// NewRecoveryCode returns a fresh single-use recovery code of 10 symbols
// from an unambiguous alphabet, formatted "xxxxx-xxxxx" for display. Store
// it only as a keyed hash (keyring MAC) of its NormalizeRecoveryCode form.
func NewRecoveryCode() string {
	var sym [recoveryLen]byte
	fill(sym[:], recoveryAlphabet)
	return string(sym[:5]) + "-" + string(sym[5:])
}

// NormalizeRecoveryCode turns what a user typed into the canonical form of a
// recovery code: spaces and dashes removed, lowercased, 10 characters, no
// dash. It reports ok=false when the result is not 10 symbols of the
// recovery alphabet or the input is longer than 64 bytes, so callers can
// refuse it before touching the database.
func NormalizeRecoveryCode(s string) (string, bool) {
	if len(s) > maxRecoveryInput {
		return "", false
	}
	var out [recoveryLen]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-' || c == '\t':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if strings.IndexByte(recoveryAlphabet, c) < 0 || n == recoveryLen {
			return "", false
		}
		out[n] = c
		n++
	}
	if n != recoveryLen {
		return "", false
	}
	return string(out[:]), true
}

// NewNumericCode returns a uniformly random decimal code of the given
// number of digits, leading zeros kept (for SMS one-time codes, which
// SP 800-63B §5.1.3.2 wants to carry at least 20 bits: 6 digits do).
// It panics if digits < 1, which is a programming error.
func NewNumericCode(digits int) string {
	if digits < 1 {
		panic("token: NewNumericCode needs at least one digit")
	}
	b := make([]byte, digits)
	fill(b, "0123456789")
	return string(b)
}

// fill sets every byte of dst to a uniformly chosen symbol of alphabet
// (at most 256 symbols). It uses rejection sampling instead of b % n,
// because the modulo would favour the first 256 mod n symbols.
func fill(dst []byte, alphabet string) {
	n := len(alphabet)
	// limit is the largest multiple of n that fits in a byte; bytes at or
	// above it are thrown away so every residue is equally likely.
	limit := 256 - 256%n
	var buf [64]byte
	for i := 0; i < len(dst); {
		rand.Read(buf[:])
		for _, r := range buf {
			if int(r) >= limit {
				continue
			}
			dst[i] = alphabet[int(r)%n]
			i++
			if i == len(dst) {
				return
			}
		}
	}
}
