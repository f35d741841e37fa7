package auth

import (
	"strings"

	"github.com/twostep/twostep/internal/model"
)

// Identity is who a forward-auth check let through, as the proxy passes
// it on to the application (Remote-User, -Name, -Email, -Groups). The
// values are one-element slices built once per session-cache entry and
// shared by every check that reads the entry, so a front end puts them
// into a header map as they are: a check on a cached session allocates
// nothing for them (issue #12). They are read-only; nobody may change or
// append to them.
type Identity struct {
	User   model.User
	Name   []string // the user name
	Email  []string // "" when unknown
	Groups []string // comma-separated, "" when none
}

// empty is the shared value of an unknown field. Caddy before 2.9 sends a
// header the answer lacks as its literal placeholder text, so every header
// is sent, empty when unknown.
var empty = []string{""}

// nobody is the Identity of a check that needs no sign-in (bypass): every
// value empty.
var nobody = &Identity{Name: empty, Email: empty, Groups: empty}

func newIdentity(u model.User) Identity {
	one := func(v string) []string {
		if v == "" {
			return empty
		}
		return []string{v}
	}
	return Identity{User: u, Name: one(u.Username), Email: one(u.Email), Groups: one(strings.Join(u.Groups, ","))}
}
