package node

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"herald/fanout"
	"herald/server"
	"herald/storage"
)

// ServeOptions adapt `herald serve` for a program that runs it inside
// itself (the load test's embedded server); the zero value is the command
// as herald has it.
type ServeOptions struct {
	// Tiers are added to the configured tiers.
	Tiers []fanout.TierPolicy
	// Stop, when it closes, stops the server as SIGINT and SIGTERM do.
	Stop <-chan struct{}
}

// ServeCommand is `herald serve`: the flags, the start of a node, the
// lines saying where it listens, and the stop on a signal.
func ServeCommand(opts ServeOptions) *cobra.Command {
	var cfg Config
	edge := &cfg.Edge
	var perDaySubscription, perDayVerified, perFollowerService int
	var tierFile, logFormat, logLevel string
	var analytics bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server with an embedded store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			atLeastTwoProcs()
			tiers, err := tiersFrom(cmd, tierFile, perDaySubscription, perDayVerified, perFollowerService)
			if err != nil {
				return err
			}
			for _, t := range opts.Tiers {
				tiers[t.ID] = t
			}
			cfg.Engine.Tiers = tiers
			cfg.Engine.NoAnalytics = !analytics
			if edge.Logger, err = server.NewLogger(cmd.ErrOrStderr(), logFormat, logLevel); err != nil {
				return err
			}
			n, err := Start(cfg)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			printServing(out, cfg, n)
			stop := make(chan os.Signal, 1)
			signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(stop)
			select {
			case <-stop:
			case <-opts.Stop:
			}
			fmt.Fprintln(out, "herald: stopping")
			return n.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Cluster.Role, "role", RoleAll, "all (one whole server), core (owns the data, serves edges over NATS) or edge (holds connections, owns no data); see docs/CLUSTER.md")
	f.StringVar(&cfg.Cluster.NATS, "nats", "", "NATS server URL for a core or an edge, e.g. nats://127.0.0.1:4222")
	f.StringVar(&cfg.Cluster.Name, "cluster", "herald", "cluster name: the first token of its NATS subjects")
	f.StringVar(&cfg.Cluster.EdgeName, "edge-name", "", "this edge's name on the bus (default: random)")
	f.Uint8Var(&cfg.Engine.Shard, "shard", 0, "a core's shard, 0 to 63: the accounts and broadcasts it owns (one core per shard; see docs/CLUSTER.md)")
	f.IntVar(&cfg.Cluster.Shards, "shards", 1, "an edge's: how many cores (shards 0 to N-1) the cluster has")
	f.StringVar(&cfg.Cluster.Creds, "nats-creds", "", "NATS credentials file (JWT and seed)")
	f.StringVar(&cfg.Cluster.User, "nats-user", "", "NATS user")
	f.StringVar(&cfg.Cluster.Password, "nats-password", "", "NATS password")
	f.StringVar(&cfg.Cluster.CA, "nats-ca", "", "PEM file of the NATS server's certificate authority (TLS)")
	f.StringVar(&cfg.Engine.DataDir, "data-dir", fanout.DefaultDataDir, "directory for the database, token keys and admin.token (created 0700)")
	f.BoolVar(&cfg.Engine.InMemory, "in-memory", false, "keep everything in memory instead of --data-dir: nothing survives a stop (trials, benchmarks)")
	f.StringVar(&edge.ClientAddr, "client-listen", "127.0.0.1:7400", "client listener address")
	f.StringVar(&edge.PublisherAddr, "publisher-listen", "127.0.0.1:7401", "publisher listener address")
	f.StringVar(&edge.AdminAddr, "admin-listen", "127.0.0.1:7402", "admin HTTP address (a core serves only /healthz and /metrics there)")
	f.StringVar(&edge.AdminToken, "admin-token", "", "admin token (default: data-dir/admin.token, created on first start)")
	f.DurationVar(&cfg.Engine.TokenOverlap, "token-overlap", 24*time.Hour, "how long a token key replaced by 'herald token rotate' still verifies tokens")
	f.IntVar(&edge.Loops, "loops", 0, "event loops (default: one per CPU)")
	f.DurationVar(&edge.Heartbeat, "heartbeat", 30*time.Second, "heartbeat interval announced to clients; two without a whole frame close a connection")
	f.DurationVar(&edge.FrameTimeout, "frame-timeout", 10*time.Second, "longest a frame may take to arrive once begun")
	edge.MaxFrame, edge.MaxClientFrame, edge.MaxOutbound, edge.MaxPartialBytes = 1<<20, 4096, 4<<20, 64<<20
	f.Var(size(&edge.MaxFrame), "max-frame", "largest frame accepted on the publisher listener (a PUBLISH)")
	f.Var(size(&edge.MaxClientFrame), "max-client-frame", "largest frame accepted on the client listener")
	f.Var(size(&edge.MaxOutbound), "max-outbound", "memory a connection's queued frames may take before SLOW_CONSUMER")
	f.Var(size(&edge.MaxPartialBytes), "max-partial-bytes", "memory for frames received in part, all connections together")
	f.Var(size(&cfg.Engine.MaxPayload), "max-payload", "largest broadcast payload (default 256KiB, at most --max-frame less 1KiB)")
	f.Var(size(&cfg.Engine.DiskReserve), "disk-reserve", "free space kept on the data directory's disk: writes get STORAGE_FULL below it (default: 5% of the disk, 32MiB to 512MiB)")
	f.StringSliceVar(&edge.WebSocketOrigins, "ws-origins", nil, "origins (https://example.com; * for any) whose web pages may open a WebSocket to the client listener; connections without an Origin header are always let in (docs/PROTOCOL.md, WebSocket)")
	f.BoolVar(&edge.ProxyProtocol, "proxy-protocol", false, "every client and publisher connection starts with a PROXY protocol header (v1 or v2) naming the client's address: set it behind HAProxy's send-proxy (see docs/CLUSTER.md), never otherwise")
	f.IntVar(&edge.MaxConnsPerUser, "max-conns-per-user", 16, "connections one user may hold on the client listener")
	f.IntVar(&edge.MaxConnsPerAccount, "max-conns-per-account", 64, "connections one account may hold on the publisher listener")
	f.IntVar(&perDaySubscription, "quota-subscription", 1, "broadcasts per UTC day for subscription accounts (0: no limit)")
	f.IntVar(&perDayVerified, "quota-verified", 2, "broadcasts per UTC day for verified accounts (0: no limit)")
	f.IntVar(&perFollowerService, "quota-service", 4, "broadcasts each follower receives per calendar month from a service account (0: no limit)")
	f.StringVar(&tierFile, "tiers", "", "JSON file of tier quotas and custom tiers (see docs/PROTOCOL.md, Quotas); the quota flags override it")
	f.IntVar(&cfg.Engine.MaxTags, "max-tags", 1000, "most tags per account")
	f.DurationVar(&cfg.Engine.ReplyWindow, "reply-window", 48*time.Hour, "how long after a user's message the account may reply")
	f.IntVar(&cfg.Engine.ReplyLimit, "reply-limit", 5, "most replies in one service window")
	f.IntVar(&cfg.Engine.LettersDaily, "letters-daily", 100, "most letters (MESSAGE) a user may write to one account a UTC day")
	f.DurationVar(&cfg.Engine.Retention, "retention", 7*24*time.Hour, "how long broadcasts are kept for catch-up")
	f.BoolVar(&analytics, "analytics", true, "keep each broadcast's reach (delivered, opened, its curve) and the daily broadcast figures; --analytics=false saves only cursors")
	f.StringVar(&logFormat, "log-format", "text", "log lines as text (key=value) or json, on stderr")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info (a line per publish, delivery and import), warn or error")
	return cmd
}

