package main

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"regexp"
	"sync"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Charts are drawn by gonum/plot into SVG inlined in the page: no script,
// no font or file fetched, drawn the same with scripts disabled and on
// paper, and byte for byte the same for the same data (no random ids).

// maxBins is the most points a series has: longer spans put several hours
// in one bin, so a month of logs costs what a week does.
const maxBins = 168

// chartSeries is one line of a panel: a value per bin.
type chartSeries struct {
	Name   string
	Values []float64
}

// chartPanel is one plot of a chart; the panels of a chart share the time
// axis, so that cause and consequence line up.
type chartPanel struct {
	Title  string
	Series []chartSeries
}

// timeAxis is the bins of a chart: Bins bins of BinHours hours from Start.
type timeAxis struct {
	Start    time.Time
	BinHours int
	Bins     int
}

// newTimeAxis covers [first, last] (truncated to hours) in at most maxBins bins.
func newTimeAxis(first, last time.Time) timeAxis {
	first, last = first.UTC().Truncate(time.Hour), last.UTC().Truncate(time.Hour)
	hours := max(int(last.Sub(first)/time.Hour)+1, 1)
	per := (hours + maxBins - 1) / maxBins
	return timeAxis{Start: first, BinHours: per, Bins: (hours + per - 1) / per}
}

// bin returns the bin of hour t, or -1 outside the axis.
func (a timeAxis) bin(t time.Time) int {
	h := int(t.UTC().Sub(a.Start) / time.Hour)
	if h < 0 || h/a.BinHours >= a.Bins {
		return -1
	}
	return h / a.BinHours
}

func (a timeAxis) end() time.Time {
	return a.Start.Add(time.Duration(a.Bins*a.BinHours) * time.Hour)
}

// unit says what one bin is, for the axis label.
func (a timeAxis) unit() string {
	if a.BinHours == 1 {
		return "per hour (UTC)"
	}
	return fmt.Sprintf("per %d hours (UTC)", a.BinHours)
}

var palette = []color.Color{
	color.RGBA{0x1f, 0x5f, 0xbf, 0xff}, // blue
	color.RGBA{0xc0, 0x39, 0x2b, 0xff}, // red
	color.RGBA{0x2e, 0x8b, 0x57, 0xff}, // green
	color.RGBA{0xd3, 0x7a, 0x00, 0xff}, // orange
	color.RGBA{0x7d, 0x3c, 0x98, 0xff}, // purple
	color.RGBA{0x11, 0x7a, 0x8b, 0xff}, // teal
	color.RGBA{0x80, 0x80, 0x80, 0xff}, // grey: "other"
}

var plotFontOnce sync.Once

// svgProlog is what vgsvg writes before the <svg> element, and the fixed
// size it gives it: both go, the page sizes the chart by its viewBox.
var (
	svgProlog = regexp.MustCompile(`(?s)\A.*?<svg width="[^"]*" height="[^"]*"`)
	// vgsvg draws a background rectangle first; keep it (it is white).
)

// drawChart draws panels one above the other on the axis, as inline SVG.
func drawChart(axis timeAxis, panels []chartPanel, label string) (template.HTML, error) {
	if len(panels) == 0 {
		return "", nil
	}
	plotFontOnce.Do(func() {
		// Sans-serif reads better small; the name is only a font-family in
		// the SVG: the viewer's own font is used, nothing is fetched.
		plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
	})
	const width, panelHeight, legendWidth = 24 * vg.Centimeter, 4.6 * vg.Centimeter, 6.5 * vg.Centimeter
	rows := make([][]*plot.Plot, len(panels))
	legends := make([]plot.Legend, len(panels))
	xmin, xmax := float64(axis.Start.Unix()), float64(axis.end().Unix())
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.Title
		p.Title.TextStyle.Font.Size = vg.Points(10)
		p.X.Min, p.X.Max = xmin, xmax
		p.Y.Min = 0
		p.X.Tick.Marker = hourTicks(axis)
		p.X.Tick.Label.Font.Size = vg.Points(7)
		p.Y.Tick.Label.Font.Size = vg.Points(7)
		p.Y.Label.Text = axis.unit()
		p.Y.Label.TextStyle.Font.Size = vg.Points(7)
		// The legend goes beside the plot, not over the lines.
		legends[i] = plot.NewLegend()
		legends[i].Top, legends[i].Left = true, true
		legends[i].TextStyle.Font.Size = vg.Points(7)
		legends[i].Padding = vg.Points(2.5)
		p.Add(plotter.NewGrid())
		ymax := 1.0
		for j, s := range pn.Series {
			xy := make(plotter.XYs, 0, len(s.Values)+1)
			for k, v := range s.Values {
				xy = append(xy, plotter.XY{X: float64(axis.Start.Add(time.Duration(k*axis.BinHours) * time.Hour).Unix()), Y: v})
				ymax = max(ymax, v)
			}
			// The last bin's step ends at the axis end.
			xy = append(xy, plotter.XY{X: xmax, Y: s.Values[len(s.Values)-1]})
			l, err := plotter.NewLine(xy)
			if err != nil {
				return "", err
			}
			l.StepStyle = plotter.PostStep
			l.Color = palette[min(j, len(palette)-1)]
			l.Width = vg.Points(1.2)
			p.Add(l)
			legends[i].Add(s.Name, l)
		}
		p.Y.Max = ymax * 1.05
		rows[i] = []*plot.Plot{p}
	}
	c := vgsvg.New(width, panelHeight*vg.Length(len(panels)))
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadY: vg.Millimeter * 2, PadTop: vg.Millimeter, PadBottom: vg.Millimeter,
		PadLeft: vg.Millimeter, PadRight: vg.Millimeter * 3}
	canvases := plot.Align(rows, tiles, draw.New(c))
	for i := range rows {
		cv := canvases[i][0]
		plotArea, legendArea := cv, cv
		plotArea.Max.X -= legendWidth
		legendArea.Min.X = plotArea.Max.X + vg.Millimeter*4
		legendArea.Min.Y += vg.Millimeter * 6
		rows[i][0].Draw(plotArea)
		legends[i].Draw(legendArea)
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", err
	}
	out := svgProlog.ReplaceAll(buf.Bytes(), []byte(`<svg class="chart" role="img" aria-label="`+template.HTMLEscapeString(label)+`"`))
	// The SVG is our own drawing; every text in it (titles, legend names
	// that come from the logs) was escaped by vgsvg and passed through safe.
	return template.HTML(out), nil
}

// hourTicks labels the time axis at round hours: every 1, 2, 3, 6 or 12
// hours, or every 1, 2 or 7 days, whichever gives at most 10 labels.
type hourTicks timeAxis

func (a hourTicks) Ticks(lo, hi float64) []plot.Tick {
	hours := (hi - lo) / 3600
	step := 24 * 7
	for _, s := range []int{1, 2, 3, 6, 12, 24, 48} {
		if hours/float64(s) <= 10 {
			step = s
			break
		}
	}
	format := "01-02 15:04"
	if step >= 24 {
		format = "2006-01-02"
	}
	var ticks []plot.Tick
	first := int64(math.Ceil(lo/3600/float64(step))) * int64(step) * 3600
	for t := first; float64(t) <= hi; t += int64(step) * 3600 {
		ticks = append(ticks, plot.Tick{Value: float64(t), Label: time.Unix(t, 0).UTC().Format(format)})
	}
	return ticks
}
