package storage

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"herald/storage/internal/codec"
)

// spread returns every other user of chunks 0..n-1 (each chunk a full
// 8 KiB bitmap, worth sharing) plus, in chunk n, the users in extra.
func spread(n int, extra ...uint32) *roaring.Bitmap {
	bm := roaring.New()
	for u := uint32(0); u < uint32(n)<<16; u += 2 {
		bm.Add(u)
	}
	for _, u := range extra {
		bm.Add(uint32(n)<<16 | u)
	}
	return bm
}

// storedChunks returns the highs of the audience chunks message stored
// itself.
func storedChunks(t *testing.T, s *Store, message uint64) []uint16 {
	t.Helper()
	var highs []uint16
	it, err := s.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	p := audiencePrefix(message)
	for valid := it.SeekGE(p); valid && bytes.HasPrefix(it.Key(), p); valid = it.Next() {
		highs = append(highs, uint16(it.Key()[9])<<8|uint16(it.Key()[10]))
	}
	return highs
}

// countPrefix returns how many keys start with prefix.
func countPrefix(t *testing.T, s *Store, prefix byte) int {
	t.Helper()
	it, err := s.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for valid := it.SeekGE([]byte{prefix}); valid && it.Key()[0] == prefix; valid = it.Next() {
		n++
	}
	return n
}

func addAudience(t *testing.T, s *Store, account uint32, at uint64, audience *roaring.Bitmap) uint64 {
	t.Helper()
	var id uint64
	commit(t, s, func(b *Batch) (err error) {
		id, err = b.AddBroadcast(Broadcast{Account: account, TimeMillis: at}, audience)
		return err
	})
	return id
}

// checkAudience: the stored audience is want, whole and member by member.
func checkAudience(t *testing.T, s *Store, id uint64, want *roaring.Bitmap) {
	t.Helper()
	got, err := s.Audience(id)
	if err != nil || !got.Equals(want) {
		t.Fatalf("audience of %d: %d members, %v; want %d", id, got.GetCardinality(), err, want.GetCardinality())
	}
	for _, u := range []uint32{0, 1, 2, 1 << 16, 3<<16 | 4, 3<<16 | 5, 3<<16 | 9, 4 << 16} {
		if in, err := s.InAudience(id, u); in != want.Contains(u) || err != nil {
			t.Fatalf("user %d in %d: %v, %v; want %v", u, id, in, err, want.Contains(u))
		}
	}
}

// TestAudiencesShareUnchangedChunks: an account's next audience stores
// only the chunks that changed; the others are referred to, and every
// broadcast still reads back exactly the audience it was given.
func TestAudiencesShareUnchangedChunks(t *testing.T) {
	s := openTest(t, nil)
	a1, a2 := spread(3, 4), spread(3, 5)
	a2.Remove(1<<16 | 2) // chunk 1 differs too
	m1 := addAudience(t, s, 1, 1000, a1)
	m2 := addAudience(t, s, 1, 2000, a2)
	m3 := addAudience(t, s, 1, 3000, a2)
	other := addAudience(t, s, 2, 3000, a2) // another account never shares
	if got := storedChunks(t, s, m1); len(got) != 4 {
		t.Fatalf("first broadcast stored chunks %v, want all 4", got)
	}
	// Chunk 3 holds one user: too small to refer to, so it is stored again.
	if got := storedChunks(t, s, m2); fmt.Sprint(got) != "[1 3]" {
		t.Fatalf("second broadcast stored chunks %v, want [1 3] (the changed and the small)", got)
	}
	if got := storedChunks(t, s, m3); fmt.Sprint(got) != "[3]" {
		t.Fatalf("third broadcast stored chunks %v, want [3]", got)
	}
	if got := storedChunks(t, s, other); len(got) != 4 {
		t.Fatalf("another account's broadcast stored chunks %v, want all 4", got)
	}
	for id, want := range map[uint64]*roaring.Bitmap{m1: a1, m2: a2, m3: a2, other: a2} {
		checkAudience(t, s, id, want)
	}
	// Inside a batch, before it commits, the same holds.
	b := s.NewBatch()
	m4, err := b.AddBroadcast(Broadcast{Account: 1, TimeMillis: 4000}, a2)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Audience(m4); err != nil || !got.Equals(a2) {
		t.Fatalf("audience read in its batch: %v", err)
	}
	b.Close()
}

