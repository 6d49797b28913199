package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"herald/client"
	"herald/wire"
)

func newStatus(g *globals) *cobra.Command {
	var reach, watch bool
	cmd := messageCommand(g, "status", "Show a broadcast's delivery report (--reach: and what its recipients did since)",
		func(ctx context.Context, cmd *cobra.Command, pub *client.Publisher, id uint64) error {
			switch {
			case watch:
				// Until --timeout (or Ctrl-C): a line each time it changes.
				err := pub.Watch(ctx, id, func(r client.Reach) { printReach(cmd.OutOrStdout(), r) })
				if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
					return nil
				}
				return err
			case reach:
				r, err := pub.Reach(ctx, id)
				if err != nil {
					return err
				}
				printReach(cmd.OutOrStdout(), r)
				return nil
			}
			r, err := pub.Status(ctx, id)
			if err != nil {
				return err
			}
			printReport(cmd.OutOrStdout(), r)
			return nil
		})
	cmd.Flags().BoolVar(&reach, "reach", false, "also show the filters by reason and how many recipients acknowledged and opened it")
	cmd.Flags().BoolVar(&watch, "watch", false, "print the reach again each time it changes, until --timeout")
	return cmd
}

// printReach writes a broadcast's report and reach.
func printReach(w io.Writer, r client.Reach) {
	printReport(w, r.JobReport)
	if r.NotKept {
		fmt.Fprintln(w, "  no analytics were kept for it")
		return
	}
	recipients := r.Total - r.Filtered
	fmt.Fprintf(w, "  left out: %d not in the list or tags, %d blocked, %d at the cap\n", r.NotSelected, r.Blocked, r.Filtered)
	fmt.Fprintf(w, "  delivered %d of %d (%d of them caught up), opened %d\n", r.Delivered, recipients, r.CaughtUp, r.Opened)
	fmt.Fprintf(w, "  delivered within")
	names := map[uint32]string{1: "1s", 10: "10s", 60: "1min", 3600: "1h", 86400: "1day"}
	for i, s := range wire.CurveSeconds {
		fmt.Fprintf(w, " %s: %d", names[s], r.Curve[i])
	}
	fmt.Fprintln(w)
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
