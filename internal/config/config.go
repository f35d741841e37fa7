package config

import (
	"net"
	"net/url"
	"strings"
	"time"
)

// Config is the whole configuration of a twostep instance.
//
// Each leaf field is one configuration key. Its yaml tag, joined with the
// tags of the structs above it by dots, is the key path ("sms.provider"); the
// environment variable is derived from that path (TWOSTEP_SMS_PROVIDER). The
// help tag is the one-line meaning used in the documentation. A secret tag
// marks a secret: "value" for a value that is wholly secret, "url" for a URL
// that may carry a password. Durations are Go duration strings ("30m",
// "72h") in every source. Secrets can also be read from a file named by
// the <VAR>_FILE environment variable, and Redacted hides them.
//
// PublicURLSetting is public_url as configured, possibly empty; the
// PublicURL method gives the effective URL.
type Config struct {
	Listen             string        `yaml:"listen" help:"Address (host:port) the HTTP server listens on."`
	PublicURLSetting   string        `yaml:"public_url" help:"URL users reach twostep at, used for links, redirects and the WebOTP host. Empty means http:// + listen, which is allowed only when listen is a loopback address."`
	Database           string        `yaml:"database" secret:"url" help:"Store: sqlite:PATH for the embedded SQLite database, or a postgres:// (postgresql://) URL."`
	Redis              string        `yaml:"redis" secret:"url" help:"Optional Redis URL (redis://, rediss:// or unix://) for rate limits and short-lived state shared by several instances. Empty means Redis is not used."`
	KeyFile            string        `yaml:"key_file" help:"File holding the encryption key(s) for secrets at rest; created with mode 0600 on first run."`
	Issuer             string        `yaml:"issuer" help:"Name shown in authenticator apps and on pages. Must not contain a colon."`
	Enrollment         string        `yaml:"enrollment" help:"Who may set up the first factor: password (whoever knows the password) or invite (only through an administrator's one-time set-up link)."`
	InviteTTL          time.Duration `yaml:"invite_ttl" help:"How long a set-up link from twostep user invite stays valid."`
	InsecureDevCookies bool          `yaml:"insecure_dev_cookies" help:"Send session cookies without the Secure attribute even off localhost. For development over plain HTTP only; never in production."`
	TrustedProxies     []string      `yaml:"trusted_proxies" help:"IP addresses or CIDR ranges of reverse proxies whose X-Forwarded-For header is believed (comma-separated in the environment). Empty means the header is ignored."`
	AdminToken         string        `yaml:"admin_token" secret:"value" help:"Bearer token for the admin API, at least 32 characters. Empty disables the admin API."`
	CookieDomain       string        `yaml:"cookie_domain" help:"Domain attribute of the session cookie, e.g. example.com so one sign-in covers every *.example.com application behind forward-auth. Empty means twostep's own host only."`

	Access   Access   `yaml:"access"`
	Log      Log      `yaml:"log"`
	MFA      MFA      `yaml:"mfa"`
	Session  Session  `yaml:"session"`
	TOTP     TOTP     `yaml:"totp"`
	Password Password `yaml:"password"`
	Limits   Limits   `yaml:"limits"`
	Metrics  Metrics  `yaml:"metrics"`
	SMS      SMS      `yaml:"sms"`
	Support  Support  `yaml:"support"`
	Brand    Brand    `yaml:"brand"`
	Pages    Pages    `yaml:"pages"`

	RememberDevice RememberDevice `yaml:"remember_device"`
	WebAuthn       WebAuthn       `yaml:"webauthn"`
	Notify         Notify         `yaml:"notify"`
}

