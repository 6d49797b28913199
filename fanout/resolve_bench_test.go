package fanout

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/storage"
	"herald/wire"
)

// BenchmarkResolveAudience10M is DESIGN.md's audience target: an account
// with 10,000,000 followers (ids spread over 1..40,000,000), a two-tag
// expression ("vip AND NOT churned": 3,000,000 and 1,000,000 members), a
// 100,000-user blocklist and the service tier's cap (1,000,000 followers
// already at 4 this month), all read from an on-disk store. One iteration
// is what a publish does: resolveAudience in the preparer, then the cap
// read and subtraction in the writer.
func BenchmarkResolveAudience10M(b *testing.B) {
	store, err := storage.Open(b.TempDir(), storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	rng := rand.New(rand.NewPCG(3, 3))
	followers := spread(rng, 10_000_000, 40_000_000)
	pick := func(n int) []uint32 {
		out := slices.Clone(followers)
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		return out[:n]
	}
	const account = 1
	now := uint64(time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC).UnixMilli())
	month := monthOf(now)
	inBatches := func(users []uint32, fn func(b *storage.Batch, part []uint32) error) {
		for start := 0; start < len(users); start += 1 << 16 {
			part := slices.Clone(users[start:min(start+1<<16, len(users))])
			batch := store.NewBatch()
			if err := fn(batch, part); err != nil {
				b.Fatal(err)
			}
			if err := batch.Commit(); err != nil {
				b.Fatal(err)
			}
			batch.Close()
		}
	}
	inBatches([]uint32{0}, func(bt *storage.Batch, _ []uint32) error {
		if _, err := bt.CreateAccount(storage.Account{Name: "big", Tier: storage.TierService}); err != nil {
			return err
		}
		if _, err := bt.CreateTag(account, "vip"); err != nil {
			return err
		}
		_, err := bt.CreateTag(account, "churned")
		return err
	})
	inBatches(followers, func(bt *storage.Batch, part []uint32) error { _, err := bt.AddFollowers(account, part); return err })
	inBatches(pick(3_000_000), func(bt *storage.Batch, part []uint32) error {
		_, err := bt.ChangeTag(account, "vip", part, true)
		return err
	})
	inBatches(pick(1_000_000), func(bt *storage.Batch, part []uint32) error {
		_, err := bt.ChangeTag(account, "churned", part, true)
		return err
	})
	inBatches(pick(100_000), func(bt *storage.Batch, part []uint32) error { _, err := bt.Block(account, part); return err })
	capped := roaring.BitmapOf(pick(1_000_000)...)
	inBatches([]uint32{0}, func(bt *storage.Batch, _ []uint32) error {
		for range 4 {
			if err := bt.CountReceived(account, month, 4, capped); err != nil {
				return err
			}
		}
		return nil
	})
	if err := store.Compact(); err != nil {
		b.Fatal(err)
	}
	expr, err := wire.ParseExpr("vip AND NOT churned")
	if err != nil {
		b.Fatal(err)
	}
	req := PublishRequest{Account: account, Expr: expr}
	var total, recipients uint64
	for b.Loop() {
		audience, err := resolveAudience(store, &req, nil)
		if err != nil {
			b.Fatal(err)
		}
		batch := store.NewBatch()
		atCap, err := batch.ReceivedAtLeast(account, month, 4)
		batch.Close()
		if err != nil {
			b.Fatal(err)
		}
		total = audience.GetCardinality()
		audience.AndNot(atCap)
		recipients = audience.GetCardinality()
	}
	b.ReportMetric(float64(total), "audience")
	b.ReportMetric(float64(recipients), "recipients")
}

// spread draws n distinct ids uniformly from 1..limit, in order.
func spread(rng *rand.Rand, n int, limit uint32) []uint32 {
	set := roaring.New()
	for missing := n; missing > 0; missing = n - int(set.GetCardinality()) {
		for range missing {
			set.Add(1 + rng.Uint32N(limit))
		}
	}
	return set.ToArray()
}
