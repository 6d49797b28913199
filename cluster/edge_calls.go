package cluster

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"herald/engine"
	"herald/wire"
)

// The contract's methods on an edge: memory-only ones answer here, the
// rest are requests to the core that owns the account (its shard,
// wire.AccountShard), each answered from its own goroutine; catch-up and
// key rotation ask every core.

// roundTrip sends one request to the core of shard and decodes its answer
// with read. A core that does not answer is engine.ErrUnavailable.
func roundTrip[R any](e *Edge, shard uint8, method string, body []byte, read func(*dec) R) (R, error) {
	var zero R
	msg, err := e.nc.Request(e.subj.req(shard, method), body, e.cfg.RequestTimeout)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return zero, fmt.Errorf("%w: no core is serving shard %d", engine.ErrUnavailable, shard)
		}
		return zero, fmt.Errorf("%w: the core of shard %d did not answer (%v)", engine.ErrUnavailable, shard, err)
	}
	d, err := newDec(msg.Data)
	if err != nil {
		e.refused.Add(1)
		return zero, err
	}
	switch d.u8() {
	case answerOK:
		var r R
		if read != nil {
			r = read(d)
		}
		if err := d.check(method + " answer"); err != nil {
			e.refused.Add(1)
			return zero, err
		}
		return r, nil
	case answerError:
		err := decError(d)
		if cerr := d.check(method + " error"); cerr != nil {
			e.refused.Add(1)
			return zero, cerr
		}
		return zero, err
	default:
		e.refused.Add(1)
		return zero, errMalformed(method + " answer status")
	}
}

// ask is roundTrip on its own goroutine, answering done.
func ask[R any](e *Edge, shard uint8, method string, body []byte, read func(*dec) R, done func(R, error)) {
	go func() { done(roundTrip(e, shard, method, body, read)) }()
}

// askOwner is ask to the core that owns account; an account of no shard
// of this cluster answers missing, as a core would.
func askOwner[R any](e *Edge, account uint32, missing error, method string, body []byte, read func(*dec) R, done func(R, error)) {
	shard := wire.AccountShard(account)
	if int(shard) >= len(e.links) {
		var zero R
		done(zero, fmt.Errorf("%w: account %d is of shard %d; this cluster has %d", missing, account, shard, len(e.links)))
		return
	}
	ask(e, shard, method, body, read, done)
}

func noResult(*dec) struct{} { return struct{}{} }

// RegisterLoop adds an event loop to the edge's online index.
func (e *Edge) RegisterLoop(loop engine.Loop) engine.LoopIndex { return e.hub.Register(loop) }

// Health reports the cluster unavailable while any core's heartbeat has
// stopped; CoreSilence is the longest silence, Lag the sum over cores, and
// LastMessageID the newest of the last shard heard from.
func (e *Edge) Health() engine.Health {
	s := e.Stats()
	bus := &engine.BusHealth{Connected: e.nc.IsConnected(), Refused: s.Refused, Recovered: s.Recovered, Lost: s.Lost}
	h := engine.Health{Shards: len(e.links), Delivered: e.hub.Delivered(), DeliveredBytes: e.hub.DeliveredBytes(), Bus: bus}
	var unheard []uint8
	for _, l := range e.links {
		last := l.coreLast.Load()
		if done := l.delivered.Load(); last > done && done != 0 {
			bus.Lag += last - done
		}
		seen := l.coreSeen.Load()
		if seen == 0 {
			unheard = append(unheard, l.shard)
			continue
		}
		h.LastMessageID = max(h.LastMessageID, last)
		h.Newest = h.Newest.Advance(last)
		bus.CoreSilence = max(bus.CoreSilence, time.Since(time.Unix(0, seen)))
	}
	switch {
	case len(unheard) > 0:
		bus.CoreSilence = -1
		h.StorageError = fmt.Errorf("%w: no heartbeat yet from the core of shard %v", engine.ErrUnavailable, unheard)
	case bus.CoreSilence > 3*e.cfg.Heartbeat:
		h.StorageError = fmt.Errorf("%w: a core has sent no heartbeat for %s", engine.ErrUnavailable, bus.CoreSilence.Round(time.Millisecond))
	}
	return h
}

// VerifyToken checks a client token with the keys the cores handed out: a
// token any core's keys verify is good.
func (e *Edge) VerifyToken(token string, now time.Time) (uint32, error) {
	var first error
	for _, l := range e.links {
		user, err := l.keys.Verify(token, now)
		if err == nil {
			return user, nil
		}
		// An expired token of one ring says more than another ring's
		// invalid, and either more than a ring with no keys yet.
		if first == nil || errors.Is(err, engine.ErrTokenExpired) || errors.Is(first, engine.ErrUnavailable) {
			first = err
		}
	}
	return 0, first
}

