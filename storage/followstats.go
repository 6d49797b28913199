package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"herald/storage/internal/codec"
	"herald/wire"
)

// MaxSourceLen bounds a follow's source code: the protocol's limit.
const MaxSourceLen = wire.MaxSource

// FollowDay is one day's follows of an account from one source; the
// unfollows of the day are counted under Source "".
type FollowDay struct {
	Day       uint32 // days since the Unix epoch, UTC
	Source    string
	Follows   uint64
	Unfollows uint64
}

// CountFollows adds follows (from source) and unfollows to the account's
// figures of day, in the batch: they are durable with the change they
// count, so they stay exact across a crash.
func (b *Batch) CountFollows(account, day uint32, source string, follows, unfollows uint64) error {
	if len(source) > MaxSourceLen {
		return fmt.Errorf("storage: a source of %d bytes (at most %d)", len(source), MaxSourceLen)
	}
	key := followStatsKey(account, day, source)
	var f, u uint64
	if _, err := get(b.batch, key, func(v []byte) (err error) {
		f, u, err = codec.DecodePair(v)
		if err != nil {
			return corrupt(key, err)
		}
		return nil
	}); err != nil {
		return err
	}
	return b.set(key, codec.EncodePair(f+follows, u+unfollows))
}

// FollowStats returns the account's follower count and its figures from
// day from on, in day and source order, as of one moment (a snapshot):
// the count is the figures' sum plus what came before them.
func (s *Store) FollowStats(account, from uint32) (count uint64, days []FollowDay, err error) {
	snap := s.db.NewSnapshot()
	defer snap.Close()
	if count, err = readCount(snap, account); err != nil {
		return 0, nil, err
	}
	lower := followStatsKey(account, from, "")
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(u32Key(prefixFollowStats, account))})
	if err != nil {
		return 0, nil, err
	}
	defer it.Close()
	for valid := it.First(); valid; valid = it.Next() {
		key := it.Key()
		if len(key) < 9 || len(key) > 9+MaxSourceLen {
			return 0, nil, fmt.Errorf("%w: %s: key of %d bytes", ErrCorrupt, keyString(key), len(key))
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return 0, nil, err
		}
		f, u, err := codec.DecodePair(v)
		if err != nil {
			return 0, nil, corrupt(key, err)
		}
		days = append(days, FollowDay{Day: binary.BigEndian.Uint32(key[5:9]), Source: string(key[9:]), Follows: f, Unfollows: u})
	}
	return count, days, it.Error()
}
