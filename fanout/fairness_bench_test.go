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
// (every == 0), or at a fixed rate of one every `every` (one late starts
// at once).
func benchmarkSmallBesideHuge(b *testing.B, huge int, busy bool, every time.Duration) {
	benchmarkSmallBeside(b, huge, 1, busy, every, false)
}

// benchmarkSmallBeside is benchmarkSmallBesideHuge with the huge account's
// followers every stride-th user: stride 1 is dense ids, whose chunks
// compress to a run of a few bytes; stride 2 makes every chunk a full
// 8 KiB bitmap, the stored size of a real audience of that many. capped
// puts the huge account on the service tier (4 broadcasts a month to a
// follower) and moves the engine's clock a month on before each huge
// publish, so that each is the first of its month to all the followers
// and counts every one of them for the cap.
func benchmarkSmallBeside(b *testing.B, huge, stride int, busy bool, every time.Duration, capped bool) {
	store, err := storage.Open(b.TempDir(), storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	var months atomic.Int64
	start := time.Now()
	clock := func() time.Time { return start.AddDate(0, int(months.Load()), 0) }
	e := New(store, withUnlimited(Config{Now: clock}))
	defer e.Close()
	ctx := context.Background()
	tier := unlimited
	if capped {
		tier = storage.TierService
	}
	big, _, _ := createAccount(ctx, e, "big", tier)
	small, _, _ := createAccount(ctx, e, "small", unlimited)
	for start := 0; start < huge; start += 1 << 16 {
		ids := make([]uint32, 0, 1<<16)
		for u := start; u < min(start+1<<16, huge); u++ {
			ids = append(ids, uint32(u*stride+1))
		}
		if _, err := followWait(ctx, e, big.ID, ids); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := followWait(ctx, e, small.ID, []uint32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}); err != nil {
		b.Fatal(err)
	}
	// One huge broadcast before the clock starts: what follows is the
	// steady state of an account publishing again to the same followers.
	if _, err := publishWait(ctx, e, PublishRequest{Account: big.ID, ClientMsgID: "big-first"}); err != nil {
		b.Fatal(err)
	}
	var stop atomic.Bool
	var hugeBytes atomic.Uint64 // bytes the huge publishes' commits wrote
	done := make(chan int)
	go func() {
		n, next := 0, time.Now()
		for busy && !stop.Load() {
			if capped {
				months.Add(1)
			}
			before := store.WrittenBytes()
			if _, err := publishWait(ctx, e, PublishRequest{Account: big.ID, ClientMsgID: fmt.Sprint("big-", n)}); err != nil {
				b.Error(err)
				break
			}
			// The small publishes committed meanwhile are in this too:
			// a bound from above on what one huge broadcast stores.
			hugeBytes.Add(store.WrittenBytes() - before)
			n++
			next = next.Add(every) // a fixed rate: one every `every` (load pacing, not a wait)
			time.Sleep(time.Until(next))
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
	// One small publish is in flight at a time, so a stall of the writer
	// delays one sample among the hundreds between two huge publishes:
	// the p99.9 shows what the p99 can hide.
	b.ReportMetric(float64(lat[len(lat)*999/1000].Microseconds()), "p99.9-µs")
	b.ReportMetric(float64(bigs)/b.Elapsed().Seconds(), "huge-publishes/s")
	if bigs > 0 {
		b.ReportMetric(float64(hugeBytes.Load())/float64(bigs), "written-B/huge-publish")
	}
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

func BenchmarkSmallPublish_beside10MSpreadFollowers(b *testing.B) {
	benchmarkSmallBeside(b, 10_000_000, 2, true, 0, false)
}

func BenchmarkSmallPublish_beside10MSpreadFollowersEvery100ms(b *testing.B) {
	benchmarkSmallBeside(b, 10_000_000, 2, true, 100*time.Millisecond, false)
}

func BenchmarkSmallPublish_beside10MSpreadCappedEvery100ms(b *testing.B) {
	benchmarkSmallBeside(b, 10_000_000, 2, true, 100*time.Millisecond, true)
}

func BenchmarkSmallPublish_beside10MSpreadCapped(b *testing.B) {
	benchmarkSmallBeside(b, 10_000_000, 2, true, 0, true)
}
