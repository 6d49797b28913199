package fanout

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/storage"
	"herald/wire"
)

type publishOp struct {
	req PublishRequest
	// Prepared before the writer (see prepare.go); resolved is the newest
	// id committed before the audience's sets were read.
	resolved uint64
	audience *roaring.Bitmap
	left     leftOut
	encoded  storage.EncodedSet
	packed   []byte
	template storage.Template // a notification's, as prepared
	// capped is the audience less the followers at the monthly cap, as the
	// preparer found them; nil when the account has no cap.
	capped *cappedAudience
	// scheduled: the scheduler fires this publish for the schedule of its
	// client_msg_id, which the batch marks sent (errScheduleGone if it is
	// no longer pending).
	scheduled bool
	prepErr   error
	// Set by apply.
	result  PublishResult
	send    *delivery
	started JobReport
	reply   func(PublishResult, error)
	e       *Engine
}

// prepare does the expensive, batch-free part of a publish before the
// writer takes it: the audience is resolved from committed state (a follow,
// tag change or block acknowledged before the publish was sent is
// committed, so it counts), split into encoded chunks, and the payload
// compressed.
func (o *publishOp) prepare(e *Engine) {
	o.resolved = e.store.LastMessageID() // before any set (storage.Addressing)
	switch {
	case o.req.Notification != nil:
		o.audience, o.template, o.prepErr = resolveNotification(e.store, &o.req, &o.left)
	case o.req.ReplyTo != 0:
		o.audience, o.prepErr = resolveReply(e.store, &o.req, &o.left)
	default:
		o.audience, o.encoded, o.prepErr = resolveAudience(e.store, e.memo, &o.req, &o.left)
	}
	if o.prepErr != nil {
		return
	}
	if o.encoded.Empty() && !o.audience.IsEmpty() {
		if o.encoded, o.prepErr = storage.EncodeSet(o.audience); o.prepErr != nil {
			return
		}
	}
	o.packed = compressPayload(o.req.Payload, e.cfg.CompressMin)
	if o.req.Notification == nil && o.req.ReplyTo == 0 && len(o.req.Preview) == 0 {
		o.capped, o.prepErr = capAudience(e, o.req.Account, o.audience, o.encoded, !o.req.DryRun)
	}
}

// cappedAudience is a broadcast's audience less the followers who already
// received the account's monthly cap (the service tier's), taken by the
// preparer from the at-cap set atCap of month: the writer, which must
// subtract the set as its batch sees it, takes this when that is atCap
// itself, and does the subtraction again only when a commit or its own
// batch has counted broadcasts since (then its set is another). count is
// the count of that audience for the cap, prepared the same way (nil for a
// dry run), which the writer takes on the same condition for each level.
type cappedAudience struct {
	month    uint32
	n        uint8
	atCap    *roaring.Bitmap
	audience *roaring.Bitmap
	encoded  storage.EncodedSet
	count    *storage.PreparedCount
}

