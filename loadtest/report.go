package loadtest

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"herald/internal/stats"
)

// Report is what a run measured and what verification found.
type Report struct {
	Config   Config
	Embedded bool
	// Elapsed is the publishing phase, first publish to last burst done.
	Elapsed     time.Duration
	ImportRate  float64 // follows per second
	ConnectRate float64 // clients connected and live per second
	// Latency is publish-call start → client received, over all deliveries.
	Latency Percentiles
	// Completion is publish acknowledged → last client received, per burst.
	Completion Percentiles
	Deliveries int
	// DeliveryRate is deliveries over the publishing phase.
	DeliveryRate float64
	// Server usage over the publishing phase (embedded server only).
	ServerCPU        time.Duration
	ServerRSSPerConn float64
	// Verification.
	Lost, Duplicates, OutOfOrder int
	Problems                     []string
}

// Percentiles summarises a distribution.
type Percentiles struct {
	P50, P90, P99, Max time.Duration
	Count              int
}

func percentiles(samples []time.Duration) Percentiles {
	if len(samples) == 0 {
		return Percentiles{}
	}
	slices.Sort(samples)
	return Percentiles{P50: stats.Quantile(samples, 0.50), P90: stats.Quantile(samples, 0.90), P99: stats.Quantile(samples, 0.99),
		Max: samples[len(samples)-1], Count: len(samples)}
}

// OK reports whether verification passed.
func (r *Report) OK() bool {
	return r.Lost == 0 && r.Duplicates == 0 && r.OutOfOrder == 0 && len(r.Problems) == 0
}

// verify checks that every follower got exactly ids, in order, and fills in
// the measurements.
func (r *Report) verify(followers []*follower, ids []uint64, acks []time.Time) {
	var latencies []time.Duration
	last := make([]time.Time, len(ids))
	for _, f := range followers {
		seen := make(map[uint64]int, len(ids))
		var prev uint64
		for _, got := range f.got {
			if got.id < ids[0] || got.id > ids[len(ids)-1] {
				r.Problems = append(r.Problems, fmt.Sprintf("user %d received broadcast %d, not published by this run", f.user, got.id))
				continue
			}
			seen[got.id]++
			if seen[got.id] > 1 {
				r.Duplicates++
				continue
			}
			if got.id < prev {
				r.OutOfOrder++
			}
			prev = got.id
			latencies = append(latencies, got.latency)
			i := got.id - ids[0]
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
	if r.Embedded {
		server = "embedded (separate process)"
	}
	fmt.Fprintf(tw, "server\t%s\n", server)
	fmt.Fprintf(tw, "clients / followers\t%d / %d\n", c.Clients, c.Followers)
	fmt.Fprintf(tw, "broadcasts × payload\t%d × %d B\n", c.Broadcasts, c.Payload)
	fmt.Fprintf(tw, "follower import\t%.0f follows/s\n", r.ImportRate)
	fmt.Fprintf(tw, "connect\t%.0f clients/s\n", r.ConnectRate)
	fmt.Fprintf(tw, "deliveries\t%d in %v (%.0f/s)\n", r.Deliveries, r.Elapsed.Round(time.Millisecond), r.DeliveryRate)
	fmt.Fprintf(tw, "latency publish→receive\tp50 %v  p90 %v  p99 %v  max %v\n", r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max)
	fmt.Fprintf(tw, "burst completion ack→last client\tp50 %v  p90 %v  p99 %v  max %v\n", r.Completion.P50, r.Completion.P90, r.Completion.P99, r.Completion.Max)
	if r.Embedded {
		perDelivery := time.Duration(0)
		if r.Deliveries > 0 {
			perDelivery = r.ServerCPU / time.Duration(r.Deliveries)
		}
		fmt.Fprintf(tw, "server CPU\t%v (%v per delivery)\n", r.ServerCPU.Round(time.Millisecond), perDelivery)
		fmt.Fprintf(tw, "server RSS per connection\t%.0f B\n", r.ServerRSSPerConn)
	}
	_ = tw.Flush()
	if r.OK() {
		fmt.Fprintf(w, "\nVERIFIED: every client received every broadcast exactly once, in order.\n")
		return
	}
	fmt.Fprintf(w, "\n*** VERIFICATION FAILED: %d lost, %d duplicates, %d out of order ***\n", r.Lost, r.Duplicates, r.OutOfOrder)
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  - %s\n", p)
	}
}
