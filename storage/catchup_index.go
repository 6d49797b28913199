package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"

	"herald/storage/internal/codec"
)

// Catch-up from indexes: a user's missed broadcasts are found without
// probing every broadcast after the cursor, whatever its account. Every
// frozen audience is a subset of one of three things, each with its index:
//
//   - the account's followers when the audience was resolved (a broadcast
//     to all, to listed followers, to a tag expression): the account's list
//     (0x15), read for every account the user follows (0x05) and every one
//     the user unfollowed (0x20), since a frozen audience keeps a follower
//     who left after it was resolved;
//   - users listed one by one (a preview, a notification, a reply): an
//     entry per user (0x21);
//   - any set at all (AddBroadcast): the walked list (0x22), every entry of
//     which catch-up probes.
//
// An index gives candidates; the probe of the frozen audience ("is the
// user in it") stays the test, so a candidate too many costs one probe and
// never a wrong page. What must hold is that no broadcast holding the user
// is missing from the candidates. The one subtle case is an unfollowed
// account. Its left record holds L, the newest id in the writer's batch
// when the unfollow was applied; the account's list holds, per broadcast,
// R, the newest id committed when its audience was resolved, read before
// any set (Addressing.Resolved). If R > L, broadcast R was applied after
// the unfollow, so committed with it or later, and a commit hands its sets
// to the set cache before it publishes its ids (Batch.Commit): the
// resolution read a follower set without the user. So the broadcasts with
// R ≤ L are the candidates. An account's publishes are resolved and
// applied in the order they are made (one FIFO preparer per account), so
// R never decreases along its list, and the walk stops at the first R > L;
// retention drops the left record once the account's retained list starts
// above L (retainLeft).
//
// A database from before these indexes holds broadcasts they do not list:
// the store notes the newest id at the first open that has them
// (indexedFrom, meta "catch-up-indexed-from") and catch-up walks the log
// up to it, as before, and reads the indexes after.

// Addressing is how a broadcast's audience was chosen, for the indexes.
type Addressing struct {
	// Resolved is the newest message id committed (LastMessageID) when the
	// audience was resolved from the account's sets, read before any set.
	Resolved uint64
	// Listed is the audience of a preview, a notification or a reply (users
	// listed one by one, a few hundred at most): each gets an entry.
	Listed *roaring.Bitmap
}

var indexedFromKey = metaKey("catch-up-indexed-from")

// catchUpWindow is how many entries catch-up reads from one index before
// it probes what it gathered: a page seldom needs more, and one account's
// long list does not hold the others' in memory.
const catchUpWindow = 256

// index lists broadcast m in the catch-up indexes; walked puts it on the
// walked list instead of reading addr.Listed.
func (b *Batch) index(m Broadcast, addr Addressing, walked bool) error {
	if !m.Notification && !m.Reply {
		if err := b.set(accountLogKey(m.Account, m.ID), codec.EncodeU64(addr.Resolved)); err != nil {
			return err
		}
	}
	if walked {
		return b.set(broadcastKeyWith(prefixWalked, m.ID), nil)
	}
	if addr.Listed == nil {
		if m.Preview || m.Notification || m.Reply {
			return fmt.Errorf("storage: broadcast %d: a preview, notification or reply lists its users (Addressing.Listed)", m.ID)
		}
		return nil
	}
	for it := addr.Listed.Iterator(); it.HasNext(); {
		if err := b.set(listedKey(it.Next(), m.ID), nil); err != nil {
			return err
		}
	}
	return nil
}

// noteLeft records that user unfollowed account, in the batch that
// removes the follow.
func (b *Batch) noteLeft(user, account uint32) error {
	return b.set(leftKey(user, account), codec.EncodeU64(b.lastMessage))
}

// loadIndexedFrom reads indexedFrom, or notes it on the first open of a
// database from before the indexes (or of a new one, where it is the
// shard's base and nothing is walked).
func (s *Store) loadIndexedFrom() error {
	found, err := get(s.db, indexedFromKey, func(v []byte) (err error) {
		s.indexedFrom, err = decodeAt(indexedFromKey, v, codec.DecodeU64)
		return err
	})
	if err != nil || found {
		return err
	}
	s.indexedFrom = s.lastMessage.Load()
	return s.db.Set(indexedFromKey, codec.EncodeU64(s.indexedFrom), pebble.Sync)
}

// candidates is one index read by catch-up: keys prefix | id u64.
type candidates struct {
	prefix  []byte
	through uint64 // the highest id it may give
	// left: an unfollowed account's list, given while its entries' R is at
	// most below.
	left  bool
	below uint64
}

func (c candidates) key(id uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), c.prefix...), id)
}

