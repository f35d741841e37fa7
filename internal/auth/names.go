package auth

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// isID reports whether id has the form of the IDs twostep issues
// (token.NewID: 26 characters of lower-case base32). A factor or device ID
// a client sends in any other form names nothing: it gets ErrNotFound
// without a query, since PostgreSQL refuses a NUL or invalid UTF-8 in text
// with an error, which turned such an ID into a 500 (found by FuzzAPIJSON).
func isID(id string) bool {
	if len(id) != 26 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// NormalizeUsername lower-cases and checks a username: 1–64 characters of
// letters, digits and . _ - @ +. Names compare case-insensitively, so
// "Alice" and "alice" are one account (no look-alike duplicates).
func NormalizeUsername(name string) (string, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" || utf8.RuneCountInString(name) > 64 || !utf8.ValidString(name) {
		return "", invalid("username must be 1 to 64 characters")
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("._-@+", r) {
			return "", invalid("username may contain only letters, digits and . _ - @ +")
		}
	}
	return name, nil
}

// cleanLabel checks a user-chosen factor name: up to 64 printable
// characters; empty means def.
func cleanLabel(label, def string) (string, error) {
	label = strings.TrimSpace(label)
	if label == "" {
		return def, nil
	}
	if !utf8.ValidString(label) || utf8.RuneCountInString(label) > 64 {
		return "", invalid("name must be at most 64 characters")
	}
	for _, r := range label {
		if !unicode.IsPrint(r) {
			return "", invalid("name may contain only printable characters")
		}
	}
	return label, nil
}
