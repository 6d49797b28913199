package server_test

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
	"herald/internal/serverproc"
	"herald/internal/testtier"
	"herald/internal/testutil"
)

// TestMain lets this test binary also run as a server process, so the crash
// test can kill a real server with SIGKILL.
func TestMain(m *testing.M) {
	serverproc.MaybeServe()
	os.Exit(m.Run())
}

// TestKill9LosesNoAcknowledgedBroadcast kills the server process with
// SIGKILL in the middle of a stream of concurrent publishes, restarts it on
// the same directory, and finds every acknowledged broadcast: in the log,
// delivered on catch-up, and still deduplicated by its client_msg_id.
func TestKill9LosesNoAcknowledgedBroadcast(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	proc, admin := startServer(t, dir)
	ctx := context.Background()
	account, err := admin.CreateAccount(ctx, "crash", testtier.Unlimited.Name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ImportFollowers(ctx, account.ID, strings.NewReader("1\n2\n3\n")); err != nil {
		t.Fatal(err)
	}

	acked := publishUntilKilled(t, proc, account, 300)

	proc, admin = startServer(t, dir)
	defer proc.Stop()
	target := proc.Addrs()
	health, err := admin.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := catchUpAll(t, admin, target, 2, health.LastMessageID)
	for clientMsgID, id := range acked {
		if got[id] != clientMsgID {
			t.Fatalf("acknowledged broadcast %d (%s) lost after SIGKILL: found %q", id, clientMsgID, got[id])
		}
	}
	pub, err := client.DialPublisher(ctx, client.PublisherConfig{Addr: target.PublisherAddr, Account: account.ID, Secret: account.Secret})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	checked := 0
	for clientMsgID, id := range acked {
		res, err := pub.Publish(ctx, client.Message{ClientMsgID: clientMsgID})
		if err != nil || !res.Duplicate || res.MessageID != id {
			t.Fatalf("retry of %s after crash = %+v, %v; want duplicate of %d", clientMsgID, res, err, id)
		}
		if checked++; checked == 20 {
			break
		}
	}
	if a, err := admin.Account(ctx, account.ID); err != nil || a.Followers != 3 {
		t.Fatalf("account after crash = %+v, %v", a, err)
	}
}

// publishUntilKilled publishes from 8 publishers to account until at least
// n publishes are acknowledged, then kills the server with SIGKILL, and
// returns what was acknowledged: client_msg_id → message id.
func publishUntilKilled(t *testing.T, proc *serverproc.Process, account client.Account, n int) map[string]uint64 {
	t.Helper()
	target := proc.Addrs()
	var mu sync.Mutex
	acked := map[string]uint64{} // client_msg_id → message id
	pubCtx, stopPublishing := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pub, err := client.DialPublisher(pubCtx, client.PublisherConfig{Addr: target.PublisherAddr, Account: account.ID, Secret: account.Secret})
			if err != nil {
				t.Error(err)
				return
			}
			defer pub.Close()
			for i := 0; pubCtx.Err() == nil; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				res, err := pub.Publish(pubCtx, client.Message{ClientMsgID: id, Payload: []byte(id)})
				if err != nil {
					return // the server died under this publish: not acknowledged
				}
				mu.Lock()
				acked[id] = res.MessageID
				mu.Unlock()
			}
		}()
	}
	// Let the stream run, then crash the server mid-flight.
	testutil.WaitFor(t, time.Minute, fmt.Sprint(n, " acknowledged publishes"), func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= n
	})
	proc.Kill()
	stopPublishing()
	wg.Wait()
	t.Logf("%d broadcasts acknowledged before SIGKILL", len(acked))
	return acked
}

// TestKill9KeepsSharedAudiences: an account of 65,536 followers (every
// other id, two chunks of 8 KiB) publishes back to back, so each audience
// refers to the chunks of the one before; after SIGKILL and a restart, a
// follower in the second chunk catches up every acknowledged broadcast and
// a user between them none.
func TestKill9KeepsSharedAudiences(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	proc, admin := startServer(t, dir)
	ctx := context.Background()
	account, err := admin.CreateAccount(ctx, "shared", testtier.Unlimited.Name)
	if err != nil {
		t.Fatal(err)
	}
	var ids strings.Builder
	for u := 1; u < 1<<17; u += 2 {
		fmt.Fprintln(&ids, u)
	}
	if _, err := admin.ImportFollowers(ctx, account.ID, strings.NewReader(ids.String())); err != nil {
		t.Fatal(err)
	}
	acked := publishUntilKilled(t, proc, account, 200)

	proc, admin = startServer(t, dir)
	defer proc.Stop()
	target := proc.Addrs()
	health, err := admin.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := catchUpAll(t, admin, target, 1<<16+1, health.LastMessageID)
	for clientMsgID, id := range acked {
		if got[id] != clientMsgID {
			t.Fatalf("acknowledged broadcast %d (%s) lost after SIGKILL: found %q", id, clientMsgID, got[id])
		}
	}
	// A user who follows nothing is told it is up to date, with nothing.
	sub := subscribeAs(t, admin, target, 1<<16+2)
	defer sub.Close()
	if err := sub.WaitLive(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sub.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-sub.Messages():
		t.Fatalf("a user outside every audience got broadcast %d", m.ID)
	default:
	}
}

// catchUpAll subscribes as user and returns the payloads of the broadcasts
// it catches up, once it has last of them.
func catchUpAll(t *testing.T, admin *client.Admin, target serverproc.Addrs, user uint32, last uint64) map[uint64]string {
	t.Helper()
	sub := subscribeAs(t, admin, target, user)
	defer sub.Close()
	got := map[uint64]string{}
	for uint64(len(got)) < last {
		select {
		case m := <-sub.Messages():
			got[m.ID] = string(m.Payload)
		case <-time.After(10 * time.Second):
			t.Fatalf("user %d caught up %d of %d broadcasts", user, len(got), last)
		}
	}
	return got
}

// startServer starts a server process on dir and returns it with its
// admin client.
func startServer(t *testing.T, dir string) (*serverproc.Process, *client.Admin) {
	t.Helper()
	proc, err := serverproc.Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	target := proc.Addrs()
	return proc, &client.Admin{BaseURL: target.AdminURL, Token: target.AdminToken}
}

// subscribeAs connects a subscriber as user, with a token the admin mints.
func subscribeAs(t *testing.T, admin *client.Admin, target serverproc.Addrs, user uint32) *client.Subscriber {
	t.Helper()
	ctx := context.Background()
	token, err := admin.MintToken(ctx, user, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := client.Subscribe(ctx, client.SubscriberConfig{Addr: target.ClientAddr, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return sub
}
