package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"herald/wire"
)

// ReportSchema is the version of the JSON report (WriteJSON): it changes
// when a key is renamed or its meaning changes.
const ReportSchema = 2

// Report is what a run measured and what verification found. As JSON
// (WriteJSON) its keys are snake_case; durations are in nanoseconds, as
// their _ns keys say.
type Report struct {
	// Schema is ReportSchema; Verified is OK(), written by WriteJSON.
	Schema   int    `json:"schema_version"`
	Verified bool   `json:"verified"`
	Config   Config `json:"config"`
	Embedded bool   `json:"embedded_server"`
	// Date (RFC 3339) and Commit (the build's VCS revision, if known) say
	// when and on what code the run was made.
	Date   string `json:"date"`
	Commit string `json:"commit,omitempty"`
	// start is when the measured phase began.
	start time.Time
	// Elapsed is the publishing phase, first publish to last burst done.
	Elapsed     time.Duration `json:"elapsed_ns"`
	ImportRate  float64       `json:"import_follows_per_second"`
	ConnectRate float64       `json:"connect_clients_per_second"`
	// ClientProcesses held the clients: this one and the workers.
	ClientProcesses int `json:"client_processes"`
	// Latency is publish-call start → client received, over all deliveries.
	Latency Percentiles `json:"latency"`
	// Completion is publish acknowledged (or scheduled, at a fixed rate) →
	// last client received, per broadcast.
	Completion Percentiles `json:"completion"`
	Deliveries int         `json:"deliveries"`
	// DeliveryRate is deliveries over the publishing phase.
	DeliveryRate float64 `json:"deliveries_per_second"`
	// Server usage over the publishing phase (embedded server only).
	ServerCPU        time.Duration `json:"server_cpu_ns"`
	ServerRSS        int64         `json:"server_rss_bytes"` // at the end of that phase
	ServerRSSPerConn float64       `json:"server_rss_per_connection_bytes"`
	// CatchUp is, per client, reconnect → every missed broadcast received
	// (catchup scenario).
	CatchUp Percentiles `json:"catch_up"`
	// Publish scenario: acknowledged publishes per second and publish →
	// acknowledgement latency (from the scheduled time at a fixed rate).
	// PublishRate is also the fanout scenario's, unless one burst at a
	// time.
	PublishRate float64     `json:"publishes_per_second"`
	AckLatency  Percentiles `json:"ack_latency"`
	// Errors counts request errors by code name (e.g. QUOTA_EXCEEDED),
	// expected ones included (ExpectedErrors says which).
	Errors map[string]int `json:"errors"`
	// Reconnects made by the churn scenario.
	Reconnects int `json:"reconnects"`
	// Timeline counts deliveries (acknowledgements in the publish
	// scenario) in each TimelineStep from the start of the measured phase.
	Timeline       []int   `json:"timeline"`
	TimelineStepMS float64 `json:"timeline_bucket_ms"`
	// Verification. Wrong counts deliveries to users outside the audience.
	Lost       int      `json:"lost"`
	Duplicates int      `json:"duplicates"`
	OutOfOrder int      `json:"out_of_order"`
	Wrong      int      `json:"wrong_recipient"`
	Problems   []string `json:"problems"`
}

// ExpectedErrors are the request errors a scenario provokes on purpose.
func (r *Report) ExpectedErrors() map[string]string {
	if r.Config.Scenario == ScenarioPublish {
		return map[string]string{"QUOTA_EXCEEDED": "expected: the run checks that the daily quota is enforced"}
	}
	return nil
}

// Percentiles summarises a distribution, recorded in an HdrHistogram with
// microsecond resolution and three significant digits, clamped to the
// exact minimum and maximum (the histogram rounds up within its
// precision).
type Percentiles struct {
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	P999  time.Duration `json:"p999_ns"`
	Min   time.Duration `json:"min_ns"`
	Max   time.Duration `json:"max_ns"`
	Count int           `json:"count"`
	// Curve is the distribution at the percentiles the chart plots.
	Curve []CurvePoint `json:"curve,omitempty"`
}

// CurvePoint is the latency at one percentile.
type CurvePoint struct {
	Percentile float64       `json:"percentile"`
	Latency    time.Duration `json:"latency_ns"`
}

