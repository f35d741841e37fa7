// Package totp owns one-time passwords from authenticator apps: secrets,
// their text and otpauth:// URI forms, QR codes, and code generation and
// verification per RFC 4226 (HOTP) and RFC 6238 (TOTP).
//
// The package is pure: it keeps no state and reads no clock. Validate
// returns the time step a code matched so the caller can record it and
// refuse it ever after (RFC 6238 §5.2, SP 800-63B §5.1.4.2 / §5.1.5.2: an
// OTP is accepted only once), which needs the store's atomic insert.
//
// Verification computes HMAC (RFC 2104) over stack buffers, because it runs
// on every second-factor check and a hot path under load; see hmac.go.
package totp
