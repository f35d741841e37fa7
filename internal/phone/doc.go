// Package phone owns phone numbers as twostep sees them: the country list
// for the picker and GET /api/v1/countries, parsing what a person typed
// into one canonical E.164 string, the checks that the number can receive
// a text message, and the masked form (•••• 0123) shown everywhere after
// entry.
//
// Parsing and validation use github.com/nyaruka/phonenumbers, the Go port of
// Google's libphonenumber, because numbering plans change every month and a
// hand-written pattern cannot keep up.
//
// A number is accepted only when libphonenumber's metadata calls it valid
// AND mobile-capable (type MOBILE, or FIXED_LINE_OR_MOBILE where the plan
// cannot tell them apart, as in the US and Canada). VoIP numbers are
// refused because they prove possession of no device (NIST SP 800-63B
// §5.1.3.1: VoIP SHALL NOT be used for out-of-band authentication).
// Landlines, premium-rate, shared-cost, satellite and other special
// numbers are refused up front against SMS pumping (toll fraud), where
// attackers make a server text ranges whose revenue they share; OWASP API
// Security Top 10 2023 (API4, Unrestricted Resource Consumption) names
// paid SMS as a resource to protect, and the cheapest text is the one
// never sent.
//
// A phone number is personal data. Callers store only the E.164 form,
// encrypted (secrets at rest, docs/deploy.md), and show and log only [Mask]'s
// output; this package never logs.
package phone
