package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"herald/client"
)

// newTemplate is "herald template": manage the account's notification
// templates over the publisher protocol.
func newTemplate(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "template", Short: "Define, delete and list the account's notification templates"}
	var (
		title   string
		fields  []string
		consent bool
	)
	define := publisherCommand(g, "define --account N --secret S NAME --title T [--field F]... [--consent]",
		"Create a template, or replace the title, fields and consent flag of one", cobra.ExactArgs(1),
		func(ctx context.Context, cmd *cobra.Command, pub *client.Publisher, args []string) error {
			t, err := pub.DefineTemplate(ctx, client.Template{Name: args[0], Title: title, Fields: fields, Consent: consent})
			if err == nil {
				printTemplate(cmd.OutOrStdout(), "defined ", t)
			}
			return err
		})
	define.Flags().StringVar(&title, "title", "", "the template's title (required)")
	define.Flags().StringSliceVar(&fields, "field", nil, "a field name (repeat, or separate with commas)")
	define.Flags().BoolVar(&consent, "consent", false, "notifications of it need each recipient's grant (herald consent) instead of following")
	cmd.AddCommand(define,
		publisherCommand(g, "delete --account N --secret S NAME", "Delete a template", cobra.ExactArgs(1),
			func(ctx context.Context, cmd *cobra.Command, pub *client.Publisher, args []string) error {
				t, err := pub.DeleteTemplate(ctx, args[0])
				if err == nil {
					printTemplate(cmd.OutOrStdout(), "deleted ", t)
				}
				return err
			}),
		publisherCommand(g, "list --account N --secret S", "List the account's templates", cobra.NoArgs,
			func(ctx context.Context, cmd *cobra.Command, pub *client.Publisher, _ []string) error {
				list, err := pub.Templates(ctx)
				if err != nil {
					return err
				}
				for _, t := range list {
					printTemplate(cmd.OutOrStdout(), "", t)
				}
				if len(list) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "no templates")
				}
				return nil
			}),
	)
	return cmd
}

func printTemplate(out io.Writer, verb string, t client.Template) {
	kind := "to followers"
	if t.Consent {
		kind = "needs consent"
	}
	fmt.Fprintf(out, "%stemplate %q (%s, %s): fields %s\n", verb, t.Name, t.Title, kind, strings.Join(t.Fields, ", "))
}

// newNotify is "herald notify": send one notification.
func newNotify(g *globals) *cobra.Command {
	var (
		template    string
		to          idsValue
		fields      []string
		link        string
		clientMsgID string
		ttl         time.Duration
		dryRun      bool
	)
	cmd := publisherCommand(g, "notify --account N --secret S --template NAME --to USERS [--field NAME=VALUE]...",
		"Send a notification (a template message) to one user or a short list", cobra.NoArgs,
		func(ctx context.Context, cmd *cobra.Command, pub *client.Publisher, _ []string) error {
			if template == "" || len(to.ids) == 0 {
				return errors.New("--template and --to are required")
			}
			values := map[string]string{}
			for _, f := range fields {
				name, value, ok := strings.Cut(f, "=")
				if !ok {
					return fmt.Errorf("--field %q: give NAME=VALUE", f)
				}
				values[name] = value
			}
			res, err := pub.Notify(ctx, client.Notification{ClientMsgID: clientMsgID, Template: template, Users: to.ids,
				Fields: values, Link: link, TTL: ttl, DryRun: dryRun})
			if err != nil {
				return err
			}
			switch out := cmd.OutOrStdout(); {
			case res.DryRun:
				fmt.Fprintf(out, "dry run: %d recipients\n", res.Recipients)
			case res.Duplicate:
				fmt.Fprintf(out, "message %d was sent before with this client_msg_id; nothing sent again\n", res.MessageID)
			default:
				fmt.Fprintf(out, "message %d: %d recipients\n", res.MessageID, res.Recipients)
			}
			return nil
		})
	f := cmd.Flags()
	f.StringVar(&template, "template", "", "the template to fill (required)")
	f.Var(&to, "to", "recipients: user ids separated by commas, 1 to 100 (required)")
	f.StringArrayVar(&fields, "field", nil, "a field as NAME=VALUE (repeat)")
	f.StringVar(&link, "link", "", "where the notification leads")
	f.StringVar(&clientMsgID, "client-msg-id", "", "idempotency key (default: random)")
	f.DurationVar(&ttl, "ttl", 0, "stop catch-up from delivering it after this long")
	f.BoolVar(&dryRun, "dry-run", false, "check and count only; send nothing")
	return cmd
}

// newConsent is "herald consent": answer an account's consent template as
// a user would, from its app.
func newConsent(g *globals) *cobra.Command {
	var (
		user     = idValue{what: "user id"}
		account  uint32
		template string
	)
	cmd := &cobra.Command{
		Use:   "consent --user U --account N --template NAME grant COUNT | ban | unban",
		Short: "As a user, grant, ban or unban one of an account's consent templates",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !user.set || account == 0 || template == "" {
				return errors.New("--user, --account and --template are required")
			}
			count := 0
			switch {
			case args[0] == "grant" && len(args) == 2:
				n, err := strconv.Atoi(args[1])
				if err != nil {
					return fmt.Errorf("grant %q: not a number", args[1])
				}
				count = n
			case (args[0] == "ban" || args[0] == "unban") && len(args) == 1:
			default:
				return errors.New("say grant COUNT, ban or unban")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			sub, err := g.asUser(ctx, user.id)
			if err != nil {
				return err
			}
			defer sub.Close()
			switch args[0] {
			case "grant":
				err = sub.Grant(ctx, account, template, count)
			case "ban":
				err = sub.Ban(ctx, account, template)
			default:
				err = sub.Unban(ctx, account, template)
			}
			if err == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "user %d: %s %s of account %d\n", user.id, strings.Join(args, " "), template, account)
			}
			return err
		},
	}
	f := g.asUserFlags(cmd, &user, &account, "the user answering", "the account asking")
	f.StringVar(&template, "template", "", "its consent template")
	return cmd
}
