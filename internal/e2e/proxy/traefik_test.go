package proxy

import (
	"net/netip"
	"testing"
)

// identity is what the recommended Traefik configuration lists in
// authResponseHeaders, and (with underscores) removes with a headers
// middleware.
var (
	traefikIdentity   = []string{"Remote-User", "Remote-Name", "Remote-Email", "Remote-Groups"}
	traefikUnderscore = []string{"Remote_User", "Remote_Name", "Remote_Email", "Remote_Groups"}
)

// TestTraefikDoubleForwardAuth runs the forward-auth journey and the attack
// corpus through traefikDouble, a test double of Traefik's ForwardAuth
// middleware and entry point (not Traefik itself; see
// traefik_double_test.go), with the configuration docs/proxies.md
// recommends. Then the corpus again with trustForwardHeader and the entry
// point's forwardedHeaders trust in their other combinations, to show what
// each setting risks: only trustForwardHeader: true together with an entry
// point that trusts the client's address (forwardedHeaders.insecure, or
// trustedIPs that cover clients) hands the client's X-Forwarded-Host and
// -Uri to twostep, and then a client chooses the path twostep judges.
func TestTraefikDoubleForwardAuth(t *testing.T) {
	yes, no := true, false
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} // the test's clients
	address := "http://{twostep}/api/v1/auth/forward-auth"

	t.Run("recommended", func(t *testing.T) {
		s := newSetupWith(t, nil, startTraefikDouble(traefikConfig{
			address:              address,
			trustForwardHeader:   &no,
			authRequestHeaders:   []string{"Accept", "Authorization", "Cookie"},
			authResponseHeaders:  traefikIdentity,
			deleteRequestHeaders: traefikUnderscore,
		}))
		tok := forwardAuthJourney(t, s, proxyTraits{})
		t.Run("attack corpus", func(t *testing.T) { runCorpus(t, s, tok, proxyTraits{}) })
	})

	for _, tc := range []struct {
		name   string
		cfg    traefikConfig
		traits proxyTraits
	}{
		// The entry point's default: it deletes every client's X-Forwarded-*
		// before the middleware sees them, so trusting them is safe.
		{"trustForwardHeader true, client not trusted",
			traefikConfig{trustForwardHeader: &yes},
			proxyTraits{passesUnderscored: true}},
		// The risk: the client's own X-Forwarded-Uri and -Host reach twostep.
		{"trustForwardHeader true, client trusted",
			traefikConfig{trustForwardHeader: &yes, trustedIPs: loopback},
			proxyTraits{passesUnderscored: true, trustsClientForwarded: true}},
		{"trustForwardHeader true, entry point insecure",
			traefikConfig{trustForwardHeader: &yes, insecure: true},
			proxyTraits{passesUnderscored: true, trustsClientForwarded: true}},
		// false deletes them in the middleware whatever the entry point did.
		{"trustForwardHeader false, client trusted",
			traefikConfig{trustForwardHeader: &no, trustedIPs: loopback},
			proxyTraits{passesUnderscored: true}},
		// Not set: the legacy code overwrites the four headers twostep reads.
		{"trustForwardHeader unset, client trusted",
			traefikConfig{trustedIPs: loopback},
			proxyTraits{passesUnderscored: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.address = address
			tc.cfg.authResponseHeaders = traefikIdentity
			s := newSetupWith(t, nil, startTraefikDouble(tc.cfg))
			runCorpus(t, s, s.signInAlice(t), tc.traits)
		})
	}
}
