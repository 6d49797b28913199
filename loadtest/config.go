package loadtest

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"herald/wire"
)

// Config describes one fan-out run. Zero fields take the defaults shown.
type Config struct {
	// Scenario is ScenarioFanout (default), ScenarioCatchUp,
	// ScenarioChurn, ScenarioPublish or ScenarioNotify.
	Scenario string `json:"scenario"`
	// Clients is the number of connected users, 1..Clients (1000).
	Clients int `json:"clients"`
	// Accounts is the number of accounts the fanout scenario seeds, each
	// with the same Followers, publishing in turn (1).
	Accounts int `json:"accounts"`
	// Followers is each account's follower count, users 1..Followers
	// (Clients); followers beyond Clients are offline. In the fanout
	// scenario it may be fewer than Clients: the other clients follow no
	// one and must receive nothing.
	Followers int `json:"followers"`
	// Broadcasts is the number of broadcasts published (20; ServiceCap
	// for the capped audience).
	Broadcasts int `json:"broadcasts"`
	// Payload is the broadcast size in bytes, at least 16 (256).
	Payload int `json:"payload_bytes"`
	// Timeout bounds the wait for one burst to reach every client (30 s).
	Timeout time.Duration `json:"timeout_ns"`
	// Target is an external server; nil starts the embedded one.
	Target *Target `json:"target"`
	// Cluster, if above 0, makes the embedded server a cluster: a NATS
	// server, Cores cores (1; one per shard) and this many edges, each its
	// own process, with the clients spread over the edges
	// (docs/CLUSTER.md). Accounts are spread over the cores in turn.
	Cluster int `json:"cluster_edges,omitempty"`
	Cores   int `json:"cluster_cores,omitempty"`
	// Chaos are failures the fanout scenario inflicts on the embedded
	// cluster while it publishes, spread evenly over its broadcasts:
	// ChaosEdge kills an edge with SIGKILL (its clients resume on
	// another), ChaosCore kills the core with SIGKILL and restarts it on
	// its data half a second later (publishes are retried meanwhile),
	// ChaosNATS kills the NATS server and restarts it on its port. The
	// verification is the same: every broadcast exactly once, in order.
	Chaos []string `json:"chaos,omitempty"`
	// SourceAddrs spreads the clients' connections over this many source
	// addresses, 127.0.0.1 upwards, when the server is on loopback, so no
	// source address runs out of ephemeral ports (default: one per 10,000
	// clients).
	SourceAddrs int `json:"source_addrs"`
	// ClientsPerProcess is the most clients one process holds; a run with
	// more spreads them over worker processes, each holding as many
	// (default: this process's open-file limit less a reserve). The churn
	// scenario runs in one process.
	ClientsPerProcess int `json:"clients_per_process"`
	// Progress, if set, is told of each phase and step for a live display.
	Progress Progress `json:"-"`
	// Audience is the fanout scenario's mix: AudienceAll (default),
	// AudienceTags, AudienceList or AudienceCapped.
	Audience string `json:"audience"`
	// Transport is how clients reach the client listener: TransportTCP
	// (default) or TransportWebSocket (the same protocol in WebSocket
	// messages, as browsers speak it).
	Transport string `json:"transport"`
	// ReconnectRate paces the catchup scenario's reconnects, clients per
	// second over all processes; 0 reconnects them all at once.
	ReconnectRate float64 `json:"reconnect_rate"`
	// Interval spaces the churn scenario's broadcasts (20 ms).
	Interval time.Duration `json:"interval_ns"`
	// ChurnRate is the churn scenario's reconnects per second (100).
	ChurnRate float64 `json:"churn_rate"`
	// Notifications is the notify scenario's count (10,000).
	Notifications int `json:"notifications,omitempty"`
	// Publishers is the publish and notify scenarios' concurrency (16).
	Publishers int `json:"publishers"`
	// Rate is the publish scenario's offered publishes per second; 0 is as
	// fast as acknowledged. In the fanout scenario it is the broadcasts
	// per second of PaceRate. At a fixed rate each latency is measured
	// from the time the publish was scheduled, not sent, so a stalled
	// server cannot hide its queue (coordinated omission).
	Rate float64 `json:"rate"`
	// Pace is how the fanout scenario publishes: PaceBurst (default, or
	// PaceRate when Rate is set), PaceAck or PaceRate.
	Pace string `json:"pace"`
}

