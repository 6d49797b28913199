package server

import (
	"errors"
	"fmt"
	"time"

	"herald/engine"
	"herald/wire"
)

// authenticatePublisher asks the engine to check HELLO's credentials;
// later frames wait for the answer (see conn.hold), and welcome follows it.
func (cn *conn) authenticatePublisher(h wire.Hello) {
	cn.waiting = true
	cn.srv.engine.Authenticate(engine.Credentials{Account: h.Account, Secret: h.Credential}, func(_ struct{}, err error) {
		cn.reply(func() {
			switch {
			case cn.closing:
				return
			case errors.Is(err, engine.ErrAuth):
				cn.fail(closeWith(wire.CodeAuthFailed, "unknown account or wrong secret"))
				return
			case err != nil:
				cn.fail(closeWith(wire.CodeUnavailable, "authenticating: %v", err))
				return
			}
			cn.account = h.Account
			if err := cn.welcome(h.Account, false); err != nil {
				cn.fail(err)
				return
			}
			cn.proceed()
		})
	})
}

// owns reports whether a request names the authenticated account, and
// answers FORBIDDEN when it does not.
func (cn *conn) owns(requestID, account uint32) bool {
	if account == cn.account {
		return true
	}
	cn.sendError(requestID, wire.CodeForbidden, fmt.Sprintf("connection is authenticated for account %d, not %d", cn.account, account))
	return false
}

// publisherFrame handles a frame from an authenticated publisher.
func (cn *conn) publisherFrame(f wire.Frame) error {
	switch f.Type {
	case wire.TypePublish:
		return cn.publish(f)
	case wire.TypeRetract:
		return cn.retract(f)
	case wire.TypeStatus:
		return cn.status(f)
	case wire.TypeBlock, wire.TypeUnblock:
		return cn.block(f)
	case wire.TypeTag:
		return cn.tag(f)
	case wire.TypeNotify:
		return cn.notify(f)
	case wire.TypeTemplate:
		return cn.template(f)
	case wire.TypeInbox:
		return cn.inbox(f)
	case wire.TypeSchedule:
		return cn.schedule(f)
	case wire.TypeCancel:
		return cn.cancel(f)
	default:
		return closeWith(wire.CodeUnexpectedFrame, "%s (%#x) is not a publisher frame", f.Type, uint8(f.Type))
	}
}

// retract withdraws one of the account's broadcasts, answering OK once that
// is durable.
func (cn *conn) retract(f wire.Frame) error {
	r, err := wire.DecodeRetract(f.Body)
	if err != nil {
		return cn.invalid(f, err)
	}
	if !cn.owns(r.RequestID, r.Account) {
		return nil
	}
	answer := cn.answerOK(r.RequestID)
	cn.srv.engine.Retract(engine.MessageRef{Account: r.Account, MessageID: r.MessageID}, func(_ struct{}, err error) { answer(err) })
	return nil
}

// block changes the account's blocklist, answering OK once that is durable.
// A malformed list (none, or over MaxBlockUsers) is a request error.
func (cn *conn) block(f wire.Frame) error {
	m, err := wire.DecodeBlock(f.Body)
	if err != nil {
		return cn.invalid(f, fmt.Errorf("%w: %s lists 1 to %d user ids", err, f.Type, wire.MaxBlockUsers))
	}
	if !cn.owns(m.RequestID, m.Account) {
		return nil
	}
	change := cn.srv.engine.Unblock
	if f.Type == wire.TypeBlock {
		change = cn.srv.engine.Block
	}
	answer := cn.answerOK(m.RequestID)
	change(engine.Membership{Account: m.Account, Users: m.Users}, func(_ int, err error) { answer(err) })
	return nil
}

// status answers STATUS with a JOB_DONE frame for the request, or with
// REACH (FlagReach), watching the broadcast with FlagWatch (see watch.go).
func (cn *conn) status(f wire.Frame) error {
	q, err := wire.DecodeStatus(f.Body)
	switch watch := f.Flags & (wire.FlagWatch | wire.FlagUnwatch); {
	case err != nil:
	case watch != 0 && f.Flags&wire.FlagReach == 0:
		err = fmt.Errorf("%w: WATCH or UNWATCH without REACH", wire.ErrInvalid)
	case watch == wire.FlagWatch|wire.FlagUnwatch:
		err = fmt.Errorf("%w: both WATCH and UNWATCH", wire.ErrInvalid)
	}
	if err != nil {
		return cn.invalid(f, err)
	}
	if !cn.owns(q.RequestID, q.Account) {
		return nil
	}
	if f.Flags&wire.FlagReach != 0 {
		return cn.reach(q, f.Flags&(wire.FlagWatch|wire.FlagUnwatch))
	}
	cn.srv.engine.Status(engine.MessageRef{Account: q.Account, MessageID: q.MessageID}, func(r engine.JobReport, err error) {
		cn.reply(func() {
			if err != nil {
				cn.sendError(q.RequestID, codeFor(err), err.Error())
				return
			}
			cn.sendJobDone(q.RequestID, r)
		})
	})
	return nil
}

