package web

import (
	"strings"

	"github.com/twostep/twostep/internal/auth"
)

// Passkeys and security keys (WebAuthn) on the pages. The service begins a
// ceremony (auth.Ceremony: a single-use id and the options for the
// browser); the page renders a form holding the id in a hidden field and
// the options in data-passkey-options; /static/passkey.js, the only code
// that calls navigator.credentials, hands the options to the browser and
// submits the browser's answer in the hidden field credential. The handler
// passes id and answer to the service, which decides. Without JavaScript
// or without passkey support the button stays hidden and the page offers
// another method instead (docs/pages.md).
//
// A ceremony that writes nothing for an anonymous visitor: the sign-in page
// begins one only when "Sign in with a passkey" is pressed (a POST), never
// on page load. Signed-in pages (set-up, verification) begin theirs when
// they are shown, as the authenticator app's set-up creates its key.

// passkeyView is a ceremony as a form shows it (the "passkey" template).
type passkeyView struct {
	Kind     string // "create" (set-up), "get" (second factor), "login" (passwordless)
	Ceremony string // the ceremony id, sent back with the answer
	Options  string // JSON for navigator.credentials.create/get, base64url fields
	Error    string // why the last attempt failed, from the outcome table
}

// Call is the navigator.credentials call the script makes.
func (v passkeyView) Call() string {
	if v.Kind == "create" {
		return "create"
	}
	return "get"
}

// ceremony returns the form of ceremony c, keeping the error of the
// attempt before it.
func ceremony(kind string, c auth.Ceremony, problem string) passkeyView {
	return passkeyView{Kind: kind, Ceremony: c.ID, Options: string(c.Options), Error: problem}
}

// maxName bounds a typed name echoed back into a form; the service's own
// rule (64 characters) is what refuses it.
const maxName = 256

// planSteps are the set-up plan's steps still to do, in order.
func planSteps(plan string) []string {
	if plan == "" {
		return nil
	}
	return strings.Split(plan, ",")
}
