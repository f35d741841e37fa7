package e2etest

import (
	"net/http"
	"time"
)

// NewClient is an HTTP client over tr for tests that check every answer
// themselves: it follows no redirect, gives up after 20 s and, with a
// jar, keeps cookies as a browser would.
func NewClient(tr http.RoundTripper, jar http.CookieJar) *http.Client {
	return &http.Client{
		Transport:     tr,
		Jar:           jar,
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