// catchUpIndexes returns the indexes user's catch-up reads, up to high,
// reading the user's subscriptions and left records with it.
func (s *Store) catchUpIndexes(it *pebble.Iterator, user uint32, high uint64) ([]candidates, error) {
	out := []candidates{
		{prefix: u32Key(prefixListed, user), through: high},
		{prefix: []byte{prefixWalked}, through: high},
	}
	if s.floor.Load() < s.indexedFrom {
		out = append(out, candidates{prefix: []byte{prefixBroadcast}, through: s.indexedFrom})
	}
	subscribed, err := subscriptions(it, user)
	if err != nil {
		return nil, err
	}
	for _, account := range subscribed {
		out = append(out, candidates{prefix: u32Key(prefixAccountLog, account), through: high})
	}
	prefix := u32Key(prefixLeft, user)
	it.SetBounds(prefix, prefixEnd(prefix))
	for valid := it.First(); valid; valid = it.Next() {
		key := it.Key()
		if len(key) != len(prefix)+4 {
			return nil, fmt.Errorf("%w: %s: key of %d bytes", ErrCorrupt, keyString(key), len(key))
		}
		account := binary.BigEndian.Uint32(key[len(prefix):])
		if _, follows := slices.BinarySearch(subscribed, account); follows {
			continue
		}
		value, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		below, err := decodeAt(key, value, codec.DecodeU64)
		if err != nil {
			return nil, err
		}
		out = append(out, candidates{prefix: u32Key(prefixAccountLog, account), through: high, left: true, below: below})
	}
	return out, it.Error()
}

// resolvedAt decodes an account list entry's R (0 for one from before the
// indexes, which is never above any L).
func resolvedAt(key, value []byte) (uint64, error) {
	if len(value) == 0 {
		return 0, nil
	}
	return decodeAt(key, value, codec.DecodeU64)
}

