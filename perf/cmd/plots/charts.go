package main

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// series is one bar per category: a median with its range (lo, hi may be
// nil).
type series struct {
	name           string
	values, lo, hi []float64
}

// groupedBars draws the series side by side in each category, with the
// range of each bar as a whisker.
func groupedBars(title, ylabel string, cats []string, ss []series) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	p.NominalX(cats...)
	p.Add(grid())
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	w := vg.Points(math.Max(4, math.Min(18, 330/float64(len(cats)*max(len(ss), 1)))))
	for i, s := range ss {
		vals := make(plotter.Values, len(cats))
		copy(vals, s.values)
		for j, v := range vals {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				vals[j] = 0
			}
		}
		b, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, err
		}
		b.Color = colorOf(s.name, i)
		b.LineStyle.Width = 0
		b.Offset = w * vg.Length(float64(i)-float64(len(ss)-1)/2)
		p.Add(b)
		p.Legend.Add(s.name, b)
		if s.lo != nil && s.hi != nil {
			p.Add(&whiskers{lo: s.lo, hi: s.hi, offset: b.Offset})
		}
	}
	// Leave room above the tallest whisker for the legend.
	top := 0.0
	for _, s := range ss {
		for j := range s.values {
			top = math.Max(top, s.values[j])
			if s.hi != nil && j < len(s.hi) {
				top = math.Max(top, s.hi[j])
			}
		}
	}
	if top > 0 {
		p.Y.Max = top * (1.15 + 0.06*float64(len(ss)))
	}
	return p, nil
}

// grid is a horizontal grid (bars and boxes stand on categories).
func grid() *plotter.Grid {
	g := plotter.NewGrid()
	g.Vertical.Width = 0
	return g
}

// ratioTicks marks a ratio axis at 1, 1.1, 1.2, 1.5, 2, 5, 10, ... within
// its range.
type ratioTicks struct{}

func (ratioTicks) Ticks(lo, hi float64) []plot.Tick {
	marks := []float64{1, 1.05, 1.1, 1.15, 1.2, 1.3, 1.4, 1.5, 1.75, 2, 2.5, 3}
	if hi > 4 {
		marks = []float64{1, 1.5, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000}
	}
	var ts []plot.Tick
	for _, v := range marks {
		if v >= lo && v <= hi {
			ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
		}
	}
	return ts
}

// palette gives each known contender the same colour in every figure.
var palette = []string{"null", "bond-l34", "bond-rr", "slb", "trunk", "lacp", "testpmd-null", "testpmd-bond-l34", "testpmd-io", "io"}

// colorOf is name's colour, or the i-th default colour after the
// palette's for an unknown name.
func colorOf(name string, i int) color.Color {
	if k := slices.Index(palette, name); k >= 0 {
		return plotutil.Color(k)
	}
	return plotutil.Color(len(palette) + i)
}

// whiskers draws a vertical line from lo[i] to hi[i] at category i, moved
// by offset like the bar it belongs to.
type whiskers struct {
	lo, hi []float64
	offset vg.Length
}

func (w *whiskers) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	ls := draw.LineStyle{Color: color.Black, Width: vg.Points(0.8)}
	for i := range min(len(w.lo), len(w.hi)) {
		if !(w.hi[i] > 0) {
			continue
		}
		x := trX(float64(i)) + w.offset
		y0, y1 := trY(w.lo[i]), trY(w.hi[i])
		c.StrokeLine2(ls, x, y0, x, y1)
		c.StrokeLine2(ls, x-vg.Points(2), y0, x+vg.Points(2), y0)
		c.StrokeLine2(ls, x-vg.Points(2), y1, x+vg.Points(2), y1)
	}
}

// boxes draws one box plot per named sample, with every point over it.
func boxes(title, ylabel string, names []string, samples [][]float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	p.NominalX(names...)
	p.Add(grid())
	for i, s := range samples {
		if len(s) == 0 {
			continue
		}
		b, err := plotter.NewBoxPlot(vg.Points(40), float64(i), plotter.Values(s))
		if err != nil {
			return nil, err
		}
		b.FillColor = plotutil.Color(i)
		p.Add(b)
		pts := make(plotter.XYs, len(s))
		for j, v := range s {
			// Spread equal values sideways so each run stays visible.
			pts[j] = plotter.XY{X: float64(i) + 0.25 + 0.1*float64(j%5)/4, Y: v}
		}
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle.Radius = vg.Points(1.6)
		sc.GlyphStyle.Color = color.Gray{Y: 60}
		p.Add(sc)
	}
	return p, nil
}

