package storage

import (
	"encoding/binary"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"
)

// Per-follower monthly counts (the service tier's cap) are kept as levels:
// level k is the set of followers who received at least k of the account's
// broadcasts in the month, so "at the cap" is one set and counting a
// broadcast ORs each level with the level below it, chunk by chunk.

func receivedLevel(account, month uint32, level uint8) chunkedSet {
	return chunkedSet{prefix: receivedLevelPrefix(account, month, level)}
}

// CountReceived records that every user in audience received one more of
// account's broadcasts in month, keeping levels 1 to top (a user at top
// stays there). Only chunks that change are rewritten, and earlier months'
// levels are removed with one range delete.
func (b *Batch) CountReceived(account, month uint32, top uint8, audience *roaring.Bitmap) error {
	dropped, err := b.dropBefore(receivedPrefix(account), binary.BigEndian.AppendUint32(receivedPrefix(account), month))
	if err != nil {
		return err
	}
	if dropped {
		// Earlier months' levels leave the set cache with the commit.
		b.droppedUnder = append(b.droppedUnder, string(receivedPrefix(account)))
	}
	return forEachChunk(audience, func(high uint16, got *roaring.Bitmap) error {
		// gain is who reaches level k with this broadcast: every recipient
		// for level 1, then those of the last gain already at level k-1.
		// Levels nest (level k ⊆ level k-1), so that is the recipients at
		// level k-1, found among fewer each time; once nobody rises, the
		// levels above do not change.
		gain := got
		for k := uint8(1); k <= top; k++ {
			level := receivedLevel(account, month, k)
			old, err := level.readChunk(b.batch, high)
			if err != nil {
				return err
			}
			// Those already at level k rise to k+1; the rest of gain are
			// new at k, and only then does the level's chunk change. old
			// is this call's own decoded copy, so it becomes the new
			// chunk in place.
			rise := roaring.And(old, gain)
			if rise.GetCardinality() != gain.GetCardinality() {
				old.Or(gain)
				b.setChanges = append(b.setChanges, setChange{prefix: string(level.prefix), high: high, chunk: old})
				if err := level.writeChunk(b.batch, high, old); err != nil {
					return err
				}
			}
			if gain = rise; gain.IsEmpty() {
				return nil
			}
		}
		return nil
	})
}

// ReceivedAtLeast is reads.ReceivedAtLeast for the writer, from memory:
// the committed level through the store's set cache (kept exact by the
// commits that change it), with the chunks this batch changed laid over
// it, so a publish sees the broadcasts counted before it in its group.
// The caller must not modify the set.
func (b *Batch) ReceivedAtLeast(account, month uint32, n uint8) (*roaring.Bitmap, error) {
	level := receivedLevel(account, month, n)
	set, err := b.store.sharedSet(level)
	if err != nil {
		return nil, err
	}
	owned := false
	for _, ch := range b.setChanges {
		if ch.prefix != string(level.prefix) {
			continue
		}
		if !owned {
			set, owned = set.Clone(), true
		}
		ch.replaceIn(set)
	}
	return set, nil
}

// SharedReceivedAtLeast is ReceivedAtLeast from the store's set cache, for
// a publish's preparer: the very set Batch.ReceivedAtLeast returns as long
// as no commit and no write of the writer's batch has changed it since
// (the cache replaces a set it changes, never modifies it), so the writer
// can tell by identity whether work done on it still holds. The caller must
// not modify it.
func (s *Store) SharedReceivedAtLeast(account, month uint32, n uint8) (*roaring.Bitmap, error) {
	return s.sharedSet(receivedLevel(account, month, n))
}

// dropBefore range-deletes [lower, upper) when it holds any key, so that
// counters of past days and months do not pile up; dropped says whether
// it did.
func (b *Batch) dropBefore(lower, upper []byte) (dropped bool, _ error) {
	it, err := b.batch.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return false, err
	}
	found := it.First()
	if err := it.Close(); err != nil || !found {
		return false, err
	}
	return true, b.batch.DeleteRange(lower, upper, nil)
}
