package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"
)

// Broadcast is one entry of the broadcast log. Its audience is stored beside
// it, frozen at publish time.
type Broadcast struct {
	ID          uint64
	Account     uint32
	TimeMillis  uint64
	TTLSeconds  uint32 // zero: kept for the whole retention period
	ClientMsgID string
	ContentType string
	Total       uint32 // audience resolved
	Filtered    uint32 // removed by policy
	Payload     []byte
}

// Expired reports whether the broadcast's TTL has passed at nowMillis.
func (m Broadcast) Expired(nowMillis uint64) bool {
	return m.TTLSeconds > 0 && m.TimeMillis+uint64(m.TTLSeconds)*1000 <= nowMillis
}

func audienceSet(message uint64) chunkedSet { return chunkedSet{prefix: audiencePrefix(message)} }

func encodeBroadcast(m Broadcast) []byte {
	var w recordWriter
	w.u32(m.Account)
	w.u64(m.TimeMillis)
	w.u32(m.TTLSeconds)
	w.u32(m.Total)
	w.u32(m.Filtered)
	w.str(m.ClientMsgID)
	w.str(m.ContentType)
	w.raw(m.Payload)
	return seal(w.b)
}

func decodeBroadcast(key, v []byte, id uint64) (Broadcast, error) {
	body, err := open(key, v)
	if err != nil {
		return Broadcast{}, err
	}
	r := recordReader{b: body}
	m := Broadcast{ID: id, Account: r.u32(), TimeMillis: r.u64(), TTLSeconds: r.u32(), Total: r.u32(), Filtered: r.u32()}
	m.ClientMsgID = r.str()
	m.ContentType = r.str()
	m.Payload = r.rest()
	return m, r.finish(key, "broadcast")
}

// AddBroadcast assigns m the next message id and stores it with its frozen
// audience. The id becomes visible to readers when the batch commits.
func (b *Batch) AddBroadcast(m Broadcast, audience *roaring.Bitmap) (uint64, error) {
	b.lastMessage++
	m.ID = b.lastMessage
	if err := b.set(broadcastKey(m.ID), encodeBroadcast(m)); err != nil {
		return 0, err
	}
	return m.ID, audienceSet(m.ID).writeAll(b.batch, audience)
}

// Broadcast returns one committed broadcast.
func (s *Store) Broadcast(id uint64) (Broadcast, error) { return readBroadcast(s.db, id) }

func readBroadcast(r pebble.Reader, id uint64) (Broadcast, error) {
	key := broadcastKey(id)
	var m Broadcast
	found, err := get(r, key, func(v []byte) (err error) {
		m, err = decodeBroadcast(key, v, id)
		return err
	})
	if err == nil && !found {
		err = fmt.Errorf("%w: broadcast %d", ErrNotFound, id)
	}
	return m, err
}

// Audience returns a broadcast's frozen audience.
func (s *Store) Audience(id uint64) (*roaring.Bitmap, error) { return audienceSet(id).read(s.db) }

// InAudience is the one-point-read test "was user in broadcast id's audience".
func (s *Store) InAudience(id uint64, user uint32) (bool, error) {
	return audienceSet(id).contains(s.db, user)
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
		LowerBound: broadcastKey(after + 1),
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
		in, err := audienceSet(id).contains(s.db, user)
		if err != nil {
			return nil, last, false, err
		}
		if in {
			value, err := it.ValueAndErr()
			if err != nil {
				return nil, last, false, err
			}
			m, err := decodeBroadcast(key, value, id)
			if err != nil {
				return nil, last, false, err
			}
			if !m.Expired(nowMillis) {
				out = append(out, m)
				size += len(m.Payload)
			}
		}
		last = id
	}
	return out, max(last, high), false, it.Error()
}

// Broadcast returns a broadcast as this batch sees it.
func (b *Batch) Broadcast(id uint64) (Broadcast, error) { return readBroadcast(b.batch, id) }
