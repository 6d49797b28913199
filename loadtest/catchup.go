package loadtest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"herald/client"
)

// catchUp is the catchup scenario: the followers are offline while the
// broadcasts are published, then every client reconnects at once from the
// cursor it had, and each must receive every broadcast exactly once, in
// order.
func (e *env) catchUp(ctx context.Context, cfg Config) error {
	account, err := e.seed(ctx, cfg, "loadtest-catchup")
	if err != nil {
		return err
	}
	cursor, err := e.lastMessageID(ctx)
	if err != nil {
		return err
	}
	pub, err := e.publisher(ctx, account)
	if err != nil {
		return err
	}
	defer pub.Close()
	payload := make([]byte, cfg.Payload)
	ids := make([]uint64, cfg.Broadcasts)
	acks := make([]time.Time, cfg.Broadcasts)
	for i := range ids {
		stamp(payload, i)
		res, err := pub.Publish(ctx, client.Message{ContentType: "application/octet-stream", Payload: payload})
		if err != nil {
			return fmt.Errorf("loadtest: publish %d: %w", i, err)
		}
		ids[i], acks[i] = res.MessageID, time.Now()
		if i > 0 && ids[i] != ids[i-1]+1 {
			return fmt.Errorf("loadtest: broadcast got id %d after %d: another publisher is active on this server; run against an idle one", ids[i], ids[i-1])
		}
	}
	e.logf("%d broadcasts published to %d offline followers; reconnecting %d clients at once", cfg.Broadcasts, cfg.Followers, cfg.Clients)

	var baseCPU time.Duration
	if e.server != nil {
		baseCPU, _ = e.server.usage()
	}
	var receivers sync.WaitGroup
	var done atomic.Int64
	allDone := make(chan struct{})
	receive := func(f *follower) {
		receivers.Add(1)
		go func() {
			defer receivers.Done()
			have := 0
			for m := range f.sub.Messages() {
				if !f.record(m, account.ID) {
					continue
				}
				if m.ID >= ids[0] && m.ID <= ids[len(ids)-1] {
					if have++; have == len(ids) {
						f.caughtUp = f.got[len(f.got)-1].at
						e.bar.add(1)
						if done.Add(1) == int64(cfg.Clients) {
							close(allDone)
						}
					}
				}
			}
		}()
	}
	e.bar.phase("catching up", cfg.Clients)
	runStart := time.Now()
	e.report.start = runStart
	followers, connectTime, err := connect(ctx, cfg, e.target, e.admin, cursor, receive, &progress{})
	defer closeAll(followers)
	if err != nil {
		return err
	}
	e.report.ConnectRate = float64(cfg.Clients) / connectTime.Seconds()
	select {
	case <-allDone:
	case <-time.After(cfg.Timeout):
		e.report.Problems = append(e.report.Problems, fmt.Sprintf("after %v only %d of %d clients had caught up", cfg.Timeout, done.Load(), cfg.Clients))
	case <-ctx.Done():
		return ctx.Err()
	}
	e.report.Elapsed = time.Since(runStart)
	e.logf("%d of %d clients caught up on %d broadcasts in %v", done.Load(), cfg.Clients, cfg.Broadcasts, e.report.Elapsed.Round(time.Millisecond))
	if e.server != nil {
		cpu, _ := e.server.usage()
		e.report.ServerCPU = cpu - baseCPU
	}
	closeAll(followers)
	receivers.Wait()
	var catchUps []time.Duration
	for _, f := range followers {
		if !f.caughtUp.IsZero() {
			catchUps = append(catchUps, f.caughtUp.Sub(f.since))
		}
	}
	e.report.CatchUp = percentiles(catchUps)
	e.report.verify(followers, ids, acks)
	return nil
}
