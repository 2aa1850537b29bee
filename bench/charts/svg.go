package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strings"
)

// A Chart is a grouped bar chart: one group of bars per entry of Groups,
// one bar per entry of Series in each group.
type Chart struct {
	// File is the SVG's file name, such as "buildselect.svg".
	File string
	// Title and Subtitle head the chart; Subtitle says what was measured
	// and where.
	Title, Subtitle string
	// Unit labels the value axis.
	Unit string
	// Groups and Series name the bars; Values[g][s] is the bar of series
	// s in group g (NaN: no bar).
	Groups, Series []string
	Values         [][]float64
	// Labels[g][s], when set and not empty, is written above the bar
	// instead of its value.
	Labels [][]string
	// Log draws the value axis on a log scale (for values that span
	// orders of magnitude); every value must then be positive.
	Log bool
	// Ref, when positive, draws a dashed horizontal line at that value,
	// labelled RefLabel (1.0 for a ratio to a baseline).
	Ref      float64
	RefLabel string
}

// The chart's geometry, in SVG user units.
const (
	svgWidth     = 760
	svgHeight    = 430
	marginLeft   = 78
	marginRight  = 24
	marginTop    = 78
	marginBottom = 84
)

// palette colours the series, in order.
var palette = []string{"#3b6fb6", "#e07b39", "#5a9e4b", "#b8474f", "#7d5ba6", "#8c8c8c"}

// Validate reports a chart that cannot be drawn.
func (c *Chart) Validate() error {
	if len(c.Groups) == 0 || len(c.Series) == 0 {
		return fmt.Errorf("%s: no bars", c.File)
	}
	if len(c.Values) != len(c.Groups) {
		return fmt.Errorf("%s: %d rows of values for %d groups", c.File, len(c.Values), len(c.Groups))
	}
	any := false
	for g, row := range c.Values {
		if len(row) != len(c.Series) {
			return fmt.Errorf("%s: group %q has %d values for %d series", c.File, c.Groups[g], len(row), len(c.Series))
		}
		for _, v := range row {
			switch {
			case math.IsNaN(v):
			case math.IsInf(v, 0) || v < 0 || (c.Log && v == 0):
				return fmt.Errorf("%s: group %q: value %v cannot be drawn", c.File, c.Groups[g], v)
			default:
				any = true
			}
		}
	}
	if !any {
		return fmt.Errorf("%s: every value is missing", c.File)
	}
	return nil
}

// scale maps values to the plot's y coordinates.
type scale struct {
	lo, hi float64 // in value space (log10 of it on a log scale)
	log    bool
	ticks  []float64
}

func newScale(c *Chart) scale {
	hi, lo := c.Ref, math.Inf(1)
	for _, row := range c.Values {
		for _, v := range row {
			if !math.IsNaN(v) {
				hi = math.Max(hi, v)
				lo = math.Min(lo, v)
			}
		}
	}
	if c.Log {
		if c.Ref > 0 {
			lo = math.Min(lo, c.Ref)
		}
		s := scale{lo: math.Floor(math.Log10(lo)), hi: math.Ceil(math.Log10(hi)), log: true}
		if s.hi == s.lo {
			s.hi++
		}
		for e := s.lo; e <= s.hi; e++ {
			s.ticks = append(s.ticks, math.Pow(10, e))
		}
		return s
	}
	step := niceStep(hi * 1.1 / 5)
	top := math.Ceil(hi*1.1/step) * step
	s := scale{lo: 0, hi: top}
	for t := 0.0; t <= top+step/2; t += step {
		s.ticks = append(s.ticks, t)
	}
	return s
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if x <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// y returns the y coordinate of value v.
func (s scale) y(v float64) float64 {
	if s.log {
		v = math.Log10(v)
	}
	top, bottom := float64(marginTop), float64(svgHeight-marginBottom)
	return bottom - (v-s.lo)/(s.hi-s.lo)*(bottom-top)
}

// Render writes the chart as a standalone SVG document.
func (c *Chart) Render(w io.Writer) error {
	if err := c.Validate(); err != nil {
		return err
	}
	var b bytes.Buffer
	s := newScale(c)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n",
		svgWidth, svgHeight, svgWidth, svgHeight)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="26" font-size="17" font-weight="bold">%s</text>`+"\n", marginLeft, esc(c.Title))
	for i, line := range strings.Split(c.Subtitle, "\n") {
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555555" font-size="11">%s</text>`+"\n", marginLeft, 44+15*i, esc(line))
	}
	c.axes(&b, s)
	c.bars(&b, s)
	c.ref(&b, s)
	c.legend(&b)
	b.WriteString("</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
}