// Notify configures security notifications (docs/notifications.md): a
// message to the person when their account's sign-in methods, recovery
// codes or password change, or a new browser signs in.
type Notify struct {
	Channels      []string      `yaml:"channels" help:"Where security notifications go: email (the user's address, twostep user set NAME --email), sms (the user's enrolled phones), both (comma-separated in the environment), or empty for none."`
	From          string        `yaml:"from" help:"Sender of notification e-mails, an address or Name <address>; required with the email channel."`
	NewDevice     bool          `yaml:"new_device" help:"Also notify at a password sign-in from a browser that has not signed in to that account in the last 90 days."`
	QueueSize     int           `yaml:"queue_size" help:"Most notifications waiting to be sent; when full, new ones are dropped (logged and counted in metrics), never waited for."`
	MaxAttempts   int           `yaml:"max_attempts" help:"Sends of one notification before it is given up, 1 to 100."`
	RetryBase     time.Duration `yaml:"retry_base" help:"Wait after a failed send; it doubles with each further failure."`
	RetryMax      time.Duration `yaml:"retry_max" help:"Longest wait between two sends of one notification. At least retry_base."`
	SMSPerUserDay int           `yaml:"sms_per_user_day" help:"Notification texts per user per 24 hours; further ones are dropped. They do not count against sms.budget, which is for sign-in codes."`
	Keep          time.Duration `yaml:"keep" help:"How long sent and failed notifications stay in the queue table (without their recipient) before they are deleted."`
	SMTP          SMTP          `yaml:"smtp"`
}

// SMTP is the mail server notification e-mails are handed to.
type SMTP struct {
	Host     string        `yaml:"host" help:"SMTP server host name; required with the email channel."`
	Port     int           `yaml:"port" help:"SMTP server port: usually 587 with starttls, 465 with tls."`
	TLS      string        `yaml:"tls" help:"starttls (STARTTLS required, the connection is refused without it), tls (TLS from the first byte) or none (plain SMTP, only to a loopback host such as a local relay)."`
	Username string        `yaml:"username" help:"SMTP user name; empty means no authentication."`
	Password string        `yaml:"password" secret:"value" help:"SMTP password."`
	Timeout  time.Duration `yaml:"timeout" help:"Longest time one message may take to send, connection included."`
}

// WebAuthn configures passkeys and security keys (docs/passkeys.md). The
// relying party defaults to public_url: its host is the RP ID and its
// origin the one allowed origin.
type WebAuthn struct {
	RPID             string        `yaml:"rp_id" help:"Relying party ID passkeys are bound to: public_url's host or a registrable suffix of it (for https://login.example.com: login.example.com or example.com). Empty means public_url's host; passkeys are then off when that host is an IP address, which WebAuthn does not allow."`
	RPName           string        `yaml:"rp_name" help:"Name the browser and the authenticator show when a passkey is created. Empty means the issuer."`
	Origins          []string      `yaml:"origins" help:"Origins (https://host[:port]) whose pages may use the passkeys, comma-separated in the environment; each host must be rp_id or below it. Empty means public_url's origin."`
	UserVerification string        `yaml:"user_verification" help:"Whether a passkey used as a second factor must also verify its user (PIN, fingerprint, face): preferred or required. Passwordless sign-in always requires it."`
	Attestation      string        `yaml:"attestation" help:"Attestation conveyance asked for when a passkey is registered: none (no make or model is disclosed), indirect or direct."`
	AAGUIDs          []string      `yaml:"aaguids" help:"Authenticator models (AAGUIDs, as UUIDs) allowed to register, comma-separated in the environment; a passkey whose model is not disclosed is then refused too. Empty allows every authenticator. Without attestation the model is the authenticator's own claim: see docs/passkeys.md."`
	Timeout          time.Duration `yaml:"timeout" help:"How long a passkey request (registration or sign-in) stays valid, 30s to 10m."`
	Passwordless     bool          `yaml:"passwordless" help:"Let a passkey that verifies its user sign in alone, without the password, at aal2 (a Sign in with a passkey button on the login page)."`
}

// RememberDevice configures "Remember this device" (docs/api.md): after a
// second factor, a browser may skip it at the next sign-ins for a while.
type RememberDevice struct {
	Days int `yaml:"days" help:"Days a browser whose user ticked Remember this device may sign in with the password alone, 1 to 365. 0 turns the feature off (the default): every sign-in asks for the second factor."`
}

