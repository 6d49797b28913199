// Command herald-loadtest drives a Herald server with real connections,
// verifies that nothing was lost, and reports latency and throughput.
//
//	go run ./cmd/herald-loadtest                 # embedded server, 1000 clients
//	go run ./cmd/herald-loadtest --clients 5000 --broadcasts 50
//	go run ./cmd/herald-loadtest --scenario catchup --clients 2000 --broadcasts 100
//	go run ./cmd/herald-loadtest --scenario publish --broadcasts 5000 --rate 2000 --json out.json
//	go run ./cmd/herald-loadtest --clients 6000 --clients-per-process 2000   # this process and 2 workers
//
// It exits with status 1 when verification fails.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"herald/loadtest"
)

func main() {
	// The embedded server is this binary started again with serverproc.Flag.
	loadtest.MaybeServe()
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// stopOnSignal returns a context cancelled by SIGINT (Ctrl-C) or SIGTERM:
// the run then stops its clients, workers and embedded server and removes
// its temporary files before exiting. A second signal exits at once (the
// children, whose standard input then closes, still end by themselves).
func stopOnSignal(parent context.Context, out io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-signals:
			fmt.Fprintf(out, "\n%v: stopping the run and everything it started (again to quit at once)\n", s)
			cancel()
		case <-ctx.Done():
			return
		}
		if _, ok := <-signals; ok {
			os.Exit(130)
		}
	}()
	return ctx, func() {
		signal.Stop(signals)
		cancel()
	}
}

func newRoot() *cobra.Command {
	var cfg loadtest.Config
	var target loadtest.Target
	var jsonFile, pngFile string
	var noProgress bool
	cmd := &cobra.Command{
		Use:           "herald-loadtest",
		Short:         "Drive a Herald server with real connections and verify delivery",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if target.ClientAddr != "" || target.PublisherAddr != "" || target.AdminURL != "" {
				if target.ClientAddr == "" || target.PublisherAddr == "" || target.AdminURL == "" || target.AdminToken == "" {
					return fmt.Errorf("an external server needs --client-addr, --publisher-addr, --admin and --admin-token")
				}
				cfg.Target = &target
			}
			if cfg.Clients < 1 {
				return fmt.Errorf("--clients must be at least 1, not %d", cfg.Clients)
			}
			ctx, stop := stopOnSignal(cmd.Context(), cmd.ErrOrStderr())
			defer stop()
			if b := newBar(cmd.ErrOrStderr()); b != nil && !noProgress {
				cfg.Progress = b
			}
			report, err := loadtest.Run(ctx, cfg, cmd.ErrOrStderr())
			if err != nil && ctx.Err() != nil && cmd.Context().Err() == nil {
				return fmt.Errorf("stopped before the run finished; nothing was verified (%w)", err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout())
			report.Print(cmd.OutOrStdout())
			if pngFile != "" {
				if err := report.WritePNG(pngFile); err != nil {
					return err
				}
			}
			if jsonFile != "" {
				if err := report.WriteJSON(jsonFile); err != nil {
					return err
				}
			}
			if !report.OK() {
				return fmt.Errorf("verification failed")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Scenario, "scenario", "fanout", "fanout (bursts to connected clients), catchup (offline clients reconnect at once), churn (clients reconnect while broadcasts flow), publish (publisher throughput, retries, quota) or notify (unicast notifications to random clients among broadcasts, verified)")
	f.IntVar(&cfg.Clients, "clients", 1000, "connected followers")
	f.StringVar(&cfg.Transport, "transport", "tcp", "how clients connect: tcp, or ws (WebSocket on the same port, as a browser does)")
	f.StringVar(&cfg.Audience, "audience", "all", `fanout scenario: all followers, tags ("even AND NOT seventh" minus a blocklist), list (10,000 listed ids minus a blocklist) or capped (a service-tier account whose every fifth follower has had this month's 4 broadcasts)`)
	f.IntVar(&cfg.ClientsPerProcess, "clients-per-process", 0, "most clients one process holds; more are spread over worker processes (default: the open-file limit less 200)")
	f.IntVar(&cfg.SourceAddrs, "source-addrs", 0, "spread client connections over 127.0.0.1..127.0.0.N (default: one per 10,000 clients)")
	f.Float64Var(&cfg.ReconnectRate, "reconnect-rate", 0, "catchup scenario: clients reconnecting per second (0: all at once)")
	f.Float64Var(&cfg.ChurnRate, "churn-rate", 0, "churn scenario: reconnects per second (default 100)")
	f.DurationVar(&cfg.Interval, "interval", 0, "churn scenario: time between broadcasts (default 20ms)")
	f.IntVar(&cfg.Publishers, "publishers", 16, "publish and notify scenarios: concurrent publishes (notifications)")
	f.IntVar(&cfg.Notifications, "notifications", 0, "notify scenario: notifications to send, each to one random client (default 10000)")
	f.Float64Var(&cfg.Rate, "rate", 0, "publish and notify scenarios: publishes (notifications) per second (0: as fast as acknowledged); fanout: broadcasts per second (sets --pace rate); latency is then measured from the scheduled time")
	f.StringVar(&cfg.Pace, "pace", "", "fanout scenario: burst (one at a time, each waited for; default), ack (as fast as acknowledged) or rate (--rate a second)")
	f.StringVar(&jsonFile, "json", "", "also write the report as JSON to this file (snake_case keys, durations in nanoseconds; see loadtest.Report)")
	f.BoolVar(&noProgress, "no-progress", false, "print plain lines instead of progress bars on a terminal")
	f.StringVar(&pngFile, "png", "", "also draw a chart (latency distribution, deliveries over time) to this PNG file")
	f.StringVar(&target.Tier, "tier", "", "external server: tier of the accounts the run creates; it must have no quota (default: unlimited)")
	f.IntVar(&cfg.Followers, "followers", 0, "followers of each account, users 1..N (default: --clients); followers beyond --clients are offline, clients beyond --followers (fanout only) follow no one")
	f.IntVar(&cfg.Accounts, "accounts", 1, "fanout scenario: accounts seeded with those followers, publishing in turn")
	f.IntVar(&cfg.Broadcasts, "broadcasts", 0, "broadcasts published (default 20; 4 with --audience capped)")
	f.IntVar(&cfg.Payload, "payload", 256, "payload bytes (at least 16)")
	f.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "longest wait for one burst to reach every client")
	f.StringSliceVar(&cfg.Chaos, "chaos", nil, "with --cluster, the fanout scenario: failures inflicted while it publishes, spread over its broadcasts: edge (SIGKILL an edge), core (SIGKILL the core, restarted 500ms later), nats (SIGKILL NATS, restarted on its port)")
	f.IntVar(&cfg.Cluster, "cluster", 0, "run against an embedded cluster of this many edges (with a NATS server and --cores cores, each its own process; docs/CLUSTER.md), clients spread over the edges")
	f.IntVar(&cfg.Cores, "cores", 0, "with --cluster: how many cores (shards), 1 by default; accounts are spread over them in turn (give --accounts as many)")
	f.StringVar(&target.ClientAddr, "client-addr", "", "external server's client listener (default: start an embedded server)")
	f.StringVar(&target.PublisherAddr, "publisher-addr", "", "external server's publisher listener")
	f.StringVar(&target.AdminURL, "admin", "", "external server's admin URL, e.g. http://127.0.0.1:7402")
	f.StringVar(&target.AdminToken, "admin-token", "", "external server's admin token")
	return cmd
}
