package loadtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"herald/client"
	"herald/wire"
)

// publish is the publish scenario: publisher throughput and
// acknowledgement latency, idempotent retries and, on the embedded server,
// the subscription tier's daily quota.
func (e *env) publish(ctx context.Context, cfg Config) error {
	account, err := e.seed(ctx, cfg, "loadtest-publish")
	if err != nil {
		return err
	}
	pub, err := e.publisher(ctx, account)
	if err != nil {
		return err
	}
	defer pub.Close()

	var (
		mu        sync.Mutex
		latencies []time.Duration
		ackTimes  []time.Time
		ids       = map[uint64]int{}
	)
	problem := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(e.report.Problems) < 20 {
			e.report.Problems = append(e.report.Problems, fmt.Sprintf(format, args...))
		}
	}
	payload := make([]byte, cfg.Payload)
	run := fmt.Sprintf("lt-%d", time.Now().UnixNano())
	baseCPU := e.serverCPU()
	e.bar.phase("publishing", cfg.Broadcasts)
	began := time.Now()
	e.offer(ctx, cfg, cfg.Broadcasts, func(i int, sent time.Time) {
		m := client.Message{ClientMsgID: fmt.Sprintf("%s-%d", run, i), Payload: payload}
		res, err := pub.Publish(ctx, m)
		acked := time.Now()
		if err != nil {
			e.countError(&mu, err)
			problem("publish %d: %v", i, err)
			return
		}
		mu.Lock()
		latencies = append(latencies, acked.Sub(sent))
		ackTimes = append(ackTimes, acked)
		ids[res.MessageID]++
		mu.Unlock()
		if res.Duplicate || res.Recipients != uint32(cfg.Followers) {
			problem("publish %d: %+v, want a new broadcast to %d followers", i, res, cfg.Followers)
		}
		if i%10 == 0 {
			again, err := pub.Publish(ctx, m)
			if err != nil || !again.Duplicate || again.MessageID != res.MessageID {
				problem("retry of publish %d (id %d): %+v, %v; want DUPLICATE with the same id", i, res.MessageID, again, err)
			}
		}
	})
	e.report.Elapsed = time.Since(began)
	e.measureServer(baseCPU)
	e.report.AckLatency = percentiles(latencies)
	e.report.Timeline = timeline(began, ackTimes)
	e.report.PublishRate = float64(len(latencies)) / e.report.Elapsed.Seconds()
	e.report.Lost = cfg.Broadcasts - len(latencies)
	for id, n := range ids {
		if n > 1 {
			e.report.Duplicates += n - 1
			problem("message id %d acknowledged %d times", id, n)
		}
	}
	e.logf("%d publishes acknowledged in %v (%.0f/s)", len(latencies), e.report.Elapsed.Round(time.Millisecond), e.report.PublishRate)
	if len(e.servers) == 0 {
		e.logf("quota check skipped: it expects the embedded server's default subscription quota")
		return nil
	}
	return e.checkDailyQuota(ctx, &mu)
}

// checkDailyQuota publishes twice for a fresh subscription account (1 a
// day by default): the second must be QUOTA_EXCEEDED with a reset time.
func (e *env) checkDailyQuota(ctx context.Context, mu *sync.Mutex) error {
	a, err := e.admin.CreateAccount(ctx, "loadtest-quota", "subscription")
	if err != nil {
		return fmt.Errorf("loadtest: create account: %w", err)
	}
	pub, err := e.publisher(ctx, a)
	if err != nil {
		return err
	}
	defer pub.Close()
	if _, err := pub.Publish(ctx, client.Message{Payload: []byte("first")}); err != nil {
		e.report.Problems = append(e.report.Problems, fmt.Sprintf("first broadcast of a subscription account: %v", err))
	}
	_, err = pub.Publish(ctx, client.Message{Payload: []byte("second")})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code != wire.CodeQuotaExceeded || !ce.RetryAt.After(time.Now()) {
		e.report.Problems = append(e.report.Problems, fmt.Sprintf("second broadcast of a subscription account in a day: %v, want QUOTA_EXCEEDED with a reset time", err))
	}
	if err != nil {
		e.countError(mu, err)
	}
	return nil
}

// countError counts err under its code name (CONNECTION for failures
// without one).
func (e *env) countError(mu *sync.Mutex, err error) {
	name := "CONNECTION"
	var ce *client.Error
	if errors.As(err, &ce) {
		name = ce.Code.String()
	}
	mu.Lock()
	e.report.Errors[name]++
	mu.Unlock()
}
