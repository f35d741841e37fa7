package e2etest

import (
	"testing"
	"time"
)

// TestTOTPCode checks the suites' own RFC 6238 code against the RFC's
// Appendix B vectors (SHA-1, reduced to 6 digits).
func TestTOTPCode(t *testing.T) {
	secret := []byte("12345678901234567890")
	tests := []struct {
		unix int64
		want string // last 6 digits of the RFC's 8-digit value
	}{
		{59, "287082"},
		{1111111109, "081804"},
		{1111111111, "050471"},
		{1234567890, "005924"},
		{2000000000, "279037"},
		{20000000000, "353130"},
	}
	for _, tc := range tests {
		if got := TOTPCode(secret, tc.unix/TOTPPeriod); got != tc.want {
			t.Errorf("TOTPCode(T=%d) = %s, want %s", tc.unix, got, tc.want)
		}
	}
}

// TestCodeAt reads the secret as the server shows it: base32 in groups of
// four, any case.
func TestCodeAt(t *testing.T) {
	const shown = "gezd gnbv gy3t qojq gezd gnbv gy3t qojq" // "12345678901234567890"
	if got := CodeAt(t, shown, time.Unix(1111111109, 0)); got != "081804" {
		t.Errorf("CodeAt = %s, want 081804", got)
	}
}
