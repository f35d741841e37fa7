package phone

import (
	"errors"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// MaxInput is the longest input, in bytes, that Parse looks at. The longest
// E.164 number has 15 digits; 64 bytes leaves room for any formatting a
// person types and keeps a hostile client from feeding megabytes to the
// parser's regular expressions (validate length before content, OWASP
// Input Validation Cheat Sheet).
const MaxInput = 64

// Reason codes of *Error. They are stable: the API and the pages key
// their behaviour and tests on them, while Msg may be reworded.
const (
	ReasonTooLong           = "too_long"             // input over MaxInput bytes
	ReasonNotANumber        = "not_a_number"         // letters or symbols, or no digits at all
	ReasonUnknownCountry    = "unknown_country"      // country not in Countries, or no such calling code
	ReasonTooShort          = "too_short"            // too few digits for the country's plan
	ReasonTooLongForCountry = "too_long_for_country" // too many digits for the country's plan
	ReasonInvalid           = "invalid"              // right shape, but no such number is assigned
	ReasonNotMobile         = "not_mobile"           // a real number that cannot receive text messages
)

// Error says why Parse refused an input. It never contains the input, so
// it can be logged as is.
type Error struct {
	// Reason is one of the Reason* codes.
	Reason string
	// Msg is a plain-language sentence for the person who typed the number,
	// saying what is wrong and what to do.
	Msg string
}

// Error returns the reason and the message.
func (e *Error) Error() string { return "phone: " + e.Reason + ": " + e.Msg }

// Number is a phone number that passed every check of Parse.
type Number struct {
	// E164 is the canonical form stored and sent to SMS providers,
	// "+" followed by up to 15 digits ("+12015550123").
	E164 string
	// Country is the ISO 3166-1 alpha-2 region the number belongs to. It is
	// the number's real region, which differs from the country the person
	// chose when they typed another country's number in international form.
	// It depends on E164 alone (it equals RegionOf(E164)), so budgets and the
	// country allow-list see one region per number: where regions share a
	// numbering plan and a number is valid in several (AU with Christmas
	// Island, FI with Åland), it is the one libphonenumber names, usually
	// the main country.
	Country string
}

// Parse turns what a person typed into an E.164 mobile number.
//
// National input is read in the numbering plan of country, an ISO 3166-1
// alpha-2 code ("(201) 555-0123" with "US"). International input starting
// with "+" or "00" ("+44 7400 123456", "0044 7400 123456") names its own
// country and is accepted whatever country says; country may then be empty.
// Digits may be separated by spaces, dashes, dots, slashes and parentheses;
// anything else (letters, extensions, "#", "*") is refused, because a number
// that needs them cannot receive a text.
//
// The number must be valid in libphonenumber's metadata and mobile-capable:
// type MOBILE, or FIXED_LINE_OR_MOBILE where the plan cannot tell them apart
// (US, Canada). Landlines, toll-free, premium-rate, shared-cost, VoIP,
// pager and non-geographic (satellite, +800/+88x) numbers are refused: they
// cannot receive the code, prove possession of no device (VoIP, SP 800-63B
// §5.1.3.1), or are how SMS pumping fraud makes money (see the package
// comment). Errors are *Error.
func Parse(input, country string) (Number, error) {
	if len(input) > MaxInput {
		return Number{}, &Error{ReasonTooLong, "That is too long for a phone number."}
	}
	digits, ok := clean(input)
	if !ok {
		return Number{}, &Error{ReasonNotANumber, "That is not a phone number: use digits, spaces, dashes or brackets."}
	}
	if digits == "" || digits == "+" {
		return Number{}, &Error{ReasonNotANumber, "Enter a mobile number, including the area code."}
	}
	region := strings.ToUpper(country)
	if region != "" {
		if _, known := LookupCountry(region); !known {
			return Number{}, &Error{ReasonUnknownCountry, "Choose your country from the list."}
		}
	}
	international := strings.HasPrefix(digits, "+") || strings.HasPrefix(digits, "00")
	if region == "" && !international {
		return Number{}, &Error{ReasonUnknownCountry, "Choose your country from the list, or start the number with + and the country code."}
	}

	n, err := parseValid(digits, region)
	if err != nil && strings.HasPrefix(digits, "00") {
		// "00" is the international prefix in most of the world but not in
		// every plan (the US dials 011), and people type it out of habit
		// whatever country the picker shows. No national number starts with
		// "00", so reading it as "+" cannot turn a good number into another;
		// when both readings fail, the person meant the international one,
		// so its error explains best what is wrong.
		n, err = parseValid("+"+digits[2:], region)
	}
	return n, err
}

// parseValid parses normalized digits and applies every check of Parse.
func parseValid(digits, region string) (Number, error) {
	pn, err := phonenumbers.Parse(digits, region)
	if err != nil {
		if strings.HasPrefix(digits, "+") {
			region = "" // the chosen country is not the one to name
		}
		return Number{}, parseError(err, region)
	}
	cc := int(pn.GetCountryCode())
	switch phonenumbers.IsPossibleNumberWithReason(pn) {
	case phonenumbers.IS_POSSIBLE:
	case phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		return Number{}, &Error{ReasonTooShort, "That number is too short: include the area code."}
	case phonenumbers.TOO_SHORT:
		return Number{}, &Error{ReasonTooShort, "That number is too short for " + countryName(region, cc) + ". Include the area code."}
	case phonenumbers.TOO_LONG:
		return Number{}, &Error{ReasonTooLongForCountry, "That number has too many digits for " + countryName(region, cc) + "."}
	case phonenumbers.INVALID_COUNTRY_CODE:
		return Number{}, unknownCallingCode()
	default: // INVALID_LENGTH: between two possible lengths
		return Number{}, &Error{ReasonInvalid, "That number has the wrong number of digits for " + countryName(region, cc) + "."}
	}
	if !phonenumbers.IsValidNumber(pn) {
		return Number{}, &Error{ReasonInvalid, "That number does not exist in " + countryName(region, cc) + ". Check the area code."}
	}
	numRegion := phonenumbers.GetRegionCodeForNumber(pn)
	if _, geographic := LookupCountry(numRegion); !geographic {
		// Region "001": satellite phones and global services. Texts to them
		// cost many times a normal text and are a favourite of SMS pumping.
		return Number{}, notMobile()
	}
	switch phonenumbers.GetNumberType(pn) {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
	default:
		return Number{}, notMobile()
	}
	return Number{E164: phonenumbers.Format(pn, phonenumbers.E164), Country: numRegion}, nil
}

// clean keeps the digits of input and a leading plus, dropping the
// separators people type. It reports false when input holds anything else.
// Full-width and Arabic-Indic digits, which some keyboards produce, become
// ASCII; other scripts' digits are refused rather than passed on to a
// parser that does not map them.
func clean(input string) (string, bool) {
	var b strings.Builder
	b.Grow(len(input))
	for _, r := range input {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= '０' && r <= '９':
			b.WriteRune('0' + r - '０')
		case r >= '٠' && r <= '٩':
			b.WriteRune('0' + r - '٠')
		case r >= '۰' && r <= '۹':
			b.WriteRune('0' + r - '۰')
		case r == '+' || r == '＋':
			if b.Len() > 0 {
				return "", false // a plus after the first digit
			}
			b.WriteByte('+')
		case r == '.' || r == '(' || r == ')' || r == '/' || r == '−' ||
			unicode.IsSpace(r) || unicode.Is(unicode.Pd, r):
			// separators: spaces, any dash, dots, slashes, brackets
		default:
			return "", false
		}
	}
	return b.String(), true
}

