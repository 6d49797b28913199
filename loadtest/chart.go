package loadtest

import (
	"fmt"
	"image/color"
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
// on a scale of nines, from the minimum to the maximum) beside the
// deliveries (or acknowledgements) per second over time, under a title
// that says which run it was. A panel with nothing to show is left out.
func (r *Report) WritePNG(path string) error {
	dist, what := r.Latency, "publish → receive"
	events := "deliveries/s"
	switch r.Config.Scenario {
	case ScenarioPublish:
		dist, what, events = r.AckLatency, "publish → acknowledgement", "acknowledgements/s"
	case ScenarioCatchUp:
		dist, what = r.CatchUp, "reconnect → caught up"
	}
	var panels []*plot.Plot
	if dist.Count > 0 {
		panels = append(panels, r.latencyPanel(dist, what))
	}
	if len(r.Timeline) > 0 {
		panels = append(panels, r.timelinePanel(events))
	}
	if len(panels) == 0 {
		return fmt.Errorf("loadtest: nothing to chart: the run measured no latencies and no deliveries")
	}

	const panelWidth, height, titleHeight = 6 * vg.Inch, 4 * vg.Inch, 0.4 * vg.Inch
	img := vgimg.New(panelWidth*vg.Length(len(panels)), height+titleHeight)
	dc := draw.New(img)
	title := draw.TextStyle{Color: color.Black, Font: plot.DefaultFont, Handler: plot.DefaultTextHandler}
	title.Font.Size = vg.Points(14)
	title.XAlign, title.YAlign = draw.XCenter, draw.YTop
	dc.FillText(title, vg.Point{X: dc.Max.X / 2, Y: dc.Max.Y - vg.Millimeter*2}, r.chartTitle())
	body := draw.Crop(dc, 0, 0, 0, -titleHeight)
	tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{panels}, tiles, body)
	for i, p := range panels {
		p.Draw(canvases[0][i])
	}
	return saveImage(img, path)
}

// chartTitle names the run: scenario, clients, pace, date and commit.
func (r *Report) chartTitle() string {
	c := r.Config
	who := fmt.Sprintf("%d clients", c.Clients)
	if c.Scenario == ScenarioPublish {
		who = fmt.Sprintf("%d publishers, %d followers", c.Publishers, c.Followers)
	}
	title := fmt.Sprintf("herald-loadtest %s: %s, %d broadcasts × %d B", c.Scenario, who, c.Broadcasts, c.Payload)
	if c.Scenario == ScenarioFanout {
		title += ", pace " + c.Pace
	}
	if date, err := time.Parse(time.RFC3339, r.Date); err == nil {
		title += " — " + date.Format("2006-01-02 15:04 MST")
	}
	if r.Commit != "" {
		title += ", commit " + r.Commit
	}
	return title
}

// latencyPanel plots dist from its minimum (percentile 0) to its 99.99th
// percentile on a scale of nines, and its maximum one step further right.
func (r *Report) latencyPanel(dist Percentiles, what string) *plot.Plot {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Latency, %s (n=%d, max %v)", what, dist.Count, dist.Max.Round(time.Microsecond))
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "ms"
	var pts plotter.XYs
	var ticks []plot.Tick
	last := 0.0
	for _, c := range dist.Curve {
		x := last + 0.5 // the maximum: one step past the last nine
		if c.Percentile < 100 {
			x = -math.Log10(1 - c.Percentile/100)
		}
		last = x
		pts = append(pts, plotter.XY{X: x, Y: float64(c.Latency) / float64(time.Millisecond)})
		switch c.Percentile {
		case 0:
			ticks = append(ticks, plot.Tick{Value: x, Label: "min"})
		case 50, 90, 99, 99.9, 99.99:
			ticks = append(ticks, plot.Tick{Value: x, Label: fmt.Sprint(c.Percentile)})
		case 100:
			ticks = append(ticks, plot.Tick{Value: x, Label: "max"})
		}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	addLine(p, pts)
	return p
}

// timelinePanel plots the events per second in each timeline bucket.
func (r *Report) timelinePanel(events string) *plot.Plot {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s over time (%v buckets)", events, TimelineStep)
	p.X.Label.Text = "seconds"
	p.Y.Label.Text = events
	var rate plotter.XYs
	for i, n := range r.Timeline {
		rate = append(rate, plotter.XY{X: float64(i) * TimelineStep.Seconds(), Y: float64(n) / TimelineStep.Seconds()})
	}
	p.Y.Min = 0
	addLine(p, rate)
	return p
}

func addLine(p *plot.Plot, pts plotter.XYs) {
	line, err := plotter.NewLine(pts)
	if err != nil {
		return // no points: the panel is not drawn (WritePNG)
	}
	line.Width = vg.Points(1.5)
	p.Add(line, plotter.NewGrid())
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
