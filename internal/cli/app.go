package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/config"
	"github.com/twostep/twostep/internal/keyring"
	"github.com/twostep/twostep/internal/metrics"
	"github.com/twostep/twostep/internal/notify"
	"github.com/twostep/twostep/internal/passkey"
	"github.com/twostep/twostep/internal/password"
	"github.com/twostep/twostep/internal/ratelimit"
	"github.com/twostep/twostep/internal/sms"
	"github.com/twostep/twostep/internal/sms/gateway"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/totp"
)

// app is everything a command needs, wired from the configuration.
type app struct {
	cfg     config.Config
	log     *slog.Logger
	store   *store.Store
	keys    *keyring.Keyring
	svc     *auth.Service
	metrics *metrics.Metrics
	// counters is the database limit backend, swept by serve.
	counters *store.Counters
	// redis is the shared limit backend's client when `redis` is set.
	redis *redis.Client
	// ready are the checks /readyz runs besides the database (server.Options.Ready).
	ready []func(context.Context) error
	// applied lists the migrations open applied (mode initialise).
	applied []string
	// notices is the security-notification queue (nil when notify.channels
	// is empty); every command queues, serve's worker sends.
	notices *notify.Queue
	sms     sms.Sender
}

// openMode says whether a command may create and upgrade the installation.
type openMode int

const (
	// existing: administrative commands work on an installation that is
	// there: they never create a database or key file (an admin command
	// run in another directory once silently made a new, empty one), and
	// refuse a schema that is behind.
	existing openMode = iota
	// initialise: serve and migrate create the database and key file on a
	// fresh install and apply pending migrations.
	initialise
	// noInstall: the command opens nothing (version).
	noInstall
)

// open loads the configuration and builds the service over the database and
// key file. Logs go to logOut at minLevel or above (commands other than
// serve keep stderr for warnings). With mode existing it first says which
// database it opened, on stderr.
func (e *cmdEnv) open(f *flags, logOut io.Writer, minLevel slog.Level, mode openMode) (*app, error) {
	cfg, err := e.config(f)
	if err != nil {
		return nil, err
	}
	log := newLogger(cfg, logOut, minLevel)
	driver, dsn := cfg.DatabaseDriver()
	// The key file is checked before anything is created: a bad one must
	// not leave a new, migrated database behind.
	keys, err := preloadKeys(cfg.KeyFile, mode)
	if err != nil {
		return nil, err
	}
	if mode == existing {
		if driver == string(store.SQLite) {
			if _, err := os.Stat(dsn); errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("no database at %s: start `twostep serve` there first (or run `twostep migrate`), or point --database or --config at the installation", dsn)
			}
		}
		fmt.Fprintf(e.stderr, "twostep: database %s\n", describeDatabase(driver, dsn))
	}
	st, err := store.Open(e.ctx, store.Dialect(driver), dsn)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, store: st, keys: keys}
	if err := a.init(e, mode); err != nil {
		st.Close()
		return nil, err
	}
	return a, nil
}

