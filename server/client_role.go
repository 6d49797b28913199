package server

import (
	"errors"
	"sync"
	"time"

	"herald/engine"
	"herald/wire"
)

// authenticateClient checks a client HELLO's token (from memory, on the
// loop) and returns the user WELCOME carries.
func (cn *conn) authenticateClient(h wire.Hello) (uint32, error) {
	if h.Account != 0 {
		return 0, closeWith(wire.CodeMalformedFrame, "HELLO on the client listener carries account 0, not %d", h.Account)
	}
	user, err := cn.srv.engine.VerifyToken(h.Credential, time.Now())
	switch {
	case errors.Is(err, engine.ErrTokenExpired):
		return 0, closeWith(wire.CodeTokenExpired, "token expired")
	case errors.Is(err, engine.ErrUnavailable):
		return 0, closeWith(wire.CodeUnavailable, "%v", err)
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
		// An ACK covers only what this connection was sent.
		if !cn.lastSent.Covers(id) {
			id = cn.lastSent.At(wire.ShardOf(id))
		}
		caughtUp := cn.lastSent
		if cn.online {
			caughtUp = cn.caughtUp
		}
		cn.srv.engine.Acknowledge(cn.user, id, caughtUp.At(wire.ShardOf(id)))
		return nil
	case wire.TypeOpened:
		id, err := wire.DecodeOpened(f.Body)
		if err != nil {
			return closeWith(wire.CodeMalformedFrame, "%v", err)
		}
		cn.srv.engine.Open(cn.user, id)
		return nil
	case wire.TypeFollow, wire.TypeUnfollow:
		return cn.follow(f)
	case wire.TypeConsent:
		return cn.consent(f)
	case wire.TypeMessage:
		return cn.letter(f)
	default:
		return closeWith(wire.CodeUnexpectedFrame, "%s (%#x) is not a client frame", f.Type, uint8(f.Type))
	}
}

// resume asks the engine for a page of missed broadcasts; later frames
// wait for it (see conn.hold). The scan runs off the loop; page writes the
// answer and, on the last page, puts the connection online.
func (cn *conn) resume(f wire.Frame) error {
	var cursor wire.Cursor
	if cn.version == wire.Version1 {
		r, err := wire.DecodeResume(f.Body)
		if err != nil {
			return closeWith(wire.CodeMalformedFrame, "%v", err)
		}
		cursor = wire.CursorAt(r.Cursor)
	} else {
		r, err := wire.DecodeResumeV2(f.Body)
		if err != nil {
			return closeWith(wire.CodeMalformedFrame, "%v", err)
		}
		cursor = r.Cursor
	}
	if cn.online {
		return closeWith(wire.CodeUnexpectedFrame, "RESUME on a connection that is already live")
	}
	cn.resuming = resumeState{first: true, began: time.Now()}
	cn.askPage(engine.ResumeRequest{User: cn.user, Cursor: cursor, FromStored: f.Flags&wire.FlagFromStored != 0})
	return nil
}

// resumeState is one RESUME's progress across the scans it takes.
type resumeState struct {
	first, historyMissed bool
	count                uint32
	epoch                uint64
	began                time.Time // the RESUME's arrival
}

// askPage sends req (completed with what the connection was sent) to the
// engine; page handles the answer on the loop.
func (cn *conn) askPage(req engine.ResumeRequest) {
	// A copy: the engine may read it on another goroutine while live
	// deliveries move the connection's own.
	req.Sent, req.Compress = cn.lastSent.Clone(), cn.compress
	cn.waiting = true
	// The engine answers a page it holds in memory within the call: that
	// answer is handled here, on the loop, without a round trip through
	// the loop's task queue; a later one arrives through cn.reply.
	var mu sync.Mutex
	returned := false
	var inline *pageAnswer
	cn.srv.engine.Resume(req, func(p engine.Page, err error) {
		mu.Lock()
		if !returned {
			inline = &pageAnswer{p, err}
			mu.Unlock()
			return
		}
		mu.Unlock()
		cn.reply(func() { cn.page(p, err) })
	})
	mu.Lock()
	returned = true
	mu.Unlock()
	if inline != nil {
		cn.page(inline.page, inline.err)
	}
}

type pageAnswer struct {
	page engine.Page
	err  error
}

// page writes one page of catch-up. After the last page the connection
// goes online, unless the loop delivered broadcasts after the scan: then
// the gap is scanned again before RESUMED is sent (engine.LoopIndex.Add).
func (cn *conn) page(p engine.Page, err error) {
	var ahead *engine.CursorAheadError
	switch {
	case cn.closing:
		return
	case errors.As(err, &ahead):
		cn.fail(closeWith(wire.CodeCursorAhead, "%v", err))
		return
	case err != nil:
		cn.fail(closeWith(wire.CodeUnavailable, "catch-up: %v", err))
		return
	}
	if cn.version == wire.Version1 && !p.Last.Equal(wire.CursorAt(p.Last.At(0))) {
		// A cluster of several shards: one id cannot say where this
		// connection is in each.
		cn.fail(closeWith(wire.CodeUnsupportedVersion, "this server is a cluster of several shards: speak protocol version %d", wire.Version2))
		return
	}
	st := &cn.resuming
	if st.first {
		st.first, st.epoch, st.historyMissed = false, p.Epoch, p.HistoryMissed
	}
	if len(p.Frames) > 0 {
		if !cn.enqueue(p.Frames) {
			return // cut off as a slow consumer
		}
		cn.srv.metrics.caughtUp.Add(uint64(len(p.Frames)))
		st.count += uint32(len(p.Frames))
	}
	cn.lastSent = cn.lastSent.Merge(p.Last)
	if !p.More {
		if !cn.loop.index.Add(cn.user, cn, cn.compress, p.Last, st.epoch) {
			cn.uncork() // this page now; the gap's with RESUMED
			cn.cork()
			cn.askPage(engine.ResumeRequest{User: cn.user, Cursor: p.Last})
			return
		}
		cn.online = true
		cn.caughtUp = cn.lastSent.Clone()
		cn.srv.metrics.catchUpSeconds.Observe(time.Since(st.began).Seconds())
	}
	var flags uint8
	if p.More {
		flags |= wire.FlagMore
	}
	if st.historyMissed {
		flags |= wire.FlagHistoryMissed
	}
	count, version := st.count, cn.version
	cn.send(func(dst []byte) []byte {
		if version == wire.Version1 {
			return wire.AppendResumed(dst, wire.Resumed{Count: count, LastID: p.Last.At(0)}, flags)
		}
		return wire.AppendResumedV2(dst, wire.ResumedV2{Count: count, Last: p.Last}, flags)
	})
	cn.uncork() // the page goes out now, under the cap, whatever follows
	cn.proceed()
}

// follow makes the user follow or unfollow an account, answering OK once
// the change is durable.
func (cn *conn) follow(f wire.Frame) error {
	requestID, account, source, err := wire.DecodeFollowFrom(f.Body, f.Flags)
	if err != nil {
		return cn.invalid(f, err)
	}
	change := cn.srv.engine.Unfollow
	if f.Type == wire.TypeFollow {
		change = cn.srv.engine.Follow
	}
	answer := cn.answerOK(requestID)
	change(engine.Membership{Account: account, Users: []uint32{cn.user}, Source: source}, func(_ int, err error) { answer(err) })
	return nil
}
