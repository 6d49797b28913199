package loadtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"herald/internal/natsproc"
	"herald/internal/serverproc"
)

// embedded is the embedded cluster (Config.Cluster): a NATS server, the
// cores (cores[k] owns shard k) and edges, each a child process. Chaos
// replaces processes, so the fields are read under mu.
type embedded struct {
	mu    sync.Mutex
	dir   string
	bus   *natsproc.Process
	cores []*serverproc.Process
	edges []*serverproc.Process
	// restarting counts restarts in flight; settled waits for them.
	restarting sync.WaitGroup
	failures   []error
}

// startCore starts the core of shard k on its data directory.
func (c *embedded) startCore(k int) (*serverproc.Process, error) {
	return serverproc.StartWith(filepath.Join(c.dir, fmt.Sprint("core", k)), []string{"--role", "core", "--nats", c.bus.URL, "--shard", fmt.Sprint(k)})
}

// stop ends every process and removes the core's data.
func (c *embedded) stop() {
	c.restarting.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.edges {
		e.Stop()
	}
	for _, core := range c.cores {
		core.Stop()
	}
	if c.bus != nil {
		c.bus.Stop()
	}
	os.RemoveAll(c.dir)
}

// startCluster starts the embedded cluster and points e at it: the admin
// API and publishers use the first edge, clients are spread over all.
func (e *env) startCluster(cores, edges int) (stop func(), err error) {
	c := &embedded{}
	defer func() {
		if err != nil {
			c.stop()
		}
	}()
	e.logf("starting the embedded cluster: NATS, %d cores and %d edges", cores, edges)
	if c.dir, err = os.MkdirTemp("", "herald-loadtest-"); err != nil {
		return nil, err
	}
	if c.bus, err = natsproc.Start(); err != nil {
		return nil, fmt.Errorf("NATS: %w", err)
	}
	for k := range cores {
		core, err := c.startCore(k)
		if err != nil {
			return nil, fmt.Errorf("core %d: %w", k, err)
		}
		c.cores = append(c.cores, core)
	}
	t := &Target{}
	for i := range edges {
		edge, err := serverproc.StartWith("", []string{"--role", "edge", "--nats", c.bus.URL, "--edge-name", fmt.Sprint("e", i), "--shards", fmt.Sprint(cores)})
		if err != nil {
			return nil, fmt.Errorf("edge %d: %w", i, err)
		}
		c.edges = append(c.edges, edge)
		a := edge.Addrs()
		if i == 0 {
			t.ClientAddr, t.PublisherAddr, t.AdminURL, t.AdminToken = a.ClientAddr, a.PublisherAddr, a.AdminURL, a.AdminToken
		}
		t.ClientAddrs = append(t.ClientAddrs, a.ClientAddr)
		t.PublisherAddrs = append(t.PublisherAddrs, a.PublisherAddr)
	}
	e.servers = append(e.servers, c.bus.Usage)
	for _, core := range c.cores {
		e.servers = append(e.servers, core.Usage)
	}
	for _, edge := range c.edges {
		e.servers = append(e.servers, edge.Usage)
	}
	e.logf("embedded cluster: NATS pid %d, %d cores (data in %s), %d edges", c.bus.Pid(), cores, c.dir, edges)
	e.target, e.cluster = t, c
	e.report.Embedded = true
	return c.stop, nil
}

// chaosAt returns the failure to inflict before broadcast i, if any: the
// failures of cfg.Chaos spread evenly over the broadcasts.
func chaosAt(cfg Config, i int) (string, bool) {
	for k, kind := range cfg.Chaos {
		if i == cfg.Broadcasts*(k+1)/(len(cfg.Chaos)+1) {
			return kind, true
		}
	}
	return "", false
}

// inflict kills part of the embedded cluster (Config.Chaos); a core and
// NATS come back by themselves half a second later. The core killed is
// shard's, the one the next broadcast goes to. Processes' CPU and memory
// are no longer measured: the killed ones' are gone.
func (e *env) inflict(ctx context.Context, kind string, shard uint8) error {
	c := e.cluster
	c.mu.Lock()
	defer c.mu.Unlock()
	e.servers = nil
	switch kind {
	case ChaosEdge:
		last := c.edges[len(c.edges)-1]
		last.Kill()
		c.edges = c.edges[:len(c.edges)-1]
		e.logf("chaos: killed edge e%d (pid %d) with SIGKILL; its clients resume on the others", len(c.edges), last.Pid())
	case ChaosCore:
		k := int(shard) % len(c.cores)
		c.cores[k].Kill()
		e.logf("chaos: killed the core of shard %d (pid %d) with SIGKILL; it restarts on its data in 500ms", k, c.cores[k].Pid())
		c.restart(ctx, func() error {
			core, err := c.startCore(k)
			if err == nil {
				c.cores[k] = core
			}
			return err
		})
	case ChaosNATS:
		port := c.bus.Port()
		c.bus.Kill()
		e.logf("chaos: killed NATS (pid %d) with SIGKILL; it restarts on port %d in 500ms", c.bus.Pid(), port)
		c.restart(ctx, func() error {
			bus, err := natsproc.StartOn(port)
			if err == nil {
				c.bus = bus
			}
			return err
		})
	}
	return nil
}

// restart runs start half a second from now (under mu).
func (c *embedded) restart(ctx context.Context, start func() error) {
	c.restarting.Add(1)
	go func() {
		defer c.restarting.Done()
		select {
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if err := start(); err != nil {
			c.failures = append(c.failures, err)
		}
	}()
}