// TestRetentionFreesSharedChunksWithTheirLastBroadcast: a chunk goes
// exactly when the last broadcast referring to it goes, and not before.
func TestRetentionFreesSharedChunksWithTheirLastBroadcast(t *testing.T) {
	fs := vfs.NewMem()
	s := openTest(t, fs)
	a1, a2 := spread(3, 4), spread(3, 5)
	a2.Remove(2<<16 | 2)                 // chunk 2 changes at m2
	m1 := addAudience(t, s, 1, 1000, a1) // stores 0 1 2 3
	m2 := addAudience(t, s, 1, 2000, a2) // refers to m1's 0 1; stores 2 3
	m3 := addAudience(t, s, 1, 3000, a2) // refers to m1's 0 1 and m2's 2; stores 3
	if n, err := s.Retain(1500); n != 1 || err != nil {
		t.Fatalf("removed %d, %v", n, err)
	}
	// m1's chunk 2 and 3 were its alone; 0 and 1 live on for m2 and m3.
	if got := storedChunks(t, s, m1); fmt.Sprint(got) != "[0 1]" {
		t.Fatalf("after m1 went, its chunks %v remain, want [0 1]", got)
	}
	checkAudience(t, s, m2, a2)
	checkAudience(t, s, m3, a2)
	if in, _ := s.InAudience(m1, 0); in {
		t.Fatal("a removed broadcast still has an audience")
	}
	// A broadcast published now never refers to chunks of a removed one:
	// it stores 0 and 1 again (and refers to m2's 2).
	m4 := addAudience(t, s, 1, 4000, a2)
	if got := storedChunks(t, s, m4); fmt.Sprint(got) != "[0 1 3]" {
		t.Fatalf("after retention, a new broadcast stored %v, want [0 1 3]", got)
	}
	checkAudience(t, s, m4, a2)
	if n, err := s.Retain(2500); n != 1 || err != nil {
		t.Fatalf("removed %d, %v", n, err)
	}
	if got := storedChunks(t, s, m1); fmt.Sprint(got) != "[0 1]" {
		t.Fatalf("m3 still refers to m1's chunks, yet %v remain", got)
	}
	if got := storedChunks(t, s, m2); fmt.Sprint(got) != "[2]" {
		t.Fatalf("after m2 went, its chunks %v remain, want [2] (m3 and m4 refer to it)", got)
	}
	checkAudience(t, s, m3, a2)
	if n, err := s.Retain(3500); n != 1 || err != nil {
		t.Fatalf("removed %d, %v", n, err)
	}
	if got := storedChunks(t, s, m1); len(got) != 0 {
		t.Fatalf("m1's chunks %v outlived their last referrer", got)
	}
	if got := storedChunks(t, s, m2); fmt.Sprint(got) != "[2]" {
		t.Fatalf("m4 still refers to m2's chunk 2, yet %v remain", got)
	}
	checkAudience(t, s, m4, a2)
	// Reopened, the same; then the last one goes and nothing is left.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, fs)
	checkAudience(t, s, m4, a2)
	if n, err := s.Retain(5000); n != 1 || err != nil {
		t.Fatalf("removed %d, %v", n, err)
	}
	for _, p := range []byte{prefixAudience, prefixManifest, prefixChunkUses} {
		if n := countPrefix(t, s, p); n != 0 {
			t.Fatalf("%d keys under %s left after every broadcast went", n, keyString([]byte{p}))
		}
	}
}

// TestSharedAudiencesSurviveCrashes: broadcasts sharing chunks, with
// sweeps between them, crash at a random point; every acknowledged
// broadcast that retention kept reads back exactly its audience.
func TestSharedAudiencesSurviveCrashes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iteration := 0; iteration < 40; iteration++ {
		fs := vfs.NewCrashableMem()
		s, err := Open("db", Options{fs: fs})
		if err != nil {
			t.Fatal(err)
		}
		const n = 16
		crashAt := rng.IntN(n)
		var crashed *vfs.MemFS
		audiences := map[uint64]*roaring.Bitmap{}
		acked := map[uint64]bool{}
		for i := 0; i < n; i++ {
			if i == crashAt {
				crashed = fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rng})
			}
			a := spread(3, uint32(rng.IntN(3)))
			if rng.IntN(3) == 0 {
				a.Remove(uint32(rng.IntN(3))<<16 | 2) // one big chunk changes
			}
			id := addAudience(t, s, 1, uint64(1000*(i+1)), a)
			audiences[id] = a
			acked[id] = i < crashAt
			if rng.IntN(4) == 0 {
				if _, err := s.Retain(uint64(1000 * (i - 3))); err != nil {
					t.Fatal(err)
				}
			}
		}
		_ = s.Close()
		s2, err := Open("db", Options{fs: crashed})
		if err != nil {
			t.Fatalf("iteration %d: reopen: %v", iteration, err)
		}
		for id, a := range audiences {
			if !acked[id] || id < s2.FirstRetained() {
				continue
			}
			got, err := s2.Audience(id)
			if err != nil || !got.Equals(a) {
				t.Fatalf("iteration %d: audience of %d after the crash: %d members, %v; want %d", iteration, id, got.GetCardinality(), err, a.GetCardinality())
			}
		}
		_ = s2.Close()
	}
}

