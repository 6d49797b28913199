package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"herald/storage/internal/codec"
)

// floorKey holds the highest message id ever removed by retention, so that
// ids stay monotonic even when every broadcast has been removed.
var floorKey = metaKey("message-floor")

// FirstRetained returns the lowest message id that retention has not
// removed: a cursor below FirstRetained()-1 has missed history.
func (s *Store) FirstRetained() uint64 { return s.floor.Load() + 1 }

// loadFloor reads the retention floor at open.
func (s *Store) loadFloor() error {
	var floor uint64
	_, err := get(s.db, floorKey, func(v []byte) (err error) {
		floor, err = decodeAt(floorKey, v, codec.DecodeU64)
		return err
	})
	if err != nil {
		return err
	}
	s.floor.Store(floor)
	if floor > s.lastMessage.Load() {
		s.lastMessage.Store(floor)
	}
	return nil
}

// Retain removes every broadcast published before cutoffMillis, with its
// frozen audience (but the chunks later broadcasts still refer to), job
// report and analytics, in one durable batch, and returns how many it removed.
// Broadcasts are removed as a prefix of the log: the scan stops at the
// first one to keep. It is safe beside the writer: it never looks past the
// newest id committed when it starts. Calls must not overlap each other.
func (s *Store) Retain(cutoffMillis uint64) (int, error) {
	// No batch may refer to a shared chunk while the sweep decides which
	// go (shared_audience.go).
	s.audienceMu.Lock()
	defer s.audienceMu.Unlock()
	first, high := s.floor.Load()+1, s.lastMessage.Load()
	if first > high {
		return 0, nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: broadcastKey(first), UpperBound: broadcastKey(high + 1)})
	if err != nil {
		return 0, err
	}
	keep, removed := uint64(0), 0
	var logKeys [][]byte   // the removed broadcasts' entries in their accounts' lists
	var listed []Broadcast // the removed broadcasts with listed entries
	for valid := it.First(); valid; valid = it.Next() {
		key := it.Key()
		if len(key) != 9 {
			it.Close()
			return 0, fmt.Errorf("%w: %s: key of %d bytes", ErrCorrupt, keyString(key), len(key))
		}
		value, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return 0, err
		}
		id := binary.BigEndian.Uint64(key[1:])
		m, err := codec.DecodeBroadcast(value, id)
		if err != nil {
			it.Close()
			return 0, corrupt(key, err)
		}
		if m.TimeMillis >= cutoffMillis {
			keep = id
			break
		}
		removed++
		logKeys = append(logKeys, accountLogKey(m.Account, id))
		if m.Preview || m.Notification || m.Reply {
			listed = append(listed, m)
		}
	}
	if err := it.Close(); err != nil {
		return 0, err
	}
	if removed == 0 {
		return 0, nil
	}
	if keep == 0 { // everything scanned goes
		keep = high + 1
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(broadcastKey(first), broadcastKey(keep), nil); err != nil {
		return 0, err
	}
	if err := b.DeleteRange(audiencePrefix(first), audiencePrefix(keep), nil); err != nil {
		return 0, err
	}
	if err := b.DeleteRange(manifestKey(first), manifestKey(keep), nil); err != nil {
		return 0, err
	}
	// The listed entries, read from audiences before their chunks go.
	for _, m := range listed {
		if err := s.retainListed(b, m); err != nil {
			return 0, err
		}
	}
	if err := b.DeleteRange(broadcastKeyWith(prefixWalked, first), broadcastKeyWith(prefixWalked, keep), nil); err != nil {
		return 0, err
	}
	if err := s.retainLeft(b, keep); err != nil {
		return 0, err
	}
	if err := s.retainChunks(b, first, keep); err != nil {
		return 0, err
	}
	if err := b.DeleteRange(broadcastKeyWith(prefixJobReport, first), broadcastKeyWith(prefixJobReport, keep), nil); err != nil {
		return 0, err
	}
	// Analytics from id 0: a flush of acknowledgements that read a
	// broadcast's just before this removal may have written them again.
	if err := b.DeleteRange(broadcastKeyWith(prefixBcastStats, 0), broadcastKeyWith(prefixBcastStats, keep), nil); err != nil {
		return 0, err
	}
	if err := b.DeleteRange(broadcastKeyWith(prefixOpened, 0), broadcastKeyWith(prefixOpened, keep), nil); err != nil {
		return 0, err
	}
	for _, key := range logKeys {
		if err := b.Delete(key, nil); err != nil {
			return 0, err
		}
	}
	if err := b.Set(floorKey, codec.EncodeU64(keep-1), nil); err != nil {
		return 0, err
	}
	if err := s.commit(b, true, false); err != nil {
		return 0, err
	}
	s.floor.Store(keep - 1)
	return removed, nil
}
