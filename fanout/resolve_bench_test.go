package fanout

import (
	"math/rand/v2"
	"slices"
	"strconv"
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
// already at 4 this month), on an on-disk store. An iteration of
// publish/* is what a publish does: resolveAudience in the preparer, then
// the cap read and subtraction in the writer; resolve/* is the
// preparer's part alone (prepare/*, below, adds the encoding; capRead/*
// is the writer's cap read alone). cached reads the sets from the store's
// set cache (unchanged since the last publish), afterFollow follows one
// new user
// before each publish (the cache written through), uncached reads every
// chunk from Pebble, and floor does the same set operations on bitmaps
// already decoded in memory.
func BenchmarkResolveAudience10M(b *testing.B) {
	dir := b.TempDir()
	const account = 1
	now := uint64(time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC).UnixMilli())
	month := monthOf(now)
	seedAudience10M(b, dir, account, month)
	expr, err := wire.ParseExpr("vip AND NOT churned")
	if err != nil {
		b.Fatal(err)
	}
	req := PublishRequest{Account: account, Expr: expr}
	// next is the user an afterFollow iteration follows: never one that
	// an earlier run (-count) already added, which would change nothing.
	next := uint32(40_000_001)
	followNext := func(b *testing.B, store *storage.Store) {
		batch := store.NewBatch()
		defer batch.Close()
		if _, err := batch.AddFollowers(account, []uint32{next}); err != nil {
			b.Fatal(err)
		}
		if err := batch.Commit(); err != nil {
			b.Fatal(err)
		}
		next++
	}
	run := func(b *testing.B, store *storage.Store, withCap, follow bool) {
		var total, recipients uint64
		for b.Loop() {
			if follow {
				followNext(b, store)
			}
			audience, err := resolveAudienceNoMemo(store, &req)
			if err != nil {
				b.Fatal(err)
			}
			total = audience.GetCardinality()
			if withCap {
				batch := store.NewBatch()
				atCap, err := batch.ReceivedAtLeast(account, month, 4)
				batch.Close()
				if err != nil {
					b.Fatal(err)
				}
				audience.AndNot(atCap)
			}
			recipients = audience.GetCardinality()
		}
		b.ReportMetric(float64(total), "audience")
		b.ReportMetric(float64(recipients), "recipients")
	}
	open := func(b *testing.B, setCache int64) *storage.Store {
		store, err := storage.Open(dir, storage.Options{SetCacheBytes: setCache})
		if err != nil {
			b.Fatal(err)
		}
		return store
	}
	// prepare/* is what a preparer does: resolve, then encode the chunks;
	// unchanged goes through the audience memo with the sets unchanged
	// since the last publish, afterFollow through the memo after a follow.
	prepare := func(b *testing.B, store *storage.Store, memo *audienceMemo, follow bool) {
		var chunks int64
		for b.Loop() {
			if follow {
				followNext(b, store)
			}
			audience, encoded, err := resolveAudience(store, memo, &req, nil)
			if err == nil && encoded.Empty() {
				encoded, err = storage.EncodeSet(audience)
			}
			if err != nil {
				b.Fatal(err)
			}
			chunks = encoded.Bytes()
		}
		b.ReportMetric(float64(chunks), "encoded-B")
	}
	for _, c := range []struct {
		name         string
		memo, follow bool
	}{{"cached", false, false}, {"unchanged", true, false}, {"afterFollow", true, true}} {
		b.Run("prepare/"+c.name, func(b *testing.B) {
			store := open(b, 0)
			defer store.Close()
			var memo *audienceMemo
			if c.memo {
				memo = newAudienceMemo(64 << 20)
			}
			if _, _, err := resolveAudience(store, memo, &req, nil); err != nil { // load the sets
				b.Fatal(err)
			}
			prepare(b, store, memo, c.follow)
		})
	}
	// capRead/* is the writer's read of the at-cap set alone: from the
	// set cache, or (uncached) every chunk from Pebble, as before the
	// writer read it through the cache.
	for _, c := range []struct {
		name  string
		cache int64
	}{{"uncached", -1}, {"cached", 0}} {
		b.Run("capRead/"+c.name, func(b *testing.B) {
			store := open(b, c.cache)
			defer store.Close()
			var atCap uint64
			for b.Loop() {
				batch := store.NewBatch()
				set, err := batch.ReceivedAtLeast(account, month, 4)
				batch.Close()
				if err != nil {
					b.Fatal(err)
				}
				atCap = set.GetCardinality()
			}
			b.ReportMetric(float64(atCap), "at-cap")
		})
	}
	for _, part := range []string{"publish", "resolve"} {
		withCap := part == "publish"
		b.Run(part+"/uncached", func(b *testing.B) {
			store := open(b, -1)
			defer store.Close()
			run(b, store, withCap, false)
		})
		b.Run(part+"/cached", func(b *testing.B) {
			store := open(b, 0)
			defer store.Close()
			if _, err := resolveAudienceNoMemo(store, &req); err != nil { // load the sets
				b.Fatal(err)
			}
			run(b, store, withCap, false)
		})
		b.Run(part+"/afterFollow", func(b *testing.B) {
			store := open(b, 0)
			defer store.Close()
			if _, err := resolveAudienceNoMemo(store, &req); err != nil {
				b.Fatal(err)
			}
			run(b, store, withCap, true)
		})
		b.Run(part+"/floor", func(b *testing.B) {
			store := open(b, -1)
			followers, err := store.Followers(account)
			var vip, churned storage.Tag
			if err == nil {
				vip, err = store.TagByName(account, "vip")
			}
			if err == nil {
				churned, err = store.TagByName(account, "churned")
			}
			var vips, churns, blocked, atCap *roaring.Bitmap
			if err == nil {
				vips, err = store.TagMembers(vip.ID)
			}
			if err == nil {
				churns, err = store.TagMembers(churned.ID)
			}
			if err == nil {
				blocked, err = store.Blocked(account)
			}
			if err == nil {
				batch := store.NewBatch()
				atCap, err = batch.ReceivedAtLeast(account, month, 4)
				batch.Close()
			}
			store.Close()
			if err != nil {
				b.Fatal(err)
			}
			var recipients uint64
			for b.Loop() {
				audience := followers.Clone()
				audience.And(vips)
				audience.AndNot(churns)
				audience.AndNot(blocked)
				if withCap {
					audience.AndNot(atCap)
				}
				recipients = audience.GetCardinality()
			}
			b.ReportMetric(float64(recipients), "recipients")
		})
	}
}

