package storage

import "herald/storage/internal/codec"

// Cursor returns the last message id user acknowledged, zero if none.
func (s *Store) Cursor(user uint32) (uint64, error) {
	key := cursorKey(user)
	var c uint64
	_, err := get(s.db, key, func(v []byte) (err error) {
		c, err = decodeAt(key, v, codec.DecodeU64)
		return err
	})
	return c, err
}

// SaveCursors stores acknowledged cursors. It does not fsync: a cursor lost
// in a crash only means the user receives a few broadcasts again, which
// at-least-once delivery allows and the SDK drops by id.
func (s *Store) SaveCursors(cursors map[uint32]uint64) error {
	if len(cursors) == 0 {
		return nil
	}
	if s.closed.Load() {
		return ErrClosed
	}
	b := s.db.NewBatch()
	defer b.Close()
	for user, c := range cursors {
		if err := b.Set(cursorKey(user), codec.EncodeU64(c), nil); err != nil {
			return err
		}
	}
	return s.commit(b, false, false)
}