// sendJobDone writes a JOB_DONE frame.
func (cn *conn) sendJobDone(requestID uint32, r engine.JobReport) {
	var flags uint8
	if r.InProgress {
		flags |= wire.FlagInProgress
	}
	if r.Interrupted {
		flags |= wire.FlagInterrupted
	}
	cn.send(func(dst []byte) []byte {
		return wire.AppendJobDone(dst, wire.JobDone{RequestID: requestID, MessageID: r.MessageID, Total: r.Total, Filtered: r.Filtered,
			SentLive: r.SentLive, PendingOffline: r.PendingOffline, Errors: r.Errors}, flags)
	})
}

// publish stores and sends one broadcast, answering PUBLISH_ACK once it is
// durable and JOB_DONE once delivery has finished.
func (cn *conn) publish(f wire.Frame) error {
	p, err := wire.DecodePublish(f.Body)
	if err == nil {
		err = p.Validate()
	}
	if err != nil {
		return cn.invalid(f, err)
	}
	if !cn.owns(p.RequestID, p.Account) || !cn.admit(p.RequestID) {
		return nil
	}
	req, err := publishRequest(p, f.Flags&wire.FlagDryRun != 0)
	if err == nil && wire.SpeedOf(f.Flags) > wire.MaxSpeed {
		err = fmt.Errorf("%w: speed level %d; the levels are 0 to %d", wire.ErrInvalid, wire.SpeedOf(f.Flags), wire.MaxSpeed)
	}
	if err != nil {
		cn.sendError(p.RequestID, wire.CodeBadRequest, err.Error())
		return nil
	}
	req.Speed = wire.SpeedOf(f.Flags)
	cn.submitPublish(p.RequestID, req)
	return nil
}

// publishRequest is a decoded PUBLISH (or SCHEDULE) as the engine takes
// it; an audience that does not decode is an error.
func publishRequest(p wire.Publish, dryRun bool) (engine.PublishRequest, error) {
	var preview, listed []uint32
	var expr wire.Expr
	var replyTo uint32
	var err error
	switch p.AudienceKind {
	case wire.AudienceReply:
		if replyTo, err = wire.DecodeReply(p.AudienceBytes); err == nil && replyTo == 0 {
			err = fmt.Errorf("%w: a reply to user 0", wire.ErrInvalid)
		}
	case wire.AudienceTags:
		expr, err = wire.DecodeExpr(p.AudienceBytes)
	case wire.AudiencePreview:
		preview, err = wire.DecodeUsers(p.AudienceBytes, wire.MaxPreview)
	case wire.AudienceList:
		listed, err = wire.DecodeUsers(p.AudienceBytes, wire.MaxListed)
	}
	return engine.PublishRequest{
		DryRun:      dryRun,
		Preview:     preview,
		Users:       listed,
		Expr:        expr,
		ReplyTo:     replyTo,
		Account:     p.Account,
		ClientMsgID: p.ClientMsgID,
		TTLSeconds:  p.TTLSeconds,
		ContentType: p.ContentType,
		Payload:     append([]byte(nil), p.Payload...), // the frame is a view
	}, err
}

// admit reports whether the connection may start another publish (or
// notification), answering UNAVAILABLE when too many are in flight.
func (cn *conn) admit(requestID uint32) bool {
	if cn.inflight < cn.srv.cfg.MaxInflight {
		return true
	}
	cn.sendError(requestID, wire.CodeUnavailable, fmt.Sprintf("over %d publishes in flight on this connection", cn.srv.cfg.MaxInflight))
	return false
}

