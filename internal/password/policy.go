package password

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"unicode"
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
	ErrCommon   = errors.New("password is too common; choose one that is not on lists of frequently used or breached passwords")
	ErrContext  = errors.New("password is too close to your user name or the service's name; choose one that is not built from them")
)

// breachedGz is the list of common and breached passwords (breached/README.md).
//
//go:embed breached/list.txt.gz
var breachedGz []byte

// breached is the sorted, lower-cased list, built on first use (about 5 MB
// in memory, built in tens of milliseconds, only when a password is set).
var breached = sync.OnceValue(loadBreached)

func loadBreached() []string {
	zr, err := gzip.NewReader(bytes.NewReader(breachedGz))
	if err != nil {
		panic("password: embedded list: " + err.Error()) // a build defect, caught by the tests
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		panic("password: embedded list: " + err.Error())
	}
	list := strings.Split(strings.ToLower(string(b)), "\n")
	slices.Sort(list)
	return slices.Compact(list)
}

// BreachedCount is the number of passwords in the embedded list.
func BreachedCount() int { return len(breached()) }

// CheckPolicy applies the SP 800-63B §5.1.1.2 rules for a new password:
// at least 8 characters counted as Unicode code points, at most 1024
// bytes, not on the embedded list of common and breached passwords
// (compared case-insensitively), and not built from a context word — the
// user name or the service's name — with a few characters around it.
// It deliberately imposes no composition rules (digits, symbols, mixed
// case), which §5.1.1.2 says not to, and accepts spaces and any Unicode.
// Passwords are compared as given; no Unicode normalisation is applied,
// here or when hashing.
func CheckPolicy(password string, context ...string) error {
	if len(password) > maxBytes {
		return ErrTooLong
	}
	if utf8.RuneCountInString(password) < minChars {
		return ErrTooShort
	}
	low := strings.ToLower(password)
	if _, ok := slices.BinarySearch(breached(), low); ok {
		return ErrCommon
	}
	if fromContext(low, context) {
		return ErrContext
	}
	return nil
}

// fromContext reports whether the lower-cased password is essentially one
// of the context words: with every occurrence of the word (of at least 3
// letters or digits, compared without spaces and punctuation) taken out,
// fewer than minChars characters are left — "alice2024!" for alice, or
// "ExampleCorp#1" for Example Corp — while a long passphrase that merely
// mentions the name stays allowed.
func fromContext(low string, words []string) bool {
	for _, w := range words {
		w = strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				return unicode.ToLower(r)
			}
			return -1
		}, w)
		if utf8.RuneCountInString(w) < 3 {
			continue
		}
		for _, p := range []string{low, strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				return r
			}
			return -1
		}, low)} {
			if strings.Contains(p, w) && utf8.RuneCountInString(strings.ReplaceAll(p, w, "")) < minChars {
				return true
			}
		}
	}
	return false
}
