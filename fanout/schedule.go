package fanout

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"herald/engine"
	"herald/storage"
	"herald/wire"
)

// Scheduled broadcasts are stored with the publish they will make; a
// scheduler goroutine fires each at its time as an ordinary publish whose
// batch also marks the schedule sent, so a broadcast is sent exactly when
// its schedule says so, across any crash (one pending at a restart fires
// again, and the publish's client_msg_id makes a second try a duplicate).
// A cancel in the writer removes a pending one; a publish that finds its
// schedule gone sends nothing.

// errScheduleGone: the schedule a firing publish was for was cancelled,
// or already done.
var errScheduleGone = errors.New("scheduled broadcast no longer pending")

// schedulerState is the scheduler's: which schedules are being fired, and
// how to wake it when one is added.
type schedulerState struct {
	mu     sync.Mutex
	firing map[scheduleRef]bool
	wake   chan struct{}
}

type scheduleRef struct {
	account uint32
	id      string
}

// audienceOf is a publish's audience as a PUBLISH carries it.
func audienceOf(req PublishRequest) (uint8, []byte) {
	switch {
	case len(req.Preview) > 0:
		return wire.AudiencePreview, wire.EncodeUsers(req.Preview)
	case len(req.Users) > 0:
		return wire.AudienceList, wire.EncodeUsers(req.Users)
	case len(req.Expr) > 0:
		return wire.AudienceTags, wire.AppendExpr(nil, req.Expr)
	}
	return wire.AudienceAll, nil
}

// requestOf is the publish a schedule makes.
func requestOf(sc storage.Schedule) (PublishRequest, error) {
	req := PublishRequest{Account: sc.Account, ClientMsgID: sc.ClientMsgID, TTLSeconds: sc.TTLSeconds, ContentType: sc.ContentType, Payload: sc.Payload}
	var err error
	switch sc.AudienceKind {
	case wire.AudiencePreview:
		req.Preview, err = wire.DecodeUsers(sc.Audience, wire.MaxPreview)
	case wire.AudienceList:
		req.Users, err = wire.DecodeUsers(sc.Audience, wire.MaxListed)
	case wire.AudienceTags:
		req.Expr, err = wire.DecodeExpr(sc.Audience)
	}
	return req, err
}

type scheduleOp struct {
	sc     storage.Schedule
	result PublishResult
	reply  func(PublishResult, error)
	e      *Engine
}

func (o *scheduleOp) apply(_ *Engine, b *storage.Batch, now uint64) error {
	o.result = PublishResult{}
	if _, err := accountIn(b, o.sc.Account); err != nil {
		return err
	}
	original, found, err := b.LookupIdempotency(o.sc.Account, o.sc.ClientMsgID, now)
	if err != nil {
		return err
	}
	if found {
		o.result = PublishResult{MessageID: original, Duplicate: true}
		return nil
	}
	old, found, err := b.Schedule(o.sc.Account, o.sc.ClientMsgID)
	if err != nil {
		return err
	}
	if found {
		o.result = PublishResult{MessageID: old.MessageID, Duplicate: true, Scheduled: true}
		return nil
	}
	o.result = PublishResult{Scheduled: true}
	return b.PutSchedule(o.sc)
}

func (o *scheduleOp) finish(err error) {
	if err == nil && !o.result.Duplicate {
		o.e.wakeScheduler()
	}
	o.reply(o.result, err)
}

func (o *scheduleOp) delivery() *delivery { return nil }

// Schedule stores a broadcast to publish at req.SendAt, answering once
// that is durable. The request is checked as a publish is now; its
// audience is resolved and its quota counted when it is sent.
func (e *Engine) Schedule(req engine.ScheduleRequest, done func(PublishResult, error)) {
	p := req.PublishRequest
	err := e.validate(p)
	switch {
	case err != nil:
	case p.DryRun || p.Notification != nil || p.ReplyTo != 0:
		err = fmt.Errorf("%w: a scheduled broadcast is not a dry run, a notification or a reply", ErrBadRequest)
	case req.SendAt.IsZero() || req.SendAt.Before(time.UnixMilli(0)):
		err = fmt.Errorf("%w: a scheduled broadcast needs its time", ErrBadRequest)
	}
	if err != nil {
		done(PublishResult{}, err)
		return
	}
	kind, audience := audienceOf(p)
	sc := storage.Schedule{Account: p.Account, ClientMsgID: p.ClientMsgID, SendAtMillis: uint64(req.SendAt.UnixMilli()),
		TTLSeconds: p.TTLSeconds, ContentType: p.ContentType, AudienceKind: kind, Audience: audience, Payload: p.Payload}
	if err := e.submit(&scheduleOp{sc: sc, reply: done, e: e}); err != nil {
		done(PublishResult{}, err)
	}
}

type cancelOp struct {
	req   engine.CancelRequest
	reply func(struct{}, error)
}

func (o *cancelOp) apply(_ *Engine, b *storage.Batch, _ uint64) error {
	if _, err := accountIn(b, o.req.Account); err != nil {
		return err
	}
	sc, found, err := b.Schedule(o.req.Account, o.req.ClientMsgID)
	switch {
	case err != nil:
		return err
	case !found:
		return fmt.Errorf("%w: account %d has no scheduled broadcast %q", ErrUnknownMessage, o.req.Account, o.req.ClientMsgID)
	case sc.State == storage.ScheduleSent:
		return fmt.Errorf("%w: scheduled broadcast %q was sent as message %d; retract that instead", ErrUnknownMessage, o.req.ClientMsgID, sc.MessageID)
	case sc.State == storage.ScheduleFailed:
		return fmt.Errorf("%w: scheduled broadcast %q failed at its time: %s", ErrUnknownMessage, o.req.ClientMsgID, sc.Error)
	}
	return b.DeleteSchedule(sc)
}