// Access holds the forward-auth access rules.
type Access struct {
	DefaultPolicy string   `yaml:"default_policy" help:"Policy for requests no rule matches: bypass, one_factor, two_factor, strict_two_factor or deny."`
	Rules         []string `yaml:"rules" help:"Access rules for forward-auth, first match wins, each \"HOST[/PATH] POLICY [GROUP]\": HOST is a name, *.domain (subdomains) or *; POLICY is bypass, one_factor, two_factor (a second factor, unless the user's MFA policy is optional and they have none), two_factor+grace (also a user in their grace period, docs/rollout.md), strict_two_factor (a second factor always) or deny; GROUP, when given, is required. Comma-separated in the environment."`
}

// Log configures the structured log.
type Log struct {
	Level  string `yaml:"level" help:"Least severe level written: debug, info, warn or error."`
	Format string `yaml:"format" help:"Log line format: text or json."`
}

// MFA holds the second-factor policy.
type MFA struct {
	Required bool `yaml:"required" help:"Whether every user must set up and pass a second factor before reaching anything protected. When false, users without a second factor sign in with the password alone and pass two_factor rules; strict_two_factor rules still refuse them. This is the implicit last entry of mfa.policies."`
	// GracePeriod and Policies are the company roll-out (docs/rollout.md);
	// the policies are parsed by the service's rules at start-up, like
	// access.rules.
	GracePeriod time.Duration `yaml:"grace_period" help:"How long a user who must set up a second factor may choose Set up later, counted from their first sign-in under their policy; it never renews by itself. 0 (the default) turns grace periods off. At most 8760h (365 days)."`
	Policies    []string      `yaml:"policies" help:"Group policies, first match wins, each \"GROUP REQUIREMENT [methods=M+M] [grace=DURATION]\": GROUP is a group name or * (everyone); REQUIREMENT is required or optional; methods joins totp, sms and webauthn with + (all when not given); grace is days (14d) or a duration (72h), mfa.grace_period when not given. After them comes * as mfa.required says. Comma-separated in the environment. See docs/rollout.md."`
}

// Session configures sign-in sessions.
type Session struct {
	IdleTimeout     time.Duration `yaml:"idle_timeout" help:"A session unused for this long ends."`
	AbsoluteTimeout time.Duration `yaml:"absolute_timeout" help:"A session ends this long after sign-in, however active. At least idle_timeout."`
	RecentAuth      time.Duration `yaml:"recent_auth" help:"How recent the last second-factor check must be for sensitive actions (removing a method, new recovery codes, adding a factor)."`
}

// TOTP configures authenticator-app codes (RFC 6238).
type TOTP struct {
	Algorithm string `yaml:"algorithm" help:"HMAC algorithm of authenticator-app codes: SHA1, SHA256 or SHA512. SHA1 is the one every app supports."`
	Digits    int    `yaml:"digits" help:"Length of authenticator-app codes: 6 or 8 digits."`
	Period    int    `yaml:"period" help:"Seconds each authenticator-app code is valid for, 15 to 120."`
	Skew      int    `yaml:"skew" help:"Clock skew accepted, in periods either side of now, 0 to 10."`
}

// Password configures password hashing.
type Password struct {
	Argon2      Argon2        `yaml:"argon2"`
	Concurrency int           `yaml:"concurrency" help:"Most password hashes computed at once; 0 means the number of CPUs. Bounds memory under a login flood."`
	MaxWait     time.Duration `yaml:"max_wait" help:"How long a login waits for a free hashing slot before getting 503 with Retry-After."`
}

// Argon2 holds the argon2id parameters; the defaults are OWASP's.
type Argon2 struct {
	Memory  uint32 `yaml:"memory" help:"argon2id memory per hash, in KiB."`
	Time    uint32 `yaml:"time" help:"argon2id passes over the memory."`
	Threads uint8  `yaml:"threads" help:"argon2id lanes per hash."`
}

