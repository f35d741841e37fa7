package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/twostep/twostep/internal/sms"
)

// TwilioConfig configures the twilio provider.
type TwilioConfig struct {
	// AccountSID is the account ("AC..."); it is part of the URL.
	AccountSID string
	// AuthToken is the account's auth token, sent as the basic-auth
	// password. It never appears in an error.
	AuthToken string
	// From is the sender: a Twilio number in E.164 form, or a Messaging
	// Service SID ("MG...") to let the service pick the sender.
	From string
	// BaseURL is the API root; empty means https://api.twilio.com.
	BaseURL string
}

// Twilio sends through Twilio's Programmable Messaging REST API
// (POST /2010-04-01/Accounts/{AccountSID}/Messages.json), which answers
// 201 Created when it has queued the message.
type Twilio struct {
	endpoint string // full Messages.json URL
	host     string // scheme://host, for errors
	cfg      TwilioConfig
	client   *http.Client
}

var _ sms.Sender = (*Twilio)(nil)

// NewTwilio returns the twilio provider. client may be nil: then calls time
// out after 10 s and redirects are not followed.
func NewTwilio(cfg TwilioConfig, client *http.Client) (*Twilio, error) {
	if cfg.AccountSID == "" || cfg.AuthToken == "" || cfg.From == "" {
		return nil, errors.New("sms twilio: account SID, auth token and from are required")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://api.twilio.com"
	}
	u, err := parseBaseURL("twilio", "base URL", cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	return &Twilio{
		endpoint: strings.TrimSuffix(cfg.BaseURL, "/") + "/2010-04-01/Accounts/" + url.PathEscape(cfg.AccountSID) + "/Messages.json",
		host:     endpoint(u),
		cfg:      cfg,
		client:   httpClient(client),
	}, nil
}

// Name returns "twilio".
func (t *Twilio) Name() string { return "twilio" }

// twilioError is the body of Twilio's error answers, for example
// {"code":21211,"message":"The 'To' number ... is not a valid phone number.",
// "more_info":"https://www.twilio.com/docs/errors/21211","status":400}.
type twilioError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

// twilioCodes maps the Twilio error codes a person can do something about
// to what they should read. All are permanent: the same message to the same
// number fails again. https://www.twilio.com/docs/api/errors
var twilioCodes = map[int]string{
	21211: sms.MsgInvalidTo,    // invalid 'To' phone number
	21614: sms.MsgNotMobile,    // 'To' number is not a valid mobile number
	21408: sms.MsgRegion,       // permission to send to this region not enabled
	21610: sms.MsgUnsubscribed, // recipient replied STOP
	21612: sms.MsgCannotRoute,  // cannot route to this number (carrier or From/To combination)
}

// Send posts m to Twilio.
func (t *Twilio) Send(ctx context.Context, m sms.Message) error {
	if err := sms.Check(ctx, t.Name(), m); err != nil {
		return err
	}
	form := url.Values{"To": {m.To}, "Body": {m.Body}}
	if strings.HasPrefix(t.cfg.From, "MG") {
		form.Set("MessagingServiceSid", t.cfg.From)
	} else {
		form.Set("From", t.cfg.From)
	}
	payload := form.Encode()
	a, err := roundTrip(ctx, t.client, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.endpoint, strings.NewReader(payload))
		if err != nil {
			return nil, err
		}
		req.SetBasicAuth(t.cfg.AccountSID, t.cfg.AuthToken)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		return req, nil
	})
	if err != nil {
		return sms.Fail(t.Name(), sms.MsgUnavailable, false, "%w", err)
	}
	if a.status >= 200 && a.status < 300 {
		return nil
	}

	var te twilioError
	if json.Unmarshal(a.body, &te) != nil || te.Code == 0 {
		return statusFailure(t.Name(), a, t.host, m, t.cfg.AuthToken)
	}
	// Unknown codes, 429 and 5xx stay temporary: the person may try again,
	// within the budgets the caller enforces.
	msg, permanent := sms.MsgUnavailable, false
	switch {
	case twilioCodes[te.Code] != "":
		msg, permanent = twilioCodes[te.Code], true
	case a.status == http.StatusUnauthorized || a.status == http.StatusForbidden:
		// 20003 authentication failed, 20005 account suspended...: only the
		// operator can fix it. The person hears the generic sentence, never
		// that twostep's credentials are wrong.
		permanent = true
	}
	return sms.Fail(t.Name(), msg, permanent, "%s: status %d, error %d: %s", t.host, a.status, te.Code, sms.Quote([]byte(te.Message), m, t.cfg.AuthToken))
}
