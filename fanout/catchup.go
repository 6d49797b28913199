package fanout

import (
	"fmt"

	"herald/engine"
)

// Resume answers one page of the broadcasts addressed to the user after
// the cursor (the stored one, for FromStored) and after what the
// connection was sent, scanned on a reader. A cursor beyond the newest id
// is a CursorAheadError.
//
// A page the recent broadcasts in memory hold is answered at once, within
// the call (a few microseconds: no storage read); one that needs the log or
// the stored cursor is read on a reader.
func (e *Engine) Resume(req engine.ResumeRequest, done func(engine.Page, error)) {
	if page, ok := e.resumeFromMemory(req); ok {
		done(page, nil)
		return
	}
	read(e, done, func() (engine.Page, error) {
		cursor := req.Cursor
		if req.FromStored {
			var err error
			if cursor, err = e.StoredCursor(req.User); err != nil {
				return engine.Page{}, fmt.Errorf("reading the stored cursor: %w", err)
			}
		}
		if newest := e.store.LastMessageID(); cursor > newest {
			return engine.Page{}, &engine.CursorAheadError{Cursor: cursor, Newest: newest}
		}
		// Read before the scan: a retraction counted later may have
		// been missed by it, and LoopIndex.Add sends its notice.
		epoch := e.retractions.Load()
		page, err := e.catchUp(req.User, max(cursor, req.Sent), req.Compress)
		page.Epoch = epoch
		return page, err
	})
}

// resumeFromMemory answers req if its cursor is known and the recent
// broadcasts reach back to it.
func (e *Engine) resumeFromMemory(req engine.ResumeRequest) (engine.Page, bool) {
	cursor := req.Cursor
	if req.FromStored {
		var ok bool
		if cursor, ok = e.cursors.get(req.User); !ok {
			return engine.Page{}, false
		}
	}
	if cursor > e.store.LastMessageID() {
		return engine.Page{}, false // answered with its error on a reader
	}
	cursor = max(cursor, req.Sent)
	epoch := e.retractions.Load()
	floor := e.store.FirstRetained()
	frames, last, more, ok := e.recent.page(req.User, cursor, e.cfg.CatchUpPage, e.cfg.CatchUpBytes, e.nowMillis(), floor, req.Compress)
	if !ok {
		return engine.Page{}, false
	}
	return engine.Page{Frames: frames, Last: last, More: more, HistoryMissed: cursor != 0 && cursor+1 < floor, Epoch: epoch}, true
}

// catchUp returns the broadcasts after cursor addressed to user, at most one
// page, compressed where that pays if compress is set: from the recent
// broadcasts in memory when they reach back to cursor, else from the log.
// It reads only committed data and is safe from any goroutine.
func (e *Engine) catchUp(user uint32, cursor uint64, compress bool) (Page, error) {
	floor := e.store.FirstRetained()
	// Cursor 0 is a client with no history, which has missed nothing it is
	// owed; any other cursor below the retained log has.
	missed := cursor != 0 && cursor+1 < floor
	if frames, last, more, ok := e.recent.page(user, cursor, e.cfg.CatchUpPage, e.cfg.CatchUpBytes, e.nowMillis(), floor, compress); ok {
		return Page{Frames: frames, Last: last, More: more, HistoryMissed: missed}, nil
	}
	page, err := e.catchUpFromLog(user, cursor, compress)
	page.HistoryMissed = missed
	return page, err
}

// catchUpFromLog is catchUp reading the stored log.
func (e *Engine) catchUpFromLog(user uint32, cursor uint64, compress bool) (Page, error) {
	found, last, more, err := e.store.BroadcastsFor(user, cursor, e.cfg.CatchUpPage, e.cfg.CatchUpBytes, e.nowMillis())
	if err != nil {
		return Page{}, err
	}
	page := Page{Frames: make([][]byte, len(found)), Last: last, More: more}
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
	if c, ok := e.cursors.get(user); ok {
		return c, nil
	}
	return e.store.Cursor(user)
}

// Acknowledge records user's cumulative acknowledgement of id; cursors are
// saved in batches.
func (e *Engine) Acknowledge(user uint32, id uint64) { e.cursors.put(user, id) }