// Limits configures throttling of sign-in and second-factor attempts.
type Limits struct {
	LoginPerIP           int           `yaml:"login_per_ip" help:"Login attempts allowed per minute per client (an IPv4 address or an IPv6 /64)."`
	LoginPerAccount      int           `yaml:"login_per_account" help:"Password attempts allowed per account per limits.account_window from browsers that never signed in to it, all together, counted before the password is checked and for unknown names alike."`
	LoginPerKnownBrowser int           `yaml:"login_per_known_browser" help:"Password attempts allowed per account per limits.account_window from one browser that signed in to it before: its own allowance, so an attack from elsewhere cannot lock the person out there."`
	AccountWindow        time.Duration `yaml:"account_window" help:"Window of the per-account password allowances."`
	VerifyPerIP          int           `yaml:"verify_per_ip" help:"Second-factor attempts allowed per minute per client (an IPv4 address or an IPv6 /64)."`
	VerifyPerUser        int           `yaml:"verify_per_user" help:"Second-factor attempts allowed per minute per user, counted before the code is checked."`
	MaxFailures          int           `yaml:"max_failures" help:"Consecutive failed second-factor attempts per user before back-off starts. Failures count until a success; no time window forgives them."`
	BackoffBase          time.Duration `yaml:"backoff_base" help:"First back-off after max_failures; it doubles with each further failure."`
	BackoffMax           time.Duration `yaml:"backoff_max" help:"Longest back-off. At least backoff_base."`
	LockAfter            int           `yaml:"lock_after" help:"Consecutive failed second-factor attempts after which the second factor stays locked until an administrator unlocks it (twostep user unlock), 1 to 100 (NIST SP 800-63B §5.2.2 allows at most 100)."`
	AdminPerIP           int           `yaml:"admin_per_ip" help:"Failed admin- or metrics-token attempts allowed per minute per client; further attempts are refused unchecked until the minute ends."`
}

// Metrics configures where /metrics is served. It is not on the public
// listener by default: the counters describe traffic and security events,
// which is operator information.
type Metrics struct {
	Listen string `yaml:"listen" help:"Address (host:port) of a separate operations listener serving /metrics, /healthz, /readyz and /debug/pprof, e.g. 127.0.0.1:9464. Empty means no operations listener."`
	Token  string `yaml:"token" secret:"value" help:"Bearer token that unlocks /metrics on the main listener, at least 32 characters. Empty means /metrics is not served there."`
}

// SMS configures sending text messages.
type SMS struct {
	Provider       string  `yaml:"provider" help:"SMS sender: console (log), file, twilio, kannel or webhook."`
	File           string  `yaml:"file" help:"File the file provider appends JSON lines to."`
	Twilio         Twilio  `yaml:"twilio"`
	Kannel         Kannel  `yaml:"kannel"`
	Webhook        Webhook `yaml:"webhook"`
	DefaultCountry string  `yaml:"default_country" help:"Country preselected in the phone number form, as an ISO 3166-1 alpha-2 code."`
	// AllowedCountries is the allow-list against SMS pumping: texts go only
	// to numbers of these countries.
	AllowedCountries []string  `yaml:"allowed_countries" help:"ISO 3166-1 alpha-2 codes of the countries texts may be sent to (comma-separated in the environment); * allows every country. Pumping fraud targets expensive destinations, so list only where your users are."`
	Budget           SMSBudget `yaml:"budget"`
}

// SMSBudget caps texts per scope per hour and per day, against SMS pumping
// (toll fraud). A request over any budget sends nothing and gets 429.
type SMSBudget struct {
	NumberHour  int `yaml:"number_hour" help:"Texts per phone number per hour."`
	NumberDay   int `yaml:"number_day" help:"Texts per phone number per day."`
	UserHour    int `yaml:"user_hour" help:"Texts per user per hour."`
	UserDay     int `yaml:"user_day" help:"Texts per user per day."`
	IPHour      int `yaml:"ip_hour" help:"Texts requested per client IP per hour."`
	IPDay       int `yaml:"ip_day" help:"Texts requested per client IP per day."`
	CountryHour int `yaml:"country_hour" help:"Texts per destination country per hour."`
	CountryDay  int `yaml:"country_day" help:"Texts per destination country per day."`
	GlobalHour  int `yaml:"global_hour" help:"Texts in total per hour."`
	GlobalDay   int `yaml:"global_day" help:"Texts in total per day."`
}

