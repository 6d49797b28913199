package fanout

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"herald/engine"
)

// Confirmation of send-to-all: an account whose tier sets
// ConfirmAllSeconds has each broadcast to all its followers held, in
// memory, until an operator confirms it (Confirm), rejects it, or the time
// runs out; only a confirmed one goes on as a publish. Nothing is stored
// while it waits, so a restart forgets it and the publisher's retry (the
// same client_msg_id) waits again.

// confirmations are the held broadcasts, by account and client_msg_id.
type confirmations struct {
	mu   sync.Mutex
	held map[scheduleRef]*heldPublish
}

type heldPublish struct {
	op      *publishOp
	waiters []func(PublishResult, error)
	since   time.Time
	expires time.Time
	timer   *time.Timer
}

// needsConfirmation reports whether req is a broadcast to all followers
// that some tier may hold.
func (e *Engine) needsConfirmation(req PublishRequest) bool {
	if req.DryRun || len(req.Preview) > 0 || len(req.Users) > 0 || len(req.Expr) > 0 || req.Notification != nil || req.ReplyTo != 0 {
		return false
	}
	for _, p := range e.cfg.Tiers {
		if p.ConfirmAllSeconds > 0 {
			return true
		}
	}
	return false
}

// publishConfirmed submits o at once, or holds it for confirmation when
// its account's tier asks for one and its client_msg_id is new (a
// duplicate goes on, to be answered as one).
func (e *Engine) publishConfirmed(o *publishOp) {
	read(e, func(wait time.Duration, err error) {
		if err != nil {
			o.reply(PublishResult{}, err)
			return
		}
		if wait == 0 {
			if err := e.submitPublish(o); err != nil {
				o.reply(PublishResult{}, err)
			}
			return
		}
		e.hold(o, wait)
	}, func() (time.Duration, error) {
		a, err := e.store.Account(o.req.Account)
		if err != nil {
			return 0, nil // the publish answers UNKNOWN_ACCOUNT
		}
		p, ok := e.cfg.Tiers[a.Tier]
		if !ok || p.ConfirmAllSeconds == 0 {
			return 0, nil
		}
		if _, found, err := e.store.LookupIdempotency(o.req.Account, o.req.ClientMsgID, e.nowMillis()); err != nil || found {
			return 0, err
		}
		return time.Duration(p.ConfirmAllSeconds) * time.Second, nil
	})
}

// hold keeps o until it is confirmed, rejected or its time runs out; a
// retry of a held client_msg_id waits for the same outcome.
func (e *Engine) hold(o *publishOp, wait time.Duration) {
	ref := scheduleRef{o.req.Account, o.req.ClientMsgID}
	c := &e.confirm
	c.mu.Lock()
	defer c.mu.Unlock()
	if h, ok := c.held[ref]; ok {
		h.waiters = append(h.waiters, o.reply)
		return
	}
	now := time.Now()
	h := &heldPublish{op: o, waiters: []func(PublishResult, error){o.reply}, since: now, expires: now.Add(wait)}
	h.timer = time.AfterFunc(wait, func() {
		if h := c.take(ref); h != nil {
			h.answer(PublishResult{}, fmt.Errorf("%w: a broadcast to all followers of account %d waited %v for an operator's confirmation; nothing was sent", ErrNotConfirmed, ref.account, wait))
		}
	})
	if c.held == nil {
		c.held = make(map[scheduleRef]*heldPublish)
	}
	c.held[ref] = h
	e.cfg.Logger.Info("broadcast to all waits for confirmation", "account", ref.account, "client_msg_id", ref.id, "seconds", wait.Seconds())
}

// take removes and returns the held broadcast of ref (nil if none).
func (c *confirmations) take(ref scheduleRef) *heldPublish {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.held[ref]
	delete(c.held, ref)
	if h != nil {
		h.timer.Stop()
	}
	return h
}

func (h *heldPublish) answer(r PublishResult, err error) {
	for _, w := range h.waiters {
		w(r, err)
	}
}

// Confirm sends (Accept) or rejects a held broadcast to all followers; its
// publish answers then. ErrUnknownMessage if none of that client_msg_id
// waits.
func (e *Engine) Confirm(req engine.ConfirmRequest, done func(struct{}, error)) {
	h := e.confirm.take(scheduleRef{req.Account, req.ClientMsgID})
	if h == nil {
		done(struct{}{}, fmt.Errorf("%w: account %d has no broadcast %q waiting for confirmation", ErrUnknownMessage, req.Account, req.ClientMsgID))
		return
	}
	e.cfg.Logger.Info("broadcast to all confirmed", "account", req.Account, "client_msg_id", req.ClientMsgID, "accepted", req.Accept)
	if !req.Accept {
		h.answer(PublishResult{}, fmt.Errorf("%w: an operator rejected the broadcast to all followers of account %d; nothing was sent", ErrNotConfirmed, req.Account))
		done(struct{}{}, nil)
		return
	}
	h.op.reply = h.answer
	if err := e.submitPublish(h.op); err != nil {
		h.answer(PublishResult{}, err)
		done(struct{}{}, err)
		return
	}
	done(struct{}{}, nil)
}

// Confirmations lists the account's held broadcasts, oldest first.
func (e *Engine) Confirmations(account uint32, done func([]engine.Confirmation, error)) {
	c := &e.confirm
	c.mu.Lock()
	var out []engine.Confirmation
	for ref, h := range c.held {
		if ref.account == account {
			out = append(out, engine.Confirmation{ClientMsgID: ref.id, Since: h.since, Expires: h.expires})
		}
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b engine.Confirmation) int { return a.Since.Compare(b.Since) })
	done(out, nil)
}

// release answers every held broadcast with err (the engine closing).
func (c *confirmations) release(err error) {
	c.mu.Lock()
	held := c.held
	c.held = nil
	c.mu.Unlock()
	for _, h := range held {
		h.timer.Stop()
		h.answer(PublishResult{}, err)
	}
}
