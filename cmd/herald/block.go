package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"herald/client"
)

func newBlock(g *globals) *cobra.Command { return blocklistCommand(g, "block", true) }

func newUnblock(g *globals) *cobra.Command { return blocklistCommand(g, "unblock", false) }

func blocklistCommand(g *globals, use string, block bool) *cobra.Command {
	short := "Add users to the account's blocklist: they receive none of its broadcasts"
	if !block {
		short = "Remove users from the account's blocklist"
	}
	return publisherCommand(g, use+" --account N --secret S USER...", short, cobra.MinimumNArgs(1),
		func(ctx context.Context, cmd *cobra.Command, pub *client.Publisher, args []string) error {
			users := make([]uint32, len(args))
			for i, arg := range args {
				u, err := parseID(arg, "user id")
				if err != nil {
					return err
				}
				users[i] = u
			}
			change := pub.Block
			if !block {
				change = pub.Unblock
			}
			if err := change(ctx, users); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%sed %d users\n", use, len(users))
			return nil
		})
}
