package fanout

import (
	"fmt"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/engine"
	"herald/storage"
	"herald/wire"
)

// Letters and replies: a follower writes to an account it follows; the
// letter is stored in the account's inbox (its own sequence, kept for the
// retention period) and opens the user's service window, in the same
// batch. Within the window the account may reply to the user with up to
// ReplyLimit unicasts, each a message of the broadcast log (so it keeps
// the user's one order), spending one reply in the batch that stores it.

type letterOp struct {
	req   engine.LetterRequest
	seq   uint64
	reply func(uint64, error)
}

func (o *letterOp) apply(e *Engine, b *storage.Batch, now uint64) (err error) {
	q := o.req
	if _, err := accountIn(b, q.Account); err != nil {
		return err
	}
	w, err := b.Window(q.Account, q.User)
	if err != nil {
		return err
	}
	if day := dayOf(now); w.Day != day {
		w.Day, w.Letters = day, 0
	}
	if int(w.Letters) >= e.cfg.LettersDaily {
		return fmt.Errorf("%w: user %d wrote %d letters to account %d today, the most allowed", ErrLimit, q.User, w.Letters, q.Account)
	}
	o.seq, err = b.AppendLetter(q.Account, storage.Letter{User: q.User, TimeMillis: now, ContentType: q.ContentType, Payload: q.Payload})
	if err != nil {
		return err
	}
	// A letter opens a new window: its replies start again.
	w.LastMillis, w.Replies, w.Letters = now, 0, w.Letters+1
	return b.PutWindow(q.Account, q.User, w)
}

func (o *letterOp) finish(err error)    { o.reply(o.seq, err) }
func (o *letterOp) delivery() *delivery { return nil }

// Write stores a follower's letter to an account, answering its seq from
// the writer goroutine once durable. The user must follow the account and
// not be on its blocklist (committed state, read before the writer).
func (e *Engine) Write(req engine.LetterRequest, done func(uint64, error)) {
	switch {
	case len(req.Payload) == 0 || len(req.Payload) > wire.MaxMessagePayload:
		done(0, fmt.Errorf("%w: a letter is 1 to %d bytes, not %d", ErrBadRequest, wire.MaxMessagePayload, len(req.Payload)))
		return
	case len(req.ContentType) > wire.MaxContentType:
		done(0, fmt.Errorf("%w: content type over %d bytes", ErrBadRequest, wire.MaxContentType))
		return
	}
	read(e, func(_ struct{}, err error) {
		if err != nil {
			done(0, err)
			return
		}
		if err := e.submit(&letterOp{req: req, reply: done}); err != nil {
			done(0, err)
		}
	}, func() (struct{}, error) {
		if err := e.knownAccount(req.Account); err != nil {
			return struct{}{}, err
		}
		user := roaring.BitmapOf(req.User)
		following, err := e.store.FollowersAmong(req.Account, user)
		if err != nil {
			return struct{}{}, err
		}
		blocked, err := e.store.BlockedAmong(req.Account, user)
		if err != nil {
			return struct{}{}, err
		}
		if following.IsEmpty() || !blocked.IsEmpty() {
			return struct{}{}, fmt.Errorf("%w: user %d does not follow account %d, or may not write to it", ErrNotFollowing, req.User, req.Account)
		}
		return struct{}{}, nil
	})
}

// Inbox answers up to req.Limit of the account's committed letters after
// req.After, in seq order, on a reader.
func (e *Engine) Inbox(req engine.InboxRequest, done func([]engine.Letter, error)) {
	limit := req.Limit
	if limit <= 0 || limit > wire.MaxInboxPage {
		limit = wire.MaxInboxPage
	}
	read(e, done, func() ([]engine.Letter, error) {
		if err := e.knownAccount(req.Account); err != nil {
			return nil, err
		}
		return e.store.Inbox(req.Account, req.After, limit)
	})
}

// resolveReply is a reply's audience: its user, unless blocked.
func resolveReply(s *storage.Store, req *PublishRequest, left *leftOut) (*roaring.Bitmap, error) {
	audience := roaring.BitmapOf(req.ReplyTo)
	blocked, err := s.BlockedAmong(req.Account, audience)
	if err != nil {
		return nil, err
	}
	left.blocked = uint32(blocked.GetCardinality())
	audience.AndNot(blocked)
	return audience, nil
}

// applyReply spends one of the user's window's replies in the batch, or
// fails with a WindowClosedError; a dry run only checks.
func (o *publishOp) applyReply(e *Engine, b *storage.Batch, now uint64) error {
	user := o.req.ReplyTo
	w, err := b.Window(o.req.Account, user)
	if err != nil {
		return err
	}
	window := uint64(e.cfg.ReplyWindow / time.Millisecond)
	switch {
	case w.LastMillis == 0:
		return &WindowClosedError{User: user}
	case now >= w.LastMillis+window:
		return &WindowClosedError{User: user, ClosedAt: time.UnixMilli(int64(w.LastMillis + window))}
	case int(w.Replies) >= e.cfg.ReplyLimit:
		return &WindowClosedError{User: user, ClosedAt: time.UnixMilli(int64(w.LastMillis + window)), UsedUp: true, Replies: e.cfg.ReplyLimit}
	case o.req.DryRun:
		return nil
	}
	w.Replies++
	return b.PutWindow(o.req.Account, user, w)
}
