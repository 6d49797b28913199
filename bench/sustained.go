package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// SustainedConfig describes a side-by-side run at a fixed broadcast rate.
type SustainedConfig struct {
	Clients  int
	Rate     float64       // broadcasts per second offered
	Duration time.Duration // how long broadcasts are offered
	Payload  int           // bytes (256)
	Wrapper  []string      // e.g. taskset -c 0
	// Profile, if set, receives a CPU profile of the Herald server over
	// the time broadcasts are offered.
	Profile io.Writer
	// Trace, if set, receives an execution trace of the Herald server
	// over the first TraceFor (1 s) of that time.
	Trace    io.Writer
	TraceFor time.Duration
	// Analytics compares Herald with itself instead of the floor: clients
	// that acknowledge each read, Herald's analytics on (the Herald side)
	// and off (the floor side).
	Analytics bool
}

// SustainedSide is one server's figures at one rate.
type SustainedSide struct {
	// Lag per broadcast: last client's receipt minus the time the broadcast
	// was scheduled to be sent. A server that keeps up has a flat lag; one
	// that falls behind has a lag that grows through the run.
	Lag []time.Duration
	// Span is from the first scheduled send to the last receipt.
	Span time.Duration
	// CPU is the server's (or floor's) CPU time over the span, ClientCPU
	// the client process's, CoreBusy each CPU's busy share (user,
	// system, softirq and steal) over the span, and CoreSteal each CPU's
	// stolen share: time the hypervisor gave this virtual CPU's real one
	// to someone else while it had work, which no process here can use.
	CPU       time.Duration
	ClientCPU time.Duration
	CoreBusy  []float64
	CoreSteal []float64
	// Acks are the publisher's fire → PUBLISH_ACK times (Herald only),
	// while the clients are being delivered to.
	Acks []time.Duration
	// CommitP99 is the upper bound of the herald_commit_seconds bucket
	// holding the 99th percentile of the server's group commits (the
	// fsync included) since it started (Herald only): a PUBLISH_ACK waits
	// for its commit.
	CommitP99 time.Duration
	// ServerAckP99 is the same bound for herald_publish_ack_seconds: the
	// server's part of the acknowledgements (PUBLISH read to PUBLISH_ACK
	// queued).
	ServerAckP99 time.Duration
}

// AckP returns the q-quantile of the acknowledgement times (0 if none).
func (s SustainedSide) AckP(q float64) time.Duration {
	if len(s.Acks) == 0 {
		return 0
	}
	return Quantile(s.Acks, q)
}

// DeliveryRate is the deliveries per second achieved over the span.
func (s SustainedSide) DeliveryRate(clients int) float64 {
	if s.Span <= 0 {
		return 0
	}
	return float64(len(s.Lag)*clients) / s.Span.Seconds()
}

// LagGrowth is the mean lag of the last tenth of the broadcasts minus that
// of the first tenth: near zero when the server keeps up.
func (s SustainedSide) LagGrowth() time.Duration {
	tenth := max(1, len(s.Lag)/10)
	if len(s.Lag) < 2*tenth {
		return 0
	}
	return mean(s.Lag[len(s.Lag)-tenth:]) - mean(s.Lag[:tenth])
}

// P returns the q-quantile of the lags.
func (s SustainedSide) P(q float64) time.Duration { return Quantile(s.Lag, q) }

