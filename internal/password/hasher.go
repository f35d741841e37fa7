package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"runtime"
	"time"

	"golang.org/x/crypto/argon2"
)

// ErrBusy means every hashing slot stayed taken for the whole wait. Callers
// answer 503 with Retry-After rather than queueing without bound.
var ErrBusy = errors.New("password: too many password checks in progress, retry shortly")

// Hasher hashes and verifies passwords with argon2id, at most a fixed number
// at a time. It is safe for concurrent use.
type Hasher struct {
	p       Params
	sem     chan struct{} // one token per running argon2 computation
	maxWait time.Duration
	dummy   string // PHC hash nobody knows a password for; see VerifyDummy
}

// NewHasher returns a Hasher with params p that runs at most concurrency
// argon2 computations at once (runtime.NumCPU() when concurrency ≤ 0) and
// lets a caller wait at most maxWait for a slot (no wait when maxWait ≤ 0).
//
// The bound matters because argon2id is memory-hard by design: n parallel
// logins hold n × p.Memory KiB. Peak memory is thus concurrency × Memory,
// whatever the request rate. More slots than cores would add latency, not
// throughput. p must be valid (see Params.Validate); config validation is
// where a bad value is reported, so NewHasher panics on one.
func NewHasher(p Params, concurrency int, maxWait time.Duration) *Hasher {
	if err := p.Validate(); err != nil {
		panic(err)
	}
	if concurrency <= 0 {
		concurrency = runtime.NumCPU()
	}
	// The dummy hash has the current params but a random key rather than
	// the hash of any password, so no input matches it, and building it
	// costs no argon2 run at start-up.
	salt, key := make([]byte, p.SaltLen), make([]byte, p.KeyLen)
	rand.Read(salt)
	rand.Read(key)
	return &Hasher{
		p:       p,
		sem:     make(chan struct{}, concurrency),
		maxWait: maxWait,
		dummy:   encode(p, salt, key),
	}
}

// acquire takes a hashing slot, waiting at most h.maxWait and no longer
// than ctx allows. On success the caller must call release.
func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case h.sem <- struct{}{}:
		return nil
	default:
	}
	if h.maxWait <= 0 {
		return ErrBusy
	}
	t := time.NewTimer(h.maxWait)
	defer t.Stop()
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-t.C:
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.sem }

// derive runs argon2id under a slot.
func (h *Hasher) derive(ctx context.Context, password string, p Params, salt []byte) ([]byte, error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	defer h.release()
	return argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen), nil
}

// Hash returns the PHC string of password under a fresh random salt:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>, base64 without
// padding. It fails only with ErrBusy or ctx's error.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.p.SaltLen)
	rand.Read(salt) // never fails since Go 1.24
	key, err := h.derive(ctx, password, h.p, salt)
	if err != nil {
		return "", err
	}
	return encode(h.p, salt, key), nil
}

// Verify reports whether password matches encoded, using the params stored
// in encoded rather than the Hasher's, so hashes made before a parameter
// change keep working (see NeedsRehash). It returns an error for a
// malformed or out-of-range encoded string, and ErrBusy or ctx's error
// when no slot is free. The keys are compared in constant time.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (bool, error) {
	ph, err := decode(encoded)
	if err != nil {
		return false, err
	}
	key, err := h.derive(ctx, password, ph.p, ph.salt)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(key, ph.key) == 1, nil
}

// VerifyDummy does the work of a failed Verify against a hash with the
// current params. Call it when the username is unknown (or the account
// cannot sign in), so such a login takes as long as a wrong password and
// timing does not reveal which accounts exist (ASVS V2.2.1 / OWASP
// Authentication Cheat Sheet, "authentication responses"). It returns only
// ErrBusy or ctx's error: the outcome is always "no match".
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	_, err := h.Verify(ctx, h.dummy, password)
	return err
}

// NeedsRehash reports whether encoded was made with params other than the
// Hasher's (or does not parse), so the caller should store a fresh Hash of
// the password it has just verified (OWASP Password Storage Cheat Sheet,
// "upgrading the work factor").
func (h *Hasher) NeedsRehash(encoded string) bool {
	ph, err := decode(encoded)
	return err != nil || ph.p != h.p
}
