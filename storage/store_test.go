package storage

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"herald/storage/internal/codec"
)

func TestAccounts(t *testing.T) {
	s := openTest(t, nil)
	var a, b Account
	commit(t, s, func(bt *Batch) (err error) {
		if a, err = bt.CreateAccount(Account{Name: "news", Tier: TierService}); err != nil {
			return err
		}
		b, err = bt.CreateAccount(Account{Name: "bank", Tier: TierVerified})
		return err
	})
	if a.ID != 1 || b.ID != 2 {
		t.Fatalf("ids = %d, %d", a.ID, b.ID)
	}
	got, err := s.Account(2)
	if err != nil || got.Name != "bank" || got.Tier != TierVerified {
		t.Fatalf("got %+v, %v", got, err)
	}
	if _, err := s.Account(3); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing account: %v", err)
	}
	bt := s.NewBatch()
	defer bt.Close()
	if _, err := bt.CreateAccount(Account{Name: "x", Tier: 0}); err == nil {
		t.Fatal("bad tier accepted")
	}
	if _, err := ParseTier("gold"); err == nil {
		t.Fatal("bad tier name accepted")
	}
}

func TestFollowersAcrossChunks(t *testing.T) {
	s := openTest(t, nil)
	users := []uint32{5, 70000, 5, 1 << 31, 65535, 65536, 0xffffffff}
	var added int
	commit(t, s, func(b *Batch) (err error) {
		added, err = b.AddFollowers(7, slices.Clone(users))
		return err
	})
	if added != 6 {
		t.Fatalf("added = %d, want 6", added)
	}
	set, err := s.Followers(7)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint32{5, 65535, 65536, 70000, 1 << 31, 0xffffffff}
	if !slices.Equal(ids(set), want) {
		t.Fatalf("followers = %v", ids(set))
	}
	if n, _ := s.FollowerCount(7); n != 6 {
		t.Fatalf("count = %d", n)
	}
	if in, _ := s.IsFollower(7, 70000); !in {
		t.Fatal("70000 not a follower")
	}
	if subs, _ := s.Subscriptions(65536); !slices.Equal(subs, []uint32{7}) {
		t.Fatalf("subscriptions = %v", subs)
	}
	var removed int
	commit(t, s, func(b *Batch) (err error) {
		removed, err = b.RemoveFollowers(7, []uint32{65536, 9})
		return err
	})
	if removed != 1 {
		t.Fatalf("removed = %d", removed)
	}
	if n, _ := s.FollowerCount(7); n != 5 {
		t.Fatalf("count after remove = %d", n)
	}
	if subs, _ := s.Subscriptions(65536); len(subs) != 0 {
		t.Fatalf("subscriptions after remove = %v", subs)
	}
}

