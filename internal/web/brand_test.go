package web

import (
	"regexp"
	"testing"
)

// TestBrandCSSContrast: whatever accent an operator picks, button text and
// links meet WCAG AA.
func TestBrandCSSContrast(t *testing.T) {
	page := rgb{244, 245, 247}
	re := regexp.MustCompile(`--accent:(#[0-9a-f]{6});--accent-hover:(#[0-9a-f]{6});--on-accent:(#[0-9a-f]{6});--link:(#[0-9a-f]{6})`)
	for _, accent := range []string{"#1d4ed8", "#ffeb3b", "#ffffff", "#000000", "#0f766e", "#ff0000", "#7dd3fc", "bad"} {
		m := re.FindStringSubmatch(string(brandCSS(accent)))
		if m == nil {
			t.Fatalf("brandCSS(%q) = %s", accent, brandCSS(accent))
		}
		bg, _ := parseHex(m[1])
		on, _ := parseHex(m[3])
		link, _ := parseHex(m[4])
		if c := contrast(bg, on); c < 4.5 {
			t.Errorf("%s: button text contrast %.2f < 4.5", accent, c)
		}
		if c := contrast(link, page); c < 4.5 {
			t.Errorf("%s: link contrast %.2f < 4.5", accent, c)
		}
	}
}

func TestGroupSecret(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"ABC", "ABC"},
		{"ABCD", "ABCD"},
		{"ABCDE", "ABCD E"},
		{"ABCDEFGHIJ", "ABCD EFGH IJ"},
		{"JBSWY3DPEHPK3PXP", "JBSW Y3DP EHPK 3PXP"},
	}
	for _, tt := range tests {
		if got := groupSecret(tt.in); got != tt.want {
			t.Errorf("groupSecret(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
