// Package keyring owns twostep's encryption keys for secrets at rest: the
// key file (format, permissions, creation, rotation), sealing and opening
// records with AES-256-GCM, and keyed hashes (HMAC-SHA256) of short codes.
//
// twostep promises that the database alone never reveals a secret (TOTP
// seeds, phone numbers, recovery and SMS codes; OWASP ASVS V6.2 / V2.10.4,
// SP 800-63B §5.1.1.2 and §5.2.7 on protecting verifier secrets). The key
// lives in a separate file so a copy of the database, a backup or an SQL
// injection does not carry it.
//
// Key file format (text, one key per line):
//
//	# comments and blank lines are ignored
//	<id> <base64 (standard, padded) of 32 random bytes>
//
// Ids are 8 lowercase hex characters, unique in the file. The last key line
// is the primary key, used for every new seal; older keys stay to open what
// they sealed until `twostep keys rotate` has re-encrypted it. Each sealed
// record stores the id of the key that sealed it.
package keyring
