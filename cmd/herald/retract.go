package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"herald/client"
)

func newRetract(g *globals) *cobra.Command {
	return messageCommand(g, "retract", "Withdraw a broadcast: online followers are told, catch-up skips it",
		func(ctx context.Context, cmd *cobra.Command, pub *client.Publisher, id uint64) error {
			if err := pub.Retract(ctx, id); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "message %d retracted\n", id)
			return nil
		})
}