// axes draws the grid, the ticks and the unit.
func (c *Chart) axes(b *bytes.Buffer, s scale) {
	x0, x1 := marginLeft, svgWidth-marginRight
	for _, t := range s.ticks {
		y := s.y(t)
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e3e3e3"/>`+"\n", x0, x1, y, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555555">%s</text>`+"\n", x0-6, y+4, esc(formatValue(t)))
	}
	bottom := svgHeight - marginBottom
	fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333333"/>`+"\n", x0, x1, bottom, bottom)
	unit := c.Unit
	if c.Log {
		unit += " (log scale)"
	}
	mid := (marginTop + bottom) / 2
	fmt.Fprintf(b, `<text transform="translate(18 %d) rotate(-90)" text-anchor="middle" fill="#333333">%s</text>`+"\n", mid, esc(unit))
}

// ref draws the reference line over the bars, and explains it at the
// right end of the legend row.
func (c *Chart) ref(b *bytes.Buffer, s scale) {
	if c.Ref <= 0 {
		return
	}
	x0, x1 := float64(marginLeft), float64(svgWidth-marginRight)
	ry := s.y(c.Ref)
	fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#b8474f" stroke-width="1.5" stroke-dasharray="6 4"/>`+"\n", x0, x1, ry, ry)
	if c.RefLabel == "" {
		return
	}
	y := float64(svgHeight - 28)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="#b8474f">%s</text>`+"\n", x1, y, esc(c.RefLabel))
	w := 7 * float64(len(c.RefLabel))
	fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#b8474f" stroke-width="1.5" stroke-dasharray="6 4"/>`+"\n", x1-w-34, x1-w-6, y-4, y-4)
}

// bars draws each group's bars, their values and the group's name.
func (c *Chart) bars(b *bytes.Buffer, s scale) {
	plotW := float64(svgWidth - marginLeft - marginRight)
	groupW := plotW / float64(len(c.Groups))
	barW := groupW * 0.78 / float64(len(c.Series))
	bottom := float64(svgHeight - marginBottom)
	base := bottom
	if s.log {
		base = s.y(math.Pow(10, s.lo))
	}
	for g, name := range c.Groups {
		gx := float64(marginLeft) + groupW*float64(g) + groupW*0.11
		for i, v := range c.Values[g] {
			if math.IsNaN(v) {
				continue
			}
			x, y := gx+barW*float64(i), s.y(v)
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s, %s: %s %s</title></rect>`+"\n",
				x+1, y, barW-2, math.Max(base-y, 0.5), palette[i%len(palette)], esc(name), esc(c.Series[i]), esc(formatValue(v)), esc(c.Unit))
			label := formatValue(v)
			if g < len(c.Labels) && i < len(c.Labels[g]) && c.Labels[g][i] != "" {
				label = c.Labels[g][i]
			}
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10" fill="#222222">%s</text>`+"\n", x+barW/2, y-4, esc(label))
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#222222">%s</text>`+"\n",
			float64(marginLeft)+groupW*(float64(g)+0.5), bottom+18, esc(name))
	}
}

// legend names the series, under the group names.
func (c *Chart) legend(b *bytes.Buffer) {
	if len(c.Series) < 2 {
		return
	}
	x, y := float64(marginLeft), float64(svgHeight-28)
	for i, name := range c.Series {
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="12" height="12" fill="%s"/>`+"\n", x, y-10, palette[i%len(palette)])
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", x+17, y, esc(name))
		x += 17 + 7*float64(len(name)) + 22
	}
}

// formatValue prints a value with about three significant digits.
func formatValue(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e6:
		return trimZeros(fmt.Sprintf("%.2f", v/1e6)) + "M"
	case a >= 1e4:
		return trimZeros(fmt.Sprintf("%.1f", v/1e3)) + "k"
	case a >= 100 || a == 0:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return trimZeros(fmt.Sprintf("%.1f", v))
	case a >= 1:
		return trimZeros(fmt.Sprintf("%.2f", v))
	default:
		return trimZeros(fmt.Sprintf("%.3g", v))
	}
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// esc escapes text for SVG.
func esc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
