package phone

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// testCountries are the countries the table tests cover: every continent,
// both NANP members, plans with and without a trunk prefix, 9- to
// 13-digit numbers.
var testCountries = []string{"US", "CA", "GB", "DE", "FR", "IN", "BR", "JP", "AU", "NG", "ZA", "MX", "AR", "KE", "SG", "CN"}

// TestParseHandWritten covers formats people type. US numbers 555-01XX are
// reserved for fiction by NANPA, yet libphonenumber's metadata accepts
// them as FIXED_LINE_OR_MOBILE (area codes 201 and 506 are real), so the
// familiar "(201) 555-0123" works here. The UK's fiction range 07700 900xxx
// is NOT valid in the metadata, so "+44 7700 900123" is refused (see
// TestParseRefused) and the GB cases use the metadata's example 07400 123456.
func TestParseHandWritten(t *testing.T) {
	tests := []struct {
		name, input, country string
		want                 Number
	}{
		{"US brackets", "(201) 555-0123", "US", Number{"+12015550123", "US"}},
		{"US dots", "201.555.0123", "US", Number{"+12015550123", "US"}},
		{"US dashes", "201-555-0123", "US", Number{"+12015550123", "US"}},
		{"US spaces", " 201 555 0123 ", "US", Number{"+12015550123", "US"}},
		{"US trunk 1", "1 (201) 555-0123", "US", Number{"+12015550123", "US"}},
		{"US international", "+1 201 555 0123", "US", Number{"+12015550123", "US"}},
		{"US lower-case country", "2015550123", "us", Number{"+12015550123", "US"}},
		{"US 011 prefix to GB", "011 44 7400 123456", "US", Number{"+447400123456", "GB"}},
		{"CA", "(506) 234-5678", "CA", Number{"+15062345678", "CA"}},
		{"CA number typed with US picked", "(506) 234-5678", "US", Number{"+15062345678", "CA"}},
		{"GB national", "07400 123456", "GB", Number{"+447400123456", "GB"}},
		{"GB international from US", "+44 7400 123456", "US", Number{"+447400123456", "GB"}},
		{"GB 0044 from US", "0044 7400 123456", "US", Number{"+447400123456", "GB"}},
		{"GB 0044 from GB", "0044 7400 123456", "GB", Number{"+447400123456", "GB"}},
		{"GB international with (0)", "+44 (0)7400 123456", "GB", Number{"+447400123456", "GB"}},
		{"GB international, no country", "+447400123456", "", Number{"+447400123456", "GB"}},
		{"DE", "01512 3456789", "DE", Number{"+4915123456789", "DE"}},
		{"DE slash", "01512/3456789", "DE", Number{"+4915123456789", "DE"}},
		{"FR", "06 12 34 56 78", "FR", Number{"+33612345678", "FR"}},
		{"FR dots", "06.12.34.56.78", "FR", Number{"+33612345678", "FR"}},
		{"IN", "081234 56789", "IN", Number{"+918123456789", "IN"}},
		{"BR", "(11) 96123-4567", "BR", Number{"+5511961234567", "BR"}},
		{"BR carrier-select IDD", "0021 44 7400 123456", "BR", Number{"+447400123456", "GB"}},
		{"JP", "090-1234-5678", "JP", Number{"+819012345678", "JP"}},
		{"AU", "0412 345 678", "AU", Number{"+61412345678", "AU"}},
		{"NG", "0802 123 4567", "NG", Number{"+2348021234567", "NG"}},
		{"ZA", "071 123 4567", "ZA", Number{"+27711234567", "ZA"}},
		{"MX", "222 123 4567", "MX", Number{"+522221234567", "MX"}},
		{"AR with 15", "011 15-2345-6789", "AR", Number{"+5491123456789", "AR"}},
		{"full-width digits", "２０１５５５０１２３", "US", Number{"+12015550123", "US"}},
		{"Arabic-Indic digits", "٢٠١٥٥٥٠١٢٣", "US", Number{"+12015550123", "US"}},
		{"en dash and no-break space", "201\u2013555\u00a00123", "US", Number{"+12015550123", "US"}},
		{"exactly 64 bytes", strings.Repeat(" ", MaxInput-len("2015550123")) + "2015550123", "US", Number{"+12015550123", "US"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.input, tt.country)
			if err != nil {
				t.Fatalf("Parse(%q, %q): %v", tt.input, tt.country, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q, %q) = %+v, want %+v", tt.input, tt.country, got, tt.want)
			}
		})
	}
}

