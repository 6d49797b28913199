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
	proc, err := serverproc.Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	target := proc.Addrs()
	admin := &client.Admin{BaseURL: target.AdminURL, Token: target.AdminToken}
	ctx := context.Background()
	account, err := admin.CreateAccount(ctx, "crash", testtier.Unlimited.Name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ImportFollowers(ctx, account.ID, strings.NewReader("1\n2\n3\n")); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	acked := map[string]uint64{} // client_msg_id → message id
	pubCtx, stopPublishing := context.WithCancel(ctx)
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
	testutil.WaitFor(t, time.Minute, "300 acknowledged publishes", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 300
	})
	proc.Kill()
	stopPublishing()
	wg.Wait()
	t.Logf("%d broadcasts acknowledged before SIGKILL", len(acked))

	proc, err = serverproc.Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Stop()
	target = proc.Addrs()
	admin = &client.Admin{BaseURL: target.AdminURL, Token: target.AdminToken}
	health, err := admin.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	token, err := admin.MintToken(ctx, 2, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := client.Subscribe(ctx, client.SubscriberConfig{Addr: target.ClientAddr, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got := map[uint64]string{}
	for uint64(len(got)) < health.LastMessageID {
		select {
		case m := <-sub.Messages():
			got[m.ID] = string(m.Payload)
		case <-time.After(10 * time.Second):
			t.Fatalf("caught up %d of %d broadcasts", len(got), health.LastMessageID)
		}
	}
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
