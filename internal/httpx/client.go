package httpx

import (
	"net/http"

	"github.com/twostep/twostep/internal/auth"
)

// maxUserAgent bounds the user agent the service sees (audit log, device
// labels): a client chooses it, and 256 bytes name any real browser.
const maxUserAgent = 256

// Client describes the caller of r to the service: its address (through
// trusted proxies only), its user agent, and the "Remember this device"
// token its browser holds. The JSON API and the pages both build it here.
func Client(r *http.Request, ip ClientIP, ck Cookies) auth.Client {
	ua := r.UserAgent()
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	return auth.Client{IP: ip.Of(r), UserAgent: ua, Device: ck.Get(r, DeviceCookie)}
}

// SetPassed sets the cookies of a second factor that passed: the rotated
// session and, when the browser was remembered, its device token.
func (c Cookies) SetPassed(w http.ResponseWriter, p auth.Passed) {
	c.SetSession(w, p.Token)
	if p.Device.Token != "" {
		c.SetDevice(w, p.Device.Token, p.Device.MaxAge)
	}
}
