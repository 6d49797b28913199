package server

import (
	"errors"
	"time"

	"herald/wire"
)

// authenticate checks HELLO's credential for the connection's role and
// returns the id WELCOME carries.
func (cn *conn) authenticate(h wire.Hello) (uint32, error) {
	if cn.role == rolePublisher {
		return cn.authenticatePublisher(h)
	}
	if h.Account != 0 {
		return 0, closeWith(wire.CodeMalformedFrame, "HELLO on the client listener carries account 0, not %d", h.Account)
	}
	user, err := cn.srv.tokenKeys.verify(h.Credential, time.Now())
	switch {
	case errors.Is(err, ErrTokenExpired):
		return 0, closeWith(wire.CodeTokenExpired, "token expired")
	case err != nil:
		return 0, closeWith(wire.CodeTokenInvalid, "token malformed or not signed by this server")
	}
	cn.user = user
	return user, nil
}

// clientFrame handles a frame from an authenticated client.
func (cn *conn) clientFrame(f wire.Frame) error {
	switch f.Type {
	case wire.TypeResume:
		return cn.resume(f)
	case wire.TypeAck:
		id, err := wire.DecodeAck(f.Body)
		if err != nil {
			return closeWith(wire.CodeMalformedFrame, "%v", err)
		}
		cn.srv.engine.Acknowledge(cn.user, min(id, cn.lastSent))
		return nil
	case wire.TypeFollow, wire.TypeUnfollow:
		return cn.follow(f)
	default:
		return closeWith(wire.CodeUnexpectedFrame, "%s (%#x) is not a client frame", f.Type, uint8(f.Type))
	}
}

// resume replays one page of missed broadcasts and, on the last page, puts
// the connection online. The scan, the writes and going online happen in
// this one loop callback; see package fanout's doc for why that keeps order.
func (cn *conn) resume(f wire.Frame) error {
	r, err := wire.DecodeResume(f.Body)
	if err != nil {
		return closeWith(wire.CodeMalformedFrame, "%v", err)
	}
	if cn.online {
		return closeWith(wire.CodeUnexpectedFrame, "RESUME on a connection that is already live")
	}
	cursor := r.Cursor
	if f.Flags&wire.FlagFromStored != 0 {
		if cursor, err = cn.srv.engine.StoredCursor(cn.user); err != nil {
			return closeWith(wire.CodeUnavailable, "reading cursor: %v", err)
		}
	}
	if newest := cn.srv.store.LastMessageID(); cursor > newest {
		return closeWith(wire.CodeCursorAhead, "cursor %d is beyond the newest message id %d: it comes from another history (a server restored from a backup, or a new one); resume from 0", cursor, newest)
	}
	cursor = max(cursor, cn.lastSent)
	page, err := cn.srv.engine.CatchUp(cn.user, cursor, cn.compress)
	if err != nil {
		return closeWith(wire.CodeUnavailable, "catch-up: %v", err)
	}
	if len(page.Frames) > 0 {
		if !cn.enqueue(page.Frames) {
			return nil // cut off as a slow consumer
		}
		cn.srv.metrics.caughtUp.Add(uint64(len(page.Frames)))
	}
	cn.lastSent = page.Last
	var flags uint8
	if page.More {
		flags |= wire.FlagMore
	}
	if page.HistoryMissed {
		flags |= wire.FlagHistoryMissed
	}
	cn.send(func(dst []byte) []byte {
		return wire.AppendResumed(dst, wire.Resumed{Count: uint32(len(page.Frames)), LastID: page.Last}, flags)
	})
	if !page.More {
		cn.online = true
		cn.loop.index.Add(cn.user, cn, cn.compress)
	}
	return nil
}

// follow makes the user follow or unfollow an account, answering OK once
// the change is durable.
func (cn *conn) follow(f wire.Frame) error {
	requestID, account, err := wire.DecodeFollow(f.Body)
	if err != nil {
		return cn.invalid(f, err)
	}
	add := f.Type == wire.TypeFollow
	answer := cn.answerOK(requestID)
	cn.srv.engine.FollowAsync(account, []uint32{cn.user}, add, func(_ int, err error) { answer(err) })
	return nil
}
