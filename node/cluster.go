package node

import (
	"cmp"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"herald/cluster"
)

// The roles of a node.
const (
	// RoleAll is one whole server: engine and edge in one process (the
	// default).
	RoleAll = "all"
	// RoleCore owns the accounts' data and serves it to the edges over
	// NATS; it holds no client connections.
	RoleCore = "core"
	// RoleEdge holds client and publisher connections and owns no data:
	// its engine is the core, over NATS.
	RoleEdge = "edge"
)

// ClusterConfig places a node in a cluster (Role core or edge).
type ClusterConfig struct {
	Role string
	// NATS is the NATS server URL (several, comma-separated, for a NATS
	// cluster); Name names the cluster's subjects (cluster.DefaultCluster).
	NATS string
	Name string
	// EdgeName identifies an edge on the bus (default: random).
	EdgeName string
	// Shards is how many cores the cluster has (an edge's; 1 by default):
	// they own shards 0 to Shards-1. A core's own shard is
	// Engine.Shard (--shard).
	Shards int
	// Credentials: a NATS credentials file (JWT and seed), or a user and
	// password; CA is a PEM file of the NATS server's certificate
	// authority, for TLS.
	Creds, User, Password, CA string
}

// connect opens the node's NATS connection: it must reach NATS now, and
// reconnects for as long as it runs.
func (c ClusterConfig) connect(role string) (*nats.Conn, error) {
	if c.NATS == "" {
		return nil, fmt.Errorf("a %s needs --nats (the NATS server's URL)", role)
	}
	opts := []nats.Option{
		nats.Name("herald " + role),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectBufSize(64 << 20),
	}
	if c.Creds != "" {
		opts = append(opts, nats.UserCredentials(c.Creds))
	}
	if c.User != "" {
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.CA != "" {
		opts = append(opts, nats.RootCAs(c.CA))
	}
	nc, err := nats.Connect(c.NATS, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w", c.NATS, err)
	}
	return nc, nil
}

func (c ClusterConfig) name() string { return cmp.Or(c.Name, cluster.DefaultCluster) }