func TestBatchReadsItsOwnWrites(t *testing.T) {
	s := openTest(t, nil)
	b := s.NewBatch()
	defer b.Close()
	if _, err := b.AddFollowers(1, []uint32{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	set, err := b.Followers(1)
	if err != nil || set.GetCardinality() != 3 {
		t.Fatalf("batch view = %v, %v", set, err)
	}
	if committed, _ := s.Followers(1); !committed.IsEmpty() {
		t.Fatal("uncommitted follows visible")
	}
}

func TestBroadcastLog(t *testing.T) {
	s := openTest(t, nil)
	audience := roaring.BitmapOf(1, 2, 100000)
	commit(t, s, func(b *Batch) error {
		for i := 0; i < 5; i++ {
			aud := audience
			if i == 2 {
				aud = roaring.BitmapOf(3)
			}
			ttl := uint32(0)
			if i == 3 {
				ttl = 1 // expires one second after TimeMillis
			}
			if _, err := b.AddBroadcast(Broadcast{Account: 1, TimeMillis: 1000, TTLSeconds: ttl, ContentType: "t", Payload: []byte{byte(i)}}, aud); err != nil {
				return err
			}
		}
		return nil
	})
	if s.LastMessageID() != 5 {
		t.Fatalf("last id = %d", s.LastMessageID())
	}
	got, last, more, err := s.BroadcastsFor(100000, 0, 10, 1<<20, 5000)
	if err != nil || more || last != 5 {
		t.Fatalf("err %v more %v last %d", err, more, last)
	}
	var gotIDs []uint64
	for _, m := range got {
		gotIDs = append(gotIDs, m.ID)
	}
	if !slices.Equal(gotIDs, []uint64{1, 2, 5}) { // 3 not in audience, 4 expired
		t.Fatalf("ids = %v", gotIDs)
	}
	page, last, more, _ := s.BroadcastsFor(1, 0, 1, 1<<20, 0)
	if len(page) != 1 || !more || last != 1 {
		t.Fatalf("count-limited page %d more %v last %d", len(page), more, last)
	}
	page, last, more, _ = s.BroadcastsFor(1, 0, 10, 1, 0)
	if len(page) != 1 || !more || last != 1 {
		t.Fatalf("byte-limited page %d more %v last %d", len(page), more, last)
	}
	if in, _ := s.InAudience(3, 3); !in {
		t.Fatal("user 3 not in broadcast 3")
	}
	m, err := s.Broadcast(2)
	if err != nil || m.Payload[0] != 1 || m.Account != 1 {
		t.Fatalf("broadcast 2 = %+v, %v", m, err)
	}
}

func TestIdempotencyWindow(t *testing.T) {
	s := openTest(t, nil)
	commit(t, s, func(b *Batch) error { return b.PutIdempotency(1, "m1", 9, 1000) })
	b := s.NewBatch()
	defer b.Close()
	if id, ok, err := b.LookupIdempotency(1, "m1", 2000); !ok || id != 9 || err != nil {
		t.Fatalf("lookup = %d %v %v", id, ok, err)
	}
	if _, ok, _ := b.LookupIdempotency(2, "m1", 2000); ok {
		t.Fatal("other account matched")
	}
	if _, ok, _ := b.LookupIdempotency(1, "m1", 1000+uint64(IdempotencyWindow.Milliseconds())); ok {
		t.Fatal("expired key matched")
	}
}

func TestCursors(t *testing.T) {
	s := openTest(t, nil)
	if err := s.SaveCursors(map[uint32]uint64{4: 10, 5: 11}); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Cursor(5); c != 11 {
		t.Fatalf("cursor = %d", c)
	}
}

func TestCorruptValuesAreErrorsNamingTheKey(t *testing.T) {
	s := openTest(t, nil)
	commit(t, s, func(b *Batch) error {
		if _, err := b.CreateAccount(Account{Name: "a", Tier: TierSubscription}); err != nil {
			return err
		}
		_, err := b.AddFollowers(1, []uint32{1, 2})
		return err
	})
	for _, key := range [][]byte{followerChunkKey(1, 0), accountKey(1)} {
		v, closer, err := s.db.Get(key)
		if err != nil {
			t.Fatal(err)
		}
		bad := slices.Clone(v)
		closer.Close()
		bad[1] ^= 0xff
		if err := s.db.Set(key, bad, pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.Followers(1)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "followers/") {
		t.Fatalf("followers err = %v", err)
	}
	if _, err := s.IsFollower(1, 1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("membership err = %v", err)
	}
	_, err = s.Account(1)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "account/00000001") {
		t.Fatalf("account err = %v", err)
	}
}

// TestCrashKeepsCommittedBroadcasts commits broadcasts and follows, takes a
// crash image that keeps only fsynced data at a random point, and checks
// that everything Commit acknowledged before that point survives.
func TestCrashKeepsCommittedBroadcasts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iteration := 0; iteration < 200; iteration++ {
		fs := vfs.NewCrashableMem()
		s, err := Open("db", Options{fs: fs})
		if err != nil {
			t.Fatal(err)
		}
		crashAt := rng.IntN(30)
		var crashed *vfs.MemFS
		acked := 0
		for i := 0; i < 30; i++ {
			if i == crashAt {
				crashed = fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rng})
			}
			commit(t, s, func(b *Batch) error {
				if i == 0 {
					if _, err := b.CreateTag(1, "t"); err != nil {
						return err
					}
				}
				if _, err := b.AddFollowers(1, []uint32{uint32(i)}); err != nil {
					return err
				}
				if _, err := b.ChangeTag(1, "t", []uint32{uint32(i)}, true); err != nil {
					return err
				}
				if err := b.SetQuotaCount(1, 100, uint64(i+1)); err != nil {
					return err
				}
				if err := b.CountReceived(1, 5, 4, roaring.BitmapOf(1000)); err != nil {
					return err
				}
				_, err := b.AddBroadcast(Broadcast{Account: 1, Payload: []byte{byte(i)}}, roaring.BitmapOf(uint32(i)))
				return err
			})
			if i < crashAt {
				acked++
			}
		}
		_ = s.Close()
		s2, err := Open("db", Options{fs: crashed})
		if err != nil {
			t.Fatalf("iteration %d: reopen: %v", iteration, err)
		}
		if s2.LastMessageID() < uint64(acked) {
			t.Fatalf("iteration %d: last id %d after %d acknowledged", iteration, s2.LastMessageID(), acked)
		}
		for id := 1; id <= acked; id++ {
			m, err := s2.Broadcast(uint64(id))
			if err != nil || int(m.Payload[0]) != id-1 {
				t.Fatalf("iteration %d: broadcast %d: %+v %v", iteration, id, m, err)
			}
			if in, err := s2.InAudience(uint64(id), uint32(id-1)); !in || err != nil {
				t.Fatalf("iteration %d: audience of %d lost: %v", iteration, id, err)
			}
		}
		if n, _ := s2.FollowerCount(1); n < uint64(acked) {
			t.Fatalf("iteration %d: %d followers after %d acknowledged follows", iteration, n, acked)
		}
		b := s2.NewBatch()
		if n, err := b.QuotaCount(1, 100); n < uint64(acked) || err != nil {
			t.Fatalf("iteration %d: quota count %d, %v after %d acknowledged", iteration, n, err, acked)
		}
		for level := uint8(1); level <= min(4, uint8(acked)); level++ {
			if got, err := b.ReceivedAtLeast(1, 5, level); !got.Contains(1000) || err != nil {
				t.Fatalf("iteration %d: level %d lost after %d acknowledged counts: %v", iteration, level, acked, err)
			}
		}
		b.Close()
		if acked > 0 {
			tag, err := s2.TagByName(1, "t")
			members, _ := s2.TagMembers(tag.ID)
			if err != nil || tag.Members < uint64(acked) || members.GetCardinality() < uint64(acked) {
				t.Fatalf("iteration %d: tag %+v (%d members) after %d acknowledged: %v", iteration, tag, members.GetCardinality(), acked, err)
			}
		}
		_ = s2.Close()
	}
}

