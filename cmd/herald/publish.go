package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"herald/client"
)

// reportWait is how long publish waits for the delivery report.
const reportWait = 5 * time.Second

func newPublish(g *globals) *cobra.Command {
	var (
		account     uint32
		secret      string
		contentType string
		clientMsgID string
		file        string
		ttl         time.Duration
		timeout     time.Duration
		preview     idsValue
		listed      idsValue
		dryRun      bool
		tags        string
		replyTo     = idValue{what: "user id"}
		at          string
		speed       int
	)
	cmd := &cobra.Command{
		Use:   "publish --account N --secret S MESSAGE...",
		Short: "Publish a broadcast to every follower of an account",
		Long: "Publish a broadcast to every follower of an account (or the audience --tags, --users or --preview selects). " +
			"The message is the arguments joined by spaces (publish hello followers sends \"hello followers\"), or --file.",
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if account == 0 || secret == "" {
				return errors.New("--account and --secret (or $HERALD_SECRET) are required")
			}
			var payload []byte
			switch {
			case len(args) > 0 && file == "":
				payload = []byte(strings.Join(args, " "))
			case len(args) == 0 && file == "-":
				var err error
				if payload, err = io.ReadAll(cmd.InOrStdin()); err != nil {
					return err
				}
			case len(args) == 0 && file != "":
				var err error
				if payload, err = os.ReadFile(file); err != nil {
					return err
				}
			default:
				return errors.New("give the message as arguments or with --file (one of them)")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			reports := make(chan client.JobReport, 1)
			pub, err := client.DialPublisher(ctx, client.PublisherConfig{Addr: g.publisherAddr, Account: account, Secret: secret,
				OnJobDone: func(r client.JobReport) {
					select {
					case reports <- r:
					default:
					}
				}})
			if err != nil {
				return err
			}
			defer pub.Close()
			m := client.Message{ClientMsgID: clientMsgID, ContentType: contentType, TTL: ttl, Payload: payload,
				Preview: preview.ids, Users: listed.ids, Tags: tags, ReplyTo: replyTo.id, Speed: speed, DryRun: dryRun}
			if at != "" {
				if speed != 0 || dryRun {
					return errors.New("--at schedules a broadcast, which has no --speed or --dry-run")
				}
				when, err := parseAt(at, time.Now())
				if err != nil {
					return err
				}
				if m.ClientMsgID == "" {
					m.ClientMsgID = fmt.Sprintf("at-%d", time.Now().UnixNano())
				}
				res, err := pub.Schedule(ctx, m, when)
				if err != nil {
					return err
				}
				if res.MessageID != 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "%q was sent before as message %d; nothing scheduled again\n", m.ClientMsgID, res.MessageID)
					return nil
				}
				fmt.Fprintf(cmd.OutOrStdout(), "scheduled %q for %s (cancel with: herald cancel --id %s)\n", m.ClientMsgID, when.UTC().Format(time.RFC3339), m.ClientMsgID)
				return nil
			}
			res, err := pub.Publish(ctx, m)
			if err != nil {
				return err
			}
			if res.DryRun {
				fmt.Fprintf(cmd.OutOrStdout(), "dry run: audience %d, filtered %d, recipients %d; nothing was sent\n", res.Total, res.Filtered, res.Recipients)
				return nil
			}
			note := ""
			if res.Duplicate {
				note = " (duplicate client message id: nothing sent again)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "message %d: audience %d, filtered %d, recipients %d%s\n", res.MessageID, res.Total, res.Filtered, res.Recipients, note)
			if res.Duplicate {
				return nil
			}
			select {
			case r := <-reports:
				printReport(cmd.OutOrStdout(), r)
			case <-time.After(reportWait):
				fmt.Fprintf(cmd.OutOrStdout(), "message %d: still delivering; see herald status %d\n", res.MessageID, res.MessageID)
			}
			return nil
		},
	}
	f := cmd.Flags()
	g.publisherFlags(f)
	f.Uint32Var(&account, "account", 0, "account id (required)")
	f.StringVar(&secret, "secret", os.Getenv("HERALD_SECRET"), "publisher secret ($HERALD_SECRET)")
	f.StringVar(&contentType, "content-type", "text/plain", "content type of the payload")
	f.StringVar(&clientMsgID, "id", "", "client message id for idempotent retries (default: random)")
	f.StringVar(&file, "file", "", "read the payload from a file (- for stdin)")
	f.DurationVar(&ttl, "ttl", 0, "stop catch-up delivery after this long (default: retention)")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	f.Var(&preview, "preview", "send only to these test users (comma-separated, at most 100), outside any quota")
	f.Var(&listed, "users", "send only to these followers (comma-separated, at most 10,000)")
	f.IntVar(&speed, "speed", 0, "pace live delivery at a speed level: 1 (800,000 a minute), 2 (600,000), 3 (400,000), 4 (200,000), 5 (100,000); 0: full speed")
	f.StringVar(&at, "at", "", "send it at this time instead of now: RFC 3339 (2026-12-03T08:00:00Z) or a delay (90m); the audience and quota are those of then")
	f.Var(&replyTo, "reply-to", "reply to this one user, who wrote to the account within the service window (herald inbox)")
	f.StringVar(&tags, "tags", "", `send only to followers a tag expression selects, e.g. "vip AND (beijing OR shanghai) AND NOT churned"`)
	f.BoolVar(&dryRun, "dry-run", false, "count the audience only; send nothing")
	return cmd
}

// parseAt reads --at: an RFC 3339 time, or a delay from now.
func parseAt(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(d), nil
	}
	return time.Time{}, fmt.Errorf("--at %q: give an RFC 3339 time (2026-12-03T08:00:00Z) or a delay (90m)", s)
}

// newCancel is "herald cancel": withdraw a scheduled broadcast.
func newCancel(g *globals) *cobra.Command {
	var id string
	cmd := publisherCommand(g, "cancel --account N --secret S --id CLIENT_MSG_ID", "Cancel a scheduled broadcast before it is sent", cobra.NoArgs,
		func(ctx context.Context, cmd *cobra.Command, pub *client.Publisher, _ []string) error {
			if id == "" {
				return errors.New("--id (the scheduled broadcast's client message id) is required")
			}
			if err := pub.Cancel(ctx, id); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cancelled %q\n", id)
			return nil
		})
	cmd.Flags().StringVar(&id, "id", "", "the scheduled broadcast's client message id")
	return cmd
}
