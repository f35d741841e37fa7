package model

import "time"

// Notification is one security notice waiting in (or gone through) the
// queue: one recipient on one channel. Recipient is sealed under KeyID
// (bound to ID); Payload is the notice's JSON (what happened, when, from
// where), never a code or secret.
type Notification struct {
	ID        string
	UserID    string
	Channel   string // "email" or "sms"
	Event     string // the notice kind (internal/notify)
	KeyID     string
	Recipient []byte // sealed
	Payload   string
	CreatedAt time.Time
	NextAt    time.Time // due from
	Attempts  int       // sends started, counted at each claim
	SentAt    time.Time // zero until the server accepted it
	FailedAt  time.Time // zero unless given up on
	LastError string
}