// MintToken signs a client token with the newest key of the first core
// whose keys the edge has.
func (e *Edge) MintToken(user uint32, expires time.Time) (string, error) {
	var err error
	for _, l := range e.links {
		var token string
		if token, err = l.keys.Mint(user, expires); err == nil {
			return token, nil
		}
	}
	return "", err
}

// RotateTokenKey asks every core to rotate and fetches the new keys; it
// answers the latest time a replaced key stops verifying.
func (e *Edge) RotateTokenKey(overlap time.Duration, done func(time.Time, error)) {
	go func() {
		var latest time.Time
		for _, l := range e.links {
			t, err := roundTrip(e, l.shard, mRotate, encDuration(overlap), func(d *dec) time.Time { return time.UnixMilli(d.i64()) })
			if err == nil {
				err = e.fetchKeys(l)
			}
			if err != nil {
				done(time.Time{}, fmt.Errorf("rotating the token key of shard %d: %w", l.shard, err))
				return
			}
			if t.After(latest) {
				latest = t
			}
		}
		done(latest, nil)
	}()
}

// Acknowledge keeps the newest acknowledgement per user and shard; they go
// to the cores every AckFlush. An edge killed meanwhile loses them: its
// clients resume from their previous cursor and drop what they had by id.
func (e *Edge) Acknowledge(user uint32, id, caughtUp uint64) {
	shard := wire.ShardOf(id)
	if int(shard) >= len(e.links) || id == wire.ShardBase(shard) {
		return // no core's: nothing to acknowledge
	}
	k := ackKey{user, shard}
	e.acks.Lock()
	if id > e.acks.m[k].ID {
		e.acks.m[k] = ack{User: user, ID: id, CaughtUp: caughtUp}
	}
	e.acks.Unlock()
}

// maxOpenedPerUser bounds one user's OPENED frames an edge keeps between
// flushes; more are dropped (a client opening that fast is not a person).
const maxOpenedPerUser = 64

// Open sends the user's OPENED to the core of the broadcast's shard with
// the next acknowledgements.
func (e *Edge) Open(user uint32, id uint64) {
	shard := wire.ShardOf(id)
	if int(shard) >= len(e.links) || id == wire.ShardBase(shard) {
		return
	}
	k := ackKey{user, shard}
	e.acks.Lock()
	if ids := e.acks.opened[k]; len(ids) < maxOpenedPerUser {
		e.acks.opened[k] = append(ids, id)
	}
	e.acks.Unlock()
}

// membership sends a change of followers or blocklist in requests that fit
// the bus's payload limit, one after the other; it answers how many users
// changed in all, and on an error how many changed before it.
func (e *Edge) membership(method string, req engine.Membership, done func(int, error)) {
	per := max(int(e.nc.MaxPayload()-64)/4, 1)
	shard := wire.AccountShard(req.Account)
	if int(shard) >= len(e.links) {
		done(0, fmt.Errorf("%w: account %d is of shard %d; this cluster has %d", engine.ErrUnknownAccount, req.Account, shard, len(e.links)))
		return
	}
	go func() {
		changed := 0
		for users := req.Users; ; {
			part := users[:min(len(users), per)]
			n, err := roundTrip(e, shard, method, encMembership(engine.Membership{Account: req.Account, Users: part, Source: req.Source}), func(d *dec) int { return int(d.u32()) })
			changed += n
			users = users[len(part):]
			if err != nil || len(users) == 0 {
				done(changed, err)
				return
			}
		}
	}()
}

// Follow, Unfollow, Block and Unblock ask the core.
func (e *Edge) Follow(req engine.Membership, done func(int, error)) { e.membership(mFollow, req, done) }
func (e *Edge) Unfollow(req engine.Membership, done func(int, error)) {
	e.membership(mUnfollow, req, done)
}
func (e *Edge) Block(req engine.Membership, done func(int, error)) { e.membership(mBlock, req, done) }
func (e *Edge) Unblock(req engine.Membership, done func(int, error)) {
	e.membership(mUnblock, req, done)
}

// Authenticate asks the core.
func (e *Edge) Authenticate(req engine.Credentials, done func(struct{}, error)) {
	askOwner(e, req.Account, engine.ErrAuth, mAuth, encCredentials(req), noResult, done)
}