// curvePercentiles are the points of a latency curve: evenly spaced in
// "nines" up to 99.99 (0 is the minimum, 100 the maximum).
var curvePercentiles = []float64{0, 25, 50, 68, 80, 90, 95, 97, 98, 99, 99.5, 99.7, 99.8, 99.9, 99.95, 99.97, 99.99, 100}

func percentiles(samples []time.Duration) Percentiles {
	if len(samples) == 0 {
		return Percentiles{}
	}
	h := hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)
	for _, d := range samples {
		_ = h.RecordValue(max(1, int64(d/time.Microsecond))) // over an hour: clamped by the error, counted below
	}
	lo, hi := slices.Min(samples), slices.Max(samples)
	at := func(q float64) time.Duration {
		return min(max(time.Duration(h.ValueAtQuantile(q))*time.Microsecond, lo), hi)
	}
	p := Percentiles{P50: at(50), P90: at(90), P99: at(99), P999: at(99.9), Min: lo, Max: hi, Count: len(samples)}
	for _, q := range curvePercentiles {
		point := CurvePoint{Percentile: q, Latency: at(q)}
		switch q {
		case 0:
			point.Latency = lo
		case 100:
			point.Latency = hi
		}
		p.Curve = append(p.Curve, point)
	}
	return p
}

func (p Percentiles) String() string {
	return fmt.Sprintf("min %v  p50 %v  p90 %v  p99 %v  p99.9 %v  max %v  (n=%d)", p.Min, p.P50, p.P90, p.P99, p.P999, p.Max, p.Count)
}

// TimelineStep is the width of a Timeline bucket.
const TimelineStep = 100 * time.Millisecond

// timeline counts events per TimelineStep after start (the first event's
// time when start is zero). It covers at most a day.
func timeline(start time.Time, events []time.Time) []int {
	if len(events) == 0 {
		return nil
	}
	if start.IsZero() {
		start = slices.MinFunc(events, time.Time.Compare)
	}
	var out []int
	for _, at := range events {
		if at.Sub(start) > 24*time.Hour {
			continue
		}
		i := max(0, int(at.Sub(start)/TimelineStep))
		for len(out) <= i {
			out = append(out, 0)
		}
		out[i]++
	}
	return out
}