// TestParseExamples parses the metadata's own example mobile number of
// each test country in every format a person might copy it in, so the
// cases stay valid when the metadata changes.
func TestParseExamples(t *testing.T) {
	for _, cc := range testCountries {
		pn := phonenumbers.GetExampleNumberForType(cc, phonenumbers.MOBILE)
		if pn == nil {
			t.Fatalf("%s: no example mobile number in the metadata", cc)
		}
		want := Number{E164: phonenumbers.Format(pn, phonenumbers.E164), Country: cc}
		inputs := map[string]string{
			"international": phonenumbers.Format(pn, phonenumbers.INTERNATIONAL),
			"e164":          want.E164,
			"rfc3966 body":  strings.TrimPrefix(phonenumbers.Format(pn, phonenumbers.RFC3966), "tel:"),
			"00 prefix":     "00" + want.E164[1:],
		}
		if cc != "AR" { // the port's national format of AR does not read back; see Example
			inputs["national"] = phonenumbers.Format(pn, phonenumbers.NATIONAL)
		}
		for form, input := range inputs {
			t.Run(cc+"/"+form, func(t *testing.T) {
				got, err := Parse(input, cc)
				if err != nil {
					t.Fatalf("Parse(%q, %q): %v", input, cc, err)
				}
				if got != want {
					t.Errorf("Parse(%q, %q) = %+v, want %+v", input, cc, got, want)
				}
				if m, tail := Mask(got.E164), want.E164[len(want.E164)-4:]; m != "•••• "+tail {
					t.Errorf("Mask(%q) = %q, want %q", got.E164, m, "•••• "+tail)
				}
				// From another country's picker the number is still itself.
				if got2, err := Parse(phonenumbers.Format(pn, phonenumbers.INTERNATIONAL), "JP"); err != nil || got2 != want {
					t.Errorf("international form with JP picked = %+v, %v; want %+v", got2, err, want)
				}
			})
		}
	}
}

// TestExampleEveryCountry checks the placeholder of every country is
// something Parse accepts, so no one is shown an example they cannot copy.
func TestExampleEveryCountry(t *testing.T) {
	missing := 0
	for _, c := range Countries() {
		ex := Example(c.Code)
		if ex == "" {
			missing++
			continue
		}
		got, err := Parse(ex, c.Code)
		if err != nil {
			t.Errorf("%s: Parse(Example %q): %v", c.Code, ex, err)
			continue
		}
		// Regions sharing a plan (AU with CX and CC, FI with AX, NO with SJ,
		// IT with VA, MA with EH...) may report the main region: Country is
		// a function of the number alone. The calling code always matches
		// (calling codes are prefix-free, so the prefix names exactly one).
		if cc := "+" + strconv.Itoa(c.CallingCode); !strings.HasPrefix(got.E164, cc) {
			t.Errorf("%s: Example %q parses to %s, want calling code %s", c.Code, ex, got.E164, cc)
		}
	}
	if missing > 3 {
		t.Errorf("%d countries have no example number; expected only a few (TA)", missing)
	}
	if got := Example("US"); got != "(201) 555-0123" {
		t.Errorf(`Example("US") = %q, want "(201) 555-0123"`, got)
	}
	for _, cc := range []string{"", "XX", "001", "TA"} {
		if got := Example(cc); got != "" {
			t.Errorf("Example(%q) = %q, want empty", cc, got)
		}
	}
}

