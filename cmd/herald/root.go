package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"herald/client"
)

// globals are the flags every operator subcommand shares.
type globals struct {
	admin          string
	adminToken     string
	adminTokenFile string
	clientAddr     string
	publisherAddr  string
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "herald",
		Short:         "Herald broadcast delivery server",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	f := root.PersistentFlags()
	f.StringVar(&g.admin, "admin", envOr("HERALD_ADMIN", "http://127.0.0.1:7402"), "admin API base URL ($HERALD_ADMIN)")
	f.StringVar(&g.adminToken, "admin-token", os.Getenv("HERALD_ADMIN_TOKEN"), "admin API token ($HERALD_ADMIN_TOKEN); default: read --admin-token-file")
	f.StringVar(&g.adminTokenFile, "admin-token-file", filepath.Join("herald-data", "admin.token"), "file holding the admin token (written by serve)")
	f.StringVar(&g.clientAddr, "client-addr", envOr("HERALD_CLIENT_ADDR", "127.0.0.1:7400"), "client listener ($HERALD_CLIENT_ADDR)")
	f.StringVar(&g.publisherAddr, "publisher-addr", envOr("HERALD_PUBLISHER_ADDR", "127.0.0.1:7401"), "publisher listener ($HERALD_PUBLISHER_ADDR)")
	root.AddCommand(newServe(), newAccount(g), newFollow(g), newToken(g), newPublish(g), newRetract(g), newStatus(g), newBlock(g), newUnblock(g), newTag(g), newSubscribe(g))
	return root
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// adminClient returns a client for the admin API, reading the token file
// when no token was given.
func (g *globals) adminClient() (*client.Admin, error) {
	token := g.adminToken
	if token == "" {
		b, err := os.ReadFile(g.adminTokenFile)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no admin token: pass --admin-token or $HERALD_ADMIN_TOKEN, or run where %s exists (herald serve writes it)", g.adminTokenFile)
		}
		if err != nil {
			return nil, err
		}
		token = strings.TrimSpace(string(b))
	}
	return &client.Admin{BaseURL: g.admin, Token: token}, nil
}