// submitPublish hands a publish or notification to the engine, answering
// PUBLISH_ACK once it is durable and JOB_DONE once delivery has finished.
func (cn *conn) submitPublish(requestID uint32, req engine.PublishRequest) {
	cn.inflight++
	cn.srv.metrics.publishes.Add(1)
	began, fanout := time.Now(), cn.srv.metrics.fanoutSeconds
	req.OnJobDone = func(r engine.JobReport) {
		fanout.Observe(time.Since(began).Seconds())
		cn.reply(func() { cn.sendJobDone(requestID, r) })
	}
	cn.srv.engine.Publish(req, func(res engine.PublishResult, err error) {
		cn.reply(func() {
			cn.inflight--
			cn.srv.metrics.publishAckSeconds.Observe(time.Since(began).Seconds())
			if err != nil {
				cn.sendErrorAt(requestID, codeFor(err), retryAt(err), err.Error())
				return
			}
			if !res.Duplicate && !res.DryRun {
				f := &cn.srv.metrics.filtered
				f[0].Add(uint64(res.NotSelected))
				f[1].Add(uint64(res.Blocked))
				f[2].Add(uint64(res.Filtered))
			}
			cn.sendPublishAck(requestID, res)
		})
	})
}

// sendPublishAck writes a PUBLISH_ACK frame.
func (cn *conn) sendPublishAck(requestID uint32, res engine.PublishResult) {
	var flags uint8
	if res.Duplicate {
		flags |= wire.FlagDuplicate
	}
	if res.DryRun {
		flags |= wire.FlagDryRun
	}
	if res.Scheduled {
		flags |= wire.FlagScheduled
	}
	cn.send(func(dst []byte) []byte {
		return wire.AppendPublishAck(dst, wire.PublishAck{
			RequestID:  requestID,
			MessageID:  res.MessageID,
			Total:      res.Total,
			Filtered:   res.Filtered,
			Recipients: res.Recipients,
		}, flags)
	})
}

// schedule stores a broadcast to send at its time, answering PUBLISH_ACK
// with SCHEDULED once that is durable.
func (cn *conn) schedule(f wire.Frame) error {
	m, err := wire.DecodeSchedule(f.Body)
	if err == nil {
		err = m.Validate()
	}
	if err != nil {
		return cn.invalid(f, err)
	}
	if !cn.owns(m.RequestID, m.Account) {
		return nil
	}
	req, err := publishRequest(m.Publish, false)
	if err != nil {
		cn.sendError(m.RequestID, wire.CodeBadRequest, err.Error())
		return nil
	}
	requestID := m.RequestID
	q := engine.ScheduleRequest{PublishRequest: req, SendAt: time.UnixMilli(int64(m.SendAtMillis))}
	cn.srv.engine.Schedule(q, func(res engine.PublishResult, err error) {
		cn.reply(func() {
			if err != nil {
				cn.sendErrorAt(requestID, codeFor(err), retryAt(err), err.Error())
				return
			}
			cn.sendPublishAck(requestID, res)
		})
	})
	return nil
}

// cancel withdraws a scheduled broadcast, answering OK once that is
// durable.
func (cn *conn) cancel(f wire.Frame) error {
	m, err := wire.DecodeCancel(f.Body)
	if err != nil {
		return cn.invalid(f, err)
	}
	if !cn.owns(m.RequestID, m.Account) {
		return nil
	}
	answer := cn.answerOK(m.RequestID)
	cn.srv.engine.Cancel(engine.CancelRequest{Account: m.Account, ClientMsgID: m.ClientMsgID}, func(_ struct{}, err error) { answer(err) })
	return nil
}

// tag changes or lists the account's tags, answering TAGS.
func (cn *conn) tag(f wire.Frame) error {
	m, err := wire.DecodeTag(f.Body)
	if err != nil {
		return cn.invalid(f, err)
	}
	if !cn.owns(m.RequestID, m.Account) {
		return nil
	}
	answer := func(err error, tags ...engine.Tag) {
		cn.reply(func() {
			if err != nil {
				cn.sendError(m.RequestID, codeFor(err), err.Error())
				return
			}
			out := wire.Tags{RequestID: m.RequestID, Tags: make([]wire.TagInfo, len(tags))}
			for i, t := range tags {
				out.Tags[i] = wire.TagInfo{ID: t.ID, Members: t.Members, Name: t.Name}
			}
			cn.send(func(dst []byte) []byte { return wire.AppendTags(dst, out) })
		})
	}
	if m.Op == wire.TagList {
		cn.srv.engine.Tags(m.Account, func(tags []engine.Tag, err error) { answer(err, tags...) })
		return nil
	}
	req := engine.TagRequest{Account: m.Account, Op: engine.TagOp(m.Op), Name: m.Name, NewName: m.NewName, Users: m.Users}
	cn.srv.engine.Tag(req, func(t engine.Tag, err error) { answer(err, t) })
	return nil
}