// printServing says where the node listens: the lines a person reads, and
// that the load test and the tests parse (internal/child).
func printServing(out io.Writer, cfg Config, n *Node) {
	switch {
	case cfg.Cluster.Role == RoleCore:
		fmt.Fprintf(out, "herald: data directory %s\n", cfg.Engine.DataDir)
		fmt.Fprintf(out, "herald: core of shard %d of cluster %s on %s\n", cfg.Engine.Shard, cfg.Cluster.name(), cfg.Cluster.NATS)
		fmt.Fprintf(out, "herald: health     http://%s (/healthz, /metrics)\n", n.CoreAddr())
		fmt.Fprintln(out, "herald: serving; Ctrl-C stops")
		return
	case cfg.Cluster.Role == RoleEdge:
		fmt.Fprintf(out, "herald: edge %s of cluster %s (%d shards) on %s\n", n.Remote.Name(), cfg.Cluster.name(), max(cfg.Cluster.Shards, 1), cfg.Cluster.NATS)
	case cfg.Engine.InMemory:
		fmt.Fprintln(out, "herald: in memory: nothing is kept after it stops")
	default:
		fmt.Fprintf(out, "herald: data directory %s\n", cfg.Engine.DataDir)
	}
	srv := n.Edge
	fmt.Fprintf(out, "herald: clients    tcp://%s\n", srv.ClientAddr())
	fmt.Fprintf(out, "herald: publishers tcp://%s\n", srv.PublisherAddr())
	where := "token in " + filepath.Join(cfg.Engine.DataDir, "admin.token")
	switch {
	case cfg.Edge.AdminToken != "":
		where = "token as given"
	case cfg.Engine.InMemory, cfg.Cluster.Role == RoleEdge:
		where = "token " + srv.AdminToken()
	}
	fmt.Fprintf(out, "herald: admin      http://%s (%s)\n", srv.AdminAddr(), where)
	fmt.Fprintln(out, "herald: serving; Ctrl-C stops")
}

// tiersFrom builds the tier table: the defaults, or the tier file over
// them, then any quota flag given on the command line.
func tiersFrom(cmd *cobra.Command, file string, subscription, verified, service int) (map[storage.Tier]fanout.TierPolicy, error) {
	tiers := fanout.DefaultTiers()
	if file != "" {
		var err error
		if tiers, err = fanout.LoadTiers(file); err != nil {
			return nil, err
		}
	}
	set := func(flag string, tier storage.Tier, apply func(p *fanout.TierPolicy, n int), n int) error {
		if !cmd.Flags().Changed(flag) && file != "" {
			return nil
		}
		if n < 0 {
			return fmt.Errorf("--%s must be 0 (no limit) or more", flag)
		}
		p := tiers[tier]
		apply(&p, n)
		tiers[tier] = p
		return nil
	}
	daily := func(p *fanout.TierPolicy, n int) { p.Daily = n }
	if err := set("quota-subscription", storage.TierSubscription, daily, subscription); err != nil {
		return nil, err
	}
	if err := set("quota-verified", storage.TierVerified, daily, verified); err != nil {
		return nil, err
	}
	if service > fanout.MaxPerFollowerMonthly {
		return nil, fmt.Errorf("--quota-service is at most %d", fanout.MaxPerFollowerMonthly)
	}
	return tiers, set("quota-service", storage.TierService, func(p *fanout.TierPolicy, n int) { p.PerFollowerMonthly = n }, service)
}
