package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"herald/internal/stats"
)

// BurstConfig describes one side-by-side burst measurement.
type BurstConfig struct {
	Clients    int
	Broadcasts int // measured bursts (20)
	Warmup     int // unmeasured bursts first (2)
	Payload    int // bytes (256)
	// Wrapper runs the server and the floor, e.g. taskset -c 0; empty for
	// no pinning.
	Wrapper []string
	Timeout time.Duration // longest wait for one burst (30 s)
	// InMemory runs Herald on an in-memory store (no fsync), to separate
	// storage costs from delivery costs.
	InMemory bool
	// Profile, if set, receives a CPU profile of the Herald server over
	// the first ProfileFor (5 s) of the measured bursts.
	Profile    io.Writer
	ProfileFor time.Duration
}

// Side is one server's burst figures.
type Side struct {
	Completion []time.Duration // per measured burst, ack → last client (0 if all had it before the ack)
	// EndToEnd is per measured burst, publish sent → last client: the
	// figure to compare where the acknowledgement takes other paths (a
	// cluster's travels core → NATS → edge while the relays travel too).
	EndToEnd   []time.Duration
	CPU        time.Duration // process CPU over the measured bursts
	RSSPerConn float64       // RSS delta across connecting, per client
}

// P returns the q-quantile of the completion times.
func (s Side) P(q float64) time.Duration { return Quantile(s.Completion, q) }

// Quantile is the q-quantile of samples.
func Quantile(samples []time.Duration, q float64) time.Duration {
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	return stats.Quantile(sorted, q)
}

// CPUPerDelivery is the process CPU per frame delivered.
func (s Side) CPUPerDelivery(clients int) time.Duration {
	if n := len(s.Completion) * clients; n > 0 {
		return s.CPU / time.Duration(n)
	}
	return 0
}

// BurstResult pairs Herald with the floor for one client count: Floor is
// the faster (by completion p50) of the floor writing from one goroutine
// (FloorLoop) and from a pool of writers (FloorPool).
type BurstResult struct {
	Config    BurstConfig
	Herald    Side
	Floor     Side
	FloorLoop Side
	FloorPool Side
	// Pool: Floor is FloorPool.
	Pool bool
}

func (c *BurstConfig) fill() {
	if c.Broadcasts <= 0 {
		c.Broadcasts = 20
	}
	if c.Warmup <= 0 {
		c.Warmup = 2
	}
	if c.Payload < 16 {
		c.Payload = 256
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
}

// RunBurst measures Herald and then the floor with the same clients: one
// broadcast at a time, each timed from its acknowledgement to the last
// client's receipt.
func RunBurst(ctx context.Context, cfg BurstConfig, progress io.Writer) (*BurstResult, error) {
	cfg.fill()
	total := cfg.Warmup + cfg.Broadcasts
	res := &BurstResult{Config: cfg}
	herald := func() (*rig, error) {
		return heraldRig(ctx, cfg.Clients, total, cfg.Payload, cfg.Wrapper, cfg.InMemory)
	}
	floor := func(mode ...string) func() (*rig, error) {
		return func() (*rig, error) { return floorRig(cfg.Clients, total, cfg.Payload, cfg.Wrapper, mode...) }
	}
	out, err := sides(progress, fmt.Sprintf("burst, %d clients", cfg.Clients), []string{"Herald", "floor, one writer", fmt.Sprintf("floor, %d writers", floorWriters)},
		[]func() (*rig, error){herald, floor(), floor(poolMode)}, func(r *rig) (Side, error) { return runBursts(r, cfg) })
	if err != nil {
		return nil, err
	}
	res.Herald, res.FloorLoop, res.FloorPool = out[0], out[1], out[2]
	res.Floor, res.Pool = res.FloorLoop, res.FloorPool.P(0.5) < res.FloorLoop.P(0.5)
	if res.Pool {
		res.Floor = res.FloorPool
	}
	return res, nil
}

func runBursts(r *rig, cfg BurstConfig) (Side, error) {
	side := Side{RSSPerConn: r.rssPerConn}
	var cpuStart time.Duration
	profiled := make(chan error, 1)
	profiled <- nil
	for i := 0; i < cfg.Warmup+cfg.Broadcasts; i++ {
		if i == cfg.Warmup {
			cpuStart = r.cpu()
			if cfg.Profile != nil && r.profile != nil {
				<-profiled
				go func() { profiled <- r.profile(cmp.Or(cfg.ProfileFor, 5*time.Second), cfg.Profile) }()
			}
		}
		sent := time.Now()
		acked, err := r.send(i)
		if err != nil {
			return Side{}, err
		}
		last, err := r.clients.wait(i, cfg.Timeout)
		if err != nil {
			return Side{}, err
		}
		if last.Before(sent) {
			return Side{}, fmt.Errorf("bench: broadcast %d was received at %v, before it was sent at %v", i, last, sent)
		}
		if i >= cfg.Warmup {
			// A small burst can be at every client before the sender has
			// read its acknowledgement: it was complete when acknowledged.
			side.Completion = append(side.Completion, max(last.Sub(acked), 0))
			side.EndToEnd = append(side.EndToEnd, last.Sub(sent))
		}
	}
	side.CPU = r.cpu() - cpuStart
	return side, <-profiled
}