// gather reads, from every index, the ids after from (at most a window of
// each) and returns them sorted without repeats, with bound: every
// candidate at or below bound is among them.
func gather(it *pebble.Iterator, indexes []candidates, from, high uint64) (ids []uint64, bound uint64, err error) {
	bound = high
	for _, c := range indexes {
		through := min(bound, c.through)
		if from >= through {
			continue
		}
		it.SetBounds(c.key(from+1), c.key(through+1))
		n := 0
		for valid := it.First(); valid; valid = it.Next() {
			key := it.Key()
			if len(key) != len(c.prefix)+8 {
				return nil, 0, fmt.Errorf("%w: %s: key of %d bytes", ErrCorrupt, keyString(key), len(key))
			}
			id := binary.BigEndian.Uint64(key[len(c.prefix):])
			if c.left {
				value, err := it.ValueAndErr()
				if err != nil {
					return nil, 0, err
				}
				r, err := resolvedAt(key, value)
				if err != nil {
					return nil, 0, err
				}
				if r > c.below {
					break // resolved after the unfollow, as is every later one
				}
			}
			ids = append(ids, id)
			if n++; n == catchUpWindow {
				bound = min(bound, id)
				break
			}
		}
		if err := it.Error(); err != nil {
			return nil, 0, err
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	cut, _ := slices.BinarySearch(ids, bound+1)
	return ids[:cut], bound, nil
}

// BroadcastsFor returns, in id order, committed broadcasts after the cursor
// whose frozen audience contains user and whose TTL has not passed at
// nowMillis: at most limit of them, and no more once their payloads reach
// maxBytes. more is true when a limit cut the scan short.
// last is the id the scan covered up to: the caller continues from it, and
// no broadcast at or below it is left for user.
func (s *Store) BroadcastsFor(user uint32, after uint64, limit, maxBytes int, nowMillis uint64) (out []Broadcast, last uint64, more bool, err error) {
	size := 0
	full := func() bool { return len(out) >= limit || size >= maxBytes }
	last, more, err = s.addressedTo(user, after, s.lastMessage.Load(), full, func(m Broadcast) {
		if !m.Expired(nowMillis) && !m.Retracted {
			out = append(out, m)
			size += len(m.Payload)
		}
	})
	if err != nil {
		return nil, last, false, err
	}
	return out, last, more, nil
}

// Addressed calls fn, in id order, for each retained broadcast after
// after and up to through whose frozen audience contains user.
func (s *Store) Addressed(user uint32, after, through uint64, fn func(m Broadcast)) error {
	_, _, err := s.addressedTo(user, after, min(through, s.lastMessage.Load()), nil, fn)
	return err
}

// addressedTo calls take, in id order, for each retained broadcast in
// (after, through] whose frozen audience holds user, found from the
// indexes above; full, if not nil, is asked before each candidate and
// stops the scan (stopped) when it says so. last is the id the scan
// covered up to: through unless stopped, else the last candidate's.
func (s *Store) addressedTo(user uint32, after, through uint64, full func() bool, take func(m Broadcast)) (last uint64, stopped bool, err error) {
	last = after
	if after >= through {
		return last, false, nil
	}
	it, err := s.db.NewIter(nil)
	if err != nil {
		return last, false, err
	}
	defer it.Close()
	indexes, err := s.catchUpIndexes(it, user, through)
	if err != nil {
		return last, false, err
	}
	from := max(after, s.floor.Load())
	// The broadcasts are read in id order from one iterator: a step or a
	// seek forward from where it stands costs less than a Get.
	log, err := s.db.NewIter(&pebble.IterOptions{LowerBound: broadcastKey(from + 1), UpperBound: broadcastKey(through + 1)})
	if err != nil {
		return last, false, err
	}
	defer log.Close()
	for from < through {
		ids, bound, err := gather(it, indexes, from, through)
		if err != nil {
			return last, false, err
		}
		for _, id := range ids {
			if full != nil && full() {
				return last, true, nil
			}
			m, in, err := s.broadcastFor(log, id, user)
			if err != nil {
				return last, false, err
			}
			if in {
				take(m)
			}
			last = id
		}
		from = bound
	}
	return through, false, nil
}

// broadcastFor reads broadcast id from log if user is in its audience; in
// is false too for one retention removed meanwhile.
func (s *Store) broadcastFor(log *pebble.Iterator, id uint64, user uint32) (m Broadcast, in bool, err error) {
	if in, err = s.inAudience(id, user); err != nil || !in {
		return m, false, err
	}
	key := broadcastKey(id)
	if !seekForward(log, key) {
		return m, false, log.Error()
	}
	value, err := log.ValueAndErr()
	if err != nil {
		return m, false, err
	}
	if m, err = codec.DecodeBroadcast(value, id); err != nil {
		return m, false, corrupt(key, err)
	}
	return m, true, nil
}

// retainLeft deletes, in b, the left records that can no longer name a
// candidate once retention keeps ids from keep on: the account's first
// retained broadcast was resolved after the unfollow (R > L), and so is
// every later one. A record of an account with nothing retained stays: a
// publish resolved before the unfollow may still be on its way.
func (s *Store) retainLeft(b *pebble.Batch, keep uint64) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixLeft}, UpperBound: []byte{prefixLeft + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	first := map[uint32]uint64{} // each account's first retained R; ^0: none retained
	for valid := it.First(); valid; valid = it.Next() {
		key := it.Key()
		if len(key) != 9 {
			return fmt.Errorf("%w: %s: key of %d bytes", ErrCorrupt, keyString(key), len(key))
		}
		account := binary.BigEndian.Uint32(key[5:])
		value, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		left, err := decodeAt(key, value, codec.DecodeU64)
		if err != nil {
			return err
		}
		r, seen := first[account]
		if !seen {
			if r, err = s.firstResolved(account, keep); err != nil {
				return err
			}
			first[account] = r
		}
		if r != ^uint64(0) && r > left {
			if err := b.Delete(key, nil); err != nil {
				return err
			}
		}
	}
	return it.Error()
}

// firstResolved returns the R of account's first broadcast from id keep
// on, or ^0 when it has none.
func (s *Store) firstResolved(account uint32, keep uint64) (uint64, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: accountLogKey(account, keep), UpperBound: prefixEnd(u32Key(prefixAccountLog, account))})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.First() {
		return ^uint64(0), it.Error()
	}
	value, err := it.ValueAndErr()
	if err != nil {
		return 0, err
	}
	return resolvedAt(it.Key(), value)
}

// retainListed deletes, in b, the listed entries of removed broadcast m
// (a preview, a notification or a reply), read from its audience.
func (s *Store) retainListed(b *pebble.Batch, m Broadcast) error {
	if !m.Preview && !m.Notification && !m.Reply {
		return nil
	}
	audience, err := readAudience(s.db, m.ID)
	if err != nil {
		return err
	}
	for it := audience.Iterator(); it.HasNext(); {
		if err := b.Delete(listedKey(it.Next(), m.ID), nil); err != nil {
			return err
		}
	}
	return nil
}

// seekForward positions it at key, which is not before where it stands,
// and reports whether key is there: with a few steps of Next when key is
// close (a user's broadcasts are often neighbours), else with a seek.
func seekForward(it *pebble.Iterator, key []byte) bool {
	for steps := 0; it.Valid() && steps < 8; steps++ {
		switch c := bytes.Compare(it.Key(), key); {
		case c == 0:
			return true
		case c > 0:
			return false
		}
		it.Next()
	}
	return it.SeekGE(key) && bytes.Equal(it.Key(), key)
}
