package phone

import (
	"slices"
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/collate"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// Country is one entry of the country picker: a region libphonenumber has a
// numbering plan for.
type Country struct {
	// Code is the ISO 3166-1 alpha-2 code, upper case ("US", "GB").
	Code string `json:"code"`
	// Name is the English name from CLDR ("United States", "Côte d’Ivoire").
	Name string `json:"name"`
	// CallingCode is the international dialling prefix without "+" (1, 44).
	CallingCode int `json:"calling_code"`
}

// countryTable is the country list and its index, built once: the metadata
// is fixed for the life of the process, and the list is read on every
// visit to the phone page.
var countryTable = sync.OnceValues(func() ([]Country, map[string]Country) {
	regions := phonenumbers.GetSupportedRegions()
	list := make([]Country, 0, len(regions))
	byCode := make(map[string]Country, len(regions))
	names := display.English.Regions()
	for code := range regions {
		c := Country{
			Code:        code,
			Name:        code, // fallback when CLDR has no English name
			CallingCode: phonenumbers.GetCountryCodeForRegion(code),
		}
		if r, err := language.ParseRegion(code); err == nil {
			if n := names.Name(r); n != "" {
				c.Name = n
			}
		}
		list = append(list, c)
		byCode[code] = c
	}
	// Sort the way an English reader expects, so "Åland Islands" sits
	// among the A's and "Côte d’Ivoire" among the C's rather than after
	// "Zimbabwe" as a byte-wise sort would put them.
	col := collate.New(language.English, collate.Loose)
	slices.SortFunc(list, func(a, b Country) int {
		if c := col.CompareString(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Code, b.Code)
	})
	return list, byCode
})

// Countries returns every region phonenumbers supports, sorted by English
// name. The caller owns the returned slice.
func Countries() []Country {
	list, _ := countryTable()
	return slices.Clone(list)
}

// LookupCountry returns the country with the ISO 3166-1 alpha-2 code
// (case-insensitive) and whether twostep knows it.
func LookupCountry(code string) (Country, bool) {
	if len(code) != 2 {
		return Country{}, false
	}
	_, byCode := countryTable()
	c, ok := byCode[strings.ToUpper(code)]
	return c, ok
}
