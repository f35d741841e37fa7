package phone

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// maskDots is what Mask shows in place of hidden digits.
const maskDots = "••••"

// Mask returns the form of a phone number shown and logged after entry,
// "•••• 0123": enough for a person to recognise their own phone, too little
// to identify or call them (OWASP Logging Cheat Sheet: mask personal data).
//
// It shows at most the last four digits and always hides at least four, so
// a short or malformed input shows fewer digits or none ("••••"). It never
// panics, whatever the input.
func Mask(e164 string) string {
	var digits []byte
	for i := 0; i < len(e164); i++ {
		if c := e164[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	show := min(4, max(0, len(digits)-4))
	if show == 0 {
		return maskDots
	}
	return maskDots + " " + string(digits[len(digits)-show:])
}

// Example returns an example mobile number for country (ISO 3166-1
// alpha-2) in national format, for the placeholder of the number field, or
// "" when the metadata has none or the country is unknown.
//
// A placeholder must be something Parse accepts, so when the national form
// does not read back as the same number (Argentina's, "09 15-2345-6789", does
// not in this version of phonenumbers) Example gives the international form.
func Example(country string) string {
	c, ok := LookupCountry(country)
	if !ok {
		return ""
	}
	n := phonenumbers.GetExampleNumberForType(c.Code, phonenumbers.MOBILE)
	if n == nil {
		return ""
	}
	want := phonenumbers.Format(n, phonenumbers.E164)
	for _, f := range []phonenumbers.PhoneNumberFormat{phonenumbers.NATIONAL, phonenumbers.INTERNATIONAL} {
		s := phonenumbers.Format(n, f)
		if got, err := Parse(s, c.Code); err == nil && got.E164 == want {
			return s
		}
	}
	return ""
}

// RegionOf returns the ISO 3166-1 alpha-2 region of a valid E.164 number
// ("CA" for "+16135550123"), or "" when e164 is not a valid number of a
// country (non-geographic numbers such as +881 satellite phones have none).
// Per-country SMS budgets and the country allow-list key on it.
func RegionOf(e164 string) string {
	n, ok := parseE164(e164)
	if !ok {
		return ""
	}
	r := phonenumbers.GetRegionCodeForNumber(n)
	if _, geographic := LookupCountry(r); !geographic {
		return ""
	}
	return r
}

// parseE164 parses a stored number, refusing anything that is not "+"
// and digits.
func parseE164(e164 string) (*phonenumbers.PhoneNumber, bool) {
	if len(e164) < 2 || len(e164) > 16 || e164[0] != '+' || strings.Trim(e164[1:], "0123456789") != "" {
		return nil, false
	}
	n, err := phonenumbers.Parse(e164, "")
	return n, err == nil
}