// parseError maps phonenumbers' parse errors to *Error.
func parseError(err error, region string) *Error {
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		return unknownCallingCode()
	case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
		return &Error{ReasonTooShort, "That number is too short for " + countryName(region, 0) + ". Include the area code."}
	case errors.Is(err, phonenumbers.ErrNumTooLong):
		return &Error{ReasonTooLongForCountry, "That number has too many digits for " + countryName(region, 0) + "."}
	default:
		return &Error{ReasonNotANumber, "That is not a phone number: use digits, spaces, dashes or brackets."}
	}
}

func unknownCallingCode() *Error {
	return &Error{ReasonUnknownCountry, "No country uses that calling code. Check the digits after the +."}
}

func notMobile() *Error {
	return &Error{ReasonNotMobile, "That looks like a landline or a special number. Enter a mobile number that can receive text messages."}
}

// countryName names the country a message should talk about: the one the
// person chose, unless the number carries another country's calling code.
func countryName(region string, cc int) string {
	if c, ok := LookupCountry(region); ok && (cc == 0 || c.CallingCode == cc) {
		return c.Name
	}
	if cc != 0 {
		if c, ok := LookupCountry(phonenumbers.GetRegionCodeForCountryCode(cc)); ok {
			return c.Name
		}
	}
	return "that country"
}
