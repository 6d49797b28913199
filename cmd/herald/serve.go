package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"herald/server"
	"herald/storage"
)

func newServe() *cobra.Command {
	var cfg server.Config
	var perDaySubscription, perDayVerified int
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server with an embedded store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if perDaySubscription < 0 || perDayVerified < 0 {
				return fmt.Errorf("daily quotas must be 0 (no limit) or more")
			}
			cfg.Engine.DailyQuota = map[storage.Tier]int{storage.TierSubscription: perDaySubscription, storage.TierVerified: perDayVerified}
			srv, err := server.Start(cfg)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "herald: data directory %s\n", cfg.DataDir)
			fmt.Fprintf(out, "herald: clients    tcp://%s\n", srv.ClientAddr())
			fmt.Fprintf(out, "herald: publishers tcp://%s\n", srv.PublisherAddr())
			fmt.Fprintf(out, "herald: admin      http://%s (token in %s)\n", srv.AdminAddr(), filepath.Join(cfg.DataDir, "admin.token"))
			fmt.Fprintln(out, "herald: serving; Ctrl-C stops")
			stop := make(chan os.Signal, 1)
			signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
			<-stop
			fmt.Fprintln(out, "herald: stopping")
			return srv.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "herald-data", "directory for the database and admin.token")
	f.StringVar(&cfg.ClientAddr, "client-listen", "127.0.0.1:7400", "client listener address")
	f.StringVar(&cfg.PublisherAddr, "publisher-listen", "127.0.0.1:7401", "publisher listener address")
	f.StringVar(&cfg.AdminAddr, "admin-listen", "127.0.0.1:7402", "admin HTTP address")
	f.StringVar(&cfg.AdminToken, "admin-token", "", "admin token (default: data-dir/admin.token, created on first start)")
	f.IntVar(&cfg.Loops, "loops", 0, "event loops (default: one per CPU)")
	f.DurationVar(&cfg.Heartbeat, "heartbeat", 0, "heartbeat interval announced to clients (default 30s)")
	f.IntVar(&cfg.MaxFrame, "max-frame", 0, "largest accepted frame in bytes (default 1 MiB)")
	f.IntVar(&cfg.MaxOutbound, "max-outbound", 0, "per-connection queued bytes before SLOW_CONSUMER (default 4 MiB)")
	f.IntVar(&cfg.Engine.MaxPayload, "max-payload", 0, "largest broadcast payload in bytes (default 256 KiB)")
	f.IntVar(&perDaySubscription, "quota-subscription", 1, "broadcasts per UTC day for subscription accounts (0: no limit)")
	f.IntVar(&perDayVerified, "quota-verified", 2, "broadcasts per UTC day for verified accounts (0: no limit)")
	f.DurationVar(&cfg.Engine.Retention, "retention", 0, "how long broadcasts are kept for catch-up (default 168h)")
	return cmd
}