// Publish asks the core; its job report comes back on the edge's own
// subject.
func (e *Edge) Publish(req engine.PublishRequest, done func(engine.PublishResult, error)) {
	q := publishMsg{PublishRequest: req}
	var token uint64
	if req.OnJobDone != nil && !req.DryRun {
		e.jobs.Lock()
		e.jobs.next++
		token = e.jobs.next
		e.jobs.m[token] = pendingPublish{done: req.OnJobDone, asked: time.Now()}
		e.jobs.Unlock()
		q.JobDone, q.Token = e.subj.jobDone(e.cfg.Name), token
	}
	askOwner(e, req.Account, engine.ErrUnknownAccount, mPublish, encPublish(q), decPublishResult, func(r engine.PublishResult, err error) {
		done(r, err)
		if token != 0 {
			e.answered(token, err != nil || r.Duplicate)
		}
	})
}

// Retract asks the core.
func (e *Edge) Retract(req engine.MessageRef, done func(struct{}, error)) {
	askOwner(e, req.Account, engine.ErrUnknownAccount, mRetract, encMessageRef(req), noResult, done)
}

// Status asks the core.
func (e *Edge) Status(req engine.MessageRef, done func(engine.JobReport, error)) {
	askOwner(e, req.Account, engine.ErrUnknownAccount, mStatus, encMessageRef(req), decJobReport, done)
}

// Tag asks the core.
func (e *Edge) Tag(req engine.TagRequest, done func(engine.Tag, error)) {
	askOwner(e, req.Account, engine.ErrUnknownAccount, mTag, encTagRequest(req), decTag, done)
}

// Tags asks the core.
func (e *Edge) Tags(account uint32, done func([]engine.Tag, error)) {
	q := newEnc(4)
	q.u32(account)
	askOwner(e, account, engine.ErrUnknownAccount, mTags, q.b, func(d *dec) []engine.Tag { return decList(d, minTag, decTag) }, done)
}

// Template asks the core.
func (e *Edge) Template(req engine.TemplateRequest, done func(wire.TemplateInfo, error)) {
	askOwner(e, req.Account, engine.ErrUnknownAccount, mTemplate, encTemplateRequest(req), decTemplateInfo, done)
}

// Templates asks the core.
func (e *Edge) Templates(account uint32, done func([]wire.TemplateInfo, error)) {
	q := newEnc(4)
	q.u32(account)
	askOwner(e, account, engine.ErrUnknownAccount, mTemplates, q.b, func(d *dec) []wire.TemplateInfo { return decList(d, minTemplate, decTemplateInfo) }, done)
}

// Consent asks the core of the account.
func (e *Edge) Consent(req engine.ConsentRequest, done func(engine.ConsentState, error)) {
	askOwner(e, req.Account, engine.ErrUnknownAccount, mConsent, encConsentRequest(req), decConsentState, done)
}

// Confirm asks the core.
func (e *Edge) Confirm(req engine.ConfirmRequest, done func(struct{}, error)) {
	askOwner(e, req.Account, engine.ErrUnknownAccount, mConfirm, encConfirmRequest(req), noResult, done)
}

// Confirmations asks the core.
func (e *Edge) Confirmations(account uint32, done func([]engine.Confirmation, error)) {
	q := newEnc(4)
	q.u32(account)
	askOwner(e, account, engine.ErrUnknownAccount, mConfirms, q.b, func(d *dec) []engine.Confirmation { return decList(d, minConfirm, decConfirmation) }, done)
}

// Schedule asks the core.
func (e *Edge) Schedule(req engine.ScheduleRequest, done func(engine.PublishResult, error)) {
	askOwner(e, req.Account, engine.ErrUnknownAccount, mSchedule, encScheduleRequest(req), decPublishResult, done)
}

// Cancel asks the core.
func (e *Edge) Cancel(req engine.CancelRequest, done func(struct{}, error)) {
	askOwner(e, req.Account, engine.ErrUnknownAccount, mCancel, encCancelRequest(req), noResult, done)
}

// Schedules asks the core.
func (e *Edge) Schedules(account uint32, done func([]engine.ScheduledBroadcast, error)) {
	q := newEnc(4)
	q.u32(account)
	askOwner(e, account, engine.ErrUnknownAccount, mSchedules, q.b, func(d *dec) []engine.ScheduledBroadcast { return decList(d, minScheduled, decScheduled) }, done)
}

// Write asks the core of the account.
func (e *Edge) Write(req engine.LetterRequest, done func(uint64, error)) {
	askOwner(e, req.Account, engine.ErrUnknownAccount, mWrite, encLetterRequest(req), func(d *dec) uint64 { return d.u64() }, done)
}

// Inbox asks the core.
func (e *Edge) Inbox(req engine.InboxRequest, done func([]engine.Letter, error)) {
	askOwner(e, req.Account, engine.ErrUnknownAccount, mInbox, encInboxRequest(req), func(d *dec) []engine.Letter { return decList(d, minLetter, decLetter) }, done)
}