// Paces of the fanout scenario.
const (
	// PaceBurst: one broadcast at a time, each waited for until every
	// client it is for has it; measures burst completion.
	PaceBurst = "burst"
	// PaceAck: each broadcast as soon as the one before is acknowledged,
	// without waiting for delivery.
	PaceAck = "ack"
	// PaceRate: Rate broadcasts a second on a fixed schedule, latency
	// measured from each one's scheduled time.
	PaceRate = "rate"
)

// Scenarios.
const (
	// ScenarioFanout: Clients connected, Broadcasts published at Pace by
	// Accounts in turn; each client must get each exactly once, in order.
	ScenarioFanout = "fanout"
	// ScenarioCatchUp: Broadcasts are published while the followers are
	// offline, then Clients reconnect from where they were, all at once
	// or ReconnectRate a second; each must catch up on every one, in
	// order. Measures time until each client has caught up.
	ScenarioCatchUp = "catchup"
	// ScenarioPublish: Broadcasts published by Publishers concurrent
	// publishers to an account with Followers offline followers, at Rate
	// per second (0: as fast as acknowledged); every tenth is retried and
	// must be answered as a duplicate; a subscription-tier account then
	// publishes twice and must get one QUOTA_EXCEEDED.
	ScenarioPublish = "publish"
	// ScenarioChurn: Clients connected, Broadcasts published one every
	// Interval while clients disconnect and reconnect ChurnRate a second,
	// each resuming from the last broadcast it got; each must end with
	// every broadcast exactly once, in order.
	ScenarioChurn = "churn"
	// ScenarioNotify: Clients connected; Notifications sent by Publishers
	// concurrent notifiers, each to one random client, at Rate or as
	// fast as acknowledged, with Broadcasts to all followers spread over
	// them; each client must have exactly its notifications and every
	// broadcast, once each, in id order.
	ScenarioNotify = "notify"
)

// The failures of Config.Chaos.
const (
	ChaosEdge = "edge"
	ChaosCore = "core"
	ChaosNATS = "nats"
)

// Target names an external server.
type Target struct {
	ClientAddr string `json:"client_addr"`
	// ClientAddrs, if set, are several client listeners (a cluster's
	// edges): user u connects to ClientAddrs[(u-1) % len].
	ClientAddrs []string `json:"client_addrs,omitempty"`
	// PublisherAddrs are a cluster's publisher listeners, the first
	// PublisherAddr: a publisher whose edge is gone moves to the next.
	PublisherAddrs []string `json:"publisher_addrs,omitempty"`
	PublisherAddr  string   `json:"publisher_addr"`
	AdminURL       string   `json:"admin_url"`
	AdminToken     string   `json:"-"`
	// Tier is the tier of the accounts the run creates; it must publish
	// without quotas (default "unlimited", which the embedded server
	// defines; herald serve --tiers can define one).
	Tier string `json:"tier,omitempty"`
}

// clientAddrs are the client listeners user connects to: its own first
// (users are spread over a cluster's edges), then the others, for the
// SDK's reconnects.
// Transports (Config.Transport).
const (
	TransportTCP       = "tcp"
	TransportWebSocket = "ws"
)

// dialAddrs are the addresses user's client dials, in its order: the
// client listeners, as WebSocket URLs over TransportWebSocket.
func (t *Target) dialAddrs(cfg Config, user uint32) []string {
	addrs := t.clientAddrs(user)
	if cfg.Transport == TransportWebSocket {
		for i, a := range addrs {
			addrs[i] = "ws://" + a + "/"
		}
	}
	return addrs
}

func (t *Target) clientAddrs(user uint32) []string {
	if len(t.ClientAddrs) == 0 {
		return []string{t.ClientAddr}
	}
	n := len(t.ClientAddrs)
	out := make([]string, n)
	for i := range out {
		out[i] = t.ClientAddrs[(int(user-1)+i)%n]
	}
	return out
}

