package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"herald/client"
	"herald/cluster"
	"herald/fanout"
	"herald/internal/natstest"
	"herald/internal/testserver"
	"herald/internal/testtier"
	"herald/internal/testutil"
	"herald/node"
)

// testCluster is a NATS server, its cores (one per shard; core is shard
// 0's) and some edges, each a node as `herald serve --role …` starts it,
// in this process.
type testCluster struct {
	t     *testing.T
	nats  *natstest.Server
	dir   string
	core  *node.Node
	cores []*node.Node
	edges []*node.Node
	opts  clusterOptions
}

func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// clusterOptions change the cluster a test starts: the NATS server's
// options, and the credentials of the core and of the edges.
type clusterOptions struct {
	nats       func(*natsserver.Options)
	core, edge node.ClusterConfig
	engine     func(*fanout.Config)
	edgeConfig func(*node.Config)
	// shards is how many cores (1).
	shards int
}

func startCluster(t *testing.T, edges int) *testCluster {
	return startClusterWith(t, edges, clusterOptions{})
}

func startClusterWith(t *testing.T, edges int, opts clusterOptions) *testCluster {
	t.Helper()
	opts.shards = max(opts.shards, 1)
	c := &testCluster{t: t, nats: natstest.Start(t, opts.nats), dir: t.TempDir(), opts: opts}
	for k := range opts.shards {
		c.cores = append(c.cores, c.startCore(uint8(k)))
	}
	c.core = c.cores[0]
	for i := range edges {
		cc := opts.edge
		cc.Role, cc.NATS, cc.EdgeName, cc.Shards = node.RoleEdge, c.nats.URL(), fmt.Sprint("edge", i), opts.shards
		cfg := node.Config{Cluster: cc}
		cfg.Edge.ClientAddr, cfg.Edge.PublisherAddr, cfg.Edge.AdminAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
		cfg.Edge.Logger = quiet()
		if opts.edgeConfig != nil {
			opts.edgeConfig(&cfg)
		}
		n, err := node.Start(cfg)
		if err != nil {
			t.Fatalf("edge %d: %v", i, err)
		}
		t.Cleanup(func() { _ = n.Close() })
		c.edges = append(c.edges, n)
	}
	// Job reports count the edges the core knows: wait until it knows all.
	c.waitEdges(edges)
	return c
}

// startCore starts the core of shard k (again, after a restart).
func (c *testCluster) startCore(k uint8) *node.Node {
	c.t.Helper()
	cc := c.opts.core
	cc.Role, cc.NATS = node.RoleCore, c.nats.URL()
	cfg := node.Config{Cluster: cc}
	cfg.Engine.DataDir, cfg.Engine.Tiers, cfg.Engine.Logger = filepath.Join(c.dir, fmt.Sprint("core", k)), testtier.Tiers(), quiet()
	cfg.Engine.Shard = k
	cfg.Edge.AdminAddr = "127.0.0.1:0" // the core's /healthz and /metrics
	if c.opts.engine != nil {
		c.opts.engine(&cfg.Engine)
	}
	n, err := node.Start(cfg)
	if err != nil {
		c.t.Fatalf("core %d: %v", k, err)
	}
	c.t.Cleanup(func() { _ = n.Close() })
	return n
}

func (c *testCluster) waitEdges(n int) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, core := range c.cores {
		for core.Core.Edges() < n {
			if time.Now().After(deadline) {
				c.t.Fatalf("a core knows %d edges, want %d", core.Core.Edges(), n)
			}
			time.Sleep(10 * time.Millisecond) // heartbeats are time-driven
		}
	}
}

func (c *testCluster) admin(edge int) *client.Admin {
	s := c.edges[edge].Edge
	return &client.Admin{BaseURL: "http://" + s.AdminAddr(), Token: s.AdminToken()}
}

// account creates an account of the unlimited tier followed by users
// first..last, through edge 0's admin API.
func (c *testCluster) account(first, last uint32) (uint32, string) {
	c.t.Helper()
	return c.accountOf(first, last, 1)
}

