package token

import (
	"encoding/base64"
	"strings"
	"testing"
)

// draws is how many values the uniqueness and alphabet tests generate.
const draws = 5000

func TestFormats(t *testing.T) {
	tests := []struct {
		name     string
		gen      func() string
		length   int
		alphabet string
		dashAt   int // index of a required '-', or -1
	}{
		{"New", New, 43, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", -1},
		{"NewID", NewID, 26, "abcdefghijklmnopqrstuvwxyz234567", -1},
		{"NewRecoveryCode", NewRecoveryCode, 11, recoveryAlphabet, 5},
		{"NewNumericCode(6)", func() string { return NewNumericCode(6) }, 6, "0123456789", -1},
		{"NewNumericCode(1)", func() string { return NewNumericCode(1) }, 1, "0123456789", -1},
		{"NewNumericCode(20)", func() string { return NewNumericCode(20) }, 20, "0123456789", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range draws {
				s := tt.gen()
				if len(s) != tt.length {
					t.Fatalf("%q: length %d, want %d", s, len(s), tt.length)
				}
				for i, c := range s {
					if i == tt.dashAt {
						if c != '-' {
							t.Fatalf("%q: want '-' at %d", s, i)
						}
						continue
					}
					if !strings.ContainsRune(tt.alphabet, c) {
						t.Fatalf("%q: character %q outside alphabet", s, c)
					}
				}
			}
		})
	}
}

func TestUnique(t *testing.T) {
	tests := []struct {
		name string
		gen  func() string
	}{
		{"New", New},
		{"NewID", NewID},
		{"NewRecoveryCode", NewRecoveryCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := make(map[string]bool, draws)
			for range draws {
				s := tt.gen()
				if seen[s] {
					t.Fatalf("duplicate %q after %d draws", s, len(seen))
				}
				seen[s] = true
			}
		})
	}
}

func TestNewDecodes(t *testing.T) {
	b, err := base64.RawURLEncoding.DecodeString(New())
	if err != nil || len(b) != 32 {
		t.Fatalf("decode: %d bytes, err %v; want 32 bytes", len(b), err)
	}
}

func TestHash(t *testing.T) {
	a, b := New(), New()
	if len(Hash(a)) != 32 {
		t.Fatalf("Hash length %d, want 32", len(Hash(a)))
	}
	if h1, h2 := Hash(a), Hash(a); string(h1) != string(h2) {
		t.Error("Hash is not deterministic")
	}
	if string(Hash(a)) == string(Hash(b)) {
		t.Error("different tokens share a hash")
	}
	// SHA-256("abc"), FIPS 180-2 appendix B.1.
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := hexString(Hash("abc")); got != want {
		t.Errorf("Hash(abc) = %s, want %s", got, want)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte(digits[c>>4])
		sb.WriteByte(digits[c&15])
	}
	return sb.String()
}

// TestUniformity is a coarse check that rejection sampling reaches every
// symbol with roughly equal frequency; a modulo bias of 8/256 on the first
// symbols would not show at this size, so it guards gross mistakes only.
func TestUniformity(t *testing.T) {
	counts := map[rune]int{}
	const n = 20000
	for range n {
		for _, c := range strings.ReplaceAll(NewRecoveryCode(), "-", "") {
			counts[c]++
		}
	}
	if len(counts) != len(recoveryAlphabet) {
		t.Fatalf("saw %d symbols, want %d", len(counts), len(recoveryAlphabet))
	}
	want := float64(n*recoveryLen) / float64(len(recoveryAlphabet))
	for c, got := range counts {
		if float64(got) < want*0.9 || float64(got) > want*1.1 {
			t.Errorf("symbol %q seen %d times, want about %.0f", c, got, want)
		}
	}
}

func TestNormalizeRecoveryCode(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"abcde-fghjk", "abcdefghjk", true},
		{"ABCDE-FGHJK", "abcdefghjk", true},
		{"abcdefghjk", "abcdefghjk", true},
		{" abcde fghjk ", "abcdefghjk", true},
		{"ab-cd-ef-gh-jk", "abcdefghjk", true},
		{"23456\t789ab", "23456789ab", true},
		{"abcde-fghj", "", false},                                    // 9 symbols
		{"abcde-fghjkm", "", false},                                  // 11 symbols
		{"", "", false},                                              // empty
		{"-----", "", false},                                         // only separators
		{"abcde-fghj0", "", false},                                   // 0 excluded
		{"abcde-fghj1", "", false},                                   // 1 excluded
		{"abcde-fghji", "", false},                                   // i excluded
		{"abcde-fghjl", "", false},                                   // l excluded
		{"abcde-fghjo", "", false},                                   // o excluded
		{"abcde_fghjk", "", false},                                   // underscore is not a separator
		{"abcde-fghj\u00e9", "", false},                              // non-ASCII
		{"abcde-fghjk\x00", "", false},                               // NUL
		{strings.Repeat(" ", 60) + "abcdefghjk", "", false},          // over 64 bytes
		{strings.Repeat(" ", 54) + "abcdefghjk", "abcdefghjk", true}, // exactly 64 bytes
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := NormalizeRecoveryCode(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("NormalizeRecoveryCode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestNormalizeGenerated(t *testing.T) {
	for range 1000 {
		c := NewRecoveryCode()
		got, ok := NormalizeRecoveryCode(c)
		if !ok || got != strings.ReplaceAll(c, "-", "") {
			t.Fatalf("NormalizeRecoveryCode(%q) = %q, %v", c, got, ok)
		}
	}
}

func TestNewNumericCodePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewNumericCode(0) did not panic")
		}
	}()
	NewNumericCode(0)
}

// FuzzNormalizeRecoveryCode: whatever comes in, an accepted code is the
// 10-character canonical form, and normalising its printed form (any case,
// with its dash) gives it back.
func FuzzNormalizeRecoveryCode(f *testing.F) {
	for _, s := range []string{"abcde-fghjk", "ABCDE FGHJK", "23456789ab", "", "-", "aaaaa-aaaaa-a", "0oooo-11111", "ｂｃｄｅｆ-ｇｈｊｋｍ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		norm, ok := NormalizeRecoveryCode(s)
		if !ok {
			if norm != "" {
				t.Fatalf("refused %q but returned %q", s, norm)
			}
			return
		}
		if len(norm) != 10 || strings.Trim(norm, "23456789abcdefghjkmnpqrstuvwxyz") != "" {
			t.Fatalf("%q normalised to %q", s, norm)
		}
		again, ok := NormalizeRecoveryCode(strings.ToUpper(norm[:5] + "-" + norm[5:]))
		if !ok || again != norm {
			t.Fatalf("round trip of %q: %q, %v", norm, again, ok)
		}
	})
}
