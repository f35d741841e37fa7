package main

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// totpPeriod is the RFC 6238 time step X the server uses by default.
const totpPeriod = 30 * time.Second

// decodeSecret reads a base32 TOTP secret as authenticator apps do: case,
// spaces and padding do not matter.
func decodeSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.ReplaceAll(s, " ", ""))
	s = strings.TrimRight(s, "=")
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decode totp secret: %w", err)
	}
	return b, nil
}

// stepAt is the RFC 6238 §4.2 time step T = floor(unix / X), with T0 = 0.
func stepAt(t time.Time) uint64 {
	return uint64(t.Unix()) / uint64(totpPeriod/time.Second)
}

// hotp is RFC 4226 §5.3 with HMAC-SHA1: dynamic truncation of the MAC of
// the big-endian counter, reduced to digits decimal digits.
func hotp(secret []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// totpCode is the RFC 6238 code of secret for the time step containing t.
func totpCode(secret []byte, t time.Time, digits int) string {
	return hotp(secret, stepAt(t), digits)
}
