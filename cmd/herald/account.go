package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newAccount(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "Create and inspect accounts"}
	var name, tier string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an account; prints its id and publisher secret (shown once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			admin, err := g.adminClient()
			if err != nil {
				return err
			}
			a, err := admin.CreateAccount(cmd.Context(), name, tier)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "account %d (%s, %s)\nsecret: %s\n", a.ID, a.Name, a.Tier, a.Secret)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "account name (required)")
	create.Flags().StringVar(&tier, "tier", "subscription", "quota tier: subscription, verified, service, or a custom tier of the server's --tiers file")
	_ = create.MarkFlagRequired("name")
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show an account and its follower count",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0], "account id")
			if err != nil {
				return err
			}
			admin, err := g.adminClient()
			if err != nil {
				return err
			}
			a, err := admin.Account(cmd.Context(), id)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "account %d (%s, %s): %d followers\n", a.ID, a.Name, a.Tier, a.Followers)
			return nil
		},
	}
	cmd.AddCommand(create, show)
	return cmd
}
