package fanout

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"

	"herald/engine"
	"herald/storage"
	"herald/wire"
)

// benchmarkUnicast measures durable unicasts per second on an on-disk
// store, 64 in flight, each to one random follower of an account of
// 10,000: a notification of a template (notify), or a broadcast to a
// listed follower (the same audience, for comparison).
func benchmarkUnicast(b *testing.B, notify bool) {
	store, err := storage.Open(b.TempDir(), storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	e := New(store, withUnlimited(Config{Logger: slog.New(slog.DiscardHandler)}))
	defer e.Close()
	ctx := context.Background()
	a, _, err := createAccount(ctx, e, "shop", unlimited)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]uint32, 10_000)
	for i := range ids {
		ids[i] = uint32(i + 1)
	}
	if _, err := followWait(ctx, e, a.ID, ids); err != nil {
		b.Fatal(err)
	}
	tmpl := wire.TemplateInfo{Name: "receipt", Title: "Receipt", Fields: []string{"amount", "shop"}}
	if _, err := engine.Call(ctx, e.Template, engine.TemplateRequest{Account: a.ID, Op: engine.TemplateDefine, Template: tmpl}); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(32) // 64 in flight on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			req := PublishRequest{Account: a.ID, ClientMsgID: fmt.Sprint("m-", i), Users: []uint32{uint32(1 + i%10_000)}}
			if notify {
				req.Notification = &wire.Notification{Template: "receipt", Fields: []wire.Field{{Name: "amount", Value: "9.99"}, {Name: "shop", Value: "Tea House"}}}
			} else {
				req.Payload = []byte("amount=9.99 shop=Tea House")
			}
			if res, err := publishWait(ctx, e, req); err != nil || res.Recipients != 1 {
				b.Errorf("%+v, %v", res, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "durable/s")
}

func BenchmarkUnicast_notification(b *testing.B)    { benchmarkUnicast(b, true) }
func BenchmarkUnicast_listedBroadcast(b *testing.B) { benchmarkUnicast(b, false) }
