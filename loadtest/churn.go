package loadtest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"herald/client"
	"herald/wire"
)

// churn is the churn scenario: while broadcasts are published one every
// Interval, clients are disconnected and reconnected, ChurnRate a second,
// each resuming from the last broadcast it received. Every client must
// still end with every broadcast exactly once, in order.
func (e *env) churn(ctx context.Context, cfg Config) error {
	account, err := e.seed(ctx, cfg, "loadtest-churn")
	if err != nil {
		return err
	}
	base, err := e.newest(ctx)
	if err != nil {
		return err
	}
	// Each follower's receiver runs per connection; listening[i] is done
	// when connection i's receiver has drained.
	listening := make([]chan struct{}, cfg.Clients)
	var mu sync.Mutex // guards listening
	listen := func(f *follower) {
		done := make(chan struct{})
		mu.Lock()
		listening[f.user-1] = done
		mu.Unlock()
		go func() {
			defer close(done)
			for m := range f.sub.Messages() {
				f.record(m, []uint32{account.ID})
			}
		}()
	}
	followers, err := e.connectHere(ctx, cfg, base, listen)
	defer closeAll(followers)
	if err != nil {
		return err
	}

	pub, err := e.publisher(ctx, account)
	if err != nil {
		return err
	}
	defer pub.Close()

	// The churner reconnects clients round-robin until publishing ends.
	stop := make(chan struct{})
	churned := make(chan error, 1)
	go func() {
		churned <- e.churnClients(ctx, cfg, followers, base, listening, &mu, listen, stop)
	}()

	baseCPU := e.serverCPU()
	e.bar.phase("publishing", cfg.Broadcasts)
	runStart := time.Now()
	e.report.start = runStart
	payload := make([]byte, cfg.Payload)
	ids := make([]uint64, cfg.Broadcasts)
	acks := make([]time.Time, cfg.Broadcasts)
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	for i := range ids {
		stamp(payload, i)
		res, err := pub.Publish(ctx, client.Message{ContentType: "application/octet-stream", Payload: payload})
		if err != nil {
			close(stop)
			<-churned
			return fmt.Errorf("loadtest: publish %d: %w", i, err)
		}
		ids[i], acks[i] = res.MessageID, time.Now()
		e.bar.add(1)
		<-tick.C
	}
	close(stop)
	if err := <-churned; err != nil {
		return err
	}
	// Let every client finish: each must reach the last broadcast.
	deadline := time.Now().Add(cfg.Timeout)
	for _, f := range followers {
		for f.last.Load() < ids[len(ids)-1] && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	e.report.Elapsed = time.Since(runStart)
	e.measureServer(baseCPU)
	e.logf("%d broadcasts published with %d reconnects; verifying", cfg.Broadcasts, e.report.Reconnects)
	for i, f := range followers {
		_ = f.sub.Close()
		mu.Lock()
		done := listening[i]
		mu.Unlock()
		<-done
	}
	e.report.verify(followers, ids, acks)
	return nil
}

// churnClients disconnects and reconnects clients round-robin at
// cfg.ChurnRate a second until stop, each resuming after the last
// broadcast it received.
func (e *env) churnClients(ctx context.Context, cfg Config, followers []*follower, base wire.Cursor, listening []chan struct{}, mu *sync.Mutex, listen func(*follower), stop <-chan struct{}) error {
	if cfg.ChurnRate <= 0 {
		return nil
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / cfg.ChurnRate))
	defer tick.Stop()
	for next := 0; ; next = (next + 1) % len(followers) {
		select {
		case <-stop:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		f := followers[next]
		_ = f.sub.Close()
		mu.Lock()
		done := listening[next]
		mu.Unlock()
		<-done // f.got is now complete for that connection
		cursor := base.Clone()
		if n := len(f.got); n > 0 {
			cursor = cursor.Advance(f.got[n-1].id)
		}
		token, err := mintToken(ctx, e.admin, f.user)
		if err != nil {
			return err
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		sub, err := client.Subscribe(cctx, client.SubscriberConfig{Addrs: e.target.dialAddrs(cfg, f.user), LocalAddr: sourceAddr(cfg, e.target, next), Token: token, Cursor: cursor})
		if err != nil {
			cancel()
			return fmt.Errorf("loadtest: reconnect user %d: %w", f.user, err)
		}
		f.sub = sub
		listen(f)
		err = sub.WaitLive(cctx)
		cancel()
		if err != nil {
			return fmt.Errorf("loadtest: reconnect user %d: %w", f.user, err)
		}
		e.report.Reconnects++
	}
}
