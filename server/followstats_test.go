package server_test

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"herald/client"
	"herald/internal/serverproc"
	"herald/internal/testtier"
)

// TestFollowerFiguresSurviveKill9: follows given on FOLLOW with a source
// (the SDK's FollowFrom), on import with ?source= and without, and
// unfollows, make the account's figures of the day exact — and after a
// SIGKILL in the middle of a stream of follows and a restart, the
// figures still equal the follows that were acknowledged (each counted in
// the commit of its follow).
func TestFollowerFiguresSurviveKill9(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	proc, admin := startServer(t, dir)
	target := proc.Addrs()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	account, err := admin.CreateAccount(ctx, "figures", testtier.Unlimited.Name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ImportFollowers(ctx, account.ID, strings.NewReader("1\n2\n3\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ImportFollowersFrom(ctx, account.ID, "article", strings.NewReader("3\n4\n5\n")); err != nil { // 3 follows already
		t.Fatal(err)
	}
	if _, err := admin.ImportFollowersFrom(ctx, account.ID, "two words", strings.NewReader("6\n")); err == nil {
		t.Fatal("a bad source was accepted")
	}
	if _, err := admin.RemoveFollowers(ctx, account.ID, strings.NewReader("1\n")); err != nil {
		t.Fatal(err)
	}

	// Users 100.. follow from "qr" through the protocol, each on its own
	// connection, while the server is killed.
	var mu sync.Mutex
	acked := 0
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				user := uint32(100 + w*1000 + i)
				tok, err := admin.MintToken(ctx, user, time.Hour)
				if err != nil {
					return // the server is gone
				}
				sub, err := client.Subscribe(ctx, client.SubscriberConfig{Addr: target.ClientAddr, Token: tok})
				if err != nil {
					return
				}
				err = sub.FollowFrom(ctx, account.ID, "qr")
				_ = sub.Close()
				if err != nil {
					return
				}
				mu.Lock()
				acked++
				mu.Unlock()
			}
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		mu.Lock()
		n := acked
		mu.Unlock()
		if n >= 40 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // follows are coming; kill in their midst
	}
	proc.Kill()
	wg.Wait()
	if proc, err = serverproc.StartWith(dir, []string{"--client-listen", target.ClientAddr, "--admin-listen", strings.TrimPrefix(target.AdminURL, "http://"), "--admin-token", target.AdminToken}); err != nil {
		t.Fatal(err)
	}
	defer proc.Stop()
	days, err := admin.FollowerStats(ctx, account.ID, "", "")
	if err != nil {
		t.Fatal(err)
	}
	today := days[len(days)-1]
	mu.Lock()
	qr := uint64(acked)
	mu.Unlock()
	got := today.BySource["qr"]
	// An acknowledged follow is counted; one committed whose answer the
	// kill cut off is counted too (it is durable), so at most one more per
	// connection.
	if got < qr || got > qr+4 {
		page, _ := admin.ListFollowers(ctx, account.ID, 0, true, 10)
		t.Fatalf("qr follows counted %d, acknowledged %d (today %+v, followers %d)", got, qr, today, page.Followers)
	}
	want := map[string]uint64{"import": 3, "article": 2, "qr": got}
	if !reflect.DeepEqual(today.BySource, want) || today.New != 5+got || today.Unfollows != 1 || today.Net != int64(4+got) || today.Cumulative != 4+got {
		t.Fatalf("today %+v, want new %d by source %v, 1 unfollow, %d followers", today, 5+got, want, 4+got)
	}
	page, err := admin.ListFollowers(ctx, account.ID, 0, true, 10)
	if err != nil || page.Followers != today.Cumulative {
		t.Fatalf("follower count %d (%v), figures say %d", page.Followers, err, today.Cumulative)
	}
}