// accountOf is account with every step-th user of first..last.
func (c *testCluster) accountOf(first, last, step uint32) (uint32, string) {
	c.t.Helper()
	ctx := context.Background()
	a, err := c.admin(0).CreateAccount(ctx, "test", testtier.Unlimited.Name)
	if err != nil {
		c.t.Fatal(err)
	}
	var ids strings.Builder
	for u := first; u <= last; u += step {
		fmt.Fprintln(&ids, u)
	}
	if res, err := c.admin(0).ImportFollowers(ctx, a.ID, strings.NewReader(ids.String())); err != nil || res.Added != int((last-first)/step+1) {
		c.t.Fatalf("import: %+v %v", res, err)
	}
	return a.ID, a.Secret
}

// subscribe connects user to edge and waits until it is live.
func (c *testCluster) subscribe(edge int, user uint32, cursor uint64) *client.Subscriber {
	c.t.Helper()
	return c.subscribeFrom(edge, user, client.SubscriberConfig{Cursor: client.CursorAt(cursor)})
}

// subscribeFrom is subscribe with cfg's cursor (or stored cursor).
func (c *testCluster) subscribeFrom(edge int, user uint32, cfg client.SubscriberConfig) *client.Subscriber {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	token, err := c.admin(edge).MintToken(ctx, user, time.Hour)
	if err != nil {
		c.t.Fatal(err)
	}
	cfg.Addr, cfg.Token = c.edges[edge].Edge.ClientAddr(), token
	sub, err := client.Subscribe(ctx, cfg)
	if err != nil {
		c.t.Fatalf("subscribe user %d on edge %d: %v", user, edge, err)
	}
	c.t.Cleanup(func() { _ = sub.Close() })
	if err := sub.WaitLive(ctx); err != nil {
		c.t.Fatalf("user %d never went live: %v", user, err)
	}
	return sub
}

func (c *testCluster) publisher(edge int, account uint32, secret string, onJob func(client.JobReport)) *client.Publisher {
	c.t.Helper()
	p, err := client.DialPublisher(context.Background(), client.PublisherConfig{Addr: c.edges[edge].Edge.PublisherAddr(), Account: account, Secret: secret, OnJobDone: onJob})
	if err != nil {
		c.t.Fatalf("publisher on edge %d: %v", edge, err)
	}
	c.t.Cleanup(func() { _ = p.Close() })
	return p
}

