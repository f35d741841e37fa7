package auth_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/config"
	"github.com/twostep/twostep/internal/ratelimit"
	"github.com/twostep/twostep/internal/token"
)

// BenchmarkAttack runs the best online guessing attack this simulator
// knows against one account, with the default limits (config.Defaults),
// on the real service and database with a simulated clock, for 24
// simulated hours, from 1, 100 and 10,000 client addresses. It reports the
// guesses actually checked (answered "wrong"), in the first hour and in 24
// hours, and for the second factor the chance that one of them was right
// for a 6-digit code accepted ±1 step (3 codes per guess). The attacker
// switches address when one is refused per client and waits out every
// account-wide refusal (Retry-After); it knows the password for the
// second-factor attacks. docs/throttling.md has the table.
//
//	go test -run '^$' -bench Attack -benchtime 1x ./internal/auth/
func BenchmarkAttack(b *testing.B) {
	for _, target := range []string{"password", "totp", "sms", "recovery"} {
		for _, addrs := range []int{1, 100, 10_000} {
			b.Run(fmt.Sprintf("%s/%d", target, addrs), func(b *testing.B) {
				var r attackResult
				for b.Loop() {
					r = runAttack(b, target, addrs)
				}
				b.ReportMetric(float64(r.firstHour), "guesses/1h")
				b.ReportMetric(float64(r.day), "guesses/24h")
				// The chance one checked guess was right: an app accepts
				// 3 codes (±1 step) of 10^6, a text 1; 10 recovery codes of
				// 10 base-32 characters (auth/recovery.go) are out of reach.
				switch target {
				case "totp":
					b.ReportMetric(float64(r.day)*3/1e6, "P(hit)/24h")
				case "sms":
					b.ReportMetric(float64(r.day)/1e6, "P(hit)/24h")
				}
			})
		}
	}
}

type attackResult struct{ firstHour, day int }

// defaultLimits is the service configuration of config.Defaults().
func defaultLimits() auth.Config {
	d := config.Defaults()
	l, bud := d.Limits, d.SMS.Budget
	per := func(n int, w time.Duration) ratelimit.Limit { return ratelimit.Limit{Count: int64(n), Window: w} }
	pair := func(h, day int) [2]ratelimit.Limit {
		return [2]ratelimit.Limit{per(h, time.Hour), per(day, 24*time.Hour)}
	}
	c := defaultConfig()
	c.LoginPerIP, c.VerifyPerIP, c.VerifyPerUser = per(l.LoginPerIP, time.Minute), per(l.VerifyPerIP, time.Minute), per(l.VerifyPerUser, time.Minute)
	c.LoginPerAccount, c.LoginPerKnownBrowser = per(l.LoginPerAccount, l.AccountWindow), per(l.LoginPerKnownBrowser, l.AccountWindow)
	c.MaxFailures, c.LockAfter, c.BackoffBase, c.BackoffMax = int64(l.MaxFailures), int64(l.LockAfter), l.BackoffBase, l.BackoffMax
	c.SMSBudgets = auth.SMSBudgets{PerNumber: pair(bud.NumberHour, bud.NumberDay), PerUser: pair(bud.UserHour, bud.UserDay),
		PerIP: pair(bud.IPHour, bud.IPDay), PerCountry: pair(bud.CountryHour, bud.CountryDay), Global: pair(bud.GlobalHour, bud.GlobalDay)}
	return c
}

