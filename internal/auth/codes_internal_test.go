package auth

import (
	"regexp"
	"testing"
)

// FuzzIsDigits: the TOTP/SMS code check accepts exactly ASCII digit strings
// of the allowed lengths — no signs, spaces, Unicode digits or letters.
func FuzzIsDigits(f *testing.F) {
	for _, s := range []string{"123456", "12345678", "12 345", "١٢٣٤٥٦", "+12345", "", "0000000000"} {
		f.Add(s)
	}
	re := regexp.MustCompile(`^[0-9]{6,8}$`)
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isDigits(s, 6, 8), re.MatchString(s); got != want {
			t.Fatalf("isDigits(%q) = %v, want %v", s, got, want)
		}
	})
}
