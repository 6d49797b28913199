package loadtest

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"herald/fanout"
	"herald/internal/child"
	"herald/node"
	"herald/server"
)

// UnlimitedTier is a tier without quotas that the embedded server adds to
// the default tiers, for accounts that publish as fast as they can.
var UnlimitedTier = fanout.TierPolicy{Name: "unlimited", ID: 250}

// MaybeServe turns the process into the embedded server when it was started
// with ServeFlag, or into a load-test worker with WorkerFlag, and never
// returns in those cases. Mains (and test mains) that
// want the embedded mode call it first.
func MaybeServe() {
	if len(os.Args) < 2 {
		return
	}
	var err error
	switch os.Args[1] {
	case ServeFlag:
		err = serve(os.Args[2:])
	case WorkerFlag:
		err = runWorker(os.Stdin, os.Stdout)
	default:
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serve runs a server until SIGTERM, announcing its addresses on stdout in
// the lines StartServer reads.
func serve(args []string) error {
	var cfg node.Config
	edge := &cfg.Edge
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&cfg.Engine.DataDir, "data-dir", "", "data directory")
	fs.StringVar(&edge.ClientAddr, "client-listen", "", "client listener")
	fs.StringVar(&edge.PublisherAddr, "publisher-listen", "", "publisher listener")
	fs.StringVar(&edge.AdminAddr, "admin-listen", "", "admin listener")
	fs.StringVar(&edge.AdminToken, "admin-token", "", "admin token")
	fs.BoolVar(&cfg.Engine.InMemory, "in-memory", false, "keep the store in memory (benchmarks)")
	fs.DurationVar(&edge.Heartbeat, "heartbeat", 0, "heartbeat interval")
	fs.DurationVar(&edge.FrameTimeout, "frame-timeout", 0, "time to finish a frame once begun")
	fs.IntVar(&edge.MaxConnsPerUser, "max-conns-per-user", 0, "connections per user")
	fs.IntVar(&edge.MaxOutbound, "max-outbound", 0, "queued outbound bytes per connection")
	logLevel := fs.String("log-level", "warn", "log level (a line per publish at info would flood a load test)")
	removeOnExit := fs.String("remove-on-exit", "", "directory to remove once the server has stopped (the run's temporary directory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if edge.Logger, err = server.NewLogger(os.Stderr, "text", *logLevel); err != nil {
		return err
	}
	cfg.Engine.Tiers = fanout.DefaultTiers()
	cfg.Engine.Tiers[UnlimitedTier.ID] = UnlimitedTier
	n, err := node.Start(cfg)
	if err != nil {
		return err
	}
	srv := n.Edge
	child.Announce("herald", "clients", "tcp://"+srv.ClientAddr(), "publishers", "tcp://"+srv.PublisherAddr(), "admin", "http://"+srv.AdminAddr())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	child.ExitWithParent(func() { stop <- syscall.SIGTERM }) // the load test is gone
	<-stop
	err = n.Close()
	if *removeOnExit != "" {
		err = errors.Join(err, os.RemoveAll(*removeOnExit))
	}
	return err
}
