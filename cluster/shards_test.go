package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"herald/client"
	"herald/fanout"
	"herald/internal/testserver"
	"herald/internal/testtier"
	"herald/internal/testutil"
	"herald/wire"
)

// TestCatchUpAcrossShards: with two cores, accounts created through an
// edge land on both shards; a user following an account of each receives
// both live on any edge, and resumes once on any edge to get every missed
// broadcast of both shards, each shard's in id order, nothing twice: from
// no cursor, from the cursor its application stored, and from the
// acknowledgements the cores stored (each shard's ACK reaches its core).
// Pages are small here, so a resume takes several RESUMEs per shard.
func TestCatchUpAcrossShards(t *testing.T) {
	c := startClusterWith(t, 2, clusterOptions{shards: 2, engine: func(cfg *fanout.Config) { cfg.CatchUpPage = 4 }})
	a, secretA := c.account(1, 4)
	b, secretB := c.account(1, 4)
	if wire.AccountShard(a) == wire.AccountShard(b) {
		t.Fatalf("accounts %#x and %#x are both of shard %d", a, b, wire.AccountShard(a))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pubs := []*client.Publisher{c.publisher(0, a, secretA, nil), c.publisher(1, b, secretB, nil)}
	publish := func(n int) []uint64 {
		t.Helper()
		var ids []uint64
		for i := range n {
			res, err := pubs[i%2].Publish(ctx, client.Message{Payload: fmt.Appendf(nil, "m%d", i)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Recipients != 4 {
				t.Fatalf("recipients %d, want 4", res.Recipients)
			}
			ids = append(ids, res.MessageID)
		}
		return ids
	}
	// receive takes n messages and checks them against want: each shard's
	// in id order, all of them once.
	receive := func(sub *client.Subscriber, want []uint64) {
		t.Helper()
		var got []uint64
		last := map[uint8]uint64{}
		for range want {
			m := testserver.Receive(t, sub, 10*time.Second)
			if shard := wire.ShardOf(m.ID); m.ID <= last[shard] {
				t.Fatalf("user %d: %#x after %#x in shard %d", sub.User(), m.ID, last[shard], shard)
			}
			last[wire.ShardOf(m.ID)] = m.ID
			got = append(got, m.ID)
		}
		testserver.ExpectNone(t, sub)
		slices.Sort(got)
		sorted := slices.Sorted(slices.Values(want))
		if !slices.Equal(got, sorted) {
			t.Fatalf("user %d got %x, want %x", sub.User(), got, sorted)
		}
	}

	live := c.subscribe(0, 1, 0)
	first := publish(10)
	receive(live, first)
	shards := map[uint8]bool{}
	for _, id := range first {
		shards[wire.ShardOf(id)] = true
	}
	if len(shards) != 2 {
		t.Fatalf("ids %x are not of two shards", first)
	}

	// User 2 was never online: everything, on the other edge.
	fresh := c.subscribe(1, 2, 0)
	receive(fresh, first)

	// User 3 stores its cursor, goes away and comes back with it.
	three := c.subscribe(0, 3, 0)
	receive(three, first)
	_ = three.Close() // everything received counts as handled
	stored := three.Handled()
	if len(stored) != 2 || !stored.Covers(slices.Max(first)) {
		t.Fatalf("user 3's cursor %v, want one id of each shard covering %x", stored, first)
	}
	second := publish(9)
	receive(live, second)
	back := c.subscribeFrom(1, 3, client.SubscriberConfig{Cursor: stored})
	receive(back, second)

	// User 4 acknowledges everything and resumes from what the cores
	// stored.
	four := c.subscribe(1, 4, 0)
	receive(four, append(slices.Clone(first), second...))
	_ = four.Close() // acknowledges what was handled, and waits for it
	testutil.WaitFor(t, 10*time.Second, "both cores to hold user 4's acknowledgements", func() bool {
		for _, core := range c.cores {
			id, err := core.Engine.StoredCursor(4)
			if err != nil || id == wire.ShardBase(core.Engine.Shard()) || id == 0 {
				return false
			}
		}
		return true
	})
	third := publish(5)
	receive(live, third)
	again := c.subscribeFrom(0, 4, client.SubscriberConfig{StoredCursor: true})
	receive(again, third)

	// The accounts of both cores list as one, in id order, a page at a
	// time across the shards.
	var listed []uint32
	for after := uint32(0); ; {
		page, err := c.admin(1).ListAccounts(ctx, after, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, acct := range page.Accounts {
			listed = append(listed, acct.ID)
		}
		if page.NextAfter == 0 {
			break
		}
		after = page.NextAfter
	}
	if !slices.Equal(listed, []uint32{a, b}) {
		t.Fatalf("accounts listed a page at a time: %x, want %x", listed, []uint32{a, b})
	}

	// Each account's figures come from its own core, through any edge.
	if err := again.FollowFrom(ctx, b, "qr"); err != nil { // follows already: counts nothing
		t.Fatal(err)
	}
	if err := again.Unfollow(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, account := range []uint32{a, b} {
		days, err := c.admin(1).FollowerStats(ctx, account, "", "")
		if err != nil {
			t.Fatal(err)
		}
		today := days[len(days)-1]
		want := uint64(0)
		if account == b {
			want = 1
		}
		if today.New != 4 || today.BySource["import"] != 4 || today.Unfollows != want || today.Cumulative != 4-want {
			t.Fatalf("account %#x today: %+v", account, today)
		}
	}
}

// TestVersionOneOnSeveralShards: a protocol version 1 client of an edge
// of two shards cannot say where it is in each: its HELLO is answered
// UNSUPPORTED_VERSION (a publisher's is not); a cursor naming a shard the cluster does not have
// is CURSOR_AHEAD.
func TestVersionOneOnSeveralShards(t *testing.T) {
	c := startClusterWith(t, 1, clusterOptions{shards: 2})
	ctx := context.Background()
	token, err := c.admin(0).MintToken(ctx, 1, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	v1 := testutil.DialRaw(t, c.edges[0].Edge.ClientAddr())
	v1.Send(wire.AppendHello(nil, wire.Hello{Version: wire.Version1, Credential: token}))
	v1.ExpectError(wire.CodeUnsupportedVersion, 0)
	v1.ExpectClosed()

	account, secret := c.account(1, 1)
	publisher := testutil.DialRaw(t, c.edges[0].Edge.PublisherAddr())
	publisher.Welcome(account, secret) // version 1

	v2 := testutil.DialRaw(t, c.edges[0].Edge.ClientAddr())
	v2.Send(wire.AppendHello(nil, wire.Hello{Version: wire.Version2, Credential: token}))
	if f, err := v2.Next(5 * time.Second); err != nil || f.Type != wire.TypeWelcome {
		t.Fatalf("HELLO: %s %v", f.Type, err)
	}
	v2.Send(wire.AppendResumeV2(nil, wire.ResumeV2{Cursor: wire.Cursor{wire.ShardBase(5) + 1}}, 0))
	v2.ExpectError(wire.CodeCursorAhead, 0)
	v2.ExpectClosed()
}

// TestReachAcrossShards: a broadcast's reach is counted by the core that
// owns it from the acknowledgements and openings its edges forward — live
// on one edge, caught up on the other — and read through any edge: STATUS
// REACH, the admin API's broadcasts, and the server's days summed over the
// cores.
func TestReachAcrossShards(t *testing.T) {
	c := startClusterWith(t, 2, clusterOptions{shards: 2})
	a, secretA := c.account(1, 2)
	b, secretB := c.account(1, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pubA, pubB := c.publisher(0, a, secretA, nil), c.publisher(1, b, secretB, nil)
	live := c.subscribe(0, 1, 0)
	var ids []uint64
	for _, pub := range []*client.Publisher{pubA, pubB} {
		res, err := pub.Publish(ctx, client.Message{Payload: []byte("hi")})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.MessageID)
	}
	for range ids {
		testserver.Receive(t, live, 10*time.Second)
	}
	// User 1 is online on edge 0, following both accounts; edge 1 holds
	// no one.
	for edge, want := range []int{1, 0} {
		if n, err := c.admin(edge).OnlineFollowers(ctx, b); err != nil || n != want {
			t.Fatalf("edge %d: %d online followers of %#x, %v; want %d", edge, n, b, err, want)
		}
	}
	_ = live.Close()
	late := c.subscribe(1, 2, 0)
	for range ids {
		late.Opened(testserver.Receive(t, late, 10*time.Second).ID)
	}
	_ = late.Close()
	for i, pub := range []*client.Publisher{pubA, pubB} {
		counted := make(chan client.Reach, 1)
		wctx, stop := context.WithCancel(ctx)
		go func() {
			sent := false
			_ = pub.Watch(wctx, ids[i], func(r client.Reach) {
				if r.Delivered == 2 && r.Opened == 1 && !sent {
					sent = true
					counted <- r
				}
			})
		}()
		select {
		case r := <-counted:
			if r.CaughtUp != 1 || r.SentLive != 1 || r.Curve[wire.CurvePoints-1] != 2 {
				t.Fatalf("broadcast %#x: %+v", ids[i], r)
			}
		case <-ctx.Done():
			t.Fatalf("broadcast %#x was never counted delivered twice and opened once", ids[i])
		}
		stop()
	}
	page, _, err := c.admin(1).Broadcasts(ctx, a, 0, 10)
	if err != nil || len(page) != 1 || page[0].ID != ids[0] || page[0].Delivered != 2 {
		t.Fatalf("account %#x's broadcasts through edge 1: %+v, %v", a, page, err)
	}
	days, err := c.admin(0).BroadcastStats(ctx, 0, "", "")
	if err != nil || len(days) != 1 || days[0].Broadcasts != 2 || days[0].Delivered != 4 || days[0].Opened != 2 {
		t.Fatalf("the server's days: %+v, %v", days, err)
	}
}

// TestNotificationsAcrossShards: templates, consents and notifications
// cross the bus to the account's core: a consent granted on one edge lets
// a notification published on the other reach the user there, live, with
// its fields; spending the only grant refuses the next one.
func TestNotificationsAcrossShards(t *testing.T) {
	c := startClusterWith(t, 2, clusterOptions{shards: 2})
	b, secret := shardOneAccount(c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub := c.publisher(1, b, secret, nil)
	tmpl := client.Template{Name: "code", Title: "Your code", Consent: true, Fields: []string{"code"}}
	if got, err := pub.DefineTemplate(ctx, tmpl); err != nil || got.Name != "code" || !got.Consent {
		t.Fatalf("define: %+v, %v", got, err)
	}
	if list, err := pub.Templates(ctx); err != nil || len(list) != 1 || list[0].Fields[0] != "code" {
		t.Fatalf("templates: %+v, %v", list, err)
	}
	user := c.subscribe(0, 9, 0) // follows nothing
	if err := user.Grant(ctx, b, "code", 1); err != nil {
		t.Fatal(err)
	}
	send := func() (client.PublishResult, error) {
		return pub.Notify(ctx, client.Notification{Template: "code", Users: []uint32{9}, Fields: map[string]string{"code": "4711"}})
	}
	res, err := send()
	if err != nil || res.Recipients != 1 || wire.ShardOf(res.MessageID) != 1 {
		t.Fatalf("notify: %+v, %v", res, err)
	}
	m := testserver.Receive(t, user, 10*time.Second)
	if m.ID != res.MessageID || m.Notification == nil || m.Notification.Fields[0] != (wire.Field{Name: "code", Value: "4711"}) {
		t.Fatalf("got %+v", m)
	}
	_, err = send()
	var e *client.Error
	if !errors.As(err, &e) || e.Code != wire.CodeConsentRequired {
		t.Fatalf("second notify: %v, want CONSENT_REQUIRED", err)
	}
}

// TestLettersAndRepliesAcrossShards: a letter written on one edge reaches
// the account's backend on another, and its reply comes back to the user;
// a reply outside the window is refused across the bus.
func TestLettersAndRepliesAcrossShards(t *testing.T) {
	c := startClusterWith(t, 2, clusterOptions{shards: 2})
	b, secret := shardOneAccount(c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub := c.publisher(1, b, secret, nil)
	user := c.subscribe(0, 2, 0)
	if err := user.Write(ctx, b, "text/plain", []byte("hello?")); err != nil {
		t.Fatal(err)
	}
	letters, _, err := pub.Inbox(ctx, 0)
	if err != nil || len(letters) != 1 || letters[0].User != 2 || string(letters[0].Payload) != "hello?" {
		t.Fatalf("inbox: %+v, %v", letters, err)
	}
	res, err := pub.Publish(ctx, client.Message{ReplyTo: 2, Payload: []byte("hi!")})
	if err != nil {
		t.Fatal(err)
	}
	if m := testserver.Receive(t, user, 10*time.Second); m.ID != res.MessageID || !m.Reply {
		t.Fatalf("got %+v", m)
	}
	_, err = pub.Publish(ctx, client.Message{ReplyTo: 1, Payload: []byte("unasked")})
	var e *client.Error
	if !errors.As(err, &e) || e.Code != wire.CodeWindowClosed {
		t.Fatalf("reply to a user who never wrote: %v", err)
	}
}

// TestScheduledAcrossShards: a broadcast scheduled through an edge is sent
// by its core at its time, and cancelling crosses the bus.
func TestScheduledAcrossShards(t *testing.T) {
	c := startClusterWith(t, 2, clusterOptions{shards: 2})
	b, secret := shardOneAccount(c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub := c.publisher(1, b, secret, nil)
	user := c.subscribe(0, 2, 0)
	at := time.Now().Add(300 * time.Millisecond)
	if res, err := pub.Schedule(ctx, client.Message{ClientMsgID: "soon", Payload: []byte("soon")}, at); err != nil || !res.Scheduled {
		t.Fatalf("schedule: %+v, %v", res, err)
	}
	if _, err := pub.Schedule(ctx, client.Message{ClientMsgID: "later", Payload: []byte("later")}, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := pub.Cancel(ctx, "later"); err != nil {
		t.Fatal(err)
	}
	if m := testserver.Receive(t, user, 10*time.Second); string(m.Payload) != "soon" || wire.ShardOf(m.ID) != 1 {
		t.Fatalf("got %+v", m)
	}
	list, err := c.admin(0).Schedules(ctx, b)
	if err != nil || len(list) != 1 || list[0].ClientMsgID != "soon" || list[0].State != "sent" {
		t.Fatalf("schedules through edge 0: %+v, %v", list, err)
	}
}

// TestConfirmationAcrossShards: a broadcast to all followers held on its
// account's core is listed and confirmed through edges, and one left
// unconfirmed fails with NOT_CONFIRMED across the bus.
func TestConfirmationAcrossShards(t *testing.T) {
	c := startClusterWith(t, 2, clusterOptions{shards: 2, engine: func(cfg *fanout.Config) {
		p := cfg.Tiers[testtier.Unlimited.ID]
		p.ConfirmAllSeconds = 2 // within the edges' request timeout
		cfg.Tiers[testtier.Unlimited.ID] = p
	}})
	b, secret := shardOneAccount(c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub := c.publisher(1, b, secret, nil)
	user := c.subscribe(0, 2, 0)
	done := make(chan error, 1)
	go func() {
		_, err := pub.Publish(ctx, client.Message{ClientMsgID: "all", Payload: []byte("to all")})
		done <- err
	}()
	testutil.WaitFor(t, 5*time.Second, "the broadcast waiting", func() bool {
		list, err := c.admin(0).Confirmations(ctx, b)
		return err == nil && len(list) == 1 && list[0].ClientMsgID == "all"
	})
	if err := c.admin(1).Confirm(ctx, b, "all", true); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("confirmed publish: %v", err)
	}
	if m := testserver.Receive(t, user, 10*time.Second); string(m.Payload) != "to all" {
		t.Fatalf("got %+v", m)
	}
	_, err := pub.Publish(ctx, client.Message{ClientMsgID: "unconfirmed", Payload: []byte("x")})
	var e *client.Error
	if !errors.As(err, &e) || e.Code != wire.CodeNotConfirmed {
		t.Fatalf("unconfirmed publish: %v, want NOT_CONFIRMED", err)
	}
}

// shardOneAccount creates an account of shard 1 (accounts go to the cores
// in turn: the first to shard 0), followed by users 1 and 2.
func shardOneAccount(c *testCluster) (uint32, string) {
	c.t.Helper()
	c.account(1, 1)
	return c.account(1, 2)
}
