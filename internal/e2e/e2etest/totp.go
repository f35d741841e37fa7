package e2etest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TOTPPeriod is the RFC 6238 time step of every code twostep accepts, in
// seconds.
const TOTPPeriod = 30

// TOTPCode is RFC 6238 with HMAC-SHA1 and 6 digits at time step step,
// written here from the RFC so the suites check the server against an
// independent implementation rather than internal/totp.
func TOTPCode(secret []byte, step int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	h := m.Sum(nil)
	off := h[len(h)-1] & 0x0f
	v := binary.BigEndian.Uint32(h[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000)
}

// NowStep is the current time step.
func NowStep() int64 { return time.Now().Unix() / TOTPPeriod }

// DecodeSecret decodes a base32 secret as the server shows it (any case,
// spaces, with or without padding), failing the test if it is not base32.
func DecodeSecret(t testing.TB, b32 string) []byte {
	t.Helper()
	s := strings.ToUpper(strings.ReplaceAll(strings.TrimRight(b32, "="), " ", ""))
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		t.Fatalf("secret %q is not base32: %v", b32, err)
	}
	return b
}

// CodeAt is the code of the base32 secret b32 at time at.
func CodeAt(t testing.TB, b32 string, at time.Time) string {
	t.Helper()
	return TOTPCode(DecodeSecret(t, b32), at.Unix()/TOTPPeriod)
}

// TOTPGen hands out codes for strictly increasing time steps, as the
// server's replay protection demands: the current step first, then the
// next one (accepted thanks to the ±1 step skew), waiting only when a step
// two or more ahead would be needed.
type TOTPGen struct {
	Secret []byte
	Last   int64 // the step of the last code handed out
}

// NewTOTPGen returns a generator for the base32 secret b32.
func NewTOTPGen(t testing.TB, b32 string) *TOTPGen {
	t.Helper()
	return &TOTPGen{Secret: DecodeSecret(t, b32)}
}

// Next returns the code of the next usable step.
func (g *TOTPGen) Next(t testing.TB) string {
	t.Helper()
	step := max(NowStep(), g.Last+1)
	if wait := time.Until(time.Unix((step-1)*TOTPPeriod, 0)); wait > 0 {
		t.Logf("waiting %v for TOTP step %d", wait.Round(time.Millisecond), step)
		time.Sleep(wait)
	}
	g.Last = step
	return TOTPCode(g.Secret, step)
}

// Wrong returns a 6-digit code valid at no step the server could accept
// in the next minutes.
func (g *TOTPGen) Wrong() string {
	now := NowStep()
	for c := 0; ; c++ {
		code := fmt.Sprintf("%06d", (c*137_731)%1_000_000)
		ok := true
		for s := now - 3; s <= now+6; s++ {
			if TOTPCode(g.Secret, s) == code {
				ok = false
			}
		}
		if ok {
			return code
		}
	}
}