// Twilio configures the twilio SMS provider (REST Messages API).
type Twilio struct {
	AccountSID string `yaml:"account_sid" help:"Twilio account SID; required by the twilio provider."`
	AuthToken  string `yaml:"auth_token" secret:"value" help:"Twilio auth token; required by the twilio provider."`
	From       string `yaml:"from" help:"Sender number or messaging service SID; required by the twilio provider."`
}

// Kannel configures the kannel SMS provider (smsbox HTTP sendsms).
type Kannel struct {
	URL      string `yaml:"url" help:"Kannel sendsms URL, e.g. http://127.0.0.1:13013/cgi-bin/sendsms; required by the kannel provider."`
	Username string `yaml:"username" help:"Kannel sendsms user."`
	Password string `yaml:"password" secret:"value" help:"Kannel sendsms password."`
	From     string `yaml:"from" help:"Sender shown on the message; empty means Kannel's default."`
}

// Webhook configures the webhook SMS provider (POST JSON to a URL).
type Webhook struct {
	URL    string `yaml:"url" help:"URL the webhook provider POSTs each message to as JSON; required by the webhook provider."`
	Secret string `yaml:"secret" secret:"value" help:"Shared secret that lets the webhook receiver check a request comes from twostep."`
}

// Support holds the help links shown on every sign-in and set-up page.
type Support struct {
	ContactURL string `yaml:"contact_url" help:"Contact us link: an http(s) URL or a mailto: address. Empty hides the link."`
	ChatURL    string `yaml:"chat_url" help:"Chat with support link: an http(s) URL. Empty hides the link."`
}

// Brand holds the look of the hosted pages. The pages load nothing from
// another origin (and the Content-Security-Policy would block it), so the
// logo is a local file that twostep serves itself, not a URL.
type Brand struct {
	Name        string `yaml:"name" help:"Product name shown in the hosted pages' header and titles. Empty means the issuer."`
	LogoFile    string `yaml:"logo_file" help:"PNG, SVG, JPEG, GIF or WebP file (at most 256 KiB) shown as the logo on the hosted pages, served by twostep itself. Empty shows the name only."`
	AccentColor string `yaml:"accent_color" help:"Accent colour of the hosted pages' buttons and links, as #rrggbb. Links and focus rings are darkened automatically when needed for WCAG AA contrast."`
}

// Pages holds settings of the hosted pages other than their look.
type Pages struct {
	TimeZone string `yaml:"time_zone" help:"IANA time zone (e.g. Europe/Berlin) the pages write times in, named; a browser with JavaScript shows them in its own zone instead. Default UTC."`
}

// Defaults returns the configuration used when nothing else is set: a working
// development instance on 127.0.0.1:8080 with SQLite, a local key file and SMS
// printed to the log.
func Defaults() Config {
	return Config{
		Listen:     "127.0.0.1:8080",
		Database:   "sqlite:./twostep.db",
		KeyFile:    "./twostep.key",
		Issuer:     "twostep",
		Enrollment: "password",
		InviteTTL:  72 * time.Hour,
		Access:     Access{DefaultPolicy: "two_factor"},
		Log:        Log{Level: "info", Format: "text"},
		MFA:        MFA{Required: true},
		Session: Session{
			IdleTimeout:     30 * time.Minute,
			AbsoluteTimeout: 12 * time.Hour,
			RecentAuth:      5 * time.Minute,
		},
		TOTP: TOTP{Algorithm: "SHA1", Digits: 6, Period: 30, Skew: 1},
		Password: Password{
			// OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
			Argon2:  Argon2{Memory: 19456, Time: 2, Threads: 1},
			MaxWait: 2 * time.Second,
		},
		Limits: Limits{
			LoginPerIP:           30,
			LoginPerAccount:      10,
			LoginPerKnownBrowser: 10,
			AccountWindow:        15 * time.Minute,
			VerifyPerIP:          60,
			VerifyPerUser:        10,
			MaxFailures:          5,
			BackoffBase:          30 * time.Second,
			// 2 h, not 1 h: with codes valid ±1 step, 1 h allowed 34
			// guesses a day (a 1.02·10⁻⁴ chance at a 6-digit code), 2 h
			// allows 23 (6.9·10⁻⁵), under the 10⁻⁴ goal (docs/throttling.md).
			BackoffMax: 2 * time.Hour,
			LockAfter:  100,
			AdminPerIP: 10,
		},
		SMS: SMS{
			Provider:         "console",
			File:             "./sms.jsonl",
			DefaultCountry:   "US",
			AllowedCountries: []string{"US"},
			Budget: SMSBudget{
				NumberHour: 5, NumberDay: 10,
				UserHour: 5, UserDay: 20,
				IPHour: 10, IPDay: 50,
				CountryHour: 200, CountryDay: 1000,
				GlobalHour: 1000, GlobalDay: 10000,
			},
		},
		Brand: Brand{AccentColor: "#1d4ed8"},
		Notify: Notify{
			QueueSize: 10000, MaxAttempts: 10, RetryBase: time.Minute, RetryMax: time.Hour,
			SMSPerUserDay: 10, Keep: 7 * 24 * time.Hour,
			SMTP: SMTP{Port: 587, TLS: "starttls", Timeout: 30 * time.Second},
		},
		Pages: Pages{TimeZone: "UTC"},
		WebAuthn: WebAuthn{
			UserVerification: "preferred",
			Attestation:      "none",
			Timeout:          5 * time.Minute,
		},
	}
}

