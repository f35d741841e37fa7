package password

import (
	"errors"
	"fmt"
)

// Params are argon2id cost parameters. They are written into every hash,
// so changing them affects only new hashes; NeedsRehash reports old ones.
type Params struct {
	Memory  uint32 // KiB of memory per hash
	Time    uint32 // passes over the memory
	Threads uint8  // lanes (degree of parallelism)
	SaltLen uint32 // random salt length, bytes
	KeyLen  uint32 // derived key length, bytes
}

// Limits applied both to configured params and to params read back from a
// stored hash, so a corrupted or planted hash cannot make one
// verification allocate gigabytes or spin for minutes.
const (
	maxMemory  = 4 << 20 // KiB = 4 GiB
	maxTime    = 1024
	minSaltLen = 8 // RFC 9106 §3.1 minimum; 16 recommended
	maxSaltLen = 64
	minKeyLen  = 16 // 128-bit output at least
	maxKeyLen  = 128
)

// DefaultParams returns the OWASP Password Storage Cheat Sheet minimum for
// argon2id: 19 MiB, 2 passes, 1 lane, 16-byte salt (RFC 9106 §3.1),
// 32-byte key. It costs a few tens of milliseconds per hash on a server
// core: slow for an offline guesser, cheap enough for a login. The
// configuration's defaults (password.argon2.*) are the same numbers.
func DefaultParams() Params {
	return Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Validate reports every problem with p at once, or nil.
func (p Params) Validate() error {
	var errs []error
	if p.Threads < 1 {
		errs = append(errs, errors.New("password: argon2 threads must be at least 1"))
	}
	// Argon2 needs 8 KiB per lane (RFC 9106 §3.1).
	if p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory {
		errs = append(errs, fmt.Errorf("password: argon2 memory %d KiB: want %d KiB to 4 GiB", p.Memory, 8*max(1, uint32(p.Threads))))
	}
	if p.Time < 1 || p.Time > maxTime {
		errs = append(errs, fmt.Errorf("password: argon2 time %d: want 1 to %d", p.Time, maxTime))
	}
	if p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen {
		errs = append(errs, fmt.Errorf("password: salt length %d: want %d to %d bytes", p.SaltLen, minSaltLen, maxSaltLen))
	}
	if p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen {
		errs = append(errs, fmt.Errorf("password: key length %d: want %d to %d bytes", p.KeyLen, minKeyLen, maxKeyLen))
	}
	return errors.Join(errs...)
}
