package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"herald/client"
)

func newStatus(g *globals) *cobra.Command {
	var (
		account uint32
		secret  string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "status --account N --secret S MESSAGE_ID",
		Short: "Show a broadcast's delivery report",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if account == 0 || secret == "" {
				return errors.New("--account and --secret (or $HERALD_SECRET) are required")
			}
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil || id == 0 {
				return fmt.Errorf("message id %q is not a positive number", args[0])
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			pub, err := client.DialPublisher(ctx, client.PublisherConfig{Addr: g.publisherAddr, Account: account, Secret: secret})
			if err != nil {
				return err
			}
			defer pub.Close()
			r, err := pub.Status(ctx, id)
			if err != nil {
				return err
			}
			printReport(cmd.OutOrStdout(), r)
			return nil
		},
	}
	f := cmd.Flags()
	f.Uint32Var(&account, "account", 0, "account id (required)")
	f.StringVar(&secret, "secret", os.Getenv("HERALD_SECRET"), "publisher secret ($HERALD_SECRET)")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	return cmd
}

// printReport writes one delivery report line.
func printReport(w io.Writer, r client.JobReport) {
	state := "delivered"
	switch {
	case r.InProgress:
		state = "delivering"
	case r.Interrupted:
		state = "interrupted by a restart"
	}
	fmt.Fprintf(w, "message %d %s: audience %d, filtered %d, sent live %d, pending offline %d, errors %d\n",
		r.MessageID, state, r.Total, r.Filtered, r.SentLive, r.PendingOffline, r.Errors)
}
