package loadtest

import (
	"fmt"
	"os"
	"path/filepath"

	"herald/internal/natsproc"
	"herald/internal/serverproc"
)

// startCluster starts the embedded cluster (Config.Cluster): a NATS
// server, a core on a temporary data directory and edges, each a child
// process, and points e at it: the admin API and publishers use the first
// edge, clients are spread over all. stop ends them all.
func (e *env) startCluster(edges int) (stop func(), err error) {
	var closers []func()
	stop = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	e.logf("starting the embedded cluster: NATS, a core and %d edges", edges)
	dir, err := os.MkdirTemp("", "herald-loadtest-")
	if err != nil {
		return nil, err
	}
	closers = append(closers, func() { os.RemoveAll(dir) })
	bus, err := natsproc.Start()
	if err != nil {
		return nil, fmt.Errorf("NATS: %w", err)
	}
	closers = append(closers, bus.Stop)
	e.servers = append(e.servers, bus.Usage)
	core, err := serverproc.StartWith(filepath.Join(dir, "core"), []string{"--role", "core", "--nats", bus.URL})
	if err != nil {
		return nil, fmt.Errorf("core: %w", err)
	}
	closers = append(closers, core.Stop)
	e.servers = append(e.servers, core.Usage)
	t := &Target{}
	for i := range edges {
		edge, err := serverproc.StartWith("", []string{"--role", "edge", "--nats", bus.URL, "--edge-name", fmt.Sprint("e", i)})
		if err != nil {
			return nil, fmt.Errorf("edge %d: %w", i, err)
		}
		closers = append(closers, edge.Stop)
		e.servers = append(e.servers, edge.Usage)
		a := edge.Addrs()
		if i == 0 {
			t.ClientAddr, t.PublisherAddr, t.AdminURL, t.AdminToken = a.ClientAddr, a.PublisherAddr, a.AdminURL, a.AdminToken
		}
		t.ClientAddrs = append(t.ClientAddrs, a.ClientAddr)
	}
	e.logf("embedded cluster: NATS pid %d, core pid %d (data in %s), %d edges", bus.Pid(), core.Pid(), dir, edges)
	e.target = t
	e.report.Embedded = true
	return stop, nil
}
