package cluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"herald/client"
	"herald/internal/natstest"
	"herald/internal/serverproc"
	"herald/internal/testtier"
	"herald/internal/testutil"
	"herald/wire"
)

// TestMain lets this test binary serve as the cluster's node processes.
func TestMain(m *testing.M) {
	serverproc.MaybeServe()
	os.Exit(m.Run())
}

// receiver collects what one user receives, across the connections the
// test gives it.
type receiver struct {
	user uint32
	mu   sync.Mutex
	sub  *client.Subscriber
	got  map[uint64]int
	last wire.Cursor // per shard
	bad  error
	// read is closed when the reader of sub's Messages has taken the last
	// of them: a closed Subscriber's channel may still hold some.
	read chan struct{}
}

func (r *receiver) follow(ctx context.Context, addr string, admin *client.Admin) error {
	token, err := admin.MintToken(ctx, r.user, time.Hour)
	if err != nil {
		return err
	}
	if r.read != nil {
		<-r.read // the cursor must cover what the last connection delivered
	}
	r.mu.Lock()
	cursor := r.last.Clone()
	r.mu.Unlock()
	sub, err := client.Subscribe(ctx, client.SubscriberConfig{Addr: addr, Token: token, Cursor: cursor})
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.sub = sub
	r.mu.Unlock()
	read := make(chan struct{})
	r.read = read
	go func() {
		defer close(read)
		for m := range sub.Messages() {
			r.mu.Lock()
			if r.last.Covers(m.ID) && r.bad == nil {
				r.bad = fmt.Errorf("user %d: %d after %v", r.user, m.ID, r.last)
			}
			r.got[m.ID]++
			r.last = r.last.Advance(m.ID)
			r.mu.Unlock()
		}
	}()
	return nil
}

func (r *receiver) missing(ids []uint64) []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []uint64
	for _, id := range ids {
		if r.got[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

// TestKillNineLosesNothing runs two cores and two edges as processes on a
// NATS server, with an account on each core, and publishes a stream from
// both while an edge is killed with SIGKILL (its clients resume on the
// other), a core is killed with SIGKILL and restarted (its publishes get
// UNAVAILABLE meanwhile, and the SDK retries them with their
// client_msg_id), and NATS is restarted. Every acknowledged broadcast of
// both shards reaches every follower exactly once, each shard's in order.
func TestKillNineLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bus := natstest.Start(t, nil)
	dir := t.TempDir()
	nodeFlags := func(role string, more ...string) []string {
		return append([]string{"--role", role, "--nats", bus.URL()}, more...)
	}
	startCore := func(k int) *serverproc.Process {
		core, err := serverproc.StartWith(filepath.Join(dir, fmt.Sprint("core", k)), nodeFlags("core", "--shard", fmt.Sprint(k)))
		if err != nil {
			t.Fatal(err)
		}
		return core
	}
	cores := []*serverproc.Process{startCore(0), startCore(1)}
	defer func() {
		for _, core := range cores {
			core.Stop()
		}
	}()
	var edges []*serverproc.Process
	for i := range 2 {
		e, err := serverproc.StartWith("", nodeFlags("edge", "--edge-name", fmt.Sprint("e", i), "--shards", "2"))
		if err != nil {
			t.Fatal(err)
		}
		defer e.Stop()
		edges = append(edges, e)
	}
	admin := func(i int) *client.Admin {
		a := edges[i].Addrs()
		return &client.Admin{BaseURL: a.AdminURL, Token: a.AdminToken}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const users = 60
	var ids strings.Builder
	for u := 1; u <= users; u++ {
		fmt.Fprintln(&ids, u)
	}
	var accounts []client.Account // one per shard: an edge creates them on the cores in turn
	for range cores {
		account, err := admin(0).CreateAccount(ctx, "stream", testtier.Unlimited.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin(0).ImportFollowers(ctx, account.ID, strings.NewReader(ids.String())); err != nil {
			t.Fatal(err)
		}
		accounts = append(accounts, account)
	}
	if wire.AccountShard(accounts[1].ID) != 1 {
		t.Fatalf("the second account %#x is not shard 1's", accounts[1].ID)
	}
	receivers := make([]*receiver, users)
	for i := range receivers {
		receivers[i] = &receiver{user: uint32(i + 1), got: map[uint64]int{}}
		edge := i % 2
		if err := receivers[i].follow(ctx, edges[edge].Addrs().ClientAddr, admin(edge)); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = receivers[i].sub.Close() }()
	}
	for _, r := range receivers {
		if err := r.sub.WaitLive(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var pubs []*client.Publisher
	for _, account := range accounts {
		pub, err := client.DialPublisher(ctx, client.PublisherConfig{Addr: edges[1].Addrs().PublisherAddr, Account: account.ID, Secret: account.Secret})
		if err != nil {
			t.Fatal(err)
		}
		defer pub.Close()
		pubs = append(pubs, pub)
	}

	const total = 150
	var acked []uint64
	for i := range total {
		switch i {
		case 50: // an edge dies: its clients resume on the other
			edges[0].Kill()
			for j := 0; j < users; j += 2 {
				_ = receivers[j].sub.Close()
				if err := receivers[j].follow(ctx, edges[1].Addrs().ClientAddr, admin(1)); err != nil {
					t.Fatal(err)
				}
			}
		case 91: // shard 1's core dies: its publishes are UNAVAILABLE (the
			// SDK retries them) until it is back on its data. A raw
			// publisher sees the code: at once when NATS knows the core is
			// gone, or after the edge's request timeout (5 s) when it does
			// not yet.
			account := accounts[1]
			raw := testutil.DialRaw(t, edges[1].Addrs().PublisherAddr)
			raw.Welcome(account.ID, account.Secret)
			cores[1].Kill()
			raw.Send(wire.AppendPublish(nil, wire.Publish{RequestID: 7, Account: account.ID, ClientMsgID: "probe", Payload: []byte("x")}))
			f, err := raw.Next(15 * time.Second)
			if err != nil || f.Type != wire.TypeError {
				t.Fatalf("publish with the core away: %v %v, want ERROR", f.Type, err)
			}
			if m, err := wire.DecodeError(f.Body); err != nil || m.Code != wire.CodeUnavailable || m.RequestID != 7 {
				t.Fatalf("publish with the core away: %+v %v, want UNAVAILABLE", m, err)
			}
			cores[1] = startCore(1)
		case 120: // NATS restarts
			bus.Restart()
		}
		msg := client.Message{ClientMsgID: fmt.Sprint("m", i), Payload: fmt.Appendf(nil, "%d", i)}
		res, err := pubs[i%2].Publish(ctx, msg)
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if res.MessageID == 0 {
			t.Fatalf("publish %d: %+v", i, res)
		}
		acked = append(acked, res.MessageID)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, r := range receivers {
		for len(r.missing(acked)) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("user %d is missing %v", r.user, r.missing(acked))
			}
			time.Sleep(20 * time.Millisecond) // delivery is asynchronous
		}
		r.mu.Lock()
		for id, n := range r.got {
			if n != 1 {
				t.Errorf("user %d received %d %d times", r.user, id, n)
			}
		}
		if r.bad != nil {
			t.Error(r.bad)
		}
		r.mu.Unlock()
	}
}
