package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// user is one seeded account and what the load generator knows about it.
type user struct {
	name     string
	password string
	secret   []byte       // TOTP shared secret, decoded
	aal1     string       // session token from the pre-login of verify-totp
	aal2     string       // session token from the seeding's confirm (forward-auth)
	passkey  *passkeyUser // verify-passkey: the user's software authenticator
}

// sessionAnswer is the part of the login and verify answers bench reads.
type sessionAnswer struct {
	Token string `json:"token"`
	AAL   string `json:"aal"`
}

// seed creates n users through the admin API and enrols an authenticator
// app for each (login → setup/totp → confirm with a code computed here),
// with conc requests in flight. It returns the users and the latest TOTP
// time step a confirm consumed: verify-totp must use a later one, since a
// step is accepted once per user.
//
// With totp false (sms-setup) users are only created and logged in: each
// keeps its aal1 session and has no factor yet.
func seed(ctx context.Context, c *client, adminToken string, n, conc int, totp bool, progress io.Writer) ([]*user, uint64, error) {
	prefix := "bench-" + lowerToken(6) + "-"
	users := make([]*user, n)
	for i := range users {
		users[i] = &user{name: fmt.Sprintf("%s%05d", prefix, i), password: "pw-" + randomToken(20)}
	}
	var (
		next     atomic.Int64
		done     atomic.Int64
		maxStep  atomic.Uint64
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				step, err := enrol(ctx, c, adminToken, users[i], totp)
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("seed user %s: %w", users[i].name, err); cancel() })
					return
				}
				for old := maxStep.Load(); step > old && !maxStep.CompareAndSwap(old, step); old = maxStep.Load() {
				}
				if d := done.Add(1); d%100 == 0 || int(d) == n {
					fmt.Fprintf(progress, "  seeded %d/%d users (%.0f s)\n", d, n, time.Since(start).Seconds())
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, 0, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	return users, maxStep.Load(), nil
}

// enrol creates u and activates a TOTP factor; it returns the time step of
// the code used to confirm it.
func enrol(ctx context.Context, c *client, adminToken string, u *user, totp bool) (uint64, error) {
	st, err := postSetup(ctx, c, "/api/v1/admin/users", adminToken, map[string]string{"username": u.name, "password": u.password}, nil)
	if err := want(st, err, 201, "create user"); err != nil {
		return 0, err
	}
	var login sessionAnswer
	st, err = postSetup(ctx, c, "/api/v1/login", "", map[string]string{"username": u.name, "password": u.password}, &login)
	if err := want(st, err, 200, "login"); err != nil {
		return 0, err
	}
	if !totp {
		u.aal1 = login.Token
		return 0, nil
	}
	var setup struct {
		FactorID string `json:"factor_id"`
		Secret   string `json:"secret"`
	}
	st, err = c.post(ctx, "/api/v1/setup/totp", login.Token, map[string]string{}, &setup)
	if err := want(st, err, 200, "setup totp"); err != nil {
		return 0, err
	}
	if u.secret, err = decodeSecret(setup.Secret); err != nil {
		return 0, err
	}
	now := time.Now()
	code := totpCode(u.secret, now, 6)
	var confirm sessionAnswer
	st, err = c.post(ctx, "/api/v1/setup/totp/confirm", login.Token, map[string]string{"code": code, "factor_id": setup.FactorID}, &confirm)
	if err := want(st, err, 200, "confirm totp"); err != nil {
		return 0, err
	}
	if confirm.Token == "" || confirm.AAL != "aal2" {
		return 0, fmt.Errorf("confirm totp: answer without an aal2 token")
	}
	u.aal2 = confirm.Token
	return stepAt(now), nil
}

// preLogin gives every user an aal1 session (not measured).
func preLogin(ctx context.Context, c *client, users []*user, conc int) error {
	return eachUser(ctx, users, conc, func(u *user) error {
		var a sessionAnswer
		st, err := postSetup(ctx, c, "/api/v1/login", "", map[string]string{"username": u.name, "password": u.password}, &a)
		if err := want(st, err, 200, "pre-login "+u.name); err != nil {
			return err
		}
		u.aal1 = a.Token
		return nil
	})
}

// eachUser runs fn for every user with conc workers (an unmeasured set-up
// phase); a worker stops at its first error, and every error is returned.
func eachUser(ctx context.Context, users []*user, conc int, fn func(*user) error) error {
	var next atomic.Int64
	errs := make([]error, conc)
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(users) {
					return
				}
				if err := fn(users[i]); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(append(errs, ctx.Err())...)
}

// postSetup is client.post for the unmeasured set-up phases: a 503 (every
// hashing slot stayed busy for password.max_wait, which happens when other
// processes load the machine) is retried after 1 s — the Retry-After the
// server sends for it — at most 10 times. A 503 means the server did
// nothing (it refuses before hashing), so a retried create cannot
// duplicate a user.
func postSetup(ctx context.Context, c *client, path, bearer string, body, out any) (int, error) {
	for attempt := 1; ; attempt++ {
		st, err := c.post(ctx, path, bearer, body, out)
		if st != 503 || attempt == 10 {
			return st, err
		}
		c.setupRetries.Add(1)
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return st, ctx.Err()
		}
	}
}

// want turns an unexpected status into an error naming the call.
func want(status int, err error, code int, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if status != code {
		return fmt.Errorf("%s: HTTP %d, want %d", what, status, code)
	}
	return nil
}

// lowerToken returns n random lowercase letters and digits (the server
// lower-cases usernames).
func lowerToken(n int) string { return strings.ToLower(randomToken(n)) }
