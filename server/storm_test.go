package server_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"herald/client"
	"herald/internal/serverproc"
	"herald/internal/testtier"
	"herald/internal/testutil"
	"herald/wire"
)

// TestReconnectStormIsServedInBoundedMemory: 300 offline followers each
// miss 200 broadcasts of 4 KiB (240 MB of backlog in all), then reconnect
// at once. Every one catches up completely and in order, while the server
// process's memory grows by a small fraction of the backlog: catch-up is
// paged (at most 1,000 broadcasts or 1 MiB per page) and each connection
// asks for its next page only after reading the last.
func TestReconnectStormIsServedInBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("storm test skipped in -short mode")
	}
	const (
		users      = 300
		broadcasts = 200
		payload    = 4 << 10
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	proc, admin, a := processWithFollowers(t, ctx, users)
	target := proc.Addrs()
	pub, err := client.DialPublisher(ctx, client.PublisherConfig{Addr: target.PublisherAddr, Account: a.ID, Secret: a.Secret})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	body := []byte(strings.Repeat("x", payload))
	for i := 0; i < broadcasts; i++ {
		if _, err := pub.Publish(ctx, client.Message{Payload: body}); err != nil {
			t.Fatal(err)
		}
	}
	tokens := make([]string, users)
	for i := range tokens {
		if tokens[i], err = admin.MintToken(ctx, uint32(i+1), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	_, baseRSS := proc.Proc().Usage()

	var peak int64
	sampling := make(chan struct{})
	var sampled sync.WaitGroup
	sampled.Add(1)
	go func() {
		defer sampled.Done()
		for {
			if _, rss := proc.Proc().Usage(); rss > peak {
				peak = rss
			}
			select {
			case <-sampling:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	began := time.Now()
	var g errgroup.Group
	for i := range tokens {
		g.Go(func() error {
			sub, err := client.Subscribe(ctx, client.SubscriberConfig{Addr: target.ClientAddr, Token: tokens[i], NoCompression: true})
			if err != nil {
				return err
			}
			defer sub.Close()
			for want := uint64(1); want <= broadcasts; want++ {
				select {
				case m, ok := <-sub.Messages():
					if !ok {
						return fmt.Errorf("user %d stopped: %v", i+1, sub.Err())
					}
					if m.ID != want || len(m.Payload) != payload {
						return fmt.Errorf("user %d got %d (%d bytes), want %d", i+1, m.ID, len(m.Payload), want)
					}
				case <-ctx.Done():
					return fmt.Errorf("user %d caught up to %d of %d", i+1, want-1, broadcasts)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	close(sampling)
	sampled.Wait()
	growth := peak - baseRSS
	backlog := int64(users * broadcasts * payload)
	t.Logf("%d clients caught up on %d broadcasts each in %v (%.0f clients/s); server RSS grew %d MB for %d MB of backlog",
		users, broadcasts, took.Round(time.Millisecond), float64(users)/took.Seconds(), growth>>20, backlog>>20)
	if !raceEnabled && growth > backlog/4 {
		t.Fatalf("server RSS grew %d MB during a storm with %d MB of backlog", growth>>20, backlog>>20)
	}
}

// TestStalledReadersKeepServerMemoryBounded: 50 clients stop reading while
// 25 MB of 64 KiB broadcasts is published to each; the server cuts them off
// at the outbound cap (4 MiB) instead of buffering, and every buffer a
// connection holds counts against the cap, so its memory grows by at most
// 1.25 times the sum of the caps, not with what was published.
func TestStalledReadersKeepServerMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("stalled-readers test skipped in -short mode")
	}
	const (
		stalled    = 50
		broadcasts = 400
		payload    = 64 << 10
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	proc, admin, a := processWithFollowers(t, ctx, stalled)
	target := proc.Addrs()
	for u := 1; u <= stalled; u++ {
		tok, err := admin.MintToken(ctx, uint32(u), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		r := testutil.DialRaw(t, target.ClientAddr)
		r.Welcome(0, tok)
		r.Send(wire.AppendResume(nil, wire.Resume{}, 0))
		if f, err := r.Next(5 * time.Second); err != nil || f.Type != wire.TypeResumed {
			t.Fatalf("RESUME: %s %v", f.Type, err)
		}
		// From here on this client reads nothing.
	}
	_, baseRSS := proc.Proc().Usage()
	pub, err := client.DialPublisher(ctx, client.PublisherConfig{Addr: target.PublisherAddr, Account: a.ID, Secret: a.Secret})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	body := []byte(strings.Repeat("y", payload))
	var peak int64
	for i := 0; i < broadcasts; i++ {
		if _, err := pub.Publish(ctx, client.Message{Payload: body}); err != nil {
			t.Fatal(err)
		}
		if _, rss := proc.Proc().Usage(); rss > peak {
			peak = rss
		}
	}
	health, err := admin.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	growth := peak - baseRSS
	t.Logf("%d stalled readers, %d MB published to each: %d cut off, server RSS grew %d MB", stalled, broadcasts*payload>>20, health.SlowConsumers, growth>>20)
	if health.SlowConsumers != stalled {
		t.Fatalf("%d slow-consumer disconnects, want %d", health.SlowConsumers, stalled)
	}
	// Buffering what was published would need stalled × 25 MB.
	if limit := int64(stalled*(4<<20)) * 5 / 4; !raceEnabled && growth > limit {
		t.Fatalf("server RSS grew %d MB, over %d MB", growth>>20, limit>>20)
	}
}

// processWithFollowers starts a server process and an account of the
// unlimited tier whose followers are users 1..n.
func processWithFollowers(t *testing.T, ctx context.Context, n int) (*serverproc.Process, *client.Admin, client.Account) {
	t.Helper()
	proc, err := serverproc.Start(filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proc.Stop)
	target := proc.Addrs()
	admin := &client.Admin{BaseURL: target.AdminURL, Token: target.AdminToken}
	a, err := admin.CreateAccount(ctx, "process", testtier.Unlimited.Name)
	if err != nil {
		t.Fatal(err)
	}
	var ids strings.Builder
	for u := 1; u <= n; u++ {
		fmt.Fprintln(&ids, u)
	}
	if _, err := admin.ImportFollowers(ctx, a.ID, strings.NewReader(ids.String())); err != nil {
		t.Fatal(err)
	}
	return proc, admin, a
}
