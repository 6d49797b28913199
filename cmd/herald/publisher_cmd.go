package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"herald/client"
)

// messageCommand builds a command that connects as an account's publisher
// and acts on one message id (retract, status).
func messageCommand(g *globals, use, short string, act func(ctx context.Context, cmd *cobra.Command, pub *client.Publisher, id uint64) error) *cobra.Command {
	return publisherCommand(g, use+" --account N --secret S MESSAGE_ID", short, cobra.ExactArgs(1),
		func(ctx context.Context, cmd *cobra.Command, pub *client.Publisher, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil || id == 0 {
				return fmt.Errorf("message id %q is not a positive number", args[0])
			}
			return act(ctx, cmd, pub, id)
		})
}

// publisherCommand builds a command that connects as an account's
// publisher (--account, --secret) and runs act.
func publisherCommand(g *globals, use, short string, args cobra.PositionalArgs, act func(ctx context.Context, cmd *cobra.Command, pub *client.Publisher, args []string) error) *cobra.Command {
	var (
		account uint32
		secret  string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args,
		RunE: func(cmd *cobra.Command, args []string) error {
			if account == 0 || secret == "" {
				return errors.New("--account and --secret (or $HERALD_SECRET) are required")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			pub, err := client.DialPublisher(ctx, client.PublisherConfig{Addr: g.publisherAddr, Account: account, Secret: secret})
			if err != nil {
				return err
			}
			defer pub.Close()
			return act(ctx, cmd, pub, args)
		},
	}
	f := cmd.Flags()
	g.publisherFlags(f)
	f.Uint32Var(&account, "account", 0, "account id (required)")
	f.StringVar(&secret, "secret", os.Getenv("HERALD_SECRET"), "publisher secret ($HERALD_SECRET)")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	return cmd
}
