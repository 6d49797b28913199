package loadtest

import (
	"context"
	"fmt"
	"time"

	"herald/client"
)

// catchUp is the catchup scenario: the followers are offline while the
// broadcasts are published, then every client reconnects from the cursor
// it had, all at once or ReconnectRate a second, and each must receive
// every broadcast exactly once, in order.
func (e *env) catchUp(ctx context.Context, cfg Config) error {
	account, err := e.seed(ctx, cfg, "loadtest-catchup")
	if err != nil {
		return err
	}
	cursor, err := e.newest(ctx)
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

	clients, err := e.newCrowd(cfg, account.ID)
	if err != nil {
		return err
	}
	defer clients.close()
	if err := e.mint(ctx, clients); err != nil {
		return err
	}
	e.bar.phase("catching up", cfg.Clients)
	all := func(uint32) bool { return true }
	if err := clients.expect(ctx, ids, all, e.bar); err != nil {
		return err
	}
	baseCPU := e.serverCPU()
	runStart := time.Now()
	e.report.start = runStart
	connectTime, err := clients.connect(ctx, cursor, nil)
	if err != nil {
		return err
	}
	e.report.ConnectRate = float64(cfg.Clients) / connectTime.Seconds()
	select {
	case <-clients.allCaughtUp:
	case <-time.After(cfg.Timeout):
		e.report.Problems = append(e.report.Problems, fmt.Sprintf("after %v only %d of %d clients had caught up", cfg.Timeout, clients.caught.Load(), cfg.Clients))
	case <-ctx.Done():
		return ctx.Err()
	}
	e.report.Elapsed = time.Since(runStart)
	e.logf("%d of %d clients caught up on %d broadcasts in %v", clients.caught.Load(), cfg.Clients, cfg.Broadcasts, e.report.Elapsed.Round(time.Millisecond))
	e.measureServer(baseCPU)
	followers, err := clients.finish(ctx)
	if err != nil {
		return err
	}
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
