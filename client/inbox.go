package client

import (
	"context"
	"fmt"
	"time"

	"herald/wire"
)

// Letter is a follower's message to the account, as its backend reads
// it: Seq numbers the account's letters from 1, in the order stored.
type Letter struct {
	Seq         uint64
	User        uint32
	Time        time.Time
	ContentType string
	Payload     []byte
}

func letterFrom(l wire.Letter) Letter {
	return Letter{Seq: l.Seq, User: l.User, Time: time.UnixMilli(int64(l.TimeMillis)), ContentType: l.ContentType,
		Payload: append([]byte(nil), l.Payload...)}
}

// Write sends the user's message (1 to 2,048 bytes) to an account it
// follows, returning once it is durable; it opens the account's service
// window for replies to the user. A user not following the account, or
// on its blocklist, gets NOT_FOLLOWING; past the day's letters to the
// account (100 by default), LIMIT_EXCEEDED.
func (s *Subscriber) Write(ctx context.Context, account uint32, contentType string, payload []byte) error {
	if len(payload) == 0 || len(payload) > wire.MaxMessagePayload {
		return fmt.Errorf("client: a message is 1 to %d bytes, not %d", wire.MaxMessagePayload, len(payload))
	}
	if len(contentType) > wire.MaxContentType {
		return fmt.Errorf("client: content type over %d bytes", wire.MaxContentType)
	}
	return s.request(ctx, func(id uint32) []byte {
		return wire.AppendMessage(nil, wire.Message{RequestID: id, Account: account, ContentType: contentType, Payload: payload})
	})
}

// Inbox reads up to 100 of the letters followers wrote to the account
// after seq after (0: from the oldest retained), in seq order; more says
// that others follow the last.
func (p *Publisher) Inbox(ctx context.Context, after uint64) (letters []Letter, more bool, err error) {
	r, err := p.call(ctx, fmt.Sprint("inbox after ", after), func(id uint32) []byte {
		return wire.AppendInbox(nil, wire.Inbox{RequestID: id, Account: p.cfg.Account, After: after}, 0)
	})
	return r.letters, r.more, err
}

// WatchInbox calls fn with every letter after seq after, in order, and
// then with each new one as it arrives (the server looks every 250 ms),
// until ctx ends or the connection breaks (call it again after the last
// seq fn saw: nothing is lost). fn runs on the connection's reader: it
// must not block. A connection has one inbox watch.
func (p *Publisher) WatchInbox(ctx context.Context, after uint64, fn func(Letter)) error {
	pc, err := p.connection(ctx)
	if err != nil {
		return err
	}
	id := p.nextRequestID()
	ended := make(chan error, 1)
	if err := pc.addWatcher(id, watcher{letters: func(ls []Letter) {
		for _, l := range ls {
			fn(l)
		}
	}, ended: ended}); err != nil {
		return err
	}
	defer pc.unwatch(id)
	q := wire.Inbox{RequestID: id, Account: p.cfg.Account, After: after}
	if err := pc.fc.write(wire.AppendInbox(nil, q, wire.FlagWatch)); err != nil {
		pc.fail(err)
	}
	select {
	case err := <-ended:
		return err
	case <-ctx.Done():
		// End the server's watch; its last page finds no watcher.
		_ = pc.fc.write(wire.AppendInbox(nil, wire.Inbox{RequestID: p.nextRequestID(), Account: p.cfg.Account, After: ^uint64(0)}, wire.FlagUnwatch))
		return ctx.Err()
	}
}
