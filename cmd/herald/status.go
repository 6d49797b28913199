package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"herald/client"
)

func newStatus(g *globals) *cobra.Command {
	return messageCommand(g, "status", "Show a broadcast's delivery report",
		func(ctx context.Context, cmd *cobra.Command, pub *client.Publisher, id uint64) error {
			r, err := pub.Status(ctx, id)
			if err != nil {
				return err
			}
			printReport(cmd.OutOrStdout(), r)
			return nil
		})
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
