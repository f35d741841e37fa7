package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/twostep/twostep/internal/passkey/passkeytest"
)

// passkeyOrigin is the public_url the servers get for verify-passkey:
// passkeys need a host name (an IP cannot be a relying party ID), and the
// software authenticator signs for this origin whichever instance answers.
const passkeyOrigin = "http://localhost:8443"

var benchRP = virtualwebauthn.RelyingParty{ID: "localhost", Name: "twostep", Origin: passkeyOrigin}

// passkeyUser is a user's software authenticator and credential (ES256).
type passkeyUser struct {
	mu   sync.Mutex // a credential's counter moves one assertion at a time
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

type ceremonyAnswer struct {
	Ceremony string          `json:"ceremony"`
	Options  json.RawMessage `json:"options"`
}

// enrolPasskeys registers one passkey for every user, who holds an aal1
// session from seeding (not measured).
func enrolPasskeys(ctx context.Context, c *client, users []*user, conc int) error {
	return eachUser(ctx, users, conc, func(u *user) error {
		if err := enrolPasskey(ctx, c, u); err != nil {
			return fmt.Errorf("passkey for %s: %w", u.name, err)
		}
		return nil
	})
}

func enrolPasskey(ctx context.Context, c *client, u *user) error {
	var begin ceremonyAnswer
	st, err := postSetup(ctx, c, "/api/v1/setup/webauthn", u.aal1, map[string]string{}, &begin)
	if err := want(st, err, 200, "setup/webauthn"); err != nil {
		return err
	}
	opts, err := virtualwebauthn.ParseAttestationOptions(string(begin.Options))
	if err != nil {
		return err
	}
	p := &passkeyUser{auth: virtualwebauthn.NewAuthenticator(), cred: passkeytest.NewCredential()}
	p.auth.Options.UserHandle = []byte(opts.UserID)
	body := map[string]any{"ceremony": begin.Ceremony, "name": "bench",
		"credential": json.RawMessage(virtualwebauthn.CreateAttestationResponse(benchRP, p.auth, p.cred, *opts))}
	var done sessionAnswer
	st, err = postSetup(ctx, c, "/api/v1/setup/webauthn/confirm", u.aal1, body, &done)
	if err := want(st, err, 200, "setup/webauthn/confirm"); err != nil {
		return err
	}
	u.passkey, u.aal2 = p, done.Token
	return nil
}

// runVerifyPasskey has every user pass their passkey once: one
// verification is POST /api/v1/challenge/webauthn then POST
// /api/v1/verify with the signed assertion (ES256), timed together.
func runVerifyPasskey(ctx context.Context, c *client, users []*user, conc int, dur time.Duration) result {
	jobs := make(chan *user, len(users))
	for _, u := range users {
		jobs <- u
	}
	close(jobs)
	rec := newRecorder(len(users))
	end := time.Now().Add(dur)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for u := range jobs {
				if ctx.Err() != nil || time.Now().After(end) {
					continue
				}
				start := time.Now()
				st, err := verifyPasskey(ctx, c, u)
				rec.add(start, time.Since(start), outcome(st, err))
			}
		})
	}
	wg.Wait()
	return finish("verify-passkey", conc, rec)
}

func verifyPasskey(ctx context.Context, c *client, u *user) (int, error) {
	var ch ceremonyAnswer
	st, err := c.post(ctx, "/api/v1/challenge/webauthn", u.aal1, map[string]string{}, &ch)
	if err != nil || st != 200 {
		return st, err
	}
	opts, err := virtualwebauthn.ParseAssertionOptions(string(ch.Options))
	if err != nil {
		return 0, err
	}
	p := u.passkey
	p.mu.Lock()
	p.cred.Counter++
	assertion := virtualwebauthn.CreateAssertionResponse(benchRP, p.auth, p.cred, *opts)
	p.mu.Unlock()
	var a sessionAnswer
	st, err = c.post(ctx, "/api/v1/verify", u.aal1, map[string]any{"method": "webauthn", "ceremony": ch.Ceremony,
		"credential": json.RawMessage(assertion)}, &a)
	if err == nil && st == 200 && (a.Token == "" || a.AAL != "aal2") {
		err = fmt.Errorf("verify answer without an aal2 token")
	}
	return st, err
}
