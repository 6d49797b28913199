// Package testserver starts real Herald servers for end-to-end tests: real
// gnet listeners on 127.0.0.1 with random ports and a real Pebble store in
// a temporary directory.
package testserver

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"herald/client"
	"herald/fanout"
	"herald/internal/testtier"
	"herald/internal/testutil"
	"herald/node"
	"herald/server"
)

// Harness is one running server and an admin client for it.
type Harness struct {
	T      testing.TB
	Dir    string
	Config node.Config
	Node   *node.Node
	// Server is the node's edge, Engine its engine.
	Server *server.Server
	Engine *fanout.Engine
	Admin  *client.Admin
}

// Start runs a node on dir (a fresh one in a temporary directory when
// empty) with cfg's non-address fields; it is closed when the test ends.
func Start(t testing.TB, dir string, cfg node.Config) *Harness {
	t.Helper()
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "data") // made 0700 by the engine
	}
	if cfg.Engine.Tiers == nil {
		cfg.Engine.Tiers = testtier.Tiers()
	}
	if cfg.Edge.Logger == nil {
		// Warnings and errors only: a line per publish would bury a
		// failing test's output.
		cfg.Edge.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	h := &Harness{T: t, Dir: dir, Config: cfg}
	h.Restart()
	t.Cleanup(func() { _ = h.Node.Close() })
	return h
}

// Restart starts the node again on the same directory (after Stop), on
// the same ports, so connected SDK clients reconnect to it.
func (h *Harness) Restart() {
	h.T.Helper()
	cfg := h.Config
	cfg.Engine.DataDir = h.Dir
	edge := &cfg.Edge
	edge.ClientAddr, edge.PublisherAddr, edge.AdminAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	if h.Server != nil {
		edge.ClientAddr, edge.PublisherAddr, edge.AdminAddr = h.Server.ClientAddr(), h.Server.PublisherAddr(), h.Server.AdminAddr()
	}
	n, err := node.Start(cfg)
	if err != nil {
		h.T.Fatalf("start server: %v", err)
	}
	h.Node, h.Server, h.Engine = n, n.Edge, n.Engine
	h.Admin = &client.Admin{BaseURL: "http://" + n.Edge.AdminAddr(), Token: n.Edge.AdminToken()}
}

// Stop closes the node; Restart brings it back on the same data.
func (h *Harness) Stop() {
	h.T.Helper()
	if err := h.Node.Close(); err != nil {
		h.T.Fatalf("stop server: %v", err)
	}
}

// Account creates an account of the unlimited tier (package testtier) whose followers are users
// first..last and returns its id and publisher secret.
func (h *Harness) Account(first, last uint32) (uint32, string) {
	h.T.Helper()
	return h.AccountOfTier(testtier.Unlimited.Name, first, last)
}

// AccountOfTier is Account with the tier named.
func (h *Harness) AccountOfTier(tier string, first, last uint32) (uint32, string) {
	h.T.Helper()
	ctx := context.Background()
	a, err := h.Admin.CreateAccount(ctx, "test", tier)
	if err != nil {
		h.T.Fatal(err)
	}
	var ids strings.Builder
	for u := first; u <= last && last >= first; u++ {
		fmt.Fprintln(&ids, u)
	}
	res, err := h.Admin.ImportFollowers(ctx, a.ID, strings.NewReader(ids.String()))
	if err != nil {
		h.T.Fatal(err)
	}
	if want := int(last - first + 1); res.Added != want {
		h.T.Fatalf("imported %d followers, want %d", res.Added, want)
	}
	return a.ID, a.Secret
}

// Token mints a day-long client token for user.
func (h *Harness) Token(user uint32) string {
	h.T.Helper()
	tok, err := h.Admin.MintToken(context.Background(), user, 24*time.Hour)
	if err != nil {
		h.T.Fatal(err)
	}
	return tok
}

// Subscribe connects user through the SDK and waits until it is live.
func (h *Harness) Subscribe(user uint32, cursor uint64) *client.Subscriber {
	h.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := client.Subscribe(ctx, client.SubscriberConfig{Addr: h.Server.ClientAddr(), Token: h.Token(user), Cursor: client.CursorAt(cursor)})
	if err != nil {
		h.T.Fatalf("subscribe user %d: %v", user, err)
	}
	h.T.Cleanup(func() { _ = sub.Close() })
	if err := sub.WaitLive(ctx); err != nil {
		h.T.Fatalf("user %d never went live: %v", user, err)
	}
	return sub
}

// Publisher connects a publisher for account.
func (h *Harness) Publisher(account uint32, secret string) *client.Publisher {
	h.T.Helper()
	p, err := client.DialPublisher(context.Background(), client.PublisherConfig{Addr: h.Server.PublisherAddr(), Account: account, Secret: secret})
	if err != nil {
		h.T.Fatalf("publisher: %v", err)
	}
	h.T.Cleanup(func() { _ = p.Close() })
	return p
}

// Receive waits for the next message on sub.
func Receive(t testing.TB, sub *client.Subscriber, timeout time.Duration) client.Push {
	t.Helper()
	select {
	case m, ok := <-sub.Messages():
		if !ok {
			t.Fatalf("subscriber %d stopped: %v", sub.User(), sub.Err())
		}
		return m
	case <-time.After(timeout):
		t.Fatalf("subscriber %d: no message within %v", sub.User(), timeout)
	}
	return client.Push{}
}

// ExpectNone checks that sub has received nothing more: after a round trip
// to the server (Subscriber.Sync), anything the server had sent it would
// be on its channel.
func ExpectNone(t testing.TB, sub *client.Subscriber) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sub.Sync(ctx); err != nil {
		t.Fatalf("subscriber %d: round trip: %v", sub.User(), err)
	}
	select {
	case m := <-sub.Messages():
		t.Fatalf("subscriber %d received unexpected message %d", sub.User(), m.ID)
	default:
	}
}

// WaitForConnections waits until the server holds at least n connections.
func WaitForConnections(t testing.TB, h *Harness, n int64) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("%d connections", n), func() bool { return h.Server.Connections() >= n })
}