// line is one curve of a line chart.
type line struct {
	name   string
	xy     plotter.XYs
	color  int
	dashed bool
}

// ratioLines draws curves of ratios (>= 1) over a shared x axis, on a
// logarithmic y axis so a rare spike does not flatten the rest.
func ratioLines(title, xlabel, ylabel string, ls []line) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = ratioTicks{}
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(7)
	p.Add(grid())
	top := 1.0
	for _, l := range ls {
		for _, pt := range l.xy {
			top = math.Max(top, pt.Y)
		}
	}
	p.Y.Min = 1
	// Room above the curves for the legend: about a third of the height.
	p.Y.Max = math.Pow(top*1.01, 1/0.65)
	for _, l := range ls {
		pl, err := plotter.NewLine(l.xy)
		if err != nil {
			return nil, err
		}
		pl.Color = plotutil.Color(l.color)
		pl.Width = vg.Points(1.2)
		if l.dashed {
			pl.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(pl)
		p.Legend.Add(l.name, pl)
	}
	return p, nil
}

// boxSeries is one series of groupedBoxes: a sample per category (nil
// where the series has none).
type boxSeries struct {
	name    string
	samples [][]float64
}

// groupedBoxes draws, in each category, one box plot per series side by
// side (each series in its own colour), with every point over it, and
// dashed horizontal lines at marks (a target, say) named in the legend.
// Values above ceiling (if > 0) are drawn at it, so that one outlier does
// not flatten the rest; the y label says so.
func groupedBoxes(title, ylabel string, cats []string, ss []boxSeries, marks map[string]float64, ceiling float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	p.NominalX(cats...)
	p.Add(grid())
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	step := 0.8 / float64(max(len(ss), 1))
	w := vg.Points(math.Max(6, math.Min(30, 300/float64(len(cats)*max(len(ss), 1)))))
	top := 0.0
	clipped := 0
	for i, s := range ss {
		c := plotutil.Color(i)
		drawn := false
		for j, sample := range s.samples {
			if len(sample) == 0 || j >= len(cats) {
				continue
			}
			if ceiling > 0 {
				sample = slices.Clone(sample)
				for k, v := range sample {
					if v > ceiling {
						sample[k] = ceiling
						clipped++
					}
				}
			}
			x := float64(j) + step*(float64(i)-float64(len(ss)-1)/2)
			b, err := plotter.NewBoxPlot(w, x, plotter.Values(sample))
			if err != nil {
				return nil, err
			}
			b.FillColor = c
			p.Add(b)
			drawn = true
			pts := make(plotter.XYs, len(sample))
			for k, v := range sample {
				pts[k] = plotter.XY{X: x + step*0.3*(float64(k%5)/4-0.5), Y: v}
				top = math.Max(top, v)
			}
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return nil, err
			}
			sc.GlyphStyle.Radius = vg.Points(1.2)
			sc.GlyphStyle.Color = color.Gray{Y: 60}
			p.Add(sc)
		}
		if drawn {
			p.Legend.Add(s.name, swatch{c})
		}
	}
	names := make([]string, 0, len(marks))
	for n := range marks {
		names = append(names, n)
	}
	slices.Sort(names)
	for k, n := range names {
		v := marks[n]
		l, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: v}, {X: float64(len(cats)) - 0.5, Y: v}})
		if err != nil {
			return nil, err
		}
		l.Color = color.Gray{Y: uint8(40 + 60*k)}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(n, l)
		top = math.Max(top, v)
	}
	if top > 0 {
		p.Y.Max = top * 1.3
	}
	if clipped > 0 {
		p.Y.Label.Text = fmt.Sprintf("%s (%d values above %g drawn at %g)", ylabel, clipped, ceiling, ceiling)
	}
	return p, nil
}

// swatch is a legend entry: a box of one colour.
type swatch struct{ c color.Color }

func (s swatch) Thumbnail(c *draw.Canvas) {
	pts := []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Min.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Min.Y}}
	c.FillPolygon(s.c, c.ClipPolygonXY(pts))
}
