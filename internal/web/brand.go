package web

import (
	"fmt"
	"math"
	"strconv"
)

// defaultAccent is the accent colour when none is configured: a blue with
// 6.7:1 contrast on white.
const defaultAccent = "#1d4ed8"

// rgb is a colour with channels 0..255.
type rgb [3]float64

// brandCSS is the generated /static/brand.css: the accent colour as CSS
// custom properties (the Content-Security-Policy allows no inline styles, so
// the colour cannot go into a style attribute). The text on accent buttons
// is white or near-black, whichever contrasts more; links and focus rings
// use the accent darkened until it reaches 4.5:1 against the page
// background (WCAG 2.2 AA, 1.4.3 and 1.4.11). An accent that reaches 4.5:1
// with neither text colour is darkened (or lightened) until it does.
func brandCSS(accent string) []byte {
	c, ok := parseHex(accent)
	if !ok {
		c, _ = parseHex(defaultAccent)
	}
	white, ink, page := rgb{255, 255, 255}, rgb{17, 24, 39}, rgb{244, 245, 247}
	on := white
	if contrast(c, ink) > contrast(c, white) {
		on = ink
	}
	// Mid-tones (pure red) reach 4.5:1 with neither: move the button colour
	// away from its text until they do.
	for i := 0; i < 40 && contrast(c, on) < 4.5; i++ {
		if on == white {
			c = scale(c, 0.95)
		} else {
			c = mix(c, white, 0.1)
		}
	}
	link := c
	for i := 0; i < 40 && contrast(link, page) < 4.5; i++ {
		link = scale(link, 0.92)
	}
	hover := scale(c, 0.85)
	if on == ink {
		hover = mix(c, white, 0.25)
	}
	return fmt.Appendf(nil, ":root{--accent:%s;--accent-hover:%s;--on-accent:%s;--link:%s;--focus:%s}\n",
		hexOf(c), hexOf(hover), hexOf(on), hexOf(link), hexOf(link))
}

// parseHex reads #rrggbb.
func parseHex(s string) (rgb, bool) {
	if len(s) != 7 || s[0] != '#' {
		return rgb{}, false
	}
	var c rgb
	for i := range 3 {
		v, err := strconv.ParseUint(s[1+2*i:3+2*i], 16, 8)
		if err != nil {
			return rgb{}, false
		}
		c[i] = float64(v)
	}
	return c, true
}

func hexOf(c rgb) string {
	return fmt.Sprintf("#%02x%02x%02x", int(math.Round(c[0])), int(math.Round(c[1])), int(math.Round(c[2])))
}

func scale(c rgb, f float64) rgb { return rgb{c[0] * f, c[1] * f, c[2] * f} }

func mix(a, b rgb, f float64) rgb {
	return rgb{a[0] + (b[0]-a[0])*f, a[1] + (b[1]-a[1])*f, a[2] + (b[2]-a[2])*f}
}

// luminance is the WCAG relative luminance of c.
func luminance(c rgb) float64 {
	var l [3]float64
	for i, v := range c {
		v /= 255
		if v <= 0.04045 {
			l[i] = v / 12.92
		} else {
			l[i] = math.Pow((v+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
}

// contrast is the WCAG contrast ratio of a and b (1 to 21).
func contrast(a, b rgb) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}
