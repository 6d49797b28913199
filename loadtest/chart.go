package loadtest

import (
	"fmt"
	"math"
	"os"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// WritePNG draws the run's chart: the latency distribution (by percentile,
// on a scale of nines) beside the deliveries (or acknowledgements) per
// second over time.
func (r *Report) WritePNG(path string) error {
	dist, what := r.Latency, "publish → receive"
	events := "deliveries/s"
	switch r.Config.Scenario {
	case ScenarioPublish:
		dist, what, events = r.AckLatency, "publish → acknowledgement", "acknowledgements/s"
	case ScenarioCatchUp:
		dist, what = r.CatchUp, "reconnect → caught up"
	}
	left := plot.New()
	left.Title.Text = fmt.Sprintf("Latency, %s (n=%d)", what, dist.Count)
	left.X.Label.Text = "percentile"
	left.Y.Label.Text = "ms"
	var pts plotter.XYs
	var ticks []plot.Tick
	for _, c := range dist.Curve {
		if c.Percentile >= 100 {
			continue // the maximum has no place on a scale of nines
		}
		x := -math.Log10(1 - c.Percentile/100)
		pts = append(pts, plotter.XY{X: x, Y: float64(c.Latency) / float64(time.Millisecond)})
		switch c.Percentile {
		case 0, 50, 90, 99, 99.9, 99.99:
			ticks = append(ticks, plot.Tick{Value: x, Label: fmt.Sprint(c.Percentile)})
		}
	}
	left.X.Tick.Marker = plot.ConstantTicks(ticks)
	if err := addLine(left, pts); err != nil {
		return err
	}

	right := plot.New()
	right.Title.Text = fmt.Sprintf("%s over time", events)
	right.X.Label.Text = "seconds"
	right.Y.Label.Text = events
	var rate plotter.XYs
	for i, n := range r.Timeline {
		rate = append(rate, plotter.XY{X: float64(i) * TimelineStep.Seconds(), Y: float64(n) / TimelineStep.Seconds()})
	}
	right.Y.Min = 0
	if err := addLine(right, rate); err != nil {
		return err
	}

	const width, height = 12 * vg.Inch, 4 * vg.Inch
	img := vgimg.New(width, height)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{{left, right}}, tiles, dc)
	left.Draw(canvases[0][0])
	right.Draw(canvases[0][1])
	return saveImage(img, path)
}

func addLine(p *plot.Plot, pts plotter.XYs) error {
	if len(pts) == 0 {
		pts = plotter.XYs{{}} // an empty run still draws its axes
	}
	line, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	line.Width = vg.Points(1.5)
	p.Add(line, plotter.NewGrid())
	return nil
}

func saveImage(img *vgimg.Canvas, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
