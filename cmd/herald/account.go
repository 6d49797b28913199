package main

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newAccount(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "Create, list and inspect accounts"}
	g.adminFlags(cmd.PersistentFlags())
	var name, tier string
	create := &cobra.Command{
		Use:   "create --name NAME",
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

	account := idValue{what: "account id"}
	show := &cobra.Command{
		Use:   "show --account N",
		Short: "Show an account and its follower count",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 { // the older spelling, account show N
				if err := account.Set(args[0]); err != nil {
					return err
				}
			}
			if !account.set {
				return errors.New("--account is required")
			}
			admin, err := g.adminClient()
			if err != nil {
				return err
			}
			a, err := admin.Account(cmd.Context(), account.id)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "account %d (%s, %s): %d followers\n", a.ID, a.Name, a.Tier, a.Followers)
			return nil
		},
	}
	show.Flags().Var(&account, "account", "account id (required)")

	var after idValue
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List accounts in id order, a page at a time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			admin, err := g.adminClient()
			if err != nil {
				return err
			}
			page, err := admin.ListAccounts(cmd.Context(), after.id, limit)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(page.Accounts) == 0 {
				fmt.Fprintln(out, "no accounts; create one with: herald account create --name NAME")
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tTIER\tFOLLOWERS")
			for _, a := range page.Accounts {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\n", a.ID, a.Name, a.Tier, a.Followers)
			}
			_ = tw.Flush()
			if page.NextAfter != 0 {
				fmt.Fprintf(out, "more: herald account list --after %d\n", page.NextAfter)
			}
			return nil
		},
	}
	list.Flags().Var(&after, "after", "list accounts with ids above this one")
	list.Flags().IntVar(&limit, "limit", 100, "accounts per page (at most 1000)")
	cmd.AddCommand(create, show, list)
	return cmd
}
