package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"herald/client"
	"herald/fanout"
	"herald/node"
)

// globals are the connection settings of the operator commands. Each
// command registers only the flags it uses (adminFlags, clientFlags,
// publisherFlags), so that a flag given to a command it does not affect —
// serve --admin, say — is an error rather than silently ignored.
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
	root.AddCommand(node.ServeCommand(node.ServeOptions{}), newAccount(g), newFollow(g), newToken(g), newPublish(g), newRetract(g), newStatus(g), newBlock(g), newUnblock(g), newTag(g), newTemplate(g), newNotify(g), newConsent(g), newInbox(g), newWrite(g), newCancel(g), newSubscribe(g))
	return root
}

// adminFlags registers the admin API's flags on fs.
func (g *globals) adminFlags(fs *pflag.FlagSet) {
	fs.StringVar(&g.admin, "admin", envOr("HERALD_ADMIN", "http://127.0.0.1:7402"), "admin API base URL ($HERALD_ADMIN)")
	fs.StringVar(&g.adminToken, "admin-token", os.Getenv("HERALD_ADMIN_TOKEN"), "admin API token ($HERALD_ADMIN_TOKEN; default: read --admin-token-file)")
	fs.StringVar(&g.adminTokenFile, "admin-token-file", filepath.Join(fanout.DefaultDataDir, "admin.token"), "file holding the admin token (written by serve)")
}

// clientFlags registers the client listener's address on fs.
func (g *globals) clientFlags(fs *pflag.FlagSet) {
	fs.StringVar(&g.clientAddr, "client-addr", envOr("HERALD_CLIENT_ADDR", "127.0.0.1:7400"), "client listener ($HERALD_CLIENT_ADDR)")
}

// publisherFlags registers the publisher listener's address on fs.
func (g *globals) publisherFlags(fs *pflag.FlagSet) {
	fs.StringVar(&g.publisherAddr, "publisher-addr", envOr("HERALD_PUBLISHER_ADDR", "127.0.0.1:7401"), "publisher listener ($HERALD_PUBLISHER_ADDR)")
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

// explain adds what to do to the errors a new user meets first.
func explain(err error) error {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w\nno Herald server is listening there: start one with `herald serve` (or point --admin, --client-addr or --publisher-addr at yours)", err)
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%w\nanother program (another herald serve?) has that port: stop it, or choose others with --client-listen, --publisher-listen and --admin-listen", err)
	}
	return err
}
