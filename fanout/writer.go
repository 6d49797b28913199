package fanout

import (
	"log/slog"
	"slices"
	"time"

	"herald/storage"
)

// op is one mutation handed to the writer.
type op interface {
	// apply adds the op's mutations to b. It runs on the writer goroutine
	// and may run again on a fresh batch if a later op in the group fails
	// after writing, so it must reset any result it records.
	apply(e *Engine, b *storage.Batch, nowMillis uint64) error
	// finish answers the op once its fate is known: err is its own apply
	// error or the group's commit error. It must not block.
	finish(err error)
	// delivery returns the broadcast to send after a successful commit, or
	// nil.
	delivery() *delivery
}

// sizedOp is an op that tells, before it applies, about how many bytes it
// adds to a batch, so that the writer allocates the group's batch once at
// its size: a publish to millions writes megabytes, and a batch that grows
// doubles and copies itself each time.
type sizedOp interface {
	batchBytes() int
}

// loggedOp is an op that logs a line once its fate is known (publishes).
type loggedOp interface {
	log(l *slog.Logger, commit time.Duration, err error)
}

// write is the writer goroutine: it folds every waiting op into one batch
// and commits it with one fsync, until Close.
func (e *Engine) write() {
	group := make([]op, 0, e.cfg.MaxGroup)
	for {
		select {
		case o := <-e.ops:
			group = append(group[:0], o)
		case <-e.stop:
			// submit can no longer add ops; answer the ones accepted.
			group = group[:0]
			for len(e.ops) > 0 {
				group = append(group, <-e.ops)
			}
			e.commitGroup(group)
			return
		}
	gather:
		for len(group) < e.cfg.MaxGroup {
			select {
			case o := <-e.ops:
				group = append(group, o)
			default:
				break gather
			}
		}
		e.commitGroup(group)
	}
}

// commitGroup applies, commits and answers one group, then dispatches its
// broadcasts in id order.
func (e *Engine) commitGroup(group []op) {
	if len(group) == 0 {
		return
	}
	group = mergeFollows(group)
	now := e.nowMillis()
	size := 0
	for _, o := range group {
		if s, ok := o.(sizedOp); ok {
			size += s.batchBytes()
		}
	}
	batch := e.store.NewBatchSized(size)
	for i := 0; i < len(group); {
		before := batch.Count()
		err := group[i].apply(e, batch, now)
		if err == nil {
			i++
			continue
		}
		group[i].finish(contract(err))
		group = slices.Delete(group, i, i+1)
		if batch.Count() != before {
			// The failed op left partial writes: start the batch over
			// with the ops that succeeded so far.
			batch.Close()
			batch = e.store.NewBatchSized(size)
			i = 0
		}
	}
	var err error
	var took time.Duration
	if !batch.Empty() {
		began := time.Now()
		err = batch.Commit()
		took = time.Since(began)
		if e.cfg.ObserveCommit != nil && err == nil {
			e.cfg.ObserveCommit(took, len(group))
		}
	}
	batch.Close()
	err = contract(err)
	if err == nil {
		// Catch-up from memory sees what is committed before anyone is
		// told it is.
		for _, o := range group {
			if d := o.delivery(); d != nil {
				if d.id == 0 {
					e.recent.retract(d.retracts)
				} else {
					e.recent.add(d)
				}
			}
		}
	}
	for _, o := range group {
		if l, ok := o.(loggedOp); ok {
			l.log(e.cfg.Logger, took, err)
		}
		o.finish(err)
	}
	if err != nil {
		return
	}
	for _, o := range group {
		if d := o.delivery(); d != nil {
			if d.id == 0 {
				d.seq = e.retractions.Add(1)
			}
			e.hub.dispatch(d)
			if d.pace > 0 {
				go e.pace(d)
			}
		}
	}
}