// preloadKeys loads the key file when it exists (nil when it does not:
// loadKeys decides, once the database says what it holds). For a new
// installation it checks that the file can be created there.
func preloadKeys(path string, mode openMode) (*keyring.Keyring, error) {
	kr, err := keyring.Load(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) || mode == existing {
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
		return kr, err
	}
	probe, err := os.CreateTemp(filepath.Dir(path), ".twostep-key-probe-*")
	if err != nil {
		return nil, fmt.Errorf("cannot create the key file %s: %w", path, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil, nil
}

// describeDatabase names a database for the operator without its password.
func describeDatabase(driver, dsn string) string {
	if driver == string(store.SQLite) {
		if abs, err := filepath.Abs(dsn); err == nil {
			dsn = abs
		}
		return "sqlite:" + dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return driver
	}
	// libpq also takes the password as a query parameter.
	if q := u.Query(); q.Has("password") || q.Has("sslpassword") {
		for _, k := range []string{"password", "sslpassword"} {
			if q.Has(k) {
				q.Set(k, "xxxxx")
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

func (a *app) init(e *cmdEnv, mode openMode) error {
	if mode == initialise {
		var err error
		if a.applied, err = a.store.Migrate(e.ctx); err != nil {
			return err
		}
		for _, m := range a.applied {
			a.log.Info("migration applied", "migration", m)
		}
	} else if cur, latest, err := a.store.SchemaVersion(e.ctx); err != nil {
		return err
	} else if cur != latest {
		return fmt.Errorf("the database schema is at version %d and this twostep needs %d: run `twostep migrate` (or start `twostep serve`) first", cur, latest)
	}
	var err error
	if a.keys, err = a.loadKeys(e, mode); err != nil {
		return err
	}
	cfg := a.cfg
	sender, err := newSender(cfg, a.log)
	if err != nil {
		return fmt.Errorf("sms: %w", err)
	}
	access, err := accessRules(cfg.Access)
	if err != nil {
		return err
	}
	webAuthn, err := a.newWebAuthn()
	if err != nil {
		return err
	}
	policies, err := mfaPolicies(cfg.MFA, webAuthn != nil)
	if err != nil {
		return err
	}
	now := time.Now
	backend, accounts, err := a.limitBackends(now)
	if err != nil {
		return err
	}
	rec := a.audit(now)
	a.sms, a.notices = sender, a.notifyQueue(now)
	minute := func(n int) ratelimit.Limit { return ratelimit.Limit{Count: int64(n), Window: time.Minute} }
	account := func(n int) ratelimit.Limit { return ratelimit.Limit{Count: int64(n), Window: cfg.Limits.AccountWindow} }
	a.svc = auth.New(auth.Config{
		Issuer:          cfg.Issuer,
		PublicURL:       cfg.PublicURL(),
		AdminToken:      cfg.AdminToken,
		MetricsToken:    cfg.Metrics.Token,
		InviteOnly:      cfg.Enrollment == "invite",
		MFARequired:     cfg.MFA.Required,
		Policies:        policies,
		GracePeriod:     cfg.MFA.GracePeriod,
		InviteTTL:       cfg.InviteTTL,
		IdleTimeout:     cfg.Session.IdleTimeout,
		AbsoluteTimeout: cfg.Session.AbsoluteTimeout,
		RecentAuth:      cfg.Session.RecentAuth,
		TOTP:            totp.Params{Algorithm: cfg.TOTP.Algorithm, Digits: cfg.TOTP.Digits, Period: cfg.TOTP.Period, Skew: cfg.TOTP.Skew},
		LoginPerIP:      minute(cfg.Limits.LoginPerIP),
		VerifyPerIP:     minute(cfg.Limits.VerifyPerIP),
		VerifyPerUser:   minute(cfg.Limits.VerifyPerUser),
		AdminPerIP:      minute(cfg.Limits.AdminPerIP),

		LoginPerAccount:      account(cfg.Limits.LoginPerAccount),
		LoginPerKnownBrowser: account(cfg.Limits.LoginPerKnownBrowser),

		MaxFailures: int64(cfg.Limits.MaxFailures),
		LockAfter:   int64(cfg.Limits.LockAfter),
		BackoffBase: cfg.Limits.BackoffBase,
		BackoffMax:  cfg.Limits.BackoffMax,

		SMSHost:             publicHost(cfg.PublicURL()),
		SMSAllowedCountries: cfg.SMS.AllowedCountries,
		SMSBudgets:          smsBudgets(cfg.SMS.Budget),

		Access: access,

		RememberDeviceDays: cfg.RememberDevice.Days,

		Passkeys: auth.PasskeyConfig{
			Passwordless: cfg.WebAuthn.Passwordless,
			RequireUV:    cfg.WebAuthn.UserVerification == "required",
			Timeout:      cfg.WebAuthn.Timeout,
			AAGUIDs:      lowerAll(cfg.WebAuthn.AAGUIDs),
		},

		NotifyNewDevice: cfg.Notify.NewDevice && a.notices != nil,
	}, auth.Deps{
		SMS:      sender,
		WebAuthn: webAuthn,
		Store:    a.store,
		Keys:     a.keys,
		Hasher:   password.NewHasher(hashParams(cfg.Password.Argon2), cfg.Password.Concurrency, cfg.Password.MaxWait),
		Limiter:  ratelimit.NewLimiter(backend),
		Accounts: ratelimit.NewLimiter(accounts),
		Audit:    rec,
		Notify:   a.notices,
		Log:      a.log,
		Now:      now,
	})
	return nil
}

// newWebAuthn builds the passkey protocol step for the configured relying
// party, or returns nil (passkeys off) when public_url's host is an IP
// address and no webauthn.rp_id names a domain: WebAuthn binds passkeys to
// a domain name. The service then answers passkey calls as not
// implemented. The nil is returned as the interface's own nil.
func (a *app) newWebAuthn() (auth.WebAuthn, error) {
	cfg := a.cfg
	id, name, origins, ok := cfg.PasskeyRP()
	if !ok {
		a.log.Debug("passkeys are off: public_url's host is an IP address; name twostep by a host to offer them")
		return nil, nil
	}
	w, err := passkey.New(passkey.Config{RPID: id, RPName: name, Origins: origins,
		UserVerification: cfg.WebAuthn.UserVerification, Attestation: cfg.WebAuthn.Attestation, Timeout: cfg.WebAuthn.Timeout})
	if err != nil {
		return nil, fmt.Errorf("webauthn: %w", err)
	}
	return w, nil
}

// lowerAll returns the strings of ss in lower case.
func lowerAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(s)
	}
	return out
}

// hashParams are the argon2id parameters: the configured cost, the
// package's salt and key lengths.
func hashParams(c config.Argon2) password.Params {
	p := password.DefaultParams()
	p.Memory, p.Time, p.Threads = c.Memory, c.Time, c.Threads
	return p
}

// loadKeys completes a.keys (preloaded by open when the file exists),
// creating the key file (mode 0600) only on a fresh install: when the
// database already holds secrets sealed under keys the file lacks,
// start-up fails instead of making them unreadable. Twostep never runs
// without a key (no plaintext fallback).
func (a *app) loadKeys(e *cmdEnv, mode openMode) (*keyring.Keyring, error) {
	inUse, err := a.store.KeyIDsInUse(e.ctx)
	if err != nil {
		return nil, fmt.Errorf("read key ids: %w", err)
	}
	kr := a.keys
	if kr == nil {
		if len(inUse) > 0 {
			return nil, fmt.Errorf("key file %s is missing, but the database holds secrets sealed with key(s) %s: restore the key file from your backup",
				a.cfg.KeyFile, strings.Join(inUse, ", "))
		}
		if mode == existing {
			return nil, fmt.Errorf("no key file at %s: start `twostep serve` there first (or run `twostep migrate`), or point --config at the installation", a.cfg.KeyFile)
		}
		var created bool
		if kr, created, err = keyring.LoadOrCreate(a.cfg.KeyFile); err != nil {
			return nil, err
		}
		if created {
			a.log.Warn("created a new encryption key file; back it up: without it stored secrets cannot be read", "key_file", a.cfg.KeyFile)
		}
	}
	for _, id := range inUse {
		if !slices.Contains(kr.IDs(), id) {
			return nil, fmt.Errorf("key file %s lacks key %s that sealed stored secrets: restore the right key file", a.cfg.KeyFile, id)
		}
	}
	return kr, nil
}

// audit builds the audit recorder; its events also feed the metrics.
func (a *app) audit(now func() time.Time) *audit.Recorder {
	a.metrics = metrics.New()
	rec := audit.New(a.store, a.log, now)
	rec.OnEvent = a.metrics.SecurityEvent
	rec.OnRefused = a.metrics.Refused
	return rec
}

// limitBackends picks where limits count. Everything counts in Redis when
// `redis` is set (shared by every instance, no database write per count);
// else in the database on PostgreSQL, so limits still hold across every
// instance (docs/deploy.md). On SQLite's single instance the per-client
// and short per-user limits count in memory (no write per request), while
// the per-account allowances (accounts) count in the database: the CLI
// must reach them (`twostep user unlock`) while the server runs. With
// Redis, /readyz also needs Redis to answer: limits fail closed without
// it, so an instance that cannot reach it cannot serve.
func (a *app) limitBackends(now func() time.Time) (limits, accounts ratelimit.Backend, err error) {
	switch {
	case a.cfg.Redis != "":
		c, prefix, err := newRedisClient(a.cfg.Redis)
		if err != nil {
			return nil, nil, err
		}
		a.redis = c
		a.ready = append(a.ready, func(ctx context.Context) error { return c.Ping(ctx).Err() })
		r := ratelimit.NewRedis(c, prefix)
		return r, r, nil
	case a.store.Dialect() == store.Postgres:
		a.counters = a.store.Counters(now)
		return a.counters, a.counters, nil
	}
	a.counters = a.store.Counters(now)
	return ratelimit.NewMemory(now), a.counters, nil
}

// defaultRedisPrefix starts every key twostep writes to Redis.
const defaultRedisPrefix = "twostep:rl:"

// newRedisClient opens a client on the `redis` URL and returns it with the
// key prefix to use. Timeouts are short because every limited request waits
// on Redis: when it is gone, requests are refused quickly (fail closed)
// instead of piling up. Settings given in the URL (dial_timeout=,
// pool_size=, max_retries=, …) win. twostep's own URL option key_prefix=
// replaces "twostep:rl:", so deployments (or test runs) sharing one Redis
// database never share a counter.
func newRedisClient(rawURL string) (*redis.Client, string, error) {
	// The URL may hold a password: errors name the problem, not the URL.
	invalid := func(err error) error {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("redis: invalid URL: %w", err)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, "", invalid(err)
	}
	prefix := defaultRedisPrefix
	if q := u.Query(); q.Has("key_prefix") {
		if prefix = q.Get("key_prefix"); prefix == "" {
			return nil, "", errors.New("redis: invalid URL: key_prefix is empty")
		}
		q.Del("key_prefix")
		u.RawQuery = q.Encode()
	}
	opts, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, "", invalid(err)
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 2 * time.Second
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = time.Second
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = time.Second
	}
	if opts.PoolSize == 0 {
		opts.PoolSize = 4 * runtime.NumCPU() // as the PostgreSQL pool
	}
	if opts.MaxRetries == 0 {
		// One retry rides over a pooled connection the server closed (a
		// Redis restart); more would only stretch a request that is going
		// to be refused anyway.
		opts.MaxRetries = 1
	}
	// A plain Redis server has no maintenance notifications; asking for
	// them costs a round trip on every new connection.
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return redis.NewClient(opts), prefix, nil
}

func (a *app) close() {
	if a.redis != nil {
		a.redis.Close()
	}
	a.store.Close()
}

// config loads the configuration: file, then environment, then flags.
func (e *cmdEnv) config(f *flags) (config.Config, error) {
	cfg, err := config.Load(f.config, e.env, f.flagValues())
	if err != nil {
		return config.Config{}, fmt.Errorf("configuration:\n%w", err)
	}
	return cfg, nil
}

func newLogger(cfg config.Config, w io.Writer, minLevel slog.Level) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: max(level, minLevel)}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// newSender builds the configured SMS provider.
func newSender(cfg config.Config, log *slog.Logger) (sms.Sender, error) {
	c := cfg.SMS
	switch c.Provider {
	case "console":
		return sms.NewConsole(sms.ConsoleConfig{Log: log}), nil
	case "file":
		return sms.NewFile(sms.FileConfig{Path: c.File})
	case "twilio":
		return gateway.NewTwilio(gateway.TwilioConfig{AccountSID: c.Twilio.AccountSID, AuthToken: c.Twilio.AuthToken, From: c.Twilio.From}, nil)
	case "kannel":
		return gateway.NewKannel(gateway.KannelConfig{URL: c.Kannel.URL, Username: c.Kannel.Username, Password: c.Kannel.Password, From: c.Kannel.From}, nil)
	case "webhook":
		return gateway.NewWebhook(gateway.WebhookConfig{URL: c.Webhook.URL, Secret: c.Webhook.Secret}, nil)
	}
	return nil, fmt.Errorf("unknown provider %q", c.Provider)
}

func smsBudgets(b config.SMSBudget) auth.SMSBudgets {
	pair := func(hour, day int) [2]ratelimit.Limit {
		return [2]ratelimit.Limit{{Count: int64(hour), Window: time.Hour}, {Count: int64(day), Window: 24 * time.Hour}}
	}
	return auth.SMSBudgets{
		PerNumber:  pair(b.NumberHour, b.NumberDay),
		PerUser:    pair(b.UserHour, b.UserDay),
		PerIP:      pair(b.IPHour, b.IPDay),
		PerCountry: pair(b.CountryHour, b.CountryDay),
		Global:     pair(b.GlobalHour, b.GlobalDay),
	}
}

// publicHost is the host (with a non-default port) of the public URL, as
// the WebOTP line of a text names it.
func publicHost(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil {
		return ""
	}
	return u.Host
}

// accessRules parses access.rules; every bad rule is reported.
func accessRules(c config.Access) (auth.Access, error) {
	a := auth.Access{Default: auth.Policy(c.DefaultPolicy)}
	var errs []error
	for _, s := range c.Rules {
		r, err := auth.ParseRule(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("access.rules: %w", err))
			continue
		}
		a.Rules = append(a.Rules, r)
	}
	if len(errs) > 0 {
		return auth.Access{}, fmt.Errorf("configuration:\n%w", errors.Join(errs...))
	}
	return a, nil
}

// mfaPolicies parses mfa.policies (docs/rollout.md); every bad policy is
// reported with its place, its text and the part that is wrong. A policy
// that allows passkeys alone, while this server offers none, would leave
// its users nothing to set up: refused too.
func mfaPolicies(c config.MFA, passkeys bool) ([]auth.MFAPolicy, error) {
	ps, errs := auth.ParseMFAPolicies(c.Policies)
	if !passkeys {
		for i, p := range ps {
			if !p.Allows("totp") && !p.Allows("sms") {
				errs = append(errs, fmt.Errorf("mfa.policies %q: methods: webauthn alone, but passkeys are off (public_url's host is an IP address and webauthn.rp_id is not set)", ps[i].Text))
			}
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("configuration:\n%w", errors.Join(errs...))
	}
	return ps, nil
}