// TestLegacyTokenSecret: a database from before token.keys holds the token
// key under meta "token-secret"; the server reads it once and drops it.
func TestLegacyTokenSecret(t *testing.T) {
	s := openTest(t, nil)
	if secret, err := s.LegacyTokenSecret(); err != nil || secret != nil {
		t.Fatalf("fresh database: %x, %v", secret, err)
	}
	want := make([]byte, 32)
	want[0] = 7
	if err := s.db.Set(metaKey("token-secret"), codec.Seal(want), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LegacyTokenSecret(); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("legacy secret %x, %v", got, err)
	}
	if err := s.DropLegacyTokenSecret(); err != nil {
		t.Fatal(err)
	}
	if secret, err := s.LegacyTokenSecret(); err != nil || secret != nil {
		t.Fatalf("after drop: %x, %v", secret, err)
	}
	if err := s.db.Set(metaKey("token-secret"), codec.Seal([]byte("short")), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LegacyTokenSecret(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short secret: %v", err)
	}
}

// TestPages: accounts and followers are listed a page at a time, in order,
// from a given id on.
func TestPages(t *testing.T) {
	s := openTest(t, nil)
	commit(t, s, func(b *Batch) error {
		for i := 0; i < 5; i++ {
			if _, err := b.CreateAccount(Account{Name: "a", Tier: TierService}); err != nil {
				return err
			}
		}
		_, err := b.AddFollowers(1, []uint32{3, 70000, 70001, 1 << 30})
		return err
	})
	accounts, err := s.Accounts(2, 2)
	if err != nil || len(accounts) != 2 || accounts[0].ID != 2 || accounts[1].ID != 3 {
		t.Fatalf("accounts from 2: %+v %v", accounts, err)
	}
	page, err := s.FollowersPage(1, 4, 2)
	if err != nil || !slices.Equal(page, []uint32{70000, 70001}) {
		t.Fatalf("followers from 4: %v %v", page, err)
	}
	page, err = s.FollowersPage(1, 70002, 10)
	if err != nil || !slices.Equal(page, []uint32{1 << 30}) {
		t.Fatalf("followers from 70002: %v %v", page, err)
	}
}
