package fanout

import (
	"fmt"

	"herald/engine"
	"herald/wire"
)

// Resume answers one page of the broadcasts addressed to the user after
// the cursor (the stored one, for FromStored) and after what the
// connection was sent. A cursor beyond the newest id is a
// CursorAheadError.
//
// A page the recent broadcasts in memory hold is answered at once, within
// the call (a few microseconds: no storage read); one that needs the log or
// the stored cursor is read on a reader.
func (e *Engine) Resume(req engine.ResumeRequest, done func(engine.Page, error)) {
	if page, ok, err := e.resume(req, true); ok {
		done(page, err)
		return
	}
	read(e, done, func() (engine.Page, error) {
		page, _, err := e.resume(req, false)
		return page, err
	})
}

// resume computes Resume's answer. With memoryOnly it reads no storage and
// reports ok false where it would have to (a stored cursor not in memory,
// a cursor older than the recent broadcasts).
func (e *Engine) resume(req engine.ResumeRequest, memoryOnly bool) (_ engine.Page, ok bool, _ error) {
	shard := e.store.Shard()
	for _, id := range req.Cursor {
		if wire.ShardOf(id) != shard && id != wire.ShardBase(wire.ShardOf(id)) {
			// Another shard's id: this engine's log is not the one it
			// came from.
			return engine.Page{}, true, &engine.CursorAheadError{Cursor: id, Newest: e.store.LastMessageID()}
		}
	}
	cursor := req.Cursor.At(shard)
	if req.FromStored {
		var known bool
		if cursor, known = e.acks.get(req.User); !known {
			if memoryOnly {
				return engine.Page{}, false, nil
			}
			var err error
			if cursor, err = e.store.Cursor(req.User); err != nil {
				return engine.Page{}, true, fmt.Errorf("reading the stored cursor: %w", err)
			}
		}
		if cursor == 0 {
			cursor = wire.ShardBase(shard) // never acknowledged
		}
	}
	if newest := e.store.LastMessageID(); cursor > newest {
		return engine.Page{}, true, &engine.CursorAheadError{Cursor: cursor, Newest: newest}
	}
	// Read before the scan: a retraction counted later may have been
	// missed by it, and LoopIndex.Add sends its notice.
	epoch := e.retractions.Load()
	cursor = max(cursor, req.Sent.At(shard))
	page, inMemory := e.catchUpFromMemory(req.User, cursor, req.Compress)
	if !inMemory {
		if memoryOnly {
			return engine.Page{}, false, nil
		}
		var err error
		if page, err = e.catchUpFromLog(req.User, cursor, req.Compress); err != nil {
			return engine.Page{}, true, err
		}
	}
	page.Epoch = epoch
	return page, true, nil
}

// catchUp returns the broadcasts after cursor addressed to user, at most one
// page, compressed where that pays if compress is set: from the recent
// broadcasts in memory when they reach back to cursor, else from the log.
// It reads only committed data and is safe from any goroutine.
func (e *Engine) catchUp(user uint32, cursor uint64, compress bool) (Page, error) {
	if page, ok := e.catchUpFromMemory(user, cursor, compress); ok {
		return page, nil
	}
	return e.catchUpFromLog(user, cursor, compress)
}

// catchUpFromMemory is catchUp from the recent broadcasts; ok is false when
// they do not reach back to cursor.
func (e *Engine) catchUpFromMemory(user uint32, cursor uint64, compress bool) (_ Page, ok bool) {
	floor := e.store.FirstRetained()
	frames, last, more, ok := e.recent.page(user, cursor, e.cfg.CatchUpPage, e.cfg.CatchUpBytes, e.nowMillis(), floor, compress)
	return Page{Frames: frames, Last: wire.Cursor{last}, More: more, HistoryMissed: e.historyMissed(cursor, floor)}, ok
}

// historyMissed: a cursor at the shard's base (0 for a single server) is a
// client with no history, which has missed nothing it is owed; any other
// cursor below the retained log has.
func (e *Engine) historyMissed(cursor, floor uint64) bool {
	return cursor != wire.ShardBase(e.store.Shard()) && cursor+1 < floor
}

// catchUpFromLog is catchUp reading the stored log.
func (e *Engine) catchUpFromLog(user uint32, cursor uint64, compress bool) (Page, error) {
	found, last, more, err := e.store.BroadcastsFor(user, cursor, e.cfg.CatchUpPage, e.cfg.CatchUpBytes, e.nowMillis())
	if err != nil {
		return Page{}, err
	}
	page := Page{Frames: make([][]byte, len(found)), Last: wire.Cursor{last}, More: more, HistoryMissed: e.historyMissed(cursor, e.store.FirstRetained())}
	for i, m := range found {
		var packed []byte
		if compress {
			packed = compressPayload(m.Payload, e.cfg.CompressMin)
		}
		page.Frames[i] = encodePush(m, packed).pick(compress)
	}
	return page, nil
}

// StoredCursor returns the last id user acknowledged, including
// acknowledgements not yet saved.
func (e *Engine) StoredCursor(user uint32) (uint64, error) {
	if c, ok := e.acks.get(user); ok {
		return c, nil
	}
	return e.store.Cursor(user)
}
