package fanout

import (
	"maps"
	"sync"
)

// writeBehind holds values to be saved in batches (acknowledged cursors,
// finished job outcomes). Entries stay readable until a save that included
// them has succeeded, so a reader never finds a value in neither memory nor
// the store; a failed save leaves everything pending for the next flush.
type writeBehind[K, V comparable] struct {
	save  func(map[K]V) error
	merge func(old, new V) V
	mu    struct {
		sync.Mutex
		pending map[K]V
	}
}

func (w *writeBehind[K, V]) init(save func(map[K]V) error, merge func(old, new V) V) {
	w.save, w.merge = save, merge
	w.mu.pending = make(map[K]V)
}

// put records v for k, merged with a value still pending.
func (w *writeBehind[K, V]) put(k K, v V) {
	w.mu.Lock()
	if old, ok := w.mu.pending[k]; ok {
		v = w.merge(old, v)
	}
	w.mu.pending[k] = v
	w.mu.Unlock()
}

// get returns the pending value for k.
func (w *writeBehind[K, V]) get(k K) (V, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v, ok := w.mu.pending[k]
	return v, ok
}

// flush saves what is pending, then forgets the entries that did not change
// while it saved.
func (w *writeBehind[K, V]) flush() error {
	w.mu.Lock()
	batch := maps.Clone(w.mu.pending)
	w.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if err := w.save(batch); err != nil {
		return err
	}
	w.mu.Lock()
	for k, v := range batch {
		if w.mu.pending[k] == v {
			delete(w.mu.pending, k)
		}
	}
	w.mu.Unlock()
	return nil
}
