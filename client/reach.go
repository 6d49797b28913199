package client

import (
	"context"
	"fmt"

	"herald/wire"
)

// Reach is what a broadcast did, each recipient counted once however many
// devices it used (PROTOCOL.md, REACH): the JOB_DONE counts, the filters
// at publish, and how many recipients acknowledged (Delivered) and opened
// it since.
type Reach struct {
	JobReport
	PublishedMillis uint64
	NotSelected     uint32 // followers the list or tags left out
	Blocked         uint32 // selected followers on the blocklist
	Delivered       uint32 // recipients whose client acknowledged it
	CaughtUp        uint32 // of Delivered, those that got it on catch-up
	Opened          uint32 // recipients whose client called Subscriber.Opened
	// Curve[i]: delivered within wire.CurveSeconds[i] (1 s, 10 s, 1 min,
	// 1 h, 1 day) of the publish.
	Curve     [wire.CurvePoints]uint32
	Retracted bool
	Preview   bool
	// NotKept: the server kept no analytics for it (published with them
	// off); only the JobReport counts are set.
	NotKept bool
}

func reachFrom(m wire.Reach, flags uint8) Reach {
	return Reach{
		JobReport: JobReport{MessageID: m.MessageID, Total: m.Total, Filtered: m.Filtered, SentLive: m.SentLive,
			PendingOffline: m.Total - m.Filtered - m.SentLive - m.Errors, Errors: m.Errors,
			InProgress: flags&wire.FlagInProgress != 0, Interrupted: flags&wire.FlagInterrupted != 0},
		PublishedMillis: m.PublishedMillis, NotSelected: m.NotSelected, Blocked: m.Blocked,
		Delivered: m.Delivered, CaughtUp: m.CaughtUp, Opened: m.Opened, Curve: m.Curve,
		Retracted: flags&wire.FlagRetracted != 0, Preview: flags&wire.FlagPreview != 0, NotKept: flags&wire.FlagNotKept != 0,
	}
}

// Reach asks for one of the account's retained broadcasts' reach.
func (p *Publisher) Reach(ctx context.Context, messageID uint64) (Reach, error) {
	r, err := p.call(ctx, fmt.Sprint("reach ", messageID), func(id uint32) []byte {
		return wire.AppendStatusFlags(nil, wire.Status{RequestID: id, Account: p.cfg.Account, MessageID: messageID}, wire.FlagReach)
	})
	return r.reach, err
}

// Watch calls fn with the broadcast's reach, then again each time it
// changes (the server looks every second), until ctx ends, the
// broadcast leaves the retained log (an *Error UNKNOWN_MESSAGE) or the
// connection breaks (call Watch again). fn runs on the connection's
// reader: it must not block. A connection watches at most
// wire.MaxWatches broadcasts at once, each once: a second Watch of the
// same broadcast takes the server's watch from the first, which then
// sees no more changes.
func (p *Publisher) Watch(ctx context.Context, messageID uint64, fn func(Reach)) error {
	pc, err := p.connection(ctx)
	if err != nil {
		return err
	}
	id := p.nextRequestID()
	ended := make(chan error, 1)
	if err := pc.watch(id, fn, ended); err != nil {
		return err
	}
	defer pc.unwatch(id)
	q := wire.Status{RequestID: id, Account: p.cfg.Account, MessageID: messageID}
	if err := pc.fc.write(wire.AppendStatusFlags(nil, q, wire.FlagReach|wire.FlagWatch)); err != nil {
		pc.fail(err)
	}
	select {
	case err := <-ended:
		return err
	case <-ctx.Done():
		// End the server's watch; its last REACH finds no watcher.
		_ = pc.fc.write(wire.AppendStatusFlags(nil, q, wire.FlagReach|wire.FlagUnwatch))
		return ctx.Err()
	}
}

// watcher receives the REACH frames of one watch (fn), or the LETTERS
// frames of an inbox watch (letters).
type watcher struct {
	fn      func(Reach)
	letters func([]Letter)
	ended   chan error
}

func (pc *pubConn) watch(id uint32, fn func(Reach), ended chan error) error {
	return pc.addWatcher(id, watcher{fn: fn, ended: ended})
}

func (pc *pubConn) addWatcher(id uint32, w watcher) error {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.mu.err != nil {
		return pc.mu.err
	}
	if pc.mu.watchers == nil {
		pc.mu.watchers = make(map[uint32]watcher)
	}
	pc.mu.watchers[id] = w
	return nil
}

func (pc *pubConn) unwatch(id uint32) {
	pc.mu.Lock()
	delete(pc.mu.watchers, id)
	pc.mu.Unlock()
}

// watched hands a REACH or an ERROR to the watch of id, if there is one.
func (pc *pubConn) watched(id uint32, r Reach, err error) bool {
	pc.mu.Lock()
	w, ok := pc.mu.watchers[id]
	if ok && err != nil {
		delete(pc.mu.watchers, id)
	}
	pc.mu.Unlock()
	switch {
	case !ok:
	case err != nil:
		w.ended <- err
	case w.fn != nil:
		w.fn(r)
	}
	return ok
}

// watchedLetters hands a LETTERS page to the inbox watch of id, if there
// is one.
func (pc *pubConn) watchedLetters(id uint32, letters []Letter) bool {
	pc.mu.Lock()
	w, ok := pc.mu.watchers[id]
	pc.mu.Unlock()
	if ok && w.letters != nil {
		w.letters(letters)
	}
	return ok
}
