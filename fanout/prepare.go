package fanout

// Publishes pass through preparers before the writer: resolving a large
// audience and encoding its chunks is the expensive part of a publish, and
// done in the single writer it would hold back every other publish behind a
// huge one. Preparers are sharded by account, each a FIFO, so an account's
// publishes reach the writer, and get their ids, in the order they were
// made; a huge broadcast delays only the accounts of its shard. For an
// account with a per-follower monthly cap the preparer also subtracts the
// followers at the cap, from the set cache's at-cap set, and counts the
// rest for the cap (the level chunks to write, sealed); the writer keeps
// that audience and that count when its own read of each set is the same
// object (nothing counted since), and does them again otherwise
// (publishOp.apply).

// preparers is the number of preparer shards.
const preparers = 4

// startPreparers starts the preparer goroutines; each ends when its queue
// is closed (by Close) and drained into the writer.
func (e *Engine) startPreparers() {
	e.prep = make([]chan *publishOp, preparers)
	for i := range e.prep {
		e.prep[i] = make(chan *publishOp, e.cfg.MaxGroup)
		e.preparing.Add(1)
		go func(queue <-chan *publishOp) {
			defer e.preparing.Done()
			for o := range queue {
				o.prepare(e)
				e.ops <- o
			}
		}(e.prep[i])
	}
}

// submitPublish hands a publish to its account's preparer. It fails with
// ErrClosed once Close has begun, and at once while the store is stalled
// (see submit); a publish accepted here is answered.
func (e *Engine) submitPublish(o *publishOp) error {
	if err := e.store.Stalled(); err != nil {
		return contract(err)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.mu.closed {
		return ErrClosed
	}
	e.prep[o.req.Account%preparers] <- o
	return nil
}
