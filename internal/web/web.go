// Package web serves twostep's hosted pages: sign-in, set-up of the second
// factor, recovery codes, verification, settings and help (docs/pages.md). Pages
// are server-rendered from embedded html/template files, work without
// JavaScript (a small embedded script only adds copy buttons, a country
// filter and the countdown on "Resend code") and load nothing from another
// origin, so the strict Content-Security-Policy set by httpx holds without
// 'unsafe-inline'.
//
// Handlers are thin, one file per page or action: decode the form, call the
// auth service, then redirect (POST → 303 → GET) or render a typed view
// model. Every security decision stays in the service; this package maps
// its errors to plain sentences next to the field they concern.
package web

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/httpx"
)

// Options are the page settings from the configuration.
type Options struct {
	ClientIP httpx.ClientIP
	Cookies  httpx.Cookies
	Brand    Brand
	Support  Support
	// DefaultCountry preselects the phone number's country (ISO 3166-1
	// alpha-2, sms.default_country). When texts may not go there
	// (sms.allowed_countries), the first allowed country is preselected.
	DefaultCountry string
	// TimeZone is the zone times are written in on the server (named
	// with them, "14:03 UTC"); the pages' script then shows them in the
	// browser's own zone. nil means UTC.
	TimeZone *time.Location
}

// Brand is the operator's look of the pages.
type Brand struct {
	Name        string // product name; empty means the issuer
	Logo        []byte // logo image, served at /static/logo; nil for none
	LogoType    string // its media type, e.g. image/png
	AccentColor string // #rrggbb; empty means the default blue
}

// Support holds the help links (support.contact_url, support.chat_url),
// validated by the configuration to http(s) or mailto: URLs.
type Support struct {
	ContactURL string
	ChatURL    string
}

// Web serves the hosted pages.
type Web struct {
	svc     *auth.Service
	log     *slog.Logger
	ip      httpx.ClientIP
	cookies httpx.Cookies
	msgs    httpx.Messages // the one catalogue, shared with the JSON API
	brand   brandView
	support Support
	assets  *assets
	// countries gives the phone form's country list and preselected
	// country (see countryPicker).
	countries func() ([]country, string)
	zone      *time.Location // Options.TimeZone, never nil
}

// New returns the page handlers.
func New(svc *auth.Service, log *slog.Logger, o Options) *Web {
	name := o.Brand.Name
	if name == "" {
		name = svc.Config().Issuer
	}
	a := newAssets(o.Brand)
	zone := o.TimeZone
	if zone == nil {
		zone = time.UTC
	}
	return &Web{
		zone:    zone,
		svc:     svc,
		log:     log,
		ip:      o.ClientIP,
		cookies: o.Cookies,
		msgs:    httpx.NewMessages(svc.Config()),
		brand:   brandView{Name: name, LogoURL: a.url("logo")},
		support: o.Support,
		assets:  a,
		countries: sync.OnceValues(func() ([]country, string) {
			return countryPicker(svc.Config().SMSAllowedCountries, o.DefaultCountry)
		}),
	}
}

// countryPicker returns the phone form's country list and the country
// preselected in it: the configured default when texts may go there, else
// the first allowed country. Built on first use, not at start-up: it
// collates every country name and formats an example number for each
// (tens of milliseconds and megabytes that an instance without SMS users
// never needs).
func countryPicker(allowed []string, def string) ([]country, string) {
	picker := pickerCountries(allowed)
	if _, ok := findCountry(picker, def); ok {
		return picker, def
	}
	for _, code := range allowed {
		if _, ok := findCountry(picker, code); ok {
			return picker, code
		}
	}
	return picker, picker[0].Code
}

// client describes the caller for limits and the audit log.
func (h *Web) client(r *http.Request) auth.Client { return httpx.Client(r, h.ip, h.cookies) }
