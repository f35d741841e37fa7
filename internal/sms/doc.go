// Package sms owns sending text messages: the [Sender] interface, one
// provider per file (console, file, twilio, kannel, webhook), the message
// text with its WebOTP line, and the [SendError] every provider failure
// becomes.
//
// # Never two codes for one click
//
// A provider call is not retried, with one exception. Once a request may
// have reached the provider, a timeout, a reset connection or a 5xx answer
// says nothing about whether the text went out, and a blind retry could
// deliver two codes for one click, charged twice, the second one ending
// the first (docs/sms.md "Providers"). The only failure retried, once, is
// a connection that could not be established at all (a dial error: DNS
// failure, connection refused, no route): then the request certainly
// never left this machine. Everything else goes back to the person as
// "We could not send the text, try again or use another method", who
// decides; the caller's budgets (ratelimit) bound how often they can.
//
// # Privacy
//
// The message body carries the code, so no error and no log line here
// contains it, nor a provider's credentials; a phone number appears in an
// error cause only masked ("•••• 0123"), and provider answers are quoted
// only after the number, the body and the credentials are cut out of them
// (OWASP Logging Cheat Sheet: never log authentication secrets; NIST SP
// 800-63B §5.1.3.1: the out-of-band secret is for the claimant alone). The
// console provider is the deliberate exception: it exists to print the
// message in development.
//
// Every HTTP call has a timeout (10 s unless the caller passes its own
// *http.Client) and does not follow redirects, so a slow or misconfigured
// gateway costs one bounded wait and a redirected POST cannot be replayed
// somewhere else.
//
// The package imports only the standard library: phone numbers arrive
// already validated and in E.164 form (package phone).
package sms
