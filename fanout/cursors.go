package fanout

import "herald/storage"

// cursors batches acknowledged cursors; a user's cursor only moves forward.
type cursors struct{ writeBehind[uint32, uint64] }

func (c *cursors) init(store *storage.Store) {
	c.writeBehind.init(store.SaveCursors, func(old, new uint64) uint64 { return max(old, new) })
}
