package bench

import (
	"context"
	"fmt"
	"io"

	"herald/internal/child"
	"herald/internal/natsproc"
	"herald/internal/serverproc"
)

// ClusterConfig describes a burst measurement of a cluster (a NATS
// server, one core and Edges edges, each its own process) beside one
// whole server, with the same clients spread over the edges.
type ClusterConfig struct {
	BurstConfig
	Edges int // 3
	// Followers is how many users follow the account (Clients if less);
	// the clients are users 1..Clients.
	Followers int
}

// ClusterResult pairs the cluster with one whole server.
type ClusterResult struct {
	Config   ClusterConfig
	AllInOne Side
	// Cluster's CPU is its core's, its edges' and the NATS server's.
	Cluster Side
	// Bus is what crossed NATS per measured broadcast (publish request,
	// answer, relays, reports, heartbeats).
	Bus natsproc.Traffic
}

// RunClusterBurst measures one whole server and then the cluster: one
// broadcast at a time, each timed from its acknowledgement to the last
// client's receipt.
func RunClusterBurst(ctx context.Context, cfg ClusterConfig, progress io.Writer) (*ClusterResult, error) {
	cfg.fill()
	if cfg.Edges <= 0 {
		cfg.Edges = 3
	}
	total := cfg.Warmup + cfg.Broadcasts
	res := &ClusterResult{Config: cfg}
	label := fmt.Sprintf("cluster burst, %d clients", cfg.Clients)
	var bus *natsproc.Process
	sides := []struct {
		name string
		out  *Side
		rig  func() (*rig, error)
	}{
		{"one server", &res.AllInOne, func() (*rig, error) {
			return heraldRigFollowed(ctx, cfg.Clients, cfg.Followers, total, cfg.Payload, cfg.Wrapper, cfg.InMemory)
		}},
		{fmt.Sprintf("cluster of %d edges", cfg.Edges), &res.Cluster, func() (*rig, error) {
			return clusterRig(ctx, cfg, total, &bus)
		}},
	}
	for _, side := range sides {
		if progress != nil {
			fmt.Fprintf(progress, "%s: %s\n", label, side.name)
		}
		r, err := side.rig()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", side.name, err)
		}
		var before natsproc.Traffic
		if bus != nil {
			before, err = bus.Traffic()
		}
		if err == nil {
			*side.out, err = runBursts(r, cfg.BurstConfig)
		}
		if err == nil && bus != nil {
			var after natsproc.Traffic
			if after, err = bus.Traffic(); err == nil {
				d := after.Sub(before)
				n := int64(total)
				res.Bus = natsproc.Traffic{InMsgs: d.InMsgs / n, OutMsgs: d.OutMsgs / n, InBytes: d.InBytes / n, OutBytes: d.OutBytes / n}
			}
		}
		r.close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", side.name, err)
		}
	}
	return res, nil
}

// clusterRig starts NATS, a core and the edges under cfg.Wrapper, the
// account on the core, and the clients spread over the edges; it
// publishes through the first edge.
func clusterRig(ctx context.Context, cfg ClusterConfig, broadcasts int, bus **natsproc.Process) (_ *rig, err error) {
	r := &rig{}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	dataDir, err := r.dataDir(cfg.InMemory)
	if err != nil {
		return nil, err
	}
	nats, err := natsproc.Start(cfg.Wrapper...)
	if err != nil {
		return nil, err
	}
	r.closers = append(r.closers, nats.Stop)
	r.others = append(r.others, nats.Process)
	*bus = nats
	core, err := serverproc.StartWith(dataDir, []string{"--role", "core", "--nats", nats.URL}, cfg.Wrapper...)
	if err != nil {
		return nil, err
	}
	r.closers = append(r.closers, core.Stop)
	r.proc = core.Proc()
	var edges []serverproc.Addrs
	var held []*child.Process
	for i := range cfg.Edges {
		e, err := serverproc.StartWith("", []string{"--role", "edge", "--nats", nats.URL, "--edge-name", fmt.Sprint("e", i)}, cfg.Wrapper...)
		if err != nil {
			return nil, err
		}
		r.closers = append(r.closers, e.Stop)
		r.others = append(r.others, e.Proc())
		held = append(held, e.Proc())
		edges = append(edges, e.Addrs())
	}
	return r, r.connect(ctx, edges[0], cfg.Clients, cfg.Followers, broadcasts, cfg.Payload, func(i int) string { return edges[i%len(edges)].ClientAddr }, held...)
}
