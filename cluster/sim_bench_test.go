package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"herald/engine"
	"herald/fanout"
	"herald/internal/natstest"
	"herald/internal/testtier"
)

// simSink is every simulated user of one loop: it counts deliveries and
// notes when the loop wrote the first and the last of a broadcast.
type simSink struct {
	delivered   atomic.Int64
	first, last atomic.Int64 // Unix ns
}

func (s *simSink) Deliver(frames [][]byte, _ []uint64) bool {
	now := time.Now().UnixNano()
	s.first.CompareAndSwap(0, now)
	s.last.Store(now)
	s.delivered.Add(int64(len(frames)))
	return true
}

// BenchmarkSimulatedOnline delivers broadcasts to 10,000,000 online
// followers held by 3 edges (2 loops each) in this process, over a real
// NATS server, from a core on an in-memory store: simulated users are
// sinks that count, so no socket is written. Users are spread over the
// edges round-robin, as a front door spreads connections. Per broadcast it
// reports: ack (publish → durable acknowledgement), first (→ the first
// loop writes it: the relay's trip), last (→ the last loop has written
// every user: the walk), job (→ the job report, the edges' outcomes
// gathered).
//
//	go test ./cluster -run '^$' -bench SimulatedOnline -benchtime 5x -count 3
func BenchmarkSimulatedOnline(b *testing.B) {
	const users, edges, loopsPerEdge = 10_000_000, 3, 2
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	bus := natstest.Start(b, nil)
	eng, err := fanout.Open(fanout.Config{InMemory: true, Tiers: testtier.Tiers(), Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	core, err := StartCore(CoreConfig{Conn: connect(b, bus.URL()), Engine: eng, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	defer core.Close()
	ctx := context.Background()
	a, err := engine.Call(ctx, eng.CreateAccount, engine.NewAccount{Name: "big", Tier: testtier.Unlimited.Name})
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]uint32, 0, 1_000_000)
	for u := uint32(1); u <= users; u++ {
		if batch = append(batch, u); len(batch) == cap(batch) || u == users {
			if _, err := engine.Call(ctx, eng.Follow, engine.Membership{Account: a.ID, Users: batch}); err != nil {
				b.Fatal(err)
			}
			batch = make([]uint32, 0, 1_000_000)
		}
	}
	var sinks []*simSink
	for i := range edges {
		edge, err := StartEdge(EdgeConfig{Conn: connect(b, bus.URL()), Name: fmt.Sprint("sim", i), Logger: logger})
		if err != nil {
			b.Fatal(err)
		}
		defer edge.Close()
		for j := range loopsPerEdge {
			l := &loop{}
			index := edge.RegisterLoop(l)
			s := &simSink{}
			sinks = append(sinks, s)
			var wg sync.WaitGroup
			wg.Add(1)
			_ = l.Execute(func() {
				defer wg.Done()
				for u := uint32(1 + i*loopsPerEdge + j); u <= users; u += edges * loopsPerEdge {
					index.Add(u, s, false, nil, 0)
				}
			})
			wg.Wait()
		}
	}
	for core.Edges() < edges {
		time.Sleep(10 * time.Millisecond) // heartbeats are time-driven
	}
	var ack, first, last, job time.Duration
	b.ResetTimer()
	for i := range b.N {
		for _, s := range sinks {
			s.first.Store(0)
		}
		done := make(chan engine.JobReport, 1)
		sent := time.Now()
		r, err := engine.Call(ctx, eng.Publish, engine.PublishRequest{Account: a.ID, ClientMsgID: fmt.Sprint("sim", i), Payload: make([]byte, 256),
			OnJobDone: func(r engine.JobReport) { done <- r }})
		if err != nil {
			b.Fatal(err)
		}
		acked := time.Now()
		report := <-done
		jobDone := time.Now()
		if report.SentLive != users || r.Recipients != users {
			b.Fatalf("broadcast %d: %d recipients, %d sent live", i, r.Recipients, report.SentLive)
		}
		firstAt, lastAt := int64(0), int64(0)
		for _, s := range sinks {
			if f := s.first.Load(); firstAt == 0 || f < firstAt {
				firstAt = f
			}
			lastAt = max(lastAt, s.last.Load())
		}
		ack += acked.Sub(sent)
		first += time.Unix(0, firstAt).Sub(sent)
		last += time.Unix(0, lastAt).Sub(sent)
		job += jobDone.Sub(sent)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(ack.Milliseconds())/n, "ack-ms")
	b.ReportMetric(float64(first.Milliseconds())/n, "first-ms")
	b.ReportMetric(float64(last.Milliseconds())/n, "last-ms")
	b.ReportMetric(float64(job.Milliseconds())/n, "job-ms")
	total := int64(0)
	for _, s := range sinks {
		total += s.delivered.Load()
	}
	if total != int64(users)*int64(b.N) {
		b.Fatalf("delivered %d, want %d", total, users*b.N)
	}
}