// ErrTooManyClients: the run needs more open files than a process that
// must hold them may have.
var ErrTooManyClients = errors.New("loadtest: too many clients for the open-file limit")

// fdReserve is kept back from a client process's open-file limit for the
// runtime, HTTP and the log; serverFDReserve from the embedded server's
// for its store's files and listeners.
const (
	fdReserve       = 200
	serverFDReserve = 500
)

func (c *Config) fill() error {
	switch c.Scenario {
	case "":
		c.Scenario = ScenarioFanout
	case ScenarioFanout, ScenarioCatchUp, ScenarioPublish, ScenarioChurn, ScenarioNotify:
	default:
		return fmt.Errorf("loadtest: unknown scenario %q (fanout, catchup, churn, publish or notify)", c.Scenario)
	}
	if c.Notifications < 0 {
		return fmt.Errorf("loadtest: --notifications must be 0 or more")
	}
	if c.Notifications == 0 && c.Scenario == ScenarioNotify {
		c.Notifications = 10_000
	}
	switch c.Transport {
	case "":
		c.Transport = TransportTCP
	case TransportTCP, TransportWebSocket:
	default:
		return fmt.Errorf("loadtest: unknown transport %q (tcp or ws)", c.Transport)
	}
	switch c.Audience {
	case "":
		c.Audience = AudienceAll
	case AudienceAll, AudienceTags, AudienceList, AudienceCapped:
	default:
		return fmt.Errorf("loadtest: unknown audience %q (all, tags, list or capped)", c.Audience)
	}
	if c.Interval <= 0 {
		c.Interval = 20 * time.Millisecond
	}
	if c.ReconnectRate < 0 {
		return fmt.Errorf("loadtest: reconnect rate must be 0 (all at once) or more")
	}
	if c.ChurnRate < 0 {
		return fmt.Errorf("loadtest: churn rate must be 0 or more")
	}
	if c.ChurnRate == 0 && c.Scenario == ScenarioChurn {
		c.ChurnRate = 100
	}

	if c.Publishers <= 0 {
		c.Publishers = 16
	}
	if c.Rate < 0 {
		return fmt.Errorf("loadtest: rate must be 0 (as fast as acknowledged) or more")
	}
	switch c.Pace {
	case "":
		c.Pace = PaceBurst
		if c.Rate > 0 {
			c.Pace = PaceRate
		}
	case PaceBurst, PaceAck:
	case PaceRate:
		if c.Rate == 0 {
			return fmt.Errorf("loadtest: pace rate needs a rate (--rate, broadcasts per second)")
		}
	default:
		return fmt.Errorf("loadtest: unknown pace %q (burst, ack or rate)", c.Pace)
	}
	if c.Accounts <= 0 {
		c.Accounts = 1
	}
	if c.Accounts > 1 && c.Scenario != ScenarioFanout {
		return fmt.Errorf("loadtest: several accounts (--accounts) are for the fanout scenario")
	}
	switch {
	case c.Clients < 0:
		return fmt.Errorf("loadtest: --clients must be at least 1, not %d", c.Clients)
	case c.Clients == 0:
		c.Clients = 1000
	}
	if c.SourceAddrs <= 0 {
		c.SourceAddrs = min(254, (c.Clients+9999)/10000)
	}
	if c.SourceAddrs > 254 {
		return fmt.Errorf("loadtest: at most 254 source addresses (127.0.0.1 to 127.0.0.254)")
	}
	if c.Followers <= 0 {
		c.Followers = c.Clients
	}
	if c.Followers < c.Clients && c.Scenario != ScenarioFanout && c.Scenario != ScenarioPublish {
		return fmt.Errorf("loadtest: the %s scenario's clients are all followers: --followers %d is fewer than --clients %d", c.Scenario, c.Followers, c.Clients)
	}
	capped := c.Scenario == ScenarioFanout && c.Audience == AudienceCapped
	switch {
	case c.Broadcasts <= 0 && capped:
		c.Broadcasts = ServiceCap
	case c.Broadcasts <= 0:
		c.Broadcasts = 20
	case capped && c.Broadcasts > ServiceCap:
		return fmt.Errorf("loadtest: the capped audience publishes at most %d broadcasts, the service tier's monthly cap per follower: use --broadcasts %d or fewer", ServiceCap, ServiceCap)
	}
	if c.Payload <= 0 {
		c.Payload = 256
	}
	if c.Payload < 16 {
		return fmt.Errorf("loadtest: payload of %d bytes cannot carry the 16-byte timestamp header", c.Payload)
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	return c.fitFiles()
}

// fitFiles sets ClientsPerProcess and refuses a run that cannot fit the
// open-file limit (which Go raises to the hard limit at start): the
// clients can be spread over processes, but the embedded server holds all
// their connections in one.
func (c *Config) fitFiles() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		lim.Cur = 1 << 20 // unknown: trust the caller
	}
	fit := int(min(lim.Cur, 1<<30)) - fdReserve
	switch {
	case c.ClientsPerProcess <= 0:
		c.ClientsPerProcess = max(fit, 1)
	case c.ClientsPerProcess > fit:
		return fmt.Errorf("%w: a process holding %d clients needs %d open files, but this one may open %d (ulimit -n). Use --clients-per-process %d or fewer",
			ErrTooManyClients, c.ClientsPerProcess, c.ClientsPerProcess+fdReserve, lim.Cur, max(fit, 0))
	}
	if (c.Scenario == ScenarioChurn || c.Scenario == ScenarioNotify) && c.Clients > c.ClientsPerProcess {
		return fmt.Errorf("%w: the %s scenario runs its clients in one process, which may hold %d. Use --clients %d or fewer",
			ErrTooManyClients, c.Scenario, c.ClientsPerProcess, c.ClientsPerProcess)
	}
	if c.Cores < 0 || c.Cores > 0 && c.Cluster == 0 || c.Cores > wire.MaxShards {
		return fmt.Errorf("loadtest: --cores is for the embedded cluster (--cluster N), 1 to %d", wire.MaxShards)
	}
	if c.Cluster > 0 {
		c.Cores = max(c.Cores, 1)
	}
	if c.Cluster < 0 || c.Cluster > 0 && c.Target != nil {
		return fmt.Errorf("loadtest: --cluster is a number of edges for the embedded cluster, not with an external server")
	}
	for _, kind := range c.Chaos {
		switch {
		case c.Cluster == 0:
			return fmt.Errorf("loadtest: --chaos needs the embedded cluster (--cluster N)")
		case c.Scenario != ScenarioFanout:
			return fmt.Errorf("loadtest: --chaos runs with the fanout scenario")
		case kind == ChaosEdge && c.Cluster < 2:
			return fmt.Errorf("loadtest: --chaos edge needs two edges or more (--cluster 2), so its clients have another")
		case kind != ChaosEdge && kind != ChaosCore && kind != ChaosNATS:
			return fmt.Errorf("loadtest: --chaos %q: one of edge, core, nats", kind)
		}
	}
	serverFit := int(min(lim.Cur, 1<<30)) - serverFDReserve
	switch {
	case c.Target != nil || c.Scenario == ScenarioPublish:
	case c.Cluster > 0 && (c.Clients+c.Cluster-1)/c.Cluster > serverFit:
		return fmt.Errorf("%w: each edge of the embedded cluster is one process, which may open %d files (ulimit -n), so %d edges hold at most %d clients. "+
			"Use --cluster %d or more", ErrTooManyClients, lim.Cur, c.Cluster, c.Cluster*max(serverFit, 0), (c.Clients+serverFit-1)/max(serverFit, 1))
	case c.Cluster == 0 && c.Clients > serverFit:
		return fmt.Errorf("%w: the embedded server is one process, which may open %d files (ulimit -n), so it holds at most %d clients. "+
			"Use --clients %d or fewer, raise the limit, run an embedded cluster (--cluster N), or target a server that holds more (--client-addr and the other external-server flags)",
			ErrTooManyClients, lim.Cur, max(serverFit, 0), max(serverFit, 0))
	}
	return nil
}
