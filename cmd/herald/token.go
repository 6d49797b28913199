package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func newToken(g *globals) *cobra.Command {
	var user int64
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "token --user N",
		Short: "Mint a client token for a user",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if user < 0 || user > 1<<32-1 {
				return errors.New("--user is required (0 to 4294967295)")
			}
			admin, err := g.adminClient()
			if err != nil {
				return err
			}
			tok, err := admin.MintToken(cmd.Context(), uint32(user), ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	cmd.Flags().Int64Var(&user, "user", -1, "user id (required)")
	cmd.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "token lifetime")
	return cmd
}
