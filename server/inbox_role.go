package server

import (
	"fmt"
	"time"

	"herald/engine"
	"herald/wire"
)

// letter stores the user's letter to an account (MESSAGE), answering OK
// once it is durable.
func (cn *conn) letter(f wire.Frame) error {
	m, err := wire.DecodeMessage(f.Body)
	if err != nil {
		return cn.invalid(f, err)
	}
	answer := cn.answerOK(m.RequestID)
	req := engine.LetterRequest{User: cn.user, Account: m.Account, ContentType: m.ContentType, Payload: append([]byte(nil), m.Payload...)}
	cn.srv.engine.Write(req, func(_ uint64, err error) { answer(err) })
	return nil
}

// A publisher reads its inbox with INBOX: one LETTERS page after the seq
// it names. With WATCH it goes on: the server sends the next pages by
// itself, and then new letters as a look at the inbox (every
// Config.InboxEvery) finds them, each LETTERS with the INBOX's request id,
// until an INBOX with UNWATCH (answered by a page), another watch, an
// error, or the connection's end. A connection watches its inbox once.
// Everything of a watch but its timer runs on the connection's loop.

// inboxWatch is a publisher connection's watch of its inbox.
type inboxWatch struct {
	requestID uint32
	account   uint32
	after     uint64
	timer     *time.Timer
}

// inbox answers INBOX with a page of letters, starting or ending the
// watch its flags ask for.
func (cn *conn) inbox(f wire.Frame) error {
	q, err := wire.DecodeInbox(f.Body)
	mode := f.Flags & (wire.FlagWatch | wire.FlagUnwatch)
	if err == nil && mode == wire.FlagWatch|wire.FlagUnwatch {
		err = fmt.Errorf("%w: both WATCH and UNWATCH", wire.ErrInvalid)
	}
	if err != nil {
		return cn.invalid(f, err)
	}
	if !cn.owns(q.RequestID, q.Account) {
		return nil
	}
	if mode != 0 {
		cn.stopInboxWatch()
	}
	w := &inboxWatch{requestID: q.RequestID, account: q.Account, after: q.After}
	if mode == wire.FlagWatch {
		cn.inboxWatch = w
	}
	cn.readInbox(w, true)
	return nil
}

// readInbox sends the letters after w.after (always, for the first
// answer), then, while the watch lasts, schedules the next look: at once
// after a full page, after InboxEvery otherwise.
func (cn *conn) readInbox(w *inboxWatch, first bool) {
	cn.srv.engine.Inbox(engine.InboxRequest{Account: w.account, After: w.after, Limit: wire.MaxInboxPage}, func(letters []engine.Letter, err error) {
		cn.reply(func() {
			watched := cn.inboxWatch == w
			if !first && !watched {
				return // ended meanwhile
			}
			if err != nil {
				if watched {
					cn.inboxWatch = nil
				}
				cn.sendError(w.requestID, codeFor(err), err.Error())
				return
			}
			full := len(letters) == wire.MaxInboxPage
			if first || len(letters) > 0 {
				var flags uint8
				if full {
					flags = wire.FlagMore
				}
				page := wire.Letters{RequestID: w.requestID, Letters: letters}
				cn.send(func(dst []byte) []byte { return wire.AppendLetters(dst, page, flags) })
			}
			if len(letters) > 0 {
				w.after = letters[len(letters)-1].Seq
			}
			if !watched {
				return
			}
			delay := cn.srv.cfg.InboxEvery
			if full {
				delay = 0
			}
			w.timer = time.AfterFunc(delay, func() {
				cn.reply(func() {
					if cn.inboxWatch == w {
						cn.readInbox(w, false)
					}
				})
			})
		})
	})
}

// stopInboxWatch ends the connection's inbox watch, if any.
func (cn *conn) stopInboxWatch() {
	if w := cn.inboxWatch; w != nil {
		if w.timer != nil {
			w.timer.Stop()
		}
		cn.inboxWatch = nil
	}
}