func runAttack(b *testing.B, target string, addrs int) attackResult {
	f := newFixture(b, func(c *auth.Config) { *c = defaultLimits() })
	start := f.clock.Now()
	ctx := b.Context()
	if _, err := f.svc.CreateUser(ctx, client, "victim", pw); err != nil {
		b.Fatal(err)
	}
	if target == "sms" {
		cur := loginAs(b, f, auth.Client{IP: "192.0.2.200"})
		if _, err := f.svc.StartSMS(ctx, client, cur, "US", usPhone); err != nil {
			b.Fatal(err)
		}
		code := f.sms.lastCode(b)
		if _, err := f.svc.ConfirmSMS(ctx, client, cur, auth.Proof{Code: code}); err != nil {
			b.Fatal(err)
		}
	} else if target != "password" {
		cur := loginAs(b, f, auth.Client{IP: "192.0.2.200"})
		st, err := f.svc.StartTOTP(ctx, client, cur, "")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.svc.ConfirmTOTP(ctx, client, cur, auth.Proof{FactorID: st.FactorID, Code: f.code(decodeSecret(b, st.Secret))}); err != nil {
			b.Fatal(err)
		}
	}
	f.clock.Add(time.Minute)
	var r attackResult
	end := start.Add(24 * time.Hour)
	addr, refusedInARow := 0, 0
	var tok string
	var sms struct {
		tries int
		at    time.Time
	}
	for steps := 0; f.clock.Now().Before(end) && steps < 2_000_000; steps++ {
		c := auth.Client{IP: fmt.Sprintf("10.%d.%d.%d", addr>>16&255, addr>>8&255, addr&255), UserAgent: "attacker"}
		var err error
		switch target {
		case "password":
			_, err = f.svc.Login(ctx, c, auth.Credentials{Username: "victim", Password: "guess-" + token.NewNumericCode(8)})
		default:
			if tok == "" {
				res, lerr := f.svc.Login(ctx, c, auth.Credentials{Username: "victim", Password: pw})
				if lerr != nil {
					err = lerr
					break
				}
				tok = res.Token
			}
			cur, aerr := f.svc.Authenticate(ctx, tok)
			if aerr != nil {
				tok = ""
				continue
			}
			switch target {
			case "totp":
				_, err = f.svc.Verify(ctx, c, cur, auth.Proof{Method: "totp", Code: token.NewNumericCode(6)})
			case "recovery":
				_, err = f.svc.Verify(ctx, c, cur, auth.Proof{Method: "recovery", Code: token.NewRecoveryCode()})
			case "sms":
				// A guess needs a live code: ask for one when the last is
				// spent or near its 5 minutes (budgets and cooldown apply).
				if sms.tries >= auth.SMSMaxAttempts || f.clock.Now().Sub(sms.at) > 4*time.Minute {
					if _, err = f.svc.ChallengeSMS(ctx, c, cur, ""); err != nil {
						break
					}
					sms.tries, sms.at = 0, f.clock.Now()
				}
				_, err = f.svc.Verify(ctx, c, cur, auth.Proof{Method: "sms", Code: token.NewNumericCode(6)})
				if retryAfter(err) == 0 {
					sms.tries++
				}
			}
		}
		switch {
		case err == nil, errors.Is(err, auth.ErrInvalidCredentials), errors.Is(err, auth.ErrInvalidCode):
			refusedInARow = 0
			if err == nil && target != "password" {
				tok = "" // a (lucky) success: start over from the password
			}
			if f.clock.Now().Before(start.Add(time.Hour)) {
				r.firstHour++
			}
			r.day++
		case errors.Is(err, auth.ErrMFALocked):
			return r // locked until an administrator unlocks: the attack is over
		case retryAfter(err) > 0:
			// Per-client refusals end by switching address; when every
			// address is refused (or only one exists), wait.
			refusedInARow++
			addr = (addr + 1) % addrs
			if refusedInARow >= min(addrs, 3) {
				f.clock.Add(retryAfter(err))
				refusedInARow = 0
			}
		case errors.Is(err, auth.ErrCodeExpired):
			f.clock.Add(time.Second)
		default:
			b.Fatalf("%s attack: unexpected answer %v", target, err)
		}
	}
	return r
}

func loginAs(b *testing.B, f *fixture, c auth.Client) auth.Current {
	res, err := f.svc.Login(b.Context(), c, auth.Credentials{Username: "victim", Password: pw})
	if err != nil {
		b.Fatal(err)
	}
	cur, err := f.svc.Authenticate(b.Context(), res.Token)
	if err != nil {
		b.Fatal(err)
	}
	return cur
}
