package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"herald/client"
)

// asUser connects as user, with a token minted through the admin API, and
// waits until the connection is live (what a user's app does); the caller
// closes it.
func (g *globals) asUser(ctx context.Context, user uint32) (*client.Subscriber, error) {
	admin, err := g.adminClient()
	if err != nil {
		return nil, err
	}
	token, err := admin.MintToken(ctx, user, time.Hour)
	if err != nil {
		return nil, err
	}
	sub, err := client.Subscribe(ctx, client.SubscriberConfig{Addr: g.clientAddr, Token: token, StoredCursor: true})
	if err != nil {
		return nil, err
	}
	if err := sub.WaitLive(ctx); err != nil {
		_ = sub.Close()
		return nil, err
	}
	return sub, nil
}

// asUserFlags registers the flags of a command run as a user of an
// account (--user, --account, and the client and admin addresses).
func (g *globals) asUserFlags(cmd *cobra.Command, user *idValue, account *uint32, userHelp, accountHelp string) *pflag.FlagSet {
	f := cmd.Flags()
	g.clientFlags(f)
	g.adminFlags(f)
	f.Var(user, "user", userHelp+" (a token is minted through the admin API)")
	f.Uint32Var(account, "account", 0, accountHelp)
	return f
}

// newWrite is "herald write": as a user, write to an account.
func newWrite(g *globals) *cobra.Command {
	var (
		user        = idValue{what: "user id"}
		account     uint32
		contentType string
	)
	cmd := &cobra.Command{
		Use:   "write --user U --account N MESSAGE...",
		Short: "As a user, write to an account it follows (opening the account's window to reply)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !user.set || account == 0 {
				return errors.New("--user and --account are required")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			sub, err := g.asUser(ctx, user.id)
			if err != nil {
				return err
			}
			defer sub.Close()
			if err := sub.Write(ctx, account, contentType, []byte(strings.Join(args, " "))); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %d wrote to account %d\n", user.id, account)
			return nil
		},
	}
	f := g.asUserFlags(cmd, &user, &account, "the user writing", "the account written to")
	f.StringVar(&contentType, "content-type", "text/plain", "the message's content type")
	return cmd
}

// newInbox is "herald inbox": read what followers wrote to the account.
func newInbox(g *globals) *cobra.Command {
	var (
		after uint64
		watch bool
	)
	cmd := publisherCommand(g, "inbox --account N --secret S [--after SEQ] [--watch]",
		"Print what followers wrote to the account, in order (--watch: and what they write next)", cobra.NoArgs,
		func(ctx context.Context, cmd *cobra.Command, pub *client.Publisher, _ []string) error {
			out := cmd.OutOrStdout()
			print := func(l client.Letter) {
				fmt.Fprintf(out, "#%d from user %d at %s [%s] %s\n", l.Seq, l.User, l.Time.UTC().Format(time.RFC3339), l.ContentType, printable(l.Payload))
			}
			if watch {
				// Until Ctrl-C, not the command's --timeout.
				ctx, stop := signal.NotifyContext(context.WithoutCancel(ctx), os.Interrupt, syscall.SIGTERM)
				defer stop()
				if err := pub.WatchInbox(ctx, after, print); !errors.Is(err, context.Canceled) {
					return err
				}
				return nil
			}
			for printed := 0; ; {
				letters, more, err := pub.Inbox(ctx, after)
				if err != nil {
					return err
				}
				for _, l := range letters {
					print(l)
					after = l.Seq
				}
				if printed += len(letters); !more {
					if printed == 0 {
						fmt.Fprintln(out, "no letters")
					}
					return nil
				}
			}
		})
	cmd.Flags().Uint64Var(&after, "after", 0, "print the letters after this seq")
	cmd.Flags().BoolVar(&watch, "watch", false, "go on printing new letters until stopped")
	return cmd
}
