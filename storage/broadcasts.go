package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"

	"herald/storage/internal/codec"
)

// Broadcast is one entry of the broadcast log; see codec.Broadcast.
type Broadcast = codec.Broadcast

func audienceSet(message uint64) chunkedSet { return chunkedSet{prefix: audiencePrefix(message)} }

// AddBroadcast assigns m the next message id and stores it with its frozen
// audience. The id becomes visible to readers when the batch commits.
func (b *Batch) AddBroadcast(m Broadcast, audience *roaring.Bitmap) (uint64, error) {
	encoded, err := EncodeSet(audience)
	if err != nil {
		return 0, err
	}
	return b.AddEncodedBroadcast(m, encoded)
}

// AddEncodedBroadcast is AddBroadcast with the audience encoded beforehand
// (EncodeSet), so that the batch's owner only copies bytes.
func (b *Batch) AddEncodedBroadcast(m Broadcast, audience EncodedSet) (uint64, error) {
	b.lastMessage++
	m.ID = b.lastMessage
	if err := b.set(broadcastKey(m.ID), codec.EncodeBroadcast(m)); err != nil {
		return 0, err
	}
	return m.ID, b.writeAudience(m.ID, m.Account, audience)
}

func readBroadcast(r pebble.Reader, id uint64) (Broadcast, error) {
	key := broadcastKey(id)
	var m Broadcast
	found, err := get(r, key, func(v []byte) (err error) {
		m, err = codec.DecodeBroadcast(v, id)
		return corrupt(key, err)
	})
	if err == nil && !found {
		err = fmt.Errorf("%w: broadcast %d", ErrNotFound, id)
	}
	return m, err
}

// InAudience is the one-point-read test "was user in broadcast id's audience".
func (s *Store) InAudience(id uint64, user uint32) (bool, error) {
	return s.inAudience(id, user)
}

// BroadcastsFor returns, in id order, committed broadcasts after the cursor
// whose frozen audience contains user and whose TTL has not passed at
// nowMillis: at most limit of them, and no more once their payloads reach
// maxBytes. more is true when a limit cut the scan short.
// last is the id the scan covered up to: the caller continues from it, and
// no broadcast at or below it is left for user.
func (s *Store) BroadcastsFor(user uint32, after uint64, limit, maxBytes int, nowMillis uint64) (out []Broadcast, last uint64, more bool, err error) {
	high := s.lastMessage.Load()
	last = after
	if after >= high {
		return nil, last, false, nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: broadcastKey(max(after, s.floor.Load()) + 1),
		UpperBound: broadcastKey(high + 1),
	})
	if err != nil {
		return nil, last, false, err
	}
	defer it.Close()
	size := 0
	for valid := it.First(); valid; valid = it.Next() {
		if len(out) >= limit || size >= maxBytes {
			return out, last, true, nil
		}
		key := it.Key()
		if len(key) != 9 {
			return nil, last, false, fmt.Errorf("%w: %s: key of %d bytes", ErrCorrupt, keyString(key), len(key))
		}
		id := binary.BigEndian.Uint64(key[1:])
		in, err := s.inAudience(id, user)
		if err != nil {
			return nil, last, false, err
		}
		if in {
			value, err := it.ValueAndErr()
			if err != nil {
				return nil, last, false, err
			}
			m, err := codec.DecodeBroadcast(value, id)
			if err != nil {
				return nil, last, false, corrupt(key, err)
			}
			if !m.Expired(nowMillis) && !m.Retracted {
				out = append(out, m)
				size += len(m.Payload)
			}
		}
		last = id
	}
	return out, max(last, high), false, it.Error()
}

// Retract marks a broadcast retracted and drops its payload.
func (b *Batch) Retract(m Broadcast) error {
	m.Retracted, m.Payload = true, nil
	return b.set(broadcastKey(m.ID), codec.EncodeBroadcast(m))
}
