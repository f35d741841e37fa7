// Package password owns password storage and password rules: argon2id
// hashing in PHC string format under a concurrency bound, constant-cost
// verification (including for unknown users), rehash detection, and the
// NIST SP 800-63B §5.1.1.2 acceptance policy.
//
// Argon2id with the OWASP Password Storage Cheat Sheet parameters is the
// recommended memory-hard function (ASVS V2.4.1, V2.4.4; RFC 9106). Being
// memory-hard is also what makes it a denial-of-service lever: every hash
// holds Params.Memory KiB, so Hasher caps how many run at once and turns
// the excess away with ErrBusy (503 + Retry-After) instead of letting a
// login flood exhaust memory.
package password
