package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"herald/client"
)

func newSubscribe(g *globals) *cobra.Command {
	var (
		user   int64
		token  string
		cursor int64
		count  int
	)
	cmd := &cobra.Command{
		Use:   "subscribe --user N",
		Short: "Connect as a user and print broadcasts as they arrive",
		Long: "Connect as a user and print broadcasts as they arrive. Without --cursor it resumes " +
			"after the last broadcast this user acknowledged; --cursor 0 replays all retained history.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if token == "" {
				if user < 0 || user > 1<<32-1 {
					return errors.New("--user (0 to 4294967295) or --token is required")
				}
				admin, err := g.adminClient()
				if err != nil {
					return err
				}
				if token, err = admin.MintToken(ctx, uint32(user), 24*time.Hour); err != nil {
					return err
				}
			}
			cfg := client.SubscriberConfig{Addr: g.clientAddr, Token: token, StoredCursor: cursor < 0}
			if cursor >= 0 {
				cfg.Cursor = uint64(cursor)
			}
			dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			sub, err := client.Subscribe(dialCtx, cfg)
			if err != nil {
				return err
			}
			defer sub.Close()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "subscribed as user %d; waiting for broadcasts (Ctrl-C stops)\n", sub.User())
			for n := 0; count == 0 || n < count; n++ {
				select {
				case m, ok := <-sub.Messages():
					if !ok {
						return sub.Err()
					}
					if m.Retracted {
						fmt.Fprintf(out, "#%d from account %d was retracted\n", m.ID, m.Account)
						continue
					}
					fmt.Fprintf(out, "#%d from account %d at %s [%s] %s\n", m.ID, m.Account, m.Time.Format(time.RFC3339), m.ContentType, printable(m.Payload))
				case <-ctx.Done():
					return nil
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Int64Var(&user, "user", -1, "user id; a token is minted through the admin API")
	f.StringVar(&token, "token", "", "client token (instead of --user)")
	f.Int64Var(&cursor, "cursor", -1, "replay broadcasts after this message id (default: after the last acknowledged)")
	f.IntVar(&count, "count", 0, "exit after this many broadcasts (default: run until stopped)")
	return cmd
}

// printable renders a payload for a terminal: plain text as is, text with
// control characters quoted (so a broadcast cannot drive the terminal), and
// binary as its size.
func printable(p []byte) string {
	if !utf8.Valid(p) {
		return fmt.Sprintf("<%d bytes of binary>", len(p))
	}
	for _, r := range string(p) {
		if unicode.IsControl(r) {
			return strconv.Quote(string(p))
		}
	}
	return string(p)
}
