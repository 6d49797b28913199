package storage

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"

	"herald/storage/internal/codec"
)

func followerSet(account uint32) chunkedSet { return chunkedSet{prefix: followerPrefix(account)} }

func blockedSet(account uint32) chunkedSet { return chunkedSet{prefix: u32Key(prefixBlocked, account)} }

// Block adds users to account's blocklist and returns how many were new;
// Unblock removes them and returns how many were blocked. users is sorted
// in place.
func (b *Batch) Block(account uint32, users []uint32) (int, error) {
	return b.changeSet(blockedSet(account), users, true, nil)
}

// Unblock is the inverse of Block.
func (b *Batch) Unblock(account uint32, users []uint32) (int, error) {
	return b.changeSet(blockedSet(account), users, false, nil)
}

// Blocked returns the account's committed blocklist, shared with the set
// cache: the caller must not modify it.
func (s *Store) Blocked(account uint32) (*roaring.Bitmap, error) {
	return s.sharedSet(blockedSet(account))
}

// FollowersShared returns the account's committed follower set, shared
// with the set cache: the caller must not modify it (Followers copies).
func (s *Store) FollowersShared(account uint32) (*roaring.Bitmap, error) {
	return s.sharedSet(followerSet(account))
}

// AddFollowers makes every user in users follow account (duplicates and
// existing followers are fine) and keeps the follower count and the
// subscriptions index in step. It returns how many were new. users is
// sorted in place.
func (b *Batch) AddFollowers(account uint32, users []uint32) (added int, err error) {
	return b.ChangeFollowers(account, users, true, nil)
}

// RemoveFollowers is the inverse of AddFollowers; it returns how many of
// users were following.
func (b *Batch) RemoveFollowers(account uint32, users []uint32) (removed int, err error) {
	return b.ChangeFollowers(account, users, false, nil)
}

// ChangeFollowers is AddFollowers (add) or RemoveFollowers that also calls
// changed, if not nil, for every user whose membership changed.
func (b *Batch) ChangeFollowers(account uint32, users []uint32, add bool, report func(user uint32)) (int, error) {
	changed, err := b.changeSet(followerSet(account), users, add, func(user uint32) error {
		if report != nil {
			report(user)
		}
		if add {
			return b.set(subscribedKey(user, account), nil)
		}
		if err := b.batch.Delete(subscribedKey(user, account), nil); err != nil {
			return err
		}
		return b.noteLeft(user, account)
	})
	if err != nil || changed == 0 {
		return changed, err
	}
	count, err := readCount(b.batch, account)
	if err != nil {
		return 0, err
	}
	if add {
		count += uint64(changed)
	} else {
		count -= min(count, uint64(changed))
	}
	return changed, b.set(followCountKey(account), codec.EncodeU64(count))
}

// changeSet adds users to (or removes them from) a chunked set, rewriting
// only the chunks they fall in, calls each for every member that changed,
// and returns how many did. users is sorted in place.
func (b *Batch) changeSet(set chunkedSet, users []uint32, add bool, each func(user uint32) error) (int, error) {
	slices.Sort(users)
	changed := 0
	err := groupByChunk(users, func(high uint16, ids []uint32) error {
		chunk, err := set.readChunk(b.batch, high)
		if err != nil {
			return err
		}
		before := chunk.GetCardinality()
		for i, user := range ids {
			if i > 0 && ids[i-1] == user {
				continue
			}
			if add == chunk.Contains(user) {
				continue
			}
			if add {
				chunk.Add(user)
			} else {
				chunk.Remove(user)
			}
			if each != nil {
				if err := each(user); err != nil {
					return err
				}
			}
		}
		if chunk.GetCardinality() == before {
			return nil
		}
		if add {
			changed += int(chunk.GetCardinality() - before)
		} else {
			changed += int(before - chunk.GetCardinality())
		}
		b.setChanges = append(b.setChanges, setChange{prefix: string(set.prefix), high: high, chunk: chunk})
		return set.writeChunk(b.batch, high, chunk)
	})
	return changed, err
}

func readCount(r pebble.Reader, account uint32) (uint64, error) {
	key := followCountKey(account)
	var n uint64
	_, err := get(r, key, func(v []byte) (err error) {
		n, err = decodeAt(key, v, codec.DecodeU64)
		return err
	})
	return n, err
}

// FollowersAmong returns which of users follow account, reading only the
// follower chunks users fall in (a listed audience need not read a
// 10M-follower set).
func (s *Store) FollowersAmong(account uint32, users *roaring.Bitmap) (*roaring.Bitmap, error) {
	return followerSet(account).among(s.db, users)
}

// BlockedAmong returns which of users are on account's blocklist, reading
// only the chunks users fall in.
func (s *Store) BlockedAmong(account uint32, users *roaring.Bitmap) (*roaring.Bitmap, error) {
	return blockedSet(account).among(s.db, users)
}

// FollowersPage returns up to limit of the account's committed followers
// from user from on, in order.
func (s *Store) FollowersPage(account, from uint32, limit int) ([]uint32, error) {
	return followerSet(account).page(s.db, from, limit)
}

// FollowerCount returns the number of followers in O(1).
func (s *Store) FollowerCount(account uint32) (uint64, error) { return readCount(s.db, account) }

// IsFollower is a single point read.
func (s *Store) IsFollower(account, user uint32) (bool, error) {
	return followerSet(account).contains(s.db, user)
}

// Subscriptions returns the accounts user follows, in id order.
func (s *Store) Subscriptions(user uint32) ([]uint32, error) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	return subscriptions(it, user)
}

// subscriptions is Subscriptions read with it.
func subscriptions(it *pebble.Iterator, user uint32) ([]uint32, error) {
	prefix := subscribedPrefix(user)
	it.SetBounds(prefix, prefixEnd(prefix))
	var out []uint32
	for valid := it.First(); valid; valid = it.Next() {
		key := it.Key()
		if len(key) != len(prefix)+4 {
			return nil, fmt.Errorf("%w: %s: key of %d bytes", ErrCorrupt, keyString(key), len(key))
		}
		out = append(out, binary.BigEndian.Uint32(key[len(prefix):]))
	}
	return out, it.Error()
}
