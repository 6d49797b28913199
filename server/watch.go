package server

import (
	"fmt"
	"time"

	"herald/engine"
	"herald/wire"
)

// A publisher watches a broadcast with STATUS REACH|WATCH: the answer is a
// REACH frame, and then another, with the same request id, each time a
// look at the broadcast (every Config.WatchEvery) finds its counts
// changed. A STATUS REACH|UNWATCH of the same message ends the watch (and
// is answered by one REACH), as does a new watch of it; an error ends it
// too (the broadcast left the retained log: UNKNOWN_MESSAGE), and the
// connection's end. A STATUS with REACH alone leaves a watch alone.
// Everything of a watch but its timer runs on the connection's loop.

// watch is one watched broadcast of a publisher connection.
type watch struct {
	requestID uint32
	ref       engine.MessageRef
	last      wire.Reach
	lastFlags uint8
	timer     *time.Timer
}

// reach answers STATUS with REACH; mode (FlagWatch or FlagUnwatch, or
// neither) starts or ends the message's watch.
func (cn *conn) reach(q wire.Status, mode uint8) error {
	watching := mode == wire.FlagWatch
	if old := cn.watches[q.MessageID]; old != nil && mode != 0 {
		if old.timer != nil {
			old.timer.Stop()
		}
		delete(cn.watches, q.MessageID)
	}
	if watching && len(cn.watches) >= wire.MaxWatches {
		cn.sendError(q.RequestID, wire.CodeLimitExceeded, fmt.Sprintf("this connection watches %d broadcasts, the most allowed", wire.MaxWatches))
		return nil
	}
	w := &watch{requestID: q.RequestID, ref: engine.MessageRef{Account: q.Account, MessageID: q.MessageID}}
	if watching {
		if cn.watches == nil {
			cn.watches = make(map[uint64]*watch)
		}
		cn.watches[q.MessageID] = w
	}
	cn.lookAt(w, true)
	return nil
}

// lookAt asks the engine for w's broadcast and sends REACH if it changed
// (or always, for the first answer), then schedules the next look while
// the watch lasts.
func (cn *conn) lookAt(w *watch, first bool) {
	cn.srv.engine.Status(w.ref, func(r engine.JobReport, err error) {
		cn.reply(func() {
			watched := cn.watches[w.ref.MessageID] == w
			if !first && !watched {
				return // ended meanwhile
			}
			if err != nil {
				if watched {
					delete(cn.watches, w.ref.MessageID)
				}
				cn.sendError(w.requestID, codeFor(err), err.Error())
				return
			}
			m, flags := reachFrame(w.requestID, r)
			if first || m != w.last || flags != w.lastFlags {
				w.last, w.lastFlags = m, flags
				cn.send(func(dst []byte) []byte { return wire.AppendReach(dst, m, flags) })
			}
			if watched {
				w.timer = time.AfterFunc(cn.srv.cfg.WatchEvery, func() {
					cn.reply(func() {
						if cn.watches[w.ref.MessageID] == w {
							cn.lookAt(w, false)
						}
					})
				})
			}
		})
	})
}

// endWatches stops a closed connection's watches.
func (cn *conn) endWatches() {
	cn.stopInboxWatch()
	for id, w := range cn.watches {
		if w.timer != nil {
			w.timer.Stop()
		}
		delete(cn.watches, id)
	}
}

// reachFrame is r as a REACH frame and its flags.
func reachFrame(requestID uint32, r engine.JobReport) (wire.Reach, uint8) {
	x := r.Reach
	m := wire.Reach{RequestID: requestID, MessageID: r.MessageID, PublishedMillis: x.PublishedMillis,
		Total: r.Total, Filtered: r.Filtered, NotSelected: x.NotSelected, Blocked: x.Blocked,
		SentLive: r.SentLive, Errors: r.Errors, Delivered: x.Delivered, CaughtUp: x.CaughtUp, Opened: x.Opened, Curve: x.Curve}
	var flags uint8
	if r.InProgress {
		flags |= wire.FlagInProgress
	}
	if r.Interrupted {
		flags |= wire.FlagInterrupted
	}
	if x.Retracted {
		flags |= wire.FlagRetracted
	}
	if x.Preview {
		flags |= wire.FlagPreview
	}
	if !x.Kept {
		flags |= wire.FlagNotKept
	}
	return m, flags
}
