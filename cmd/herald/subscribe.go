package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"herald/client"
)

func newSubscribe(g *globals) *cobra.Command {
	var (
		user   = idValue{what: "user id"}
		token  string
		cursor cursorValue
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
				if !user.set {
					return errors.New("--user (0 to 4294967295) or --token is required")
				}
				admin, err := g.adminClient()
				if err != nil {
					return err
				}
				if token, err = admin.MintToken(ctx, user.id, 24*time.Hour); err != nil {
					return err
				}
			}
			cfg := client.SubscriberConfig{Addr: g.clientAddr, Token: token, StoredCursor: !cursor.set, Cursor: cursor.cursor}
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
					if n := m.Notification; n != nil {
						fields := make([]string, len(n.Fields))
						for i, f := range n.Fields {
							fields[i] = f.Name + "=" + printable([]byte(f.Value))
						}
						fmt.Fprintf(out, "#%d from account %d at %s: notification %s {%s} %s\n", m.ID, m.Account, m.Time.Format(time.RFC3339),
							n.Template, strings.Join(fields, ", "), printable([]byte(n.Link)))
						continue
					}
					kind := ""
					if m.Reply {
						kind = " reply"
					}
					fmt.Fprintf(out, "#%d from account %d at %s%s [%s] %s\n", m.ID, m.Account, m.Time.Format(time.RFC3339), kind, m.ContentType, printable(m.Payload))
				case <-ctx.Done():
					return nil
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	g.clientFlags(f)
	g.adminFlags(f)
	f.Var(&user, "user", "user id; a token is minted through the admin API")
	f.StringVar(&token, "token", "", "client token (instead of --user)")
	f.Var(&cursor, "cursor", "replay broadcasts after this cursor: a message id, or a cluster's ids separated by commas (default: after the last acknowledged; 0: all retained)")
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
