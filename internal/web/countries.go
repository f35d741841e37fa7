package web

import (
	"slices"
	"sync"

	"github.com/twostep/twostep/internal/phone"
)

// country is one entry of the phone number form's country list.
type country struct {
	Code        string // ISO 3166-1 alpha-2
	Name        string // English name
	CallingCode int    // ITU-T E.164 country calling code
	Example     string // an example mobile number the form accepts, for the hint
}

// allCountries is phone.Countries() with an example number each, built once:
// the metadata is fixed for the life of the process, and formatting 245
// examples on every visit of the page would be wasted work.
var allCountries = sync.OnceValue(func() []country {
	cs := phone.Countries()
	out := make([]country, len(cs))
	for i, c := range cs {
		out[i] = country{Code: c.Code, Name: c.Name, CallingCode: c.CallingCode, Example: phone.Example(c.Code)}
	}
	return out
})

// pickerCountries is the list the form offers: the countries texts may be
// sent to (sms.allowed_countries), or all of them for "*". Offering a
// country that is always refused would only lead to an error after typing
// the number. An empty allow-list (nothing can be sent) offers all, so the
// service's message says why.
func pickerCountries(allowed []string) []country {
	all := allCountries()
	if len(allowed) == 0 || slices.Contains(allowed, "*") {
		return all
	}
	var out []country
	for _, c := range all {
		if slices.Contains(allowed, c.Code) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return all
	}
	return out
}

// findCountry finds a country of list by its ISO code.
func findCountry(list []country, code string) (country, bool) {
	for _, c := range list {
		if c.Code == code {
			return c, true
		}
	}
	return country{}, false
}
