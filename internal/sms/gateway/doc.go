// Package gateway holds the SMS providers that hand each message to a
// remote SMS gateway over HTTP: [Twilio] (its Messages REST API), [Kannel]
// (an smsbox's sendsms interface) and [Webhook] (a POST to any URL), and
// the HTTP plumbing they share (a bounded client, the one retry, errors
// that never quote a URL). Each implements sms.Sender.
//
// The name says what sets these apart from the console and file providers
// left in package sms: a gateway is the remote service that delivers
// texts to phones (docs/sms.md and Kannel's own docs use the word), and
// reaching it is what needs net/http. Keeping them here keeps package sms,
// which the service layer imports, free of HTTP (internal/arch_test.go);
// only the composition root (internal/cli) imports this package, to build
// the provider sms.provider names.
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
// The privacy rules of package sms hold here: no error contains the body
// or a credential, numbers appear masked, and a provider's answer is
// quoted only through sms.Quote. Errors name a gateway by scheme and host
// only, since a URL's path or query can hold a token, Kannel's password or
// the message text.
//
// Every HTTP call has a timeout (10 s unless the caller passes its own
// *http.Client) and does not follow redirects, so a slow or misconfigured
// gateway costs one bounded wait and a redirected POST cannot be replayed
// somewhere else.
package gateway
