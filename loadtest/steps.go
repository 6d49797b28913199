package loadtest

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"herald/client"
	"herald/internal/testtier"
	"herald/wire"
)

// Steps the scenarios share.

// createAccount makes one of the run's accounts, of tier or, if that is
// empty, of the target's quota-free tier.
func (e *env) createAccount(ctx context.Context, name, tier string) (client.Account, error) {
	a, err := e.admin.CreateAccount(ctx, name, cmp.Or(tier, e.target.Tier, testtier.Unlimited.Name))
	if err != nil {
		return a, fmt.Errorf("loadtest: create account: %w", err)
	}
	return a, nil
}

// importFollowers makes users 1..cfg.Followers follow account and records
// the import rate (over every import of the run).
func (e *env) importFollowers(ctx context.Context, cfg Config, account client.Account) error {
	start := time.Now()
	imported, err := e.admin.ImportFollowers(ctx, account.ID, followerIDs(cfg.Followers))
	if err != nil {
		return fmt.Errorf("loadtest: import followers: %w", err)
	}
	took := time.Since(start)
	e.imported += imported.Added
	e.importTime += took
	e.report.ImportRate = float64(e.imported) / e.importTime.Seconds()
	e.logf("account %d: %d followers imported (%.0f/s)", account.ID, imported.Added, float64(imported.Added)/took.Seconds())
	return nil
}

// seed is createAccount and importFollowers.
func (e *env) seed(ctx context.Context, cfg Config, name string) (client.Account, error) {
	a, err := e.createAccount(ctx, name, "")
	if err != nil {
		return a, err
	}
	return a, e.importFollowers(ctx, cfg, a)
}

// mint mints every client's token before the measured connect.
func (e *env) mint(ctx context.Context, clients *crowd) error {
	start := time.Now()
	if err := clients.mint(ctx); err != nil {
		return err
	}
	e.logf("%d tokens minted over the admin API in %v", e.report.Config.Clients, time.Since(start).Round(time.Millisecond))
	return nil
}

// newest is where the server's log ends, per shard: clients start after
// it, so history from other runs is not replayed.
func (e *env) newest(ctx context.Context) (wire.Cursor, error) {
	health, err := e.admin.Health(ctx)
	if err != nil {
		return nil, fmt.Errorf("loadtest: healthz: %w", err)
	}
	if health.Cursor == "" && health.LastMessageID != 0 {
		return wire.CursorAt(health.LastMessageID), nil // a server before cursors
	}
	c, err := wire.ParseCursor(health.Cursor)
	if err != nil {
		return nil, fmt.Errorf("loadtest: healthz: %w", err)
	}
	return c, nil
}

// expectedIDs are the ids of n broadcasts published in turn by accounts
// on an idle server whose log ends at newest: each shard (an account's,
// wire.AccountShard) numbers its own in commit order.
func expectedIDs(newest wire.Cursor, accounts []uint32, n int) []uint64 {
	next := newest.Clone()
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = next.At(wire.AccountShard(accounts[i%len(accounts)])) + 1
		next = next.Advance(ids[i])
	}
	return ids
}

// publisher connects a publisher for account.
func (e *env) publisher(ctx context.Context, account client.Account) (*client.Publisher, error) {
	pub, err := client.DialPublisher(ctx, client.PublisherConfig{Addr: e.target.PublisherAddr, Addrs: e.target.PublisherAddrs, Account: account.ID, Secret: account.Secret})
	if err != nil {
		return nil, fmt.Errorf("loadtest: publisher: %w", err)
	}
	return pub, nil
}

// stamp writes a broadcast's header: the send time and its index.
func stamp(payload []byte, i int) { stampAt(payload, i, time.Now()) }

// stampAt writes a broadcast's header with the time latency is measured
// from: when it was sent, or when it was due at a fixed rate.
func stampAt(payload []byte, i int, t time.Time) {
	binary.BigEndian.PutUint64(payload, uint64(t.UnixNano()))
	binary.BigEndian.PutUint64(payload[8:], uint64(i))
}

// record keeps m if it is a stamped broadcast of one of the run's
// accounts and reports whether it was.
func (f *follower) record(m client.Push, accounts []uint32) bool {
	now := time.Now()
	if !slices.Contains(accounts, m.Account) || len(m.Payload) < 16 {
		return false // another account's broadcast, not this run's
	}
	sent := time.Unix(0, int64(binary.BigEndian.Uint64(m.Payload)))
	f.got = append(f.got, receipt{id: m.ID, at: now, latency: now.Sub(sent)})
	f.last.Store(m.ID)
	return true
}

// closeAll closes every connected client.
func closeAll(followers []*follower) {
	for _, f := range followers {
		if f != nil && f.sub != nil {
			_ = f.sub.Close()
		}
	}
}

// usage is the embedded processes' CPU time so far and resident memory
// now, summed (0 for an external server).
func (e *env) usage() (cpu time.Duration, rss int64) {
	for _, u := range e.servers {
		c, r := u()
		cpu, rss = cpu+c, rss+r
	}
	return cpu, rss
}

// serverCPU is the embedded processes' CPU time so far.
func (e *env) serverCPU() time.Duration {
	cpu, _ := e.usage()
	return cpu
}

// measureServer records the embedded processes' CPU time since baseCPU
// and their resident memory now.
func (e *env) measureServer(baseCPU time.Duration) {
	if len(e.servers) == 0 {
		return
	}
	cpu, rss := e.usage()
	e.report.ServerCPU, e.report.ServerRSS = cpu-baseCPU, rss
}

// connectHere connects clients 1..cfg.Clients in this process, each
// handed to started as it connects, and records the connect rate; the
// caller closes the followers, also on an error.
func (e *env) connectHere(ctx context.Context, cfg Config, base wire.Cursor, started func(*follower)) ([]*follower, error) {
	e.bar.phase("connecting", cfg.Clients)
	start := time.Now()
	mint := func(ctx context.Context, user uint32) (string, error) { return mintToken(ctx, e.admin, user) }
	followers, err := connect(ctx, cfg, e.target, mint, 1, uint32(cfg.Clients), base, 0, started, func() { e.bar.add(1) })
	if err != nil {
		return followers, err
	}
	e.report.ConnectRate = float64(cfg.Clients) / time.Since(start).Seconds()
	e.report.ClientProcesses = 1
	return followers, nil
}

// offer calls send for i = 0..n-1 from cfg.Publishers goroutines, as fast
// as each returns or, with cfg.Rate, each at its scheduled time; sent is
// when it was due (latency measured from it counts the time spent behind
// a slow server: no coordinated omission).
func (e *env) offer(ctx context.Context, cfg Config, n int, send func(i int, sent time.Time)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	began := time.Now()
	for range cfg.Publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				sent := time.Now()
				if cfg.Rate > 0 {
					sent = began.Add(time.Duration(float64(i) / cfg.Rate * float64(time.Second)))
					time.Sleep(time.Until(sent))
				}
				send(i, sent)
			}
		}()
	}
	wg.Wait()
}
