package fanout

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"herald/storage"
)

// BenchmarkDurableSingleFollows: 512 goroutines each make single follows
// (one user, one account) and wait until each is durable; the writer folds
// them into group commits. Reports durable follows per second.
func BenchmarkDurableSingleFollows(b *testing.B) {
	store, err := storage.Open(b.TempDir(), storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	e := New(store, withUnlimited(Config{}))
	defer e.Close()
	ctx := context.Background()
	a, _, err := createAccount(ctx, e, "popular", unlimited)
	if err != nil {
		b.Fatal(err)
	}
	const workers = 512
	var next atomic.Uint32
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N/workers + 1
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if _, err := followWait(ctx, e, a.ID, []uint32{next.Add(1)}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(workers*per)/b.Elapsed().Seconds(), "follows/s")
}
