// Package sms owns sending text messages: the [Sender] interface, the
// local providers (console, file), the message text with its WebOTP line,
// and the [SendError] every provider failure becomes, with the sentences
// a person reads ([MsgUnavailable] and the others). The providers that
// talk to a remote gateway over HTTP (twilio, kannel, webhook) live in
// package gateway below this one and build on [Check], [Fail] and [Quote].
//
// # No network here
//
// The service layer (package auth) depends on this package, and must not
// reach net/http, not even through a package in between
// (internal/arch_test.go). So this package imports only the standard
// library and none of its HTTP: phone numbers arrive already validated
// and in E.164 form (package phone), and whatever speaks HTTP is in
// package gateway, which only the composition root (internal/cli)
// imports.
//
// # Never two codes for one click
//
// A Sender hands a message to its provider once. A send that may have
// reached the provider is never repeated: a blind retry could deliver two
// codes for one click, charged twice, the second one ending the first
// (docs/sms.md "Providers"). Failures go back to the person as "We could
// not send the text, try again or use another method", who decides; the
// caller's budgets (ratelimit) bound how often they can. Package gateway
// documents the one exception, a connection that could not be opened.
//
// # Privacy
//
// The message body carries the code, so no error and no log line here or
// in package gateway contains it, nor a provider's credentials; a phone
// number appears in an error cause only masked ("•••• 0123"), and
// provider answers are quoted only after the number, the body and the
// credentials are cut out of them ([Quote]; OWASP Logging Cheat Sheet:
// never log authentication secrets; NIST SP 800-63B §5.1.3.1: the
// out-of-band secret is for the claimant alone). The console provider is
// the deliberate exception: it exists to print the message in
// development.
package sms
