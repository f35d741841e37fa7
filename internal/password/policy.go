package password

import (
	_ "embed"
	"errors"
	"strings"
	"sync"
	"unicode/utf8"
)

// Policy limits, per NIST SP 800-63B §5.1.1.2 (and ASVS V2.1.1–V2.1.3).
const (
	minChars = 8    // "at least 8 characters"
	maxBytes = 1024 // SP 800-63B asks to allow at least 64; 1024 bytes bound hashing input
)

// Errors returned by CheckPolicy. Their messages are safe to show users.
var (
	ErrTooShort = errors.New("password must be at least 8 characters")
	ErrTooLong  = errors.New("password must be at most 1024 bytes")
	ErrCommon   = errors.New("password is too common; choose one that is not on lists of frequently used passwords")
)

//go:embed common.txt
var commonText string

// common is the set of lowercased common passwords, built on first use.
var common = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{})
	for _, line := range strings.Split(commonText, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			set[strings.ToLower(line)] = struct{}{}
		}
	}
	return set
})

// CheckPolicy applies the SP 800-63B §5.1.1.2 rules for a new password:
// at least 8 characters counted as Unicode code points, at most 1024
// bytes, and not one of the most common passwords (compared
// case-insensitively). It deliberately imposes no composition rules
// (digits, symbols, mixed case), which §5.1.1.2 says not to, and accepts
// spaces and any Unicode. Passwords are compared as given; no Unicode
// normalisation is applied, here or when hashing.
func CheckPolicy(password string) error {
	if len(password) > maxBytes {
		return ErrTooLong
	}
	if utf8.RuneCountInString(password) < minChars {
		return ErrTooShort
	}
	if _, ok := common()[strings.ToLower(password)]; ok {
		return ErrCommon
	}
	return nil
}