func (o *cancelOp) finish(err error)    { o.reply(struct{}{}, err) }
func (o *cancelOp) delivery() *delivery { return nil }

// Cancel withdraws a scheduled broadcast not sent yet, answering once that
// is durable.
func (e *Engine) Cancel(req engine.CancelRequest, done func(struct{}, error)) {
	if req.ClientMsgID == "" || len(req.ClientMsgID) > wire.MaxClientMsgID {
		done(struct{}{}, fmt.Errorf("%w: client_msg_id must be 1 to %d bytes", ErrBadRequest, wire.MaxClientMsgID))
		return
	}
	if err := e.submit(&cancelOp{req: req, reply: done}); err != nil {
		done(struct{}{}, err)
	}
}

// Schedules lists the account's scheduled broadcasts, on a reader.
func (e *Engine) Schedules(account uint32, done func([]engine.ScheduledBroadcast, error)) {
	read(e, done, func() ([]engine.ScheduledBroadcast, error) {
		if err := e.knownAccount(account); err != nil {
			return nil, err
		}
		stored, err := e.store.Schedules(account)
		out := make([]engine.ScheduledBroadcast, len(stored))
		for i, sc := range stored {
			out[i] = engine.ScheduledBroadcast{ClientMsgID: sc.ClientMsgID, SendAt: time.UnixMilli(int64(sc.SendAtMillis)).UTC(),
				State: [...]string{"pending", "sent", "failed"}[sc.State], MessageID: sc.MessageID, Error: sc.Error}
		}
		return out, err
	})
}

// failScheduleOp records that a scheduled broadcast was refused at its
// time.
type failScheduleOp struct {
	ref    scheduleRef
	reason string
}

func (o *failScheduleOp) apply(_ *Engine, b *storage.Batch, _ uint64) error {
	sc, found, err := b.Schedule(o.ref.account, o.ref.id)
	if err != nil || !found || sc.State != storage.SchedulePending {
		return err
	}
	sc.State, sc.Error = storage.ScheduleFailed, o.reason
	return b.PutSchedule(sc)
}

func (o *failScheduleOp) finish(error)        {}
func (o *failScheduleOp) delivery() *delivery { return nil }

// wakeScheduler makes the scheduler look at what is due now.
func (e *Engine) wakeScheduler() {
	select {
	case e.sched.wake <- struct{}{}:
	default:
	}
}

// schedule is the scheduler goroutine: it fires what is due, then waits
// for the next one's time (at most a second, so a clock the tests move
// is followed), a new schedule, or Close.
func (e *Engine) schedule() {
	for {
		wait := time.Second
		due, err := e.store.Due(256)
		if err != nil {
			e.cfg.Logger.Error("reading scheduled broadcasts", "error", err)
		}
		now := e.nowMillis()
		for _, sc := range due {
			if sc.SendAtMillis > now {
				wait = min(wait, time.Duration(sc.SendAtMillis-now)*time.Millisecond)
				break
			}
			e.fire(sc)
		}
		select {
		case <-e.sched.wake:
		case <-time.After(wait):
		case <-e.stop:
			return
		}
	}
}

// fire publishes a due schedule unless it is being fired already. A
// refusal that retrying cannot change (the day's quota, an unknown tag)
// marks it failed; one that it can (the store full, the engine closing)
// leaves it pending for the next look.
func (e *Engine) fire(sc storage.Schedule) {
	ref := scheduleRef{sc.Account, sc.ClientMsgID}
	e.sched.mu.Lock()
	if e.sched.firing[ref] {
		e.sched.mu.Unlock()
		return
	}
	e.sched.firing[ref] = true
	e.sched.mu.Unlock()
	settled := func() {
		e.sched.mu.Lock()
		delete(e.sched.firing, ref)
		e.sched.mu.Unlock()
	}
	req, err := requestOf(sc)
	if err == nil {
		err = e.validate(req)
	}
	if err != nil {
		_ = e.submit(&failScheduleOp{ref: ref, reason: err.Error()})
		settled()
		return
	}
	began := time.Now()
	o := &publishOp{req: req, scheduled: true}
	o.reply = func(res PublishResult, err error) {
		defer settled()
		switch {
		case err == nil:
			e.cfg.Logger.Info("scheduled broadcast sent", "account", ref.account, "client_msg_id", ref.id, "message_id", res.MessageID, "late_ms", msSince(time.UnixMilli(int64(sc.SendAtMillis))), "ms", msSince(began))
		case errors.Is(err, errScheduleGone):
		case errors.Is(err, ErrClosed), errors.Is(err, ErrStorageFull), errors.Is(err, ErrStorageFailed), errors.Is(err, ErrUnavailable):
			e.cfg.Logger.Warn("scheduled broadcast not sent; trying again", "account", ref.account, "client_msg_id", ref.id, "error", err)
		default:
			e.cfg.Logger.Info("scheduled broadcast refused", "account", ref.account, "client_msg_id", ref.id, "error", err)
			_ = e.submit(&failScheduleOp{ref: ref, reason: err.Error()})
		}
	}
	if err := e.submitPublish(o); err != nil {
		o.reply(PublishResult{}, err)
	}
}
