package auth_test

import (
	"testing"

	"github.com/twostep/twostep/internal/auth"
)

// BenchmarkVerifyRemember measures a TOTP verification that also
// remembers the browser ("Remember this device" ticked), which rides in the
// rotation's transaction (pass.go); verify-only is the reference. Sign-in
// happens outside the timer; from the 20th iteration on, every remember
// also drops the oldest device (maxDevicesPerUser).
func BenchmarkVerifyRemember(b *testing.B) {
	for _, remember := range []bool{false, true} {
		name := "verify"
		if remember {
			name = "verify+remember"
		}
		b.Run(name, func(b *testing.B) {
			f := newFixture(b, remembering)
			secret, _, _ := f.enrolTOTP(f.user("alice"))
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				f.nextStep()
				cur := f.login("alice")
				code := f.code(secret)
				b.StartTimer()
				res, err := f.svc.Verify(ctx, client, cur, auth.Proof{Method: "totp", Code: code, Remember: remember})
				if err != nil || (res.Device.Token != "") != remember {
					b.Fatalf("Verify = %+v, %v", res, err)
				}
			}
		})
	}
}
