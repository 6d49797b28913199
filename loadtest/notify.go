package loadtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"herald/client"
	"herald/wire"
)

// notifyTemplate is the notify scenario's template: the time latency is
// measured from, and the notification's index.
var notifyTemplate = client.Template{Name: "loadtest.receipt", Title: "Load test receipt", Fields: []string{"sent", "n"}}

// notify is the notify scenario: Publishers send Notifications, each to
// one random connected follower, at Rate (or as fast as acknowledged),
// while Broadcasts to every follower go out spread over them. Every
// client must end with exactly its own notifications and every broadcast,
// each once, in id order.
func (e *env) notify(ctx context.Context, cfg Config) error {
	account, err := e.seed(ctx, cfg, "loadtest-notify")
	if err != nil {
		return err
	}
	base, err := e.newest(ctx)
	if err != nil {
		return err
	}
	listening := make([]chan struct{}, cfg.Clients)
	received := make([]atomic.Int64, cfg.Clients)
	listen := func(f *follower) {
		done := make(chan struct{})
		listening[f.user-1] = done
		go func() {
			defer close(done)
			for m := range f.sub.Messages() {
				if f.recordNotice(m, account.ID) {
					received[f.user-1].Add(1)
				}
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
	if _, err := pub.DefineTemplate(ctx, notifyTemplate); err != nil {
		return fmt.Errorf("loadtest: define the template: %w", err)
	}

	var (
		mu         sync.Mutex
		latencies  []time.Duration
		ackTimes   []time.Time
		addressed  = make([][]uint64, cfg.Clients) // each user's notifications
		broadcasts []uint64
		bcastAcks  []time.Time
		acked      atomic.Int64
	)
	problem := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(e.report.Problems) < 20 {
			e.report.Problems = append(e.report.Problems, fmt.Sprintf(format, args...))
		}
	}
	run := fmt.Sprintf("lt-%d", time.Now().UnixNano())
	baseCPU := e.serverCPU()
	e.bar.phase("notifying", cfg.Notifications)
	began := time.Now()
	e.report.start = began
	// The broadcaster sends broadcast k once k/Broadcasts of the
	// notifications are acknowledged.
	broadcasting := make(chan error, 1)
	go func() {
		payload := make([]byte, cfg.Payload)
		for k := range cfg.Broadcasts {
			for acked.Load() < int64(k*cfg.Notifications/cfg.Broadcasts) && ctx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
			stamp(payload, k)
			res, err := pub.Publish(ctx, client.Message{ContentType: "application/octet-stream", Payload: payload})
			if err != nil {
				broadcasting <- fmt.Errorf("loadtest: broadcast %d: %w", k, err)
				return
			}
			mu.Lock()
			broadcasts, bcastAcks = append(broadcasts, res.MessageID), append(bcastAcks, time.Now())
			mu.Unlock()
		}
		broadcasting <- nil
	}()
	e.offer(ctx, cfg, cfg.Notifications, func(i int, sent time.Time) {
		user := uint32(1 + rand.IntN(cfg.Clients))
		n := client.Notification{ClientMsgID: fmt.Sprintf("%s-%d", run, i), Template: notifyTemplate.Name, Users: []uint32{user},
			Fields: map[string]string{"sent": strconv.FormatInt(sent.UnixNano(), 10), "n": strconv.Itoa(i)}}
		res, err := pub.Notify(ctx, n)
		done := time.Now()
		if err != nil {
			e.countError(&mu, err)
			problem("notification %d: %v", i, err)
			return
		}
		if res.Recipients != 1 || res.Duplicate {
			problem("notification %d to user %d: %+v, want one new recipient", i, user, res)
		}
		mu.Lock()
		latencies, ackTimes = append(latencies, done.Sub(sent)), append(ackTimes, done)
		addressed[user-1] = append(addressed[user-1], res.MessageID)
		mu.Unlock()
		acked.Add(1)
		e.bar.add(1)
		if i%100 == 0 {
			again, err := pub.Notify(ctx, n)
			if err != nil || !again.Duplicate || again.MessageID != res.MessageID {
				problem("retry of notification %d (id %d): %+v, %v; want DUPLICATE with the same id", i, res.MessageID, again, err)
			}
		}
	})
	elapsed := time.Since(began)
	if err := <-broadcasting; err != nil {
		return err
	}
	// Let every client finish: each must have its notifications and every
	// broadcast.
	deadline := time.Now().Add(cfg.Timeout)
	for i, f := range followers {
		want := int64(len(addressed[i]) + len(broadcasts))
		for received[f.user-1].Load() < want && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	e.report.Elapsed = time.Since(began)
	e.measureServer(baseCPU)
	e.report.AckLatency = percentiles(latencies)
	e.report.PublishRate = float64(len(latencies)) / elapsed.Seconds()
	e.logf("%d notifications acknowledged in %v (%.0f/s) with %d broadcasts; verifying", len(latencies), elapsed.Round(time.Millisecond), e.report.PublishRate, len(broadcasts))
	for i, f := range followers {
		_ = f.sub.Close()
		<-listening[i]
	}
	e.report.verifyNotified(followers, broadcasts, bcastAcks, addressed)
	e.report.Lost += cfg.Notifications - len(latencies)
	return nil
}

// recordNotice keeps m if it is one of the run's broadcasts (stamped) or
// notifications (its "sent" field) and reports whether it was.
func (f *follower) recordNotice(m client.Push, account uint32) bool {
	if m.Notification == nil {
		return f.record(m, []uint32{account})
	}
	now := time.Now()
	if m.Account != account || m.Notification.Template != notifyTemplate.Name {
		return false
	}
	var sent int64
	for _, field := range m.Notification.Fields {
		if field.Name == "sent" {
			sent, _ = strconv.ParseInt(field.Value, 10, 64)
		}
	}
	f.got = append(f.got, receipt{id: m.ID, at: now, latency: now.Sub(time.Unix(0, sent))})
	f.last.Store(m.ID)
	return true
}

// verifyNotified checks that each follower received every broadcast and
// exactly the notifications addressed to it (addressed[user-1]), each
// once, in id order within each shard.
func (r *Report) verifyNotified(followers []*follower, broadcasts []uint64, acks []time.Time, addressed [][]uint64) {
	var latencies []time.Duration
	var times []time.Time
	for _, f := range followers {
		want := make(map[uint64]bool, len(broadcasts)+len(addressed[f.user-1]))
		for _, id := range broadcasts {
			want[id] = true
		}
		for _, id := range addressed[f.user-1] {
			want[id] = true
		}
		seen := make(map[uint64]bool, len(want))
		var prev wire.Cursor
		for _, got := range f.got {
			switch {
			case !want[got.id]:
				r.Wrong++
				if r.Wrong <= 10 {
					r.Problems = append(r.Problems, fmt.Sprintf("user %d received message %d, which is not for it", f.user, got.id))
				}
				continue
			case seen[got.id]:
				r.Duplicates++
				continue
			}
			seen[got.id] = true
			if prev.Covers(got.id) {
				r.OutOfOrder++
			}
			prev = prev.Advance(got.id)
			latencies = append(latencies, got.latency)
			times = append(times, got.at)
		}
		for id := range want {
			if !seen[id] {
				r.Lost++
				if r.Lost <= 10 {
					r.Problems = append(r.Problems, fmt.Sprintf("user %d never received message %d", f.user, id))
				}
			}
		}
	}
	r.Deliveries = len(latencies)
	r.Timeline = timeline(r.start, times)
	r.Latency = percentiles(latencies)
	if r.Elapsed > 0 {
		r.DeliveryRate = float64(r.Deliveries) / r.Elapsed.Seconds()
	}
}