// CreateAccount asks the cores in turn, so accounts spread over the
// shards; a core that cannot be reached passes its turn to the next.
func (e *Edge) CreateAccount(req engine.NewAccount, done func(engine.Account, error)) {
	q := newEnc(8 + len(req.Name) + len(req.Tier))
	q.str(req.Name)
	q.str(req.Tier)
	first := int(e.created.Add(1)-1) % len(e.links)
	go func() {
		var err error
		for i := range e.links {
			var a engine.Account
			a, err = roundTrip(e, uint8((first+i)%len(e.links)), mCreate, q.b, decAccount)
			if !errors.Is(err, engine.ErrUnavailable) {
				done(a, err)
				return
			}
		}
		done(engine.Account{}, err)
	}()
}

// Account asks the core.
func (e *Edge) Account(id uint32, done func(engine.Account, error)) {
	q := newEnc(4)
	q.u32(id)
	askOwner(e, id, engine.ErrUnknownAccount, mAccount, q.b, decAccount, done)
}

// Accounts asks the cores in shard order (account ids are ordered by
// shard), from the shard of req.From on, until the page is full.
func (e *Edge) Accounts(req engine.PageRequest, done func([]engine.Account, error)) {
	go func() {
		var page []engine.Account
		for shard := int(wire.AccountShard(req.From)); shard < len(e.links) && len(page) < req.Limit; shard++ {
			q := newEnc(8)
			q.u32(max(req.From, wire.AccountBase(uint8(shard))))
			q.u32(uint32(req.Limit - len(page)))
			as, err := roundTrip(e, uint8(shard), mAccounts, q.b, func(d *dec) []engine.Account { return decList(d, minAccount, decAccount) })
			if err != nil {
				done(nil, err)
				return
			}
			page = append(page, as...)
		}
		done(page, nil)
	}()
}

// Followers asks the core.
func (e *Edge) Followers(req engine.FollowersRequest, done func(engine.FollowerPage, error)) {
	q := newEnc(12)
	q.u32(req.Account)
	q.u32(req.From)
	q.u32(uint32(max(req.Limit, 0)))
	askOwner(e, req.Account, engine.ErrUnknownAccount, mFollowers, q.b, func(d *dec) engine.FollowerPage {
		return engine.FollowerPage{IDs: d.u32s(), Total: d.u64()}
	}, done)
}

// FollowerStats asks the core that owns the account.
func (e *Edge) FollowerStats(req engine.FollowerStatsRequest, done func([]engine.FollowerDay, error)) {
	askOwner(e, req.Account, engine.ErrUnknownAccount, mStats, encStatsRequest(req), func(d *dec) []engine.FollowerDay {
		return decList(d, minFollowerDay, decFollowerDay)
	}, done)
}

// Following asks the core that owns the account.
func (e *Edge) Following(req engine.Membership, done func(int, error)) {
	askOwner(e, req.Account, engine.ErrUnknownAccount, mFollowing, encMembership(req), func(d *dec) int { return int(d.u32()) }, done)
}

// Broadcasts asks the core that owns the account.
func (e *Edge) Broadcasts(req engine.BroadcastsRequest, done func([]engine.JobReport, error)) {
	askOwner(e, req.Account, engine.ErrUnknownAccount, mBroadcasts, encBroadcastsRequest(req), func(d *dec) []engine.JobReport {
		return decList(d, minJobReport, decJobReport)
	}, done)
}

// BroadcastStats asks the core that owns the account; the server's
// figures (account 0) are every core's, added day by day.
func (e *Edge) BroadcastStats(req engine.BroadcastStatsRequest, done func([]engine.BroadcastDay, error)) {
	body := encStatsRequest(engine.FollowerStatsRequest(req))
	read := func(d *dec) []engine.BroadcastDay { return decList(d, minBroadcastDay, decBroadcastDay) }
	if req.Account != 0 {
		askOwner(e, req.Account, engine.ErrUnknownAccount, mReachDays, body, read, done)
		return
	}
	go func() {
		sum := map[uint32]engine.BroadcastDay{}
		for shard := range e.links {
			days, err := roundTrip(e, uint8(shard), mReachDays, body, read)
			if err != nil {
				done(nil, err)
				return
			}
			for _, d := range days {
				t := sum[d.Day]
				t.Day = d.Day
				t.Broadcasts += d.Broadcasts
				t.Recipients += d.Recipients
				t.Delivered += d.Delivered
				t.Opened += d.Opened
				sum[d.Day] = t
			}
		}
		out := make([]engine.BroadcastDay, 0, len(sum))
		for _, d := range sum {
			out = append(out, d)
		}
		slices.SortFunc(out, func(a, b engine.BroadcastDay) int { return cmp.Compare(a.Day, b.Day) })
		done(out, nil)
	}()
}
