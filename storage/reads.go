package storage

import (
	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"
)

// reads are the lookups a Store and a Batch both answer, written once: on
// a Store they see what is committed, on a Batch what is committed and
// what the batch has written itself. Each returns an error wrapping
// ErrNotFound for what does not exist and ErrCorrupt for a stored value
// that does not decode.
type reads struct {
	r pebble.Reader
	// sets, on a Store, serves whole follower, tag and blocklist sets from
	// memory; a Batch reads its own writes and has none.
	sets *setCache
}

// Account returns an account.
func (x reads) Account(id uint32) (Account, error) { return readAccount(x.r, id) }

// Broadcast returns a broadcast's record.
func (x reads) Broadcast(id uint64) (Broadcast, error) { return readBroadcast(x.r, id) }

// Audience returns a broadcast's frozen audience.
func (x reads) Audience(id uint64) (*roaring.Bitmap, error) { return readAudience(x.r, id) }

// Followers returns the account's follower set.
func (x reads) Followers(account uint32) (*roaring.Bitmap, error) {
	return x.wholeSet(followerSet(account))
}

// wholeSet reads a set whole, a copy the caller owns.
func (x reads) wholeSet(set chunkedSet) (*roaring.Bitmap, error) {
	if x.sets == nil {
		return set.read(x.r)
	}
	shared, err := x.sharedSet(set)
	if err != nil {
		return nil, err
	}
	return shared.Clone(), nil
}

// sharedSet reads a set whole, through the set cache on a Store: the
// caller must not modify it.
func (x reads) sharedSet(set chunkedSet) (*roaring.Bitmap, error) {
	return x.sets.shared(set.prefix, func() (*roaring.Bitmap, error) { return set.read(x.r) })
}

// ReceivedAtLeast returns the followers who received at least n of the
// account's broadcasts in month (the per-follower quota).
func (x reads) ReceivedAtLeast(account, month uint32, n uint8) (*roaring.Bitmap, error) {
	return receivedLevel(account, month, n).read(x.r)
}

// Tags returns the account's tags in name order.
func (x reads) Tags(account uint32) ([]Tag, error) { return listTags(x.r, account) }

// TagByName returns the account's tag of that name.
func (x reads) TagByName(account uint32, name string) (Tag, error) {
	return readTagByName(x.r, account, name)
}
