package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"herald/client"
)

func newToken(g *globals) *cobra.Command {
	user := idValue{what: "user id"}
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "token --user N",
		Short: "Mint a client token for a user",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !user.set {
				return errors.New("--user is required (0 to 4294967295)")
			}
			admin, err := g.adminClient()
			if err != nil {
				return err
			}
			tok, err := admin.MintToken(cmd.Context(), user.id, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	g.adminFlags(cmd.PersistentFlags())
	cmd.Flags().Var(&user, "user", "user id (required)")
	cmd.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "token lifetime")
	cmd.AddCommand(newTokenRotate(g))
	return cmd
}

func newTokenRotate(g *globals) *cobra.Command {
	var overlap time.Duration
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Sign new client tokens with a new key; the old key keeps verifying tokens for the overlap",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			admin, err := g.adminClient()
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("overlap") {
				overlap = client.ServerOverlap
			}
			until, err := admin.RotateTokenKey(cmd.Context(), overlap)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rotated: new tokens use the new key; tokens of the old key are accepted until %s\n", until.Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().DurationVar(&overlap, "overlap", 0, "how long tokens of the replaced key stay valid (default: the server's --token-overlap; 0s: refused at once)")
	return cmd
}
