package fanout

import (
	"sync"

	"herald/storage"
)

// cursorSaver batches acknowledged cursors and saves them periodically.
type cursorSaver struct {
	store *storage.Store
	mu    struct {
		sync.Mutex
		pending map[uint32]uint64
	}
}

func (c *cursorSaver) init(store *storage.Store) {
	c.store = store
	c.mu.pending = make(map[uint32]uint64)
}

func (c *cursorSaver) note(user uint32, id uint64) {
	c.mu.Lock()
	if id > c.mu.pending[user] {
		c.mu.pending[user] = id
	}
	c.mu.Unlock()
}

func (c *cursorSaver) pending(user uint32) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.mu.pending[user]
	return id, ok
}

// flush saves every pending cursor. On failure they stay pending.
func (c *cursorSaver) flush() error {
	c.mu.Lock()
	batch := c.mu.pending
	c.mu.pending = make(map[uint32]uint64, len(batch))
	c.mu.Unlock()
	if err := c.store.SaveCursors(batch); err != nil {
		c.mu.Lock()
		for user, id := range batch {
			if id > c.mu.pending[user] {
				c.mu.pending[user] = id
			}
		}
		c.mu.Unlock()
		return err
	}
	return nil
}