// TestRetentionBesideTheWriter: batches referring to chunks while sweeps
// free them never leave a broadcast without its audience.
func TestRetentionBesideTheWriter(t *testing.T) {
	s := openTest(t, nil)
	a := spread(2)
	var wg sync.WaitGroup
	var mu sync.Mutex
	clock := uint64(0)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 200 {
			mu.Lock()
			at := clock
			mu.Unlock()
			if _, err := s.Retain(at); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := range 300 {
		mu.Lock()
		clock = uint64(i)
		mu.Unlock()
		addAudience(t, s, 1, uint64(i+1)*2, a)
	}
	wg.Wait()
	for id := s.FirstRetained(); id <= s.LastMessageID(); id++ {
		checkAudience(t, s, id, a)
	}
}

func TestOverlayRuns(t *testing.T) {
	r := func(first, last uint16, v uint64) codec.Run { return codec.Run{First: first, Last: last, Value: v} }
	for _, c := range []struct{ base, top, want []codec.Run }{
		{nil, []codec.Run{r(0, 5, 9)}, []codec.Run{r(0, 5, 9)}},
		{[]codec.Run{r(0, 5, 1)}, []codec.Run{r(0, 5, 9)}, []codec.Run{r(0, 5, 9)}},
		{[]codec.Run{r(0, 9, 1)}, []codec.Run{r(3, 4, 9)}, []codec.Run{r(0, 2, 1), r(3, 4, 9), r(5, 9, 1)}},
		{[]codec.Run{r(0, 2, 1), r(5, 7, 2)}, []codec.Run{r(2, 5, 9), r(7, 8, 9)}, []codec.Run{r(0, 1, 1), r(2, 5, 9), r(6, 6, 2), r(7, 8, 9)}},
		{[]codec.Run{r(0, 0xffff, 1)}, []codec.Run{r(0xfffe, 0xffff, 9)}, []codec.Run{r(0, 0xfffd, 1), r(0xfffe, 0xffff, 9)}},
		{[]codec.Run{r(0, 3, 9)}, []codec.Run{r(4, 6, 9)}, []codec.Run{r(0, 6, 9)}},
	} {
		if got := overlayRuns(c.base, c.top); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("overlay %v with %v = %v, want %v", c.base, c.top, got, c.want)
		}
	}
}

// TestLastAudiencesKeepToTheirBudget: with no memory for the accounts'
// newest audiences, a broadcast stores its chunks again (still exact).
func TestLastAudiencesKeepToTheirBudget(t *testing.T) {
	s, err := Open("db", Options{fs: vfs.NewMem(), LastAudienceBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all := spread(2)
	m1, m2 := addAudience(t, s, 1, 1, all), addAudience(t, s, 1, 2, all)
	if got := storedChunks(t, s, m2); len(got) != 2 {
		t.Fatalf("with no memory for audiences, the second broadcast stored %v", got)
	}
	checkAudience(t, s, m1, all)
	checkAudience(t, s, m2, all)
}

// TestCorruptManifestIsAnErrorNamingIt: a manifest that does not decode,
// or that names chunks that are not stored, is ErrCorrupt naming the key,
// never a wrong audience.
func TestCorruptManifestIsAnErrorNamingIt(t *testing.T) {
	s := openTest(t, nil)
	m1 := addAudience(t, s, 1, 1, spread(2))
	m2 := addAudience(t, s, 1, 2, spread(2))
	if err := s.db.Set(manifestKey(m1), []byte("garbage"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Audience(m1); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "manifest") {
		t.Fatalf("audience with a corrupt manifest: %v", err)
	}
	if _, err := s.InAudience(m1, 1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("membership with a corrupt manifest: %v", err)
	}
	// m2 refers to m1's chunks: with one of them gone, its audience is an
	// error, not a smaller set.
	if err := s.db.Delete(audienceChunkKey(m1, 1), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Audience(m2); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("audience missing a chunk it refers to: %v", err)
	}
}