func mean(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// SustainedResult pairs Herald with the floor at one rate. The floor runs
// twice, from one loop (FloorLoop) and from a pool of writers
// (FloorPool); Floor is the one that delivered more per second (Pool: the
// pool). With Analytics, Floor is Herald with analytics off and there is
// no pool.
type SustainedResult struct {
	Config    SustainedConfig
	Herald    SustainedSide
	Floor     SustainedSide
	FloorLoop SustainedSide
	FloorPool SustainedSide
	Pool      bool
}

// RunSustained measures Herald and then the floor at the configured rate.
func RunSustained(ctx context.Context, cfg SustainedConfig, progress io.Writer) (*SustainedResult, error) {
	if cfg.Payload < 16 {
		cfg.Payload = 256
	}
	if cfg.Rate <= 0 || cfg.Duration <= 0 || cfg.Clients <= 0 {
		return nil, fmt.Errorf("bench: sustained run needs clients, a rate and a duration")
	}
	total := max(1, int(cfg.Rate*cfg.Duration.Seconds()))
	res := &SustainedResult{Config: cfg}
	label := fmt.Sprintf("sustained, %d clients, %.0f broadcasts/s", cfg.Clients, cfg.Rate)
	run := func(r *rig) (SustainedSide, error) { return sustain(r, total, cfg) }
	if cfg.Analytics {
		with := func(flags ...string) func() (*rig, error) {
			return func() (*rig, error) {
				return heraldRigOver(ctx, cfg.Clients, cfg.Clients, total, cfg.Payload, cfg.Wrapper, false, heraldOptions{ack: true, flags: flags})
			}
		}
		var err error
		res.Herald, res.Floor, err = twoSides(progress, label, [2]string{"Herald, analytics on", "Herald, analytics off"}, with(), with("--analytics=false"), run)
		if err != nil {
			return nil, err
		}
		return res, nil
	}
	herald := func() (*rig, error) { return heraldRig(ctx, cfg.Clients, total, cfg.Payload, cfg.Wrapper, false) }
	floor := func(mode ...string) func() (*rig, error) {
		return func() (*rig, error) { return floorRig(cfg.Clients, total, cfg.Payload, cfg.Wrapper, mode...) }
	}
	out, err := sides(progress, label, []string{"Herald", "floor, one writer", fmt.Sprintf("floor, %d writers", floorWriters)},
		[]func() (*rig, error){herald, floor(), floor(poolMode)}, run)
	if err != nil {
		return nil, err
	}
	res.Herald, res.FloorLoop, res.FloorPool = out[0], out[1], out[2]
	res.Floor, res.Pool = res.FloorLoop, res.FloorPool.DeliveryRate(cfg.Clients) > res.FloorLoop.DeliveryRate(cfg.Clients)
	if res.Pool {
		res.Floor = res.FloorPool
	}
	return res, nil
}

// sustain fires total broadcasts on schedule without waiting for their
// acknowledgements (an open-loop load, as from many independent
// publishers), then waits for every client to have every broadcast. A
// broadcast's lag is measured against its place in the schedule; since
// open-loop publishes may commit out of order, the k-th id is compared with
// the k-th slot.
func sustain(r *rig, total int, cfg SustainedConfig) (SustainedSide, error) {
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	cpuStart, clientStart, coresStart := r.cpu(), selfCPU(), readCoreTimes()
	start := time.Now().Add(50 * time.Millisecond)
	profiled := make(chan error, 1)
	if cfg.Profile != nil && r.profile != nil {
		go func() { profiled <- r.profile(cfg.Duration, cfg.Profile) }()
	} else {
		profiled <- nil
	}
	traced := make(chan error, 1)
	if cfg.Trace != nil && r.trace != nil {
		go func() { traced <- r.trace(cmp.Or(cfg.TraceFor, time.Second), cfg.Trace) }()
	} else {
		traced <- nil
	}
	for i := 0; i < total; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		r.fire(i)
	}
	if err := r.settle(); err != nil {
		return SustainedSide{}, err
	}
	if err := errors.Join(<-profiled, <-traced); err != nil {
		return SustainedSide{}, err
	}
	side := SustainedSide{}
	var lastAll time.Time
	for i := 0; i < total; i++ {
		last, err := r.clients.wait(i, cfg.Duration+30*time.Second)
		if err != nil {
			return SustainedSide{}, err
		}
		side.Lag = append(side.Lag, last.Sub(start.Add(time.Duration(i)*interval)))
		if last.After(lastAll) {
			lastAll = last
		}
	}
	side.Span = lastAll.Sub(start)
	side.CPU = r.cpu() - cpuStart
	side.ClientCPU = selfCPU() - clientStart
	coresEnd := readCoreTimes()
	side.CoreBusy, side.CoreSteal = busyFractions(coresStart, coresEnd), stealFractions(coresStart, coresEnd)
	r.acks.Lock()
	side.Acks = slices.Clone(r.acks.took)
	r.acks.Unlock()
	if r.histogram != nil {
		for name, p99 := range map[string]*time.Duration{"herald_commit_seconds": &side.CommitP99, "herald_publish_ack_seconds": &side.ServerAckP99} {
			buckets, err := r.histogram(name)
			if err != nil {
				return SustainedSide{}, err
			}
			*p99 = bucketQuantile(buckets, 0.99)
		}
	}
	return side, nil
}