// seedAudience10M writes BenchmarkResolveAudience10M's account to an
// on-disk store in dir and compacts it.
func seedAudience10M(b *testing.B, dir string, account, month uint32) {
	store, err := storage.Open(dir, storage.Options{})
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

func resolveAudienceNoMemo(store *storage.Store, req *PublishRequest) (*roaring.Bitmap, error) {
	audience, _, err := resolveAudience(store, nil, req, nil)
	return audience, err
}

// BenchmarkCappedPublishWriter10M is the writer's part of a publish to
// BenchmarkResolveAudience10M's audience (the service tier's cap, 1,000,000
// followers at it), prepared beforehand as the engine does (untimed): the
// apply in a batch that is then dropped, dryRun answering the counts only,
// publish also counting each recipient's broadcast for the cap and storing
// the broadcast. The at-cap set is unchanged between prepare and apply, as
// it is for an account that publishes after its last publish committed.
// prepare times the preparer's part.
func BenchmarkCappedPublishWriter10M(b *testing.B) {
	dir := b.TempDir()
	const account = 1
	at := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	seedAudience10M(b, dir, account, monthOf(uint64(at.UnixMilli())))
	expr, err := wire.ParseExpr("vip AND NOT churned")
	if err != nil {
		b.Fatal(err)
	}
	store, err := storage.Open(dir, storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	e := New(store, Config{Now: func() time.Time { return at }})
	defer e.Close()
	// prepare: the preparer's part of the publish (resolving, subtracting
	// the followers at the cap, preparing the count), off the writer.
	b.Run("prepare", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			o := &publishOp{req: PublishRequest{Account: account, Expr: expr, ClientMsgID: "p" + strconv.Itoa(i), ContentType: "text/plain", Payload: []byte("news")}}
			if o.prepare(e); o.prepErr != nil {
				b.Fatal(o.prepErr)
			}
		}
	})
	for _, dryRun := range []bool{true, false} {
		name := "publish"
		if dryRun {
			name = "dryRun"
		}
		b.Run(name, func(b *testing.B) {
			var recipients uint32
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				o := &publishOp{req: PublishRequest{Account: account, Expr: expr, ClientMsgID: "m" + strconv.Itoa(i), ContentType: "text/plain", Payload: []byte("news"), DryRun: dryRun}}
				if o.prepare(e); o.prepErr != nil {
					b.Fatal(o.prepErr)
				}
				b.StartTimer()
				batch := store.NewBatchSized(o.batchBytes()) // as the writer does
				if err := o.apply(e, batch, uint64(at.UnixMilli())); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				batch.Close()
				recipients = o.result.Recipients
				b.StartTimer()
			}
			b.ReportMetric(float64(recipients), "recipients")
		})
	}
}
