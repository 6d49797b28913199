// Package node runs one whole Herald process: the engine (package fanout)
// over its data directory, and the network edge (package server) on it,
// wired through the engine's contract (package engine). `herald serve`,
// the load test's embedded server and the end-to-end tests all start a
// node, so they run the same code.
package node

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"herald/cluster"
	"herald/fanout"
	"herald/server"
	"herald/wire"
)

// Config configures a node: the edge's listeners and limits, the engine
// with its data directory, and its place in a cluster (none: one whole
// server). Zero fields take the defaults.
type Config struct {
	Edge    server.Config
	Engine  fanout.Config
	Cluster ClusterConfig
}

// Node is a running Herald process. Engine is nil on an edge, Edge on a
// core.
type Node struct {
	Engine *fanout.Engine
	Edge   *server.Server
	// Core serves Engine to the cluster (a core); Remote is an edge's
	// engine over the bus.
	Core   *cluster.Core
	Remote *cluster.Edge
	nc     *nats.Conn
	// A core's /healthz and /metrics.
	coreHTTP *http.Server
	coreAddr string
	logger   *slog.Logger
	once     sync.Once
	err      error
}

// defaultMaxPayload is the engine's payload limit when none is set.
const defaultMaxPayload = 256 << 10

// Start opens the engine over cfg.Engine.DataDir, then starts the edge on
// it. The admin token is cfg.Edge.AdminToken, or the one in the data
// directory's admin.token (created on first start).
func Start(cfg Config) (*Node, error) {
	if cfg.Engine.Logger == nil {
		cfg.Engine.Logger = cfg.Edge.Logger
	}
	switch cfg.Cluster.Role {
	case "", RoleAll:
	case RoleCore:
		return startCore(cfg)
	case RoleEdge:
		return startEdge(cfg)
	default:
		return nil, fmt.Errorf("%w: role %q: one of all, core, edge", server.ErrConfig, cfg.Cluster.Role)
	}
	// A PUSH is at most a few bytes longer than the PUBLISH it carries, so
	// with this margin the edge sends no frame over its MaxFrame.
	frame := cfg.Edge.MaxFrame
	if frame <= 0 {
		frame = wire.DefaultMaxFrame
	}
	if cfg.Engine.MaxPayload == 0 && frame-server.MaxFrameMargin < defaultMaxPayload {
		cfg.Engine.MaxPayload = frame - server.MaxFrameMargin
	}
	if payload := cfg.Engine.MaxPayload; payload > frame-server.MaxFrameMargin {
		return nil, fmt.Errorf("%w: the payload limit %d must leave %d bytes of MaxFrame %d for the frame's other fields", server.ErrConfig, payload, server.MaxFrameMargin, frame)
	}
	// The engine's commits are observed by the edge's metrics, which exist
	// once the edge starts.
	var edge atomic.Pointer[server.Server]
	if cfg.Engine.ObserveCommit == nil {
		cfg.Engine.ObserveCommit = func(took time.Duration, ops int) {
			if s := edge.Load(); s != nil {
				s.ObserveCommit(took, ops)
			}
		}
	}
	eng, err := fanout.Open(cfg.Engine)
	if err != nil {
		return nil, err
	}
	if cfg.Edge.AdminToken == "" && !cfg.Engine.InMemory {
		if cfg.Edge.AdminToken, err = adminToken(cmp.Or(cfg.Engine.DataDir, fanout.DefaultDataDir)); err != nil {
			eng.Discard()
			return nil, err
		}
	}
	srv, err := server.Start(cfg.Edge, eng)
	if err != nil {
		eng.Discard()
		return nil, err
	}
	edge.Store(srv)
	return &Node{Engine: eng, Edge: srv}, nil
}

// Close stops the edge (every connection is told SHUTTING_DOWN), then the
// engine, which saves acknowledged cursors and closes the store.
func (n *Node) Close() error {
	n.once.Do(func() {
		if n.Edge != nil {
			n.err = n.Edge.Close()
		}
		if n.coreHTTP != nil {
			_ = n.coreHTTP.Close()
		}
		if n.Remote != nil {
			n.Remote.Close()
		}
		if n.Engine != nil {
			n.err = errors.Join(n.err, n.Engine.Close())
		}
		if n.Core != nil {
			n.Core.Close()
		}
		if n.nc != nil {
			n.nc.Close()
		}
	})
	return n.err
}

// startCore opens the engine and serves it on the bus.
func startCore(cfg Config) (*Node, error) {
	nc, err := cfg.Cluster.connect(RoleCore)
	if err != nil {
		return nil, err
	}
	if int(cfg.Engine.Shard) >= wire.MaxShards {
		nc.Close()
		return nil, fmt.Errorf("%w: shard %d: 0 to %d", server.ErrConfig, cfg.Engine.Shard, wire.MaxShards-1)
	}
	payload := cmp.Or(cfg.Engine.MaxPayload, defaultMaxPayload)
	if cfg.Engine.CatchUpBytes, err = cluster.CatchUpBytes(nc.MaxPayload(), payload, cmp.Or(cfg.Engine.CatchUpPage, 1000)); err != nil {
		nc.Close()
		return nil, fmt.Errorf("%w: %v", server.ErrConfig, err)
	}
	eng, err := fanout.Open(cfg.Engine)
	if err != nil {
		nc.Close()
		return nil, err
	}
	core, err := cluster.StartCore(cluster.CoreConfig{Conn: nc, Cluster: cfg.Cluster.name(), Engine: eng, Logger: cfg.Engine.Logger})
	if err != nil {
		eng.Discard()
		nc.Close()
		return nil, err
	}
	n := &Node{Engine: eng, Core: core, nc: nc, logger: cmp.Or(cfg.Engine.Logger, slog.Default())}
	if err := n.serveCoreHTTP(cmp.Or(cfg.Edge.AdminAddr, "127.0.0.1:7402")); err != nil {
		_ = n.Close()
		return nil, fmt.Errorf("core HTTP: %w", err)
	}
	return n, nil
}

// startEdge starts the network edge on the core's engine over the bus.
func startEdge(cfg Config) (*Node, error) {
	nc, err := cfg.Cluster.connect(RoleEdge)
	if err != nil {
		return nil, err
	}
	remote, err := cluster.StartEdge(cluster.EdgeConfig{Conn: nc, Cluster: cfg.Cluster.name(), Shards: cfg.Cluster.Shards, Name: cfg.Cluster.EdgeName, Logger: cfg.Edge.Logger})
	if err != nil {
		nc.Close()
		return nil, err
	}
	if cfg.Edge.AdminToken == "" {
		if cfg.Edge.AdminToken, err = server.RandomToken(); err != nil {
			remote.Close()
			nc.Close()
			return nil, err
		}
	}
	srv, err := server.Start(cfg.Edge, remote)
	if err != nil {
		remote.Close()
		nc.Close()
		return nil, err
	}
	return &Node{Edge: srv, Remote: remote, nc: nc}, nil
}

// adminToken returns the token in dir/admin.token, creating that file with
// a random token on first start.
func adminToken(dir string) (string, error) {
	path := filepath.Join(dir, "admin.token")
	if b, err := os.ReadFile(path); err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	token, err := server.RandomToken()
	if err != nil {
		return "", err
	}
	return token, os.WriteFile(path, []byte(token+"\n"), 0o600)
}
