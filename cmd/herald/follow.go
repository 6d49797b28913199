package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"herald/client"
)

func newFollow(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "follow", Short: "Manage followers"}
	var account uint32
	var noProgress, compress bool
	imp := &cobra.Command{
		Use:   "import --account N FILE",
		Short: "Import followers from FILE (one user id per line; - reads stdin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if account == 0 {
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
	imp.Flags().BoolVar(&noProgress, "no-progress", false, "do not draw a progress bar (it is drawn only on a terminal)")
	imp.Flags().BoolVar(&compress, "compress", false, "send the ids zstd-compressed (for slow links; the bar then runs ahead of the server)")
	cmd.AddCommand(imp)
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
