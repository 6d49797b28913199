package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"herald/client"
)

func newFollow(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "follow", Short: "Import, remove and list an account's followers, and its daily figures"}
	g.adminFlags(cmd.PersistentFlags())
	cmd.AddCommand(followChange(g, true), followChange(g, false), followList(g), followStats(g))
	return cmd
}

// followChange is "follow import" (add) or "follow remove": a file of user
// ids, one per line, streamed to the admin API.
func followChange(g *globals, add bool) *cobra.Command {
	account := idValue{what: "account id"}
	var noProgress, compress bool
	source := "import"
	use, short, verb := "import --account N FILE", "Import followers from FILE (one user id per line; - reads stdin)", "imported"
	if !add {
		use, short, verb = "remove --account N FILE", "Remove followers listed in FILE (one user id per line; - reads stdin)", "removed"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !account.set {
				return errors.New("--account is required")
			}
			var in io.Reader = cmd.InOrStdin()
			size := int64(-1) // unknown: a spinner with a byte count
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
				if st, err := f.Stat(); err == nil {
					size = st.Size()
				}
			}
			if !noProgress && isTerminal(cmd.ErrOrStderr()) {
				bar := progressbar.NewOptions64(size,
					progressbar.OptionSetWriter(cmd.ErrOrStderr()),
					progressbar.OptionSetDescription("sent"),
					progressbar.OptionShowBytes(true),
					progressbar.OptionThrottle(100*time.Millisecond),
					progressbar.OptionClearOnFinish())
				defer bar.Finish()
				reader := progressbar.NewReader(in, bar)
				in = &reader
			}
			admin, err := g.adminClient()
			if err != nil {
				return err
			}
			admin.Compress = compress
			change := func(ctx context.Context, account uint32, ids io.Reader) (client.ImportResult, error) {
				return admin.ImportFollowersFrom(ctx, account, source, ids)
			}
			if !add {
				change = admin.RemoveFollowers
			}
			res, err := change(cmd.Context(), account.id, in)
			var aerr *client.AdminError
			if errors.As(err, &aerr) && aerr.Added > 0 {
				done := "new follows were imported"
				if !add {
					done = "follows were removed"
				}
				return fmt.Errorf("%w (%d %s before the error)", err, aerr.Added, done)
			}
			if err != nil {
				return err
			}
			n, what := res.Added, "new followers"
			if !add {
				n, what = res.Removed, "followers"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %d %s; account %d has %d\n", verb, n, what, account.id, res.Followers)
			return nil
		},
	}
	cmd.Flags().Var(&account, "account", "account id (required)")
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "do not draw a progress bar (it is drawn only on a terminal)")
	cmd.Flags().BoolVar(&compress, "compress", false, "send the ids zstd-compressed (for slow links; the bar then runs ahead of the server)")
	if add {
		cmd.Flags().StringVar(&source, "source", "import", "where these follows came from, counted in the account's daily figures (qr, search, share, a code of your own)")
	}
	return cmd
}

// followStats is "follow stats": the account's follower figures by day.
func followStats(g *globals) *cobra.Command {
	account := idValue{what: "account id"}
	var from, to string
	cmd := &cobra.Command{
		Use:   "stats --account N",
		Short: "Show an account's new follows, unfollows and follower count by UTC day, with the follows' sources",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !account.set {
				return errors.New("--account is required")
			}
			admin, err := g.adminClient()
			if err != nil {
				return err
			}
			days, err := admin.FollowerStats(cmd.Context(), account.id, from, to)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(w, "day	new	unfollows	net	followers	by source	")
			for _, d := range days {
				var sources []string
				for _, s := range slices.Sorted(maps.Keys(d.BySource)) {
					sources = append(sources, fmt.Sprintf("%s %d", cmp.Or(s, "(none)"), d.BySource[s]))
				}
				fmt.Fprintf(w, "%s	%d	%d	%+d	%d	%s	\n", d.Day, d.New, d.Unfollows, d.Net, d.Cumulative, strings.Join(sources, ", "))
			}
			return w.Flush()
		},
	}
	cmd.Flags().Var(&account, "account", "account id (required)")
	cmd.Flags().StringVar(&from, "from", "", "first day, YYYY-MM-DD (UTC; default 29 days before --to)")
	cmd.Flags().StringVar(&to, "to", "", "last day, YYYY-MM-DD (UTC; default today)")
	return cmd
}

// followList is "follow list": the follower count and a page of ids.
func followList(g *globals) *cobra.Command {
	account := idValue{what: "account id"}
	after := idValue{what: "user id"}
	var limit int
	cmd := &cobra.Command{
		Use:   "list --account N",
		Short: "Show how many followers an account has and list a page of them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !account.set {
				return errors.New("--account is required")
			}
			admin, err := g.adminClient()
			if err != nil {
				return err
			}
			page, err := admin.ListFollowers(cmd.Context(), account.id, after.id, !after.set, limit)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "account %d has %d followers\n", page.Account, page.Followers)
			for _, id := range page.IDs {
				fmt.Fprintln(out, id)
			}
			if page.NextAfter != nil {
				fmt.Fprintf(out, "more: herald follow list --account %d --after %d\n", account.id, *page.NextAfter)
			}
			return nil
		},
	}
	cmd.Flags().Var(&account, "account", "account id (required)")
	cmd.Flags().Var(&after, "after", "list followers with ids above this one")
	cmd.Flags().IntVar(&limit, "limit", 100, "ids per page (at most 10000)")
	return cmd
}

// isTerminal reports whether w is a terminal, where a progress bar belongs.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func parseID(s, what string) (uint32, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not a number from 0 to 4294967295", what, s)
	}
	return uint32(v), nil
}
