package fanout

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"herald/storage"
)

// benchmarkSmallBesideHuge measures the acknowledgement latency of small
// publishes (an account of 10 followers) on an on-disk store, while another
// account with huge followers publishes when busy is set: back to back
// (every == 0), or one every `every`.
func benchmarkSmallBesideHuge(b *testing.B, huge int, busy bool, every time.Duration) {
	store, err := storage.Open(b.TempDir(), storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	e := New(store, withUnlimited(Config{}))
	defer e.Close()
	ctx := context.Background()
	big, _, _ := createAccount(ctx, e, "big", unlimited)
	small, _, _ := createAccount(ctx, e, "small", unlimited)
	for start := 0; start < huge; start += 1 << 16 {
		ids := make([]uint32, 0, 1<<16)
		for u := start; u < min(start+1<<16, huge); u++ {
			ids = append(ids, uint32(u+1))
		}
		if _, err := followWait(ctx, e, big.ID, ids); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := followWait(ctx, e, small.ID, []uint32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}); err != nil {
		b.Fatal(err)
	}
	var stop atomic.Bool
	done := make(chan int)
	go func() {
		n := 0
		for busy && !stop.Load() {
			if _, err := publishWait(ctx, e, PublishRequest{Account: big.ID, ClientMsgID: fmt.Sprint("big-", n)}); err != nil {
				b.Error(err)
				break
			}
			n++
			time.Sleep(every)
		}
		done <- n
	}()
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		began := time.Now()
		if _, err := publishWait(ctx, e, PublishRequest{Account: small.ID, ClientMsgID: fmt.Sprint("small-", i)}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(began))
	}
	b.StopTimer()
	stop.Store(true)
	bigs := <-done
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(bigs)/b.Elapsed().Seconds(), "huge-publishes/s")
}

func BenchmarkSmallPublish_alone(b *testing.B) { benchmarkSmallBesideHuge(b, 1_000_000, false, 0) }

func BenchmarkSmallPublish_beside1MFollowers(b *testing.B) {
	benchmarkSmallBesideHuge(b, 1_000_000, true, 0)
}

func BenchmarkSmallPublish_beside10MFollowers(b *testing.B) {
	benchmarkSmallBesideHuge(b, 10_000_000, true, 0)
}

func BenchmarkSmallPublish_beside10MFollowersEvery100ms(b *testing.B) {
	benchmarkSmallBesideHuge(b, 10_000_000, true, 100*time.Millisecond)
}