// PasskeyRP returns the effective relying party of passkeys: the RP ID
// (webauthn.rp_id, else public_url's host), its name (else the issuer) and
// the allowed origins (else public_url's origin). ok is false when
// passkeys cannot be offered: no rp_id and public_url's host is an IP
// address. Validate has checked the settings.
func (c Config) PasskeyRP() (id, name string, origins []string, ok bool) {
	u, err := url.Parse(c.PublicURL())
	if err != nil {
		return "", "", nil, false
	}
	id = strings.ToLower(c.WebAuthn.RPID)
	if id == "" {
		id = strings.ToLower(u.Hostname())
		if net.ParseIP(id) != nil {
			return "", "", nil, false
		}
	}
	name = c.WebAuthn.RPName
	if name == "" {
		name = c.Issuer
	}
	origins = c.WebAuthn.Origins
	if len(origins) == 0 {
		origins = []string{u.Scheme + "://" + u.Host}
	}
	return id, name, origins, true
}

// PublicURL returns the URL users reach twostep at, without a trailing slash:
// public_url when set, otherwise "http://" + listen.
func (c Config) PublicURL() string {
	if c.PublicURLSetting != "" {
		return strings.TrimRight(c.PublicURLSetting, "/")
	}
	return "http://" + c.Listen
}

// IsLocalhostHTTP reports whether the public URL is plain HTTP on a loopback
// host (localhost, 127.0.0.1, ::1). Browsers do not store Secure cookies over
// plain HTTP, so this is the one case, besides insecure_dev_cookies, where
// session cookies go without the Secure attribute: the zero-config
// development instance.
func (c Config) IsLocalhostHTTP() bool {
	u, err := url.Parse(c.PublicURL())
	if err != nil || u.Scheme != "http" {
		return false
	}
	return isLoopbackHost(u.Hostname())
}

// DatabaseDriver splits the database setting into a driver name and the
// string that driver opens: ("sqlite", path) for "sqlite:PATH" (a leading
// "//" is dropped, so sqlite:///var/lib/twostep.db names an absolute path) and
// ("postgres", url) for postgres:// and postgresql:// URLs. An unsupported
// setting gives an empty driver; Validate reports it.
func (c Config) DatabaseDriver() (driver, dsn string) {
	switch {
	case strings.HasPrefix(c.Database, "sqlite:"):
		path := strings.TrimPrefix(c.Database, "sqlite:")
		return "sqlite", strings.TrimPrefix(path, "//")
	case strings.HasPrefix(c.Database, "postgres://"), strings.HasPrefix(c.Database, "postgresql://"):
		return "postgres", c.Database
	}
	return "", c.Database
}

// isLoopbackHost reports whether host (without port or brackets) is
// "localhost" or a loopback IP address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
