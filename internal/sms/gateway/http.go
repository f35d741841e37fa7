package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/twostep/twostep/internal/sms"
)

// defaultTimeout bounds one provider call when the constructor is given no
// *http.Client: long enough for a slow gateway, short enough that the person
// waiting on the page gets an answer and a hung gateway cannot pile up
// goroutines.
const defaultTimeout = 10 * time.Second

// maxAnswer bounds how much of a provider's answer is read.
const maxAnswer = 64 << 10

// httpClient returns c, or when c is nil a client with defaultTimeout that
// does not follow redirects: a provider that redirects is misconfigured,
// and following would resend the message (and the credentials) elsewhere.
func httpClient(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return &http.Client{
		Timeout: defaultTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// answer is a provider's HTTP response, read and closed.
type answer struct {
	status int
	body   []byte
}

// roundTrip sends the request newReq builds and reads the answer. It makes
// a second attempt only when the first could not dial the provider (see
// the package comment); newReq is called once per attempt so each has a
// fresh body.
//
// Errors never quote the request URL: *url.Error would print it, and a
// Kannel URL holds the password and the message text. They name only
// method and endpoint (scheme and host).
func roundTrip(ctx context.Context, c *http.Client, newReq func(context.Context) (*http.Request, error)) (answer, error) {
	for attempt := 1; ; attempt++ {
		req, err := newReq(ctx)
		if err != nil {
			return answer{}, err
		}
		resp, err := c.Do(req)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			err = fmt.Errorf("%s %s: %w", req.Method, endpoint(req.URL), err)
			if attempt == 1 && isDialError(err) && ctx.Err() == nil {
				continue
			}
			if attempt > 1 {
				err = fmt.Errorf("second attempt: %w", err)
			}
			return answer{}, err
		}
		// A failure reading the answer is ignored: the status is known,
		// and the body is only quoted in errors.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		resp.Body.Close()
		return answer{status: resp.StatusCode, body: body}, nil
	}
}

// isDialError reports whether err is a failure to open the connection, so
// that no byte of the request can have reached the provider.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// endpoint is the part of a URL safe for logs: scheme and host. Paths and
// queries can hold secrets (Kannel's password, a webhook token).
func endpoint(u *url.URL) string {
	return u.Scheme + "://" + u.Host
}

// parseBaseURL checks a provider URL from the configuration.
func parseBaseURL(provider, field, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("sms %s: %s must be an http or https URL", provider, field)
	}
	return u, nil
}

// statusFailure maps an unsuccessful HTTP status to a *sms.SendError for a
// provider whose answers carry no finer code. 408, 429 and 5xx are
// temporary; any other status will fail again the same way.
func statusFailure(provider string, a answer, host string, m sms.Message, secrets ...string) *sms.SendError {
	permanent := a.status != http.StatusRequestTimeout && a.status != http.StatusTooManyRequests && a.status < 500
	return sms.Fail(provider, sms.MsgUnavailable, permanent, "%s: status %d: %s", host, a.status, sms.Quote(a.body, m, secrets...))
}