// WriteJSON writes the report for machines (see Report).
func (r *Report) WriteJSON(path string) error {
	r.Schema, r.Verified, r.TimelineStepMS = ReportSchema, r.OK(), float64(TimelineStep)/float64(time.Millisecond)
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// OK reports whether verification passed.
func (r *Report) OK() bool {
	return r.Lost == 0 && r.Duplicates == 0 && r.OutOfOrder == 0 && r.Wrong == 0 && len(r.Problems) == 0
}

// verify checks that every follower got exactly ids, in order, and fills in
// the measurements.
func (r *Report) verify(followers []*follower, ids []uint64, acks []time.Time) {
	r.verifyFor(followers, ids, acks, func(uint32) bool { return true })
}

// verifyFor is verify where only the users wants accepts should receive
// the broadcasts: any broadcast another user receives is a wrong delivery.
func (r *Report) verifyFor(followers []*follower, ids []uint64, acks []time.Time, wants func(user uint32) bool) {
	var latencies []time.Duration
	var times []time.Time
	last := make([]time.Time, len(ids))
	index := make(map[uint64]int, len(ids))
	for i, id := range ids {
		index[id] = i
	}
	for _, f := range followers {
		if !wants(f.user) {
			for _, got := range f.got {
				r.Wrong++
				if r.Wrong <= 10 {
					r.Problems = append(r.Problems, fmt.Sprintf("user %d received broadcast %d, which is not for it (not in the audience, blocked or filtered)", f.user, got.id))
				}
			}
			continue
		}
		seen := make(map[uint64]int, len(ids))
		var prev wire.Cursor // ids increase within each shard
		for _, got := range f.got {
			i, ok := index[got.id]
			if !ok {
				r.Problems = append(r.Problems, fmt.Sprintf("user %d received broadcast %d, not published by this run", f.user, got.id))
				continue
			}
			seen[got.id]++
			if seen[got.id] > 1 {
				r.Duplicates++
				continue
			}
			if prev.Covers(got.id) {
				r.OutOfOrder++
			}
			prev = prev.Advance(got.id)
			latencies = append(latencies, got.latency)
			times = append(times, got.at)
			if got.at.After(last[i]) {
				last[i] = got.at
			}
		}
		for _, id := range ids {
			if seen[id] == 0 {
				r.Lost++
				if r.Lost <= 10 {
					r.Problems = append(r.Problems, fmt.Sprintf("user %d never received broadcast %d", f.user, id))
				}
			}
		}
	}
	var completions []time.Duration
	for i := range ids {
		if !last[i].IsZero() {
			completions = append(completions, last[i].Sub(acks[i]))
		}
	}
	r.Deliveries = len(latencies)
	r.Timeline = timeline(r.start, times)
	r.Latency = percentiles(latencies)
	r.Completion = percentiles(completions)
	if r.Elapsed > 0 {
		r.DeliveryRate = float64(r.Deliveries) / r.Elapsed.Seconds()
	}
}

// Print writes the summary table and the verification verdict.
func (r *Report) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	c := r.Config
	server := "external"
	switch {
	case r.Embedded && c.Cluster > 0:
		server = fmt.Sprintf("embedded cluster: NATS, %d cores and %d edges (separate processes; CPU and RSS are theirs together)", max(c.Cores, 1), c.Cluster)
	case r.Embedded:
		server = "embedded (separate process)"
	}
	fmt.Fprintf(tw, "scenario\t%s\n", c.Scenario)
	fmt.Fprintf(tw, "server\t%s\n", server)
	if c.Scenario == ScenarioPublish {
		fmt.Fprintf(tw, "followers (offline)\t%d\n", c.Followers)
	} else {
		fmt.Fprintf(tw, "clients / followers\t%d / %d\n", c.Clients, c.Followers)
		if c.Clients > c.Followers {
			fmt.Fprintf(tw, "non-followers\t%d connected, to receive nothing\n", c.Clients-c.Followers)
		}
		if c.Accounts > 1 {
			fmt.Fprintf(tw, "accounts\t%d with those followers each, publishing in turn\n", c.Accounts)
		}
		if r.ClientProcesses > 1 {
			fmt.Fprintf(tw, "client processes\t%d (this one and %d worker%s, at most %d clients each)\n", r.ClientProcesses, r.ClientProcesses-1, plural(r.ClientProcesses-1), c.ClientsPerProcess)
		}
	}
	fmt.Fprintf(tw, "broadcasts × payload\t%d × %d B\n", c.Broadcasts, c.Payload)
	if c.Transport == TransportWebSocket {
		fmt.Fprintf(tw, "transport\tWebSocket (the client listener's port, binary messages)\n")
	}
	if c.Scenario == ScenarioFanout {
		fmt.Fprintf(tw, "audience\t%s\n", c.Audience)
		switch c.Pace {
		case PaceBurst:
			fmt.Fprintf(tw, "pace\tone burst at a time, each waited for\n")
		case PaceAck:
			fmt.Fprintf(tw, "pace\tas fast as acknowledged: %.0f broadcasts/s\n", r.PublishRate)
		case PaceRate:
			fmt.Fprintf(tw, "pace\toffered %s, published %.0f/s; latency from each one's scheduled time\n", offered(c.Rate), r.PublishRate)
		}
	}
	fmt.Fprintf(tw, "follower import\t%.0f follows/s\n", r.ImportRate)
	switch c.Scenario {
	case ScenarioPublish:
		fmt.Fprintf(tw, "publishes\t%.0f/s acknowledged (%d publishers, offered %s)\n", r.PublishRate, c.Publishers, offered(c.Rate))
		fmt.Fprintf(tw, "latency publish→ack\t%s\n", r.AckLatency)
	case ScenarioNotify:
		fmt.Fprintf(tw, "notifications\t%d, %.0f/s acknowledged durable (%d notifiers, offered %s), each to one random client\n", c.Notifications, r.PublishRate, c.Publishers, offered(c.Rate))
		fmt.Fprintf(tw, "latency notify→ack\t%s\n", r.AckLatency)
		fmt.Fprintf(tw, "connect\t%.0f clients/s\n", r.ConnectRate)
		fmt.Fprintf(tw, "deliveries\t%d in %v (%.0f/s): notifications and broadcasts\n", r.Deliveries, r.Elapsed.Round(time.Millisecond), r.DeliveryRate)
		fmt.Fprintf(tw, "latency send→receive\t%s\n", r.Latency)
	default:
		fmt.Fprintf(tw, "connect\t%.0f clients/s\n", r.ConnectRate)
		fmt.Fprintf(tw, "deliveries\t%d in %v (%.0f/s)\n", r.Deliveries, r.Elapsed.Round(time.Millisecond), r.DeliveryRate)
		fmt.Fprintf(tw, "latency publish→receive\t%s\n", r.Latency)
	}
	if c.Scenario == ScenarioFanout {
		if c.Pace == PaceRate {
			fmt.Fprintf(tw, "completion scheduled→last client\t%s\n", r.Completion)
		} else {
			fmt.Fprintf(tw, "completion ack→last client\t%s\n", r.Completion)
		}
	}
	if c.Scenario == ScenarioChurn {
		fmt.Fprintf(tw, "churn\t%d reconnects (offered %.0f/s), a broadcast every %v\n", r.Reconnects, c.ChurnRate, c.Interval)
	}
	if c.Scenario == ScenarioCatchUp {
		fmt.Fprintf(tw, "reconnects offered\t%s\n", reconnects(c.ReconnectRate))
		fmt.Fprintf(tw, "catch-up reconnect→complete\t%s\n", r.CatchUp)
	}
	codes := slices.Sorted(maps.Keys(r.Errors))
	for _, code := range codes {
		note := r.ExpectedErrors()[code]
		if note == "" {
			note = "unexpected"
		}
		fmt.Fprintf(tw, "errors %s\t%d (%s)\n", code, r.Errors[code], note)
	}
	if len(c.Chaos) > 0 {
		fmt.Fprintf(tw, "chaos	%s, spread over the broadcasts (server CPU and memory not measured: processes were replaced)\n", strings.Join(c.Chaos, ", "))
	}
	if r.Embedded && len(c.Chaos) == 0 {
		if r.Deliveries > 0 {
			fmt.Fprintf(tw, "server CPU\t%v (%v per delivery)\n", r.ServerCPU.Round(time.Millisecond), r.ServerCPU/time.Duration(r.Deliveries))
		} else {
			fmt.Fprintf(tw, "server CPU\t%v\n", r.ServerCPU.Round(time.Millisecond))
		}
		if r.ServerRSS > 0 {
			fmt.Fprintf(tw, "server RSS\t%.1f MiB\n", float64(r.ServerRSS)/(1<<20))
		}
		if r.ServerRSSPerConn > 0 {
			fmt.Fprintf(tw, "server RSS per connection\t%.0f B\n", r.ServerRSSPerConn)
		}
	}
	_ = tw.Flush()
	if r.OK() {
		switch c.Scenario {
		case ScenarioPublish:
			fmt.Fprintf(w, "\nVERIFIED: every publish acknowledged once, every retry answered with its original id, the quota enforced.\n")
		case ScenarioNotify:
			fmt.Fprintf(w, "\nVERIFIED: every client received exactly its notifications and every broadcast, each once, in order; every retry answered with its original id.\n")
		default:
			fmt.Fprintf(w, "\nVERIFIED: every client in the audience received every broadcast exactly once, in order; no one else received any.\n")
		}
		return
	}
	fmt.Fprintf(w, "\n*** VERIFICATION FAILED: %d lost, %d duplicates, %d out of order, %d to users outside the audience ***\n", r.Lost, r.Duplicates, r.OutOfOrder, r.Wrong)
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  - %s\n", p)
	}
}

func reconnects(rate float64) string {
	if rate == 0 {
		return "all at once"
	}
	return fmt.Sprintf("%.0f clients/s", rate)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func offered(rate float64) string {
	if rate == 0 {
		return "as fast as acknowledged"
	}
	return fmt.Sprintf("%.0f/s", rate)
}
