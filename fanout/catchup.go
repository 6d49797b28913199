package fanout

// Page is one RESUME's worth of catch-up.
type Page struct {
	// Frames are PUSH frames in message-id order, identical to the live ones.
	Frames [][]byte
	// Last is the id the scan covered: nothing at or below it remains for
	// the user. A connection treats it as already sent.
	Last uint64
	// More: the page limit was reached; RESUME again from Last.
	More bool
	// HistoryMissed: the cursor is older than the oldest retained
	// broadcast, so some broadcasts for the user may be gone.
	HistoryMissed bool
}

// CatchUp returns the broadcasts after cursor addressed to user, at most one
// page, compressed where that pays if compress is set. It reads only
// committed data and is safe from any goroutine.
func (e *Engine) CatchUp(user uint32, cursor uint64, compress bool) (Page, error) {
	found, last, more, err := e.store.BroadcastsFor(user, cursor, e.cfg.CatchUpPage, e.cfg.CatchUpBytes, e.nowMillis())
	if err != nil {
		return Page{}, err
	}
	page := Page{Frames: make([][]byte, len(found)), Last: last, More: more}
	// Cursor 0 is a client with no history, which has missed nothing it is
	// owed; any other cursor below the retained log has.
	page.HistoryMissed = cursor != 0 && cursor+1 < e.store.FirstRetained()
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
