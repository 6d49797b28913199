package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"herald/client"
)

func newFollow(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "follow", Short: "Manage followers"}
	var account uint32
	imp := &cobra.Command{
		Use:   "import --account N FILE",
		Short: "Import followers from FILE (one user id per line; - reads stdin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if account == 0 {
				return errors.New("--account is required")
			}
			var in io.Reader = cmd.InOrStdin()
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			admin, err := g.adminClient()
			if err != nil {
				return err
			}
			res, err := admin.ImportFollowers(cmd.Context(), account, in)
			var aerr *client.AdminError
			if errors.As(err, &aerr) && aerr.Added > 0 {
				return fmt.Errorf("%w (%d new follows were imported before the error)", err, aerr.Added)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "imported %d new followers; account %d has %d\n", res.Added, account, res.Followers)
			return nil
		},
	}
	imp.Flags().Uint32Var(&account, "account", 0, "account id (required)")
	cmd.AddCommand(imp)
	return cmd
}

func parseID(s, what string) (uint32, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not a number from 0 to 4294967295", what, s)
	}
	return uint32(v), nil
}