func TestParseRefused(t *testing.T) {
	example := func(region string, typ phonenumbers.PhoneNumberType) string {
		pn := phonenumbers.GetExampleNumberForType(region, typ)
		if pn == nil {
			t.Fatalf("no example of type %v for %s", typ, region)
		}
		return phonenumbers.Format(pn, phonenumbers.NATIONAL)
	}
	notMobileMsg := "That looks like a landline or a special number. Enter a mobile number that can receive text messages."
	tests := []struct {
		name, input, country string
		reason, msg          string // msg "" means any non-empty message
	}{
		{"GB landline", example("GB", phonenumbers.FIXED_LINE), "GB", ReasonNotMobile, notMobileMsg},
		{"DE landline", example("DE", phonenumbers.FIXED_LINE), "DE", ReasonNotMobile, notMobileMsg},
		{"FR landline", example("FR", phonenumbers.FIXED_LINE), "FR", ReasonNotMobile, notMobileMsg},
		{"US toll-free", example("US", phonenumbers.TOLL_FREE), "US", ReasonNotMobile, notMobileMsg},
		{"US premium rate", example("US", phonenumbers.PREMIUM_RATE), "US", ReasonNotMobile, notMobileMsg},
		{"GB premium rate", example("GB", phonenumbers.PREMIUM_RATE), "GB", ReasonNotMobile, notMobileMsg},
		{"GB pager", example("GB", phonenumbers.PAGER), "GB", ReasonNotMobile, notMobileMsg},
		{"GB VoIP", example("GB", phonenumbers.VOIP), "GB", ReasonNotMobile, notMobileMsg},
		{"DE shared cost", example("DE", phonenumbers.SHARED_COST), "DE", ReasonNotMobile, notMobileMsg},
		{"Iridium satellite", "+8816 1234 5678", "US", ReasonNotMobile, notMobileMsg},
		{"GB fiction range", "+44 7700 900123", "US", ReasonInvalid, "That number does not exist in United Kingdom. Check the area code."},
		{"US no such area code", "(099) 555-0123", "US", ReasonInvalid, "That number does not exist in United States. Check the area code."},
		{"GB wrong length", "07400 12345", "GB", ReasonInvalid, ""},
		{"US too short", "(201) 555-012", "US", ReasonTooShort, "That number is too short for United States. Include the area code."},
		{"US local only", "555-0123", "US", ReasonTooShort, "That number is too short: include the area code."},
		{"GB too long", "07400 1234567", "GB", ReasonTooLongForCountry, "That number has too many digits for United Kingdom."},
		{"US too long", "201 555 01234", "US", ReasonTooLongForCountry, ""},
		{"international too short", "+44 12", "US", ReasonTooShort, "That number is too short for United Kingdom. Include the area code."},
		{"letters", "hello", "US", ReasonNotANumber, "That is not a phone number: use digits, spaces, dashes or brackets."},
		{"vanity number", "1-800-FLOWERS", "US", ReasonNotANumber, ""},
		{"extension", "201-555-0123 ext 5", "US", ReasonNotANumber, ""},
		{"x extension", "201-555-0123x5", "US", ReasonNotANumber, ""},
		{"hash", "#201-555-0123", "US", ReasonNotANumber, ""},
		{"star", "*67 201-555-0123", "US", ReasonNotANumber, ""},
		{"plus in the middle", "201+555+0123", "US", ReasonNotANumber, ""},
		{"two pluses", "++44 7400 123456", "US", ReasonNotANumber, ""},
		{"empty", "", "US", ReasonNotANumber, ""},
		{"only separators", " ( ) - . ", "US", ReasonNotANumber, ""},
		{"only plus", "+", "US", ReasonNotANumber, ""},
		{"Devanagari digits", "२०१५५५०१२३", "US", ReasonNotANumber, ""},
		{"control character", "201\x00555\x000123", "US", ReasonNotANumber, ""},
		{"invalid UTF-8", "201\xff5550123", "US", ReasonNotANumber, ""},
		{"HTML", "<script>alert(1)</script>", "US", ReasonNotANumber, ""},
		{"unknown country", "2015550123", "XX", ReasonUnknownCountry, "Choose your country from the list."},
		{"non-geographic region as country", "2015550123", "001", ReasonUnknownCountry, ""},
		{"no country, national input", "2015550123", "", ReasonUnknownCountry, ""},
		{"no such calling code", "+999 1234 5678", "US", ReasonUnknownCountry, ""},
		{"65 bytes", strings.Repeat(" ", MaxInput+1-len("2015550123")) + "2015550123", "US", ReasonTooLong, "That is too long for a phone number."},
		{"very long", strings.Repeat("1", 100000), "US", ReasonTooLong, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.input, tt.country)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q, %q) = %+v, %v; want *Error %s", tt.input, tt.country, got, err, tt.reason)
			}
			if got != (Number{}) {
				t.Errorf("Parse returned %+v with an error", got)
			}
			if pe.Reason != tt.reason {
				t.Errorf("Reason = %q (%s), want %q", pe.Reason, pe.Msg, tt.reason)
			}
			if tt.msg != "" && pe.Msg != tt.msg {
				t.Errorf("Msg = %q, want %q", pe.Msg, tt.msg)
			}
			if pe.Msg == "" || !strings.HasSuffix(pe.Msg, ".") {
				t.Errorf("Msg %q is not a sentence", pe.Msg)
			}
			if strings.ContainsAny(err.Error(), "0123456789") {
				t.Errorf("error %q contains digits: it must never echo the number", err)
			}
		})
	}
}

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+12015550123", "•••• 0123"},
		{"+447400123456", "•••• 3456"},
		{"+4915123456789", "•••• 6789"},
		{"+61412345678", "•••• 5678"},
		{"12345678", "•••• 5678"}, // 8 digits: four hidden, four shown
		{"+1234567", "•••• 567"},  // 7 digits: never fewer than four hidden
		{"+12345", "•••• 5"},
		{"+1234", "••••"},
		{"+1", "••••"},
		{"", "••••"},
		{"not a number", "••••"},
		{"\xff\xfe", "••••"},
		{"+1 (201) 555-0123", "•••• 0123"},
	}
	for _, tt := range tests {
		if got := Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCountries(t *testing.T) {
	list := Countries()
	if want := len(phonenumbers.GetSupportedRegions()); len(list) != want {
		t.Errorf("Countries() has %d entries, want %d (every supported region)", len(list), want)
	}
	seen := map[string]bool{}
	for i, c := range list {
		if len(c.Code) != 2 || strings.ToUpper(c.Code) != c.Code || c.Name == "" || c.CallingCode <= 0 {
			t.Errorf("bad entry %+v", c)
		}
		if seen[c.Code] {
			t.Errorf("duplicate %s", c.Code)
		}
		seen[c.Code] = true
		if !utf8.ValidString(c.Name) {
			t.Errorf("%s: name is not UTF-8", c.Code)
		}
		if i > 0 && list[i-1].Name == c.Name {
			t.Errorf("two countries named %q", c.Name)
		}
	}
	index := func(code string) int {
		for i, c := range list {
			if c.Code == code {
				return i
			}
		}
		t.Fatalf("%s missing from Countries()", code)
		return -1
	}
	// English order, not byte order: Åland sits between Afghanistan and
	// Albania, and Zimbabwe comes last.
	if !(index("AF") < index("AX") && index("AX") < index("AL")) {
		t.Errorf("Åland Islands not sorted among the A's")
	}
	if list[len(list)-1].Code != "ZW" {
		t.Errorf("last country is %+v, want Zimbabwe", list[len(list)-1])
	}

	for _, tt := range []struct {
		code string
		want Country
		ok   bool
	}{
		{"US", Country{"US", "United States", 1}, true},
		{"us", Country{"US", "United States", 1}, true},
		{"GB", Country{"GB", "United Kingdom", 44}, true},
		{"DE", Country{"DE", "Germany", 49}, true},
		{"NG", Country{"NG", "Nigeria", 234}, true},
		{"XX", Country{}, false},
		{"001", Country{}, false},
		{"", Country{}, false},
	} {
		got, ok := LookupCountry(tt.code)
		if got != tt.want || ok != tt.ok {
			t.Errorf("LookupCountry(%q) = %+v, %v; want %+v, %v", tt.code, got, ok, tt.want, tt.ok)
		}
	}

	// The caller owns the slice: changing it does not change the next call.
	list[0].Name = "changed"
	if Countries()[0].Name == "changed" {
		t.Error("Countries() returned the shared slice")
	}
}

func TestRegionOf(t *testing.T) {
	tests := []struct {
		e164   string
		region string
	}{
		{"+12015550123", "US"},
		{"+15062345678", "CA"},
		{"+447400123456", "GB"},
		{"+4915123456789", "DE"},
		{"+2348021234567", "NG"},
		{"+881612345678", ""}, // non-geographic: no region
		{"+12", ""},           // too short to parse
		{"", ""},
		{"2015550123", ""}, // not E.164
		{"+1 201 555 0123", ""},
		{"+99912345678", ""},
		{"+" + strings.Repeat("1", 20), ""},
	}
	for _, tt := range tests {
		if got := RegionOf(tt.e164); got != tt.region {
			t.Errorf("RegionOf(%q) = %q, want %q", tt.e164, got, tt.region)
		}
	}
}

// FuzzParse checks that Parse never panics, refuses with a known reason and
// a message that does not echo the input, and that every number it accepts
// is canonical: it parses again to itself from any country's picker.
func FuzzParse(f *testing.F) {
	seeds := []struct{ input, country string }{
		{"(201) 555-0123", "US"},
		{"201.555.0123", "US"},
		{"+44 7400 123456", "US"},
		{"0044 7400 123456", "US"},
		{"0021 44 7400 123456", "BR"},
		{"+44 (0)7400 123456", "GB"},
		{"07400 123456", "GB"},
		{"01512 3456789", "DE"},
		{"090-1234-5678", "JP"},
		{"011 15-2345-6789", "AR"},
		{"+8816 1234 5678", ""},
		{"２０１５５５０１２３", "US"},
		{"٢٠١٥٥٥٠١٢٣", "US"},
		{"1-800-FLOWERS", "US"},
		{"+", ""},
		{"00", "DE"},
		{"", ""},
		{"\xff", "us"},
		{"+999 1234 5678", "XX"},
	}
	for _, s := range seeds {
		f.Add(s.input, s.country)
	}
	f.Fuzz(func(t *testing.T, input, country string) {
		n, err := Parse(input, country)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			switch pe.Reason {
			case ReasonTooLong, ReasonNotANumber, ReasonUnknownCountry, ReasonTooShort,
				ReasonTooLongForCountry, ReasonInvalid, ReasonNotMobile:
			default:
				t.Fatalf("unknown reason %q", pe.Reason)
			}
			if pe.Msg == "" || strings.ContainsAny(err.Error(), "0123456789") {
				t.Fatalf("bad error text %q", err)
			}
			if n != (Number{}) {
				t.Fatalf("Parse returned %+v with an error", n)
			}
			return
		}
		if len(n.E164) < 3 || len(n.E164) > 16 || n.E164[0] != '+' || strings.Trim(n.E164[1:], "0123456789") != "" {
			t.Fatalf("Parse(%q, %q).E164 = %q is not E.164", input, country, n.E164)
		}
		if _, ok := LookupCountry(n.Country); !ok {
			t.Fatalf("Parse(%q, %q).Country = %q is not a known country", input, country, n.Country)
		}
		for _, c := range []string{n.Country, "", "US", "GB"} {
			again, err := Parse(n.E164, c)
			if err != nil || again != n {
				t.Fatalf("Parse(%q, %q) = %+v; Parse(E164, %q) = %+v, %v", input, country, n, c, again, err)
			}
		}
		if RegionOf(n.E164) != n.Country {
			t.Fatalf("RegionOf(%q) = %q disagrees with Parse: %q", n.E164, RegionOf(n.E164), n.Country)
		}
		if m := Mask(n.E164); !strings.HasPrefix(m, "•••• ") || len(m) != len("•••• ")+4 {
			t.Fatalf("Mask(%q) = %q", n.E164, m)
		}
	})
}
