package cluster

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"herald/engine"
)

// The contract's methods on an edge: memory-only ones answer here, the
// rest are requests to the core, each answered from its own goroutine.

// roundTrip sends one request to the core and decodes its answer with
// read. A core that does not answer is engine.ErrUnavailable.
func roundTrip[R any](e *Edge, method string, body []byte, read func(*dec) R) (R, error) {
	var zero R
	msg, err := e.nc.Request(e.subj.req(method), body, e.cfg.RequestTimeout)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return zero, fmt.Errorf("%w: no core is serving the cluster", engine.ErrUnavailable)
		}
		return zero, fmt.Errorf("%w: the core did not answer (%v)", engine.ErrUnavailable, err)
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
func ask[R any](e *Edge, method string, body []byte, read func(*dec) R, done func(R, error)) {
	go func() { done(roundTrip(e, method, body, read)) }()
}

func noResult(*dec) struct{} { return struct{}{} }

// RegisterLoop adds an event loop to the edge's online index.
func (e *Edge) RegisterLoop(loop engine.Loop) engine.LoopIndex { return e.hub.Register(loop) }

// Health reports the core unavailable when its heartbeat stopped.
func (e *Edge) Health() engine.Health {
	last := e.coreLast.Load()
	s := e.Stats()
	bus := &engine.BusHealth{Connected: e.nc.IsConnected(), CoreSilence: -1, Refused: s.Refused, Recovered: s.Recovered, Lost: s.Lost}
	if done := e.delivered.Load(); last > done {
		bus.Lag = last - done
	}
	h := engine.Health{LastMessageID: last, Delivered: e.hub.Delivered(), DeliveredBytes: e.hub.DeliveredBytes(), Bus: bus}
	if seen := e.coreSeen.Load(); seen != 0 {
		bus.CoreSilence = time.Since(time.Unix(0, seen))
	}
	switch {
	case bus.CoreSilence < 0:
		h.StorageError = fmt.Errorf("%w: no heartbeat from the core yet", engine.ErrUnavailable)
	case bus.CoreSilence > 3*e.cfg.Heartbeat:
		h.StorageError = fmt.Errorf("%w: no heartbeat from the core for %s", engine.ErrUnavailable, bus.CoreSilence.Round(time.Millisecond))
	}
	return h
}

// VerifyToken checks a client token with the keys the core handed out.
func (e *Edge) VerifyToken(token string, now time.Time) (uint32, error) {
	return e.keys.Verify(token, now)
}

// MintToken signs a client token with the newest key the core handed out.
func (e *Edge) MintToken(user uint32, expires time.Time) (string, error) {
	return e.keys.Mint(user, expires)
}

// RotateTokenKey asks the core to rotate; every edge then fetches the new
// keys.
func (e *Edge) RotateTokenKey(overlap time.Duration, done func(time.Time, error)) {
	ask(e, mRotate, encDuration(overlap), func(d *dec) time.Time { return time.UnixMilli(d.i64()) }, func(t time.Time, err error) {
		if err == nil {
			err = e.fetchKeys()
		}
		done(t, err)
	})
}

// Resume asks the core for a page. Its epoch is the edge's own count of
// retractions, read before the request: the loops' notices are numbered
// by the edge.
func (e *Edge) Resume(req engine.ResumeRequest, done func(engine.Page, error)) {
	epoch := e.retractions.Load()
	ask(e, mResume, encResume(req), decPage, func(p engine.Page, err error) {
		p.Epoch = epoch
		done(p, err)
	})
}

// Acknowledge keeps the newest acknowledgement per user; they go to the
// core every AckFlush. An edge killed meanwhile loses them: its clients
// resume from their previous cursor and drop what they had by id.
func (e *Edge) Acknowledge(user uint32, id uint64) {
	e.acks.Lock()
	if id > e.acks.m[user] {
		e.acks.m[user] = id
	}
	e.acks.Unlock()
}

// membership sends a change of followers or blocklist in requests that fit
// the bus's payload limit, one after the other; it answers how many users
// changed in all, and on an error how many changed before it.
func (e *Edge) membership(method string, req engine.Membership, done func(int, error)) {
	per := max(int(e.nc.MaxPayload()-64)/4, 1)
	go func() {
		changed := 0
		for users := req.Users; ; {
			part := users[:min(len(users), per)]
			n, err := roundTrip(e, method, encMembership(engine.Membership{Account: req.Account, Users: part}), func(d *dec) int { return int(d.u32()) })
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
	ask(e, mAuth, encCredentials(req), noResult, done)
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
	ask(e, mPublish, encPublish(q), decPublishResult, func(r engine.PublishResult, err error) {
		done(r, err)
		if token != 0 {
			e.answered(token, err != nil || r.Duplicate)
		}
	})
}

// Retract asks the core.
func (e *Edge) Retract(req engine.MessageRef, done func(struct{}, error)) {
	ask(e, mRetract, encMessageRef(req), noResult, done)
}

// Status asks the core.
func (e *Edge) Status(req engine.MessageRef, done func(engine.JobReport, error)) {
	ask(e, mStatus, encMessageRef(req), decJobReport, done)
}

// Tag asks the core.
func (e *Edge) Tag(req engine.TagRequest, done func(engine.Tag, error)) {
	ask(e, mTag, encTagRequest(req), decTag, done)
}

// Tags asks the core.
func (e *Edge) Tags(account uint32, done func([]engine.Tag, error)) {
	q := newEnc(4)
	q.u32(account)
	ask(e, mTags, q.b, func(d *dec) []engine.Tag { return decList(d, minTag, decTag) }, done)
}

// CreateAccount asks the core.
func (e *Edge) CreateAccount(req engine.NewAccount, done func(engine.Account, error)) {
	q := newEnc(8 + len(req.Name) + len(req.Tier))
	q.str(req.Name)
	q.str(req.Tier)
	ask(e, mCreate, q.b, decAccount, done)
}

// Account asks the core.
func (e *Edge) Account(id uint32, done func(engine.Account, error)) {
	q := newEnc(4)
	q.u32(id)
	ask(e, mAccount, q.b, decAccount, done)
}

// Accounts asks the core.
func (e *Edge) Accounts(req engine.PageRequest, done func([]engine.Account, error)) {
	q := newEnc(8)
	q.u32(req.From)
	q.u32(uint32(max(req.Limit, 0)))
	ask(e, mAccounts, q.b, func(d *dec) []engine.Account { return decList(d, minAccount, decAccount) }, done)
}

// Followers asks the core.
func (e *Edge) Followers(req engine.FollowersRequest, done func(engine.FollowerPage, error)) {
	q := newEnc(12)
	q.u32(req.Account)
	q.u32(req.From)
	q.u32(uint32(max(req.Limit, 0)))
	ask(e, mFollowers, q.b, func(d *dec) engine.FollowerPage {
		return engine.FollowerPage{IDs: d.u32s(), Total: d.u64()}
	}, done)
}
