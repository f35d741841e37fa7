package model

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// AuditEvent is one entry of the tamper-evident audit log. It never holds a
// secret, code or password.
type AuditEvent struct {
	Seq       int64 // 1, 2, 3, ... without gaps
	At        time.Time
	Event     string // stable snake_case name, e.g. "login_failed"
	UserID    string
	Username  string
	IP        string
	UserAgent string
	Detail    string // small JSON object of non-secret attributes
	PrevHash  []byte
	Hash      []byte
}

// ChainHash returns SHA-256 over the previous entry's hash and every field of
// e except Hash, each length-prefixed so no two different entries encode the
// same. Altering, inserting or deleting an entry breaks every later link.
func (e AuditEvent) ChainHash(prev []byte) []byte {
	h := sha256.New()
	var n [8]byte
	write := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	write(prev)
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(e.At.UnixMilli()))
	h.Write(n[:])
	for _, s := range []string{e.Event, e.UserID, e.Username, e.IP, e.UserAgent, e.Detail} {
		write([]byte(s))
	}
	return h.Sum(nil)
}