// TestBroadcastReachesEveryEdgeOnce: a broadcast published on one edge
// reaches every online follower on every edge once, in id order (a user
// with a device on each edge on both); the job report counts recipients
// across edges; an offline follower catches up on either edge.
func TestBroadcastReachesEveryEdgeOnce(t *testing.T) {
	c := startCluster(t, 2)
	account, secret := c.account(1, 6)
	subs := []*client.Subscriber{
		c.subscribe(0, 1, 0), c.subscribe(0, 2, 0), c.subscribe(1, 3, 0), c.subscribe(1, 4, 0),
		c.subscribe(0, 5, 0), c.subscribe(1, 5, 0),
	}
	var mu sync.Mutex
	reports := map[uint64]client.JobReport{}
	jobDone := make(chan struct{}, 16)
	pub := c.publisher(1, account, secret, func(r client.JobReport) {
		mu.Lock()
		reports[r.MessageID] = r
		mu.Unlock()
		jobDone <- struct{}{}
	})
	ctx := context.Background()
	var ids []uint64
	for i := range 3 {
		res, err := pub.Publish(ctx, client.Message{Payload: fmt.Appendf(nil, "m%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Recipients != 6 {
			t.Fatalf("recipients %d, want 6", res.Recipients)
		}
		ids = append(ids, res.MessageID)
	}
	for _, sub := range subs {
		for i, want := range ids {
			if m := testserver.Receive(t, sub, 10*time.Second); m.ID != want || string(m.Payload) != fmt.Sprintf("m%d", i) {
				t.Fatalf("user %d got %d %q, want %d", sub.User(), m.ID, m.Payload, want)
			}
		}
		testserver.ExpectNone(t, sub)
	}
	for range ids {
		select {
		case <-jobDone:
		case <-time.After(10 * time.Second):
			t.Fatal("no job report")
		}
	}
	mu.Lock()
	for _, id := range ids {
		if r := reports[id]; r.SentLive != 5 || r.PendingOffline != 1 || r.Errors != 0 {
			t.Fatalf("job report of %d: %+v, want 5 sent live and 1 pending", id, r)
		}
	}
	mu.Unlock()
	if r, err := pub.Status(ctx, ids[0]); err != nil || r.SentLive != 5 {
		t.Fatalf("status: %+v %v", r, err)
	}
	late := c.subscribe(0, 6, 0)
	for _, want := range ids {
		if m := testserver.Receive(t, late, 10*time.Second); m.ID != want {
			t.Fatalf("catch-up got %d, want %d", m.ID, want)
		}
	}
	testserver.ExpectNone(t, late)
}

// TestBusPermissions runs the cluster on the NATS configuration of
// docs/cluster/nats.conf: with it, a client holding an edge's credentials
// cannot relay a broadcast (NATS refuses the publish, no edge receives
// it), and one without credentials cannot connect.
func TestBusPermissions(t *testing.T) {
	conf, err := natsserver.ProcessConfigFile("../docs/cluster/nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	c := startClusterWith(t, 1, clusterOptions{
		nats: func(o *natsserver.Options) {
			o.Users, o.MaxPayload = conf.Users, conf.MaxPayload
		},
		core: node.ClusterConfig{User: "core", Password: "change-me-core"},
		edge: node.ClusterConfig{User: "edge", Password: "change-me-edge"},
	})
	account, secret := c.account(1, 2)
	sub := c.subscribe(0, 1, 0)
	if _, err := nats.Connect(c.nats.URL()); err == nil {
		t.Fatal("connected to NATS without credentials")
	}
	violations := make(chan error, 4)
	rogue, err := nats.Connect(c.nats.URL(), nats.UserInfo("edge", "change-me-edge"),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { violations <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer rogue.Close()
	forged := cluster.ForgedRelayForTest(9999, []uint32{1})
	if err := rogue.Publish("herald.core.0.relay", forged); err != nil {
		t.Fatal(err)
	}
	_ = rogue.Flush()
	select {
	case err := <-violations:
		if !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
			t.Fatalf("NATS answered the forged relay with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("NATS accepted a relay from an edge's credentials")
	}
	res, err := c.publisher(0, account, secret, nil).Publish(context.Background(), client.Message{Payload: []byte("real")})
	if err != nil {
		t.Fatal(err)
	}
	if m := testserver.Receive(t, sub, 10*time.Second); m.ID != res.MessageID {
		t.Fatalf("received %d, want %d (the real broadcast, not the forged one)", m.ID, res.MessageID)
	}
	testserver.ExpectNone(t, sub)
}

// TestNodesReportTheirBus: a core's /healthz counts the edges it hears
// and what it relayed; an edge's /healthz and /metrics show its link.
func TestNodesReportTheirBus(t *testing.T) {
	c := startCluster(t, 2)
	account, secret := c.account(1, 1)
	sub := c.subscribe(1, 1, 0)
	res, err := c.publisher(0, account, secret, nil).Publish(context.Background(), client.Message{Payload: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	testserver.Receive(t, sub, 10*time.Second)
	var core struct {
		Status string
		Bus    struct {
			Connected   bool
			Edges       int
			LastRelayed uint64 `json:"last_relayed"`
		}
	}
	getJSON(t, "http://"+c.core.CoreAddr()+"/healthz", &core)
	if core.Status != "ok" || !core.Bus.Connected || core.Bus.Edges != 2 || core.Bus.LastRelayed != res.MessageID {
		t.Fatalf("core health %+v", core)
	}
	var edge struct {
		Status string
		Bus    struct {
			Connected bool
			Lag       uint64 `json:"lag_messages"`
		}
	}
	getJSON(t, "http://"+c.edges[1].Edge.AdminAddr()+"/healthz", &edge)
	if edge.Status != "ok" || !edge.Bus.Connected {
		t.Fatalf("edge health %+v", edge)
	}
	for _, addr := range []string{c.core.CoreAddr(), c.edges[0].Edge.AdminAddr()} {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "herald_bus_connected 1") {
			t.Fatalf("%s/metrics has no herald_bus_connected 1", addr)
		}
	}
}

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
}

// TestLargeAudienceCrossesInParts: on a NATS server with a small payload
// limit, an import larger than one message goes to the core in several,
// and a broadcast whose audience bitmap does not fit one message is
// relayed in parts; followers at both ends and in the middle of the id
// range, on different edges, each get it once, and the job report counts
// them.
func TestLargeAudienceCrossesInParts(t *testing.T) {
	c := startClusterWith(t, 2, clusterOptions{
		nats: func(o *natsserver.Options) { o.MaxPayload = 128 << 10 },
		engine: func(cfg *fanout.Config) {
			cfg.MaxPayload, cfg.CatchUpPage = 4096, 100
		},
	})
	const last = 1_200_000
	account, secret := c.accountOf(2, last, 2) // 600,000 followers: a bitmap of about 150 KB
	subs := []*client.Subscriber{c.subscribe(0, 2, 0), c.subscribe(1, last, 0), c.subscribe(0, last/2, 0)}
	done := make(chan client.JobReport, 1)
	pub := c.publisher(1, account, secret, func(r client.JobReport) { done <- r })
	before := c.core.Core.Stats().Parts
	res, err := pub.Publish(context.Background(), client.Message{Payload: []byte("to many")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Recipients != last/2 {
		t.Fatalf("recipients %d", res.Recipients)
	}
	for _, sub := range subs {
		if m := testserver.Receive(t, sub, 10*time.Second); m.ID != res.MessageID {
			t.Fatalf("user %d got %d", sub.User(), m.ID)
		}
		testserver.ExpectNone(t, sub)
	}
	select {
	case r := <-done:
		if r.SentLive != 3 || r.PendingOffline != last/2-3 {
			t.Fatalf("job report %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no job report")
	}
	if parts := c.core.Core.Stats().Parts - before; parts < 2 {
		t.Fatalf("relayed in %d parts", parts)
	}
}

// TestTokenRotationReachesEveryEdge: a rotation asked on one edge gives
// every edge the new key, so a token minted after it on one edge is
// accepted on another, and one minted before it still is (the overlap).
func TestTokenRotationReachesEveryEdge(t *testing.T) {
	c := startCluster(t, 2)
	ctx := context.Background()
	before, err := c.admin(1).MintToken(ctx, 9, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.admin(0).RotateTokenKey(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	after, err := c.admin(0).MintToken(ctx, 9, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if after == before {
		t.Fatal("the same token after a rotation")
	}
	testutil.WaitFor(t, 10*time.Second, "edge 1 to accept the new key", func() bool {
		user, err := c.edges[1].Remote.VerifyToken(after, time.Now())
		return err == nil && user == 9
	})
	if user, err := c.edges[1].Remote.VerifyToken(before, time.Now()); err != nil || user != 9 {
		t.Fatalf("a token from before the rotation: %d %v", user, err)
	}
}

// TestSubscriberMovesToAnotherEdge: an SDK subscriber given every edge's
// address (Addrs) whose edge stops reconnects to the next and resumes
// there, missing nothing; so does a publisher.
func TestSubscriberMovesToAnotherEdge(t *testing.T) {
	c := startCluster(t, 2)
	account, secret := c.account(1, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	token, err := c.admin(0).MintToken(ctx, 1, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	addrs := []string{c.edges[1].Edge.ClientAddr(), c.edges[0].Edge.ClientAddr()}
	sub, err := client.Subscribe(ctx, client.SubscriberConfig{Addrs: addrs, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := sub.WaitLive(ctx); err != nil {
		t.Fatal(err)
	}
	pub, err := client.DialPublisher(ctx, client.PublisherConfig{Account: account, Secret: secret,
		Addrs: []string{c.edges[1].Edge.PublisherAddr(), c.edges[0].Edge.PublisherAddr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	first, err := pub.Publish(ctx, client.Message{Payload: []byte("on edge 1")})
	if err != nil {
		t.Fatal(err)
	}
	if m := testserver.Receive(t, sub, 10*time.Second); m.ID != first.MessageID {
		t.Fatalf("got %d", m.ID)
	}
	_ = c.edges[1].Close() // both were on edge 1
	second, err := pub.Publish(ctx, client.Message{Payload: []byte("after edge 1")})
	if err != nil {
		t.Fatal(err)
	}
	if m := testserver.Receive(t, sub, 20*time.Second); m.ID != second.MessageID {
		t.Fatalf("after moving got %d, want %d", m.ID, second.MessageID)
	}
	if c.edges[0].Edge.Connections() != 2 {
		t.Fatalf("edge 0 holds %d connections, want the subscriber and the publisher", c.edges[0].Edge.Connections())
	}
}