// capAudience subtracts the account's at-cap set from audience for the
// writer, and prepares the count of what is left when count is set (nil
// when its tier has no per-follower cap).
func capAudience(e *Engine, account uint32, audience *roaring.Bitmap, encoded storage.EncodedSet, count bool) (*cappedAudience, error) {
	a, err := e.store.Account(account)
	if err != nil {
		return nil, nil // the writer answers that
	}
	policy, err := e.policy(a)
	if err != nil || policy.PerFollowerMonthly <= 0 {
		return nil, nil
	}
	c := &cappedAudience{month: monthOf(e.nowMillis()), n: uint8(policy.PerFollowerMonthly), audience: audience, encoded: encoded}
	if c.atCap, err = e.store.SharedReceivedAtLeast(account, c.month, c.n); err != nil {
		return nil, err
	}
	if audience.Intersects(c.atCap) {
		c.audience = roaring.AndNot(audience, c.atCap)
		if c.encoded, err = storage.EncodeSet(c.audience); err != nil {
			return nil, err
		}
	}
	if count {
		if c.count, err = e.store.PrepareCount(account, c.month, c.n, c.audience); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// batchBytes is about what apply adds to a batch: the audience's chunks
// (at most; shared ones are written by reference), the prepared count's
// and the broadcast's own records; nothing for a dry run.
func (o *publishOp) batchBytes() int {
	if o.prepErr != nil || o.req.DryRun {
		return 0
	}
	n := o.encoded.BatchBytes() + len(o.req.Payload) + 1024
	if o.capped != nil {
		n += o.capped.count.BatchBytes()
	}
	return n
}

func (o *publishOp) apply(e *Engine, b *storage.Batch, now uint64) error {
	o.result, o.send, o.e = PublishResult{}, nil, e
	if o.prepErr != nil {
		return o.prepErr
	}
	account, err := accountIn(b, o.req.Account)
	if err != nil {
		return err
	}
	policy, err := e.policy(account)
	if err != nil {
		return err
	}
	preview, notification, reply := len(o.req.Preview) > 0, o.req.Notification != nil, o.req.ReplyTo != 0
	var schedule storage.Schedule
	if !o.req.DryRun {
		var scheduled bool
		if schedule, scheduled, err = b.Schedule(o.req.Account, o.req.ClientMsgID); err != nil {
			return err
		}
		switch {
		case o.scheduled && (!scheduled || schedule.State != storage.SchedulePending):
			return errScheduleGone
		case !o.scheduled && scheduled:
			// The client_msg_id names a scheduled broadcast: answer it.
			o.result = PublishResult{MessageID: schedule.MessageID, Duplicate: true, Scheduled: true}
			return nil
		}
		original, found, err := b.LookupIdempotency(o.req.Account, o.req.ClientMsgID, now)
		if err != nil || found {
			return o.duplicate(b, original, err)
		}
	}
	// Quotas are checked and counted in the same batch as the broadcast, by
	// the single writer, so concurrent publishers cannot both take the last
	// one and a counted broadcast survives any crash its ack survives.
	switch {
	case notification:
		if err := o.applyNotification(b, policy, now); err != nil {
			return err
		}
	case reply:
		if err := o.applyReply(e, b, now); err != nil {
			return err
		}
	case policy.Daily > 0 && !preview && !o.req.DryRun:
		if err := o.countDay(b, account.ID, policy.Daily, now); err != nil {
			return err
		}
	}
	total := uint32(o.audience.GetCardinality())
	audience, encoded := o.audience, o.encoded
	month := monthOf(now)
	if policy.PerFollowerMonthly > 0 && !preview && !notification && !reply {
		n := uint8(policy.PerFollowerMonthly)
		capped, err := b.ReceivedAtLeast(account.ID, month, n)
		if err != nil {
			return err
		}
		if c := o.capped; c != nil && c.atCap == capped && c.month == month && c.n == n {
			audience, encoded = c.audience, c.encoded // the preparer's subtraction holds
		} else if audience.Intersects(capped) {
			audience = roaring.AndNot(audience, capped)
			if encoded, err = storage.EncodeSet(audience); err != nil {
				return err
			}
		}
	}
	filtered := total - uint32(audience.GetCardinality())
	if o.req.DryRun {
		o.result = PublishResult{Total: total, Filtered: filtered, Recipients: total - filtered, NotSelected: o.left.notSelected, Blocked: o.left.blocked, DryRun: true}
		return nil
	}
	if policy.PerFollowerMonthly > 0 && !preview && !notification && !reply {
		top, counted := uint8(policy.PerFollowerMonthly), false
		if o.capped != nil {
			if counted, err = b.ApplyCount(o.capped.count, account.ID, month, top, audience); err != nil {
				return err
			}
		}
		if !counted {
			if err := b.CountReceived(account.ID, month, top, audience); err != nil {
				return err
			}
		}
	}
	m := storage.Broadcast{
		Preview:      preview,
		Notification: notification,
		Reply:        reply,
		Account:      o.req.Account,
		TimeMillis:   now,
		TTLSeconds:   o.req.TTLSeconds,
		ClientMsgID:  o.req.ClientMsgID,
		ContentType:  o.req.ContentType,
		Total:        total,
		Filtered:     filtered,
		Payload:      o.req.Payload,
	}
	addr := storage.Addressing{Resolved: o.resolved}
	if preview || notification || reply {
		addr.Listed = audience
	}
	if m.ID, err = b.AddEncodedBroadcast(m, encoded, addr); err != nil {
		return err
	}
	if err := b.PutIdempotency(o.req.Account, o.req.ClientMsgID, m.ID, now); err != nil {
		return err
	}
	if o.scheduled {
		schedule.State, schedule.MessageID = storage.ScheduleSent, m.ID
		if err := b.PutSchedule(schedule); err != nil {
			return err
		}
	}
	if !e.cfg.NoAnalytics {
		st := storage.BroadcastStats{Account: m.Account, TimeMillis: now, Preview: preview, Direct: notification || reply, NotSelected: o.left.notSelected, Blocked: o.left.blocked}
		if err := b.AddBroadcastStats(m.ID, total-filtered, st); err != nil {
			return err
		}
	}
	o.result = PublishResult{MessageID: m.ID, Total: total, Filtered: filtered, Recipients: total - filtered, NotSelected: o.left.notSelected, Blocked: o.left.blocked}
	o.send = newDelivery(m, audience, o.packed)
	if per := SpeedPerMinute(o.req.Speed); per > 0 && !audience.IsEmpty() {
		o.send.pace = float64(per) / 60_000
	}
	report := JobReport{MessageID: m.ID, Total: m.Total, Filtered: m.Filtered}
	notify, began, from := o.req.OnJobDone, time.Now(), o.req.Account
	o.send.job = newJob(report, func(r JobReport) {
		e.jobs.finished(r)
		e.cfg.Logger.Info("job done", "account", from, "message_id", r.MessageID, "sent_live", r.SentLive,
			"pending_offline", r.PendingOffline, "errors", r.Errors, "ms", msSince(began))
		if notify != nil {
			notify(r)
		}
	})
	o.started = report
	return nil
}

// duplicate answers a retry of a client_msg_id seen within the window with
// the original broadcast's id and counts.
func (o *publishOp) duplicate(b *storage.Batch, original uint64, err error) error {
	if err != nil {
		return err
	}
	m, err := b.Broadcast(original)
	if errors.Is(err, storage.ErrNotFound) {
		// Retention already removed it: the id is still the answer.
		o.result = PublishResult{MessageID: original, Duplicate: true}
		return nil
	}
	if err != nil {
		return err
	}
	o.result = PublishResult{MessageID: original, Total: m.Total, Filtered: m.Filtered, Recipients: m.Total - m.Filtered, Duplicate: true}
	return nil
}

// countDay takes one of the account's broadcasts for the UTC day, or fails
// with a QuotaError when none is left.
func (o *publishOp) countDay(b *storage.Batch, account uint32, limit int, now uint64) error {
	day := dayOf(now)
	used, err := b.QuotaCount(account, day)
	if err != nil {
		return err
	}
	if used >= uint64(limit) {
		return &QuotaError{Limit: limit, Per: "day", ResetAt: time.UnixMilli(int64(uint64(day+1) * dayMillis))}
	}
	return b.SetQuotaCount(account, day, used+1)
}

func (o *publishOp) finish(err error) {
	if err == nil && o.send != nil {
		o.e.jobs.started(o.started)
	}
	o.reply(o.result, err)
}

func (o *publishOp) delivery() *delivery { return o.send }

// log writes the publish's line: what it stored (or why not) and how long
// its group commit took.
func (o *publishOp) log(l *slog.Logger, commit time.Duration, err error) {
	if err != nil {
		l.Info("publish refused", "account", o.req.Account, "client_msg_id", o.req.ClientMsgID, "error", err)
		return
	}
	r := o.result
	l.Info("publish", "account", o.req.Account, "message_id", r.MessageID, "audience", r.Total, "filtered", r.Filtered,
		"duplicate", r.Duplicate, "dry_run", r.DryRun, "commit_ms", float64(commit.Microseconds())/1000)
}

// msSince is the time since t in milliseconds, for log lines.
func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// Publish stores a broadcast durably and then delivers it; reply is called
// from the writer goroutine after the fsync and before delivery starts.
func (e *Engine) Publish(req PublishRequest, reply func(PublishResult, error)) {
	if req.Notification != nil {
		if err := validateNotification(req); err != nil {
			reply(PublishResult{}, err)
			return
		}
		req.Payload = wire.AppendNotification(nil, *req.Notification)
	}
	if err := e.validate(req); err != nil {
		reply(PublishResult{}, err)
		return
	}
	o := &publishOp{req: req, reply: reply}
	if e.needsConfirmation(req) {
		e.publishConfirmed(o)
		return
	}
	if err := e.submitPublish(o); err != nil {
		reply(PublishResult{}, err)
	}
}

func (e *Engine) validate(req PublishRequest) error {
	switch {
	case len(req.Payload) > e.cfg.MaxPayload:
		return fmt.Errorf("%w: %d bytes, limit %d", ErrPayloadTooLarge, len(req.Payload), e.cfg.MaxPayload)
	case req.ClientMsgID == "" || len(req.ClientMsgID) > wire.MaxClientMsgID:
		return fmt.Errorf("%w: client_msg_id must be 1 to %d bytes", ErrBadRequest, wire.MaxClientMsgID)
	case len(req.ContentType) > wire.MaxContentType:
		return fmt.Errorf("%w: content type over %d bytes", ErrBadRequest, wire.MaxContentType)
	case len(req.Preview) > wire.MaxPreview:
		return fmt.Errorf("%w: a preview lists at most %d users", ErrBadRequest, wire.MaxPreview)
	case len(req.Users) > wire.MaxListed:
		return fmt.Errorf("%w: an audience lists at most %d users", ErrBadRequest, wire.MaxListed)
	case (len(req.Users) > 0) && (len(req.Preview) > 0 || len(req.Expr) > 0) || len(req.Preview) > 0 && len(req.Expr) > 0:
		return fmt.Errorf("%w: a publish is a preview, or goes to listed followers, or to a tag expression: one of them", ErrBadRequest)
	case len(req.Expr) > wire.MaxExprOps:
		return fmt.Errorf("%w: an expression has at most %d operations", ErrBadRequest, wire.MaxExprOps)
	case int(req.Speed) > MaxSpeedLevel:
		return fmt.Errorf("%w: speed level %d; the levels are 0 (as fast as possible) to %d", ErrBadRequest, req.Speed, MaxSpeedLevel)
	case req.ReplyTo != 0 && (len(req.Preview) > 0 || len(req.Users) > 0 || len(req.Expr) > 0 || req.Notification != nil):
		return fmt.Errorf("%w: a reply goes to its one user: no preview, list, expression or template", ErrBadRequest)
	}
	return nil
}
