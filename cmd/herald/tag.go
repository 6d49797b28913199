package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"herald/client"
)

// newTag is "herald tag": manage the account's tags over the publisher
// protocol.
func newTag(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "tag", Short: "Create, rename, delete, fill and list the account's tags"}
	printTag := func(out io.Writer, verb string, t client.Tag) {
		fmt.Fprintf(out, "%s tag %q (#%d): %d members\n", verb, t.Name, t.ID, t.Members)
	}
	cmd.AddCommand(
		publisherCommand(g, "create --account N --secret S NAME", "Create an empty tag", cobra.ExactArgs(1),
			func(ctx context.Context, cmd *cobra.Command, pub *client.Publisher, args []string) error {
				t, err := pub.CreateTag(ctx, args[0])
				if err == nil {
					printTag(cmd.OutOrStdout(), "created", t)
				}
				return err
			}),
		publisherCommand(g, "rename --account N --secret S NAME NEW-NAME", "Rename a tag (its id and members stay)", cobra.ExactArgs(2),
			func(ctx context.Context, cmd *cobra.Command, pub *client.Publisher, args []string) error {
				t, err := pub.RenameTag(ctx, args[0], args[1])
				if err == nil {
					printTag(cmd.OutOrStdout(), "renamed", t)
				}
				return err
			}),
		publisherCommand(g, "delete --account N --secret S NAME", "Delete a tag and its members", cobra.ExactArgs(1),
			func(ctx context.Context, cmd *cobra.Command, pub *client.Publisher, args []string) error {
				t, err := pub.DeleteTag(ctx, args[0])
				if err == nil {
					printTag(cmd.OutOrStdout(), "deleted", t)
				}
				return err
			}),
		tagMembersCommand(g, "add", "Add users to a tag (any number, sent 10,000 a request)", printTag),
		tagMembersCommand(g, "remove", "Remove users from a tag", printTag),
		publisherCommand(g, "list --account N --secret S", "List the account's tags", cobra.NoArgs,
			func(ctx context.Context, cmd *cobra.Command, pub *client.Publisher, _ []string) error {
				tags, err := pub.Tags(ctx)
				if err != nil {
					return err
				}
				for _, t := range tags {
					fmt.Fprintf(cmd.OutOrStdout(), "#%d\t%s\t%d members\n", t.ID, t.Name, t.Members)
				}
				if len(tags) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "no tags")
				}
				return nil
			}),
	)
	return cmd
}

func tagMembersCommand(g *globals, verb, short string, printTag func(io.Writer, string, client.Tag)) *cobra.Command {
	return publisherCommand(g, verb+" --account N --secret S NAME USER...", short, cobra.MinimumNArgs(2),
		func(ctx context.Context, cmd *cobra.Command, pub *client.Publisher, args []string) error {
			users := make([]uint32, len(args)-1)
			for i, arg := range args[1:] {
				u, err := parseID(arg, "user id")
				if err != nil {
					return err
				}
				users[i] = u
			}
			change := pub.TagUsers
			if verb == "remove" {
				change = pub.UntagUsers
			}
			t, err := change(ctx, args[0], users)
			if err == nil {
				printTag(cmd.OutOrStdout(), map[string]string{"add": "added to", "remove": "removed from"}[verb], t)
			}
			return err
		})
}
