package cluster

import (
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/nats-io/nats.go"

	"herald/engine"
	"herald/fanout"
	"herald/wire"
)

// CoreConfig configures a core: the engine it serves and the bus.
type CoreConfig struct {
	// Conn is the core's NATS connection; the caller closes it after
	// Close. Cluster names the cluster's subjects (DefaultCluster).
	Conn    *nats.Conn
	Cluster string
	Engine  *fanout.Engine
	// Heartbeat is how often the core says it is alive (1 s); an edge
	// silent for EdgeTimeout (3 heartbeats) is taken as gone.
	Heartbeat   time.Duration
	EdgeTimeout time.Duration
	// ReportTimeout bounds how long a broadcast's job report waits for the
	// edges' outcomes (30 s); edges that have not reported count their
	// recipients as pending.
	ReportTimeout time.Duration
	// QueueLength bounds the relays waiting for the bus (4096); beyond it
	// the engine's writer waits, so commits slow down rather than memory
	// grow.
	QueueLength int
	Logger      *slog.Logger
}

// Core serves one engine to the cluster: it answers the edges' requests
// for its shard (the engine's, fanout.Engine.Shard) and relays every
// committed broadcast to them.
type Core struct {
	cfg      CoreConfig
	nc       *nats.Conn
	eng      *fanout.Engine
	subj     subjects
	shard    uint8
	instance uint64
	subs     []*nats.Subscription
	queue    chan relayed
	// beat asks the sender for a heartbeat now (a new edge wants its
	// starting point); fetching bounds the fetches running.
	beat     chan struct{}
	fetching chan struct{}
	stop     chan struct{}
	done     sync.WaitGroup
	// lastRelayed is the newest broadcast id put on the bus; parts counts
	// the relay messages sent.
	lastRelayed atomic.Uint64
	parts       atomic.Uint64
	edges       edgeSet
	refused     atomic.Uint64
	closeOnce   sync.Once
}

type relayed struct {
	r    fanout.Relayed
	done func(reached, failed *roaring.Bitmap)
}

// maxFetches bounds the edges' fetches of missed broadcasts a core reads at
// once.
const maxFetches = 16

// CatchUpBytes returns the page size (fanout.Config.CatchUpBytes) that keeps
// every catch-up answer under the bus's payload limit, for an engine whose
// payloads are at most maxPayload and pages at most pageLen broadcasts.
func CatchUpBytes(busMax int64, maxPayload, pageLen int) (int, error) {
	// A page stops once its payloads pass the limit, so it holds up to one
	// more payload; each frame adds its header and content type.
	n := int(busMax) - maxPayload - pageLen*(64+255) - 16<<10
	if n < 64<<10 {
		return 0, fmt.Errorf("the bus's payload limit %d is too small for payloads of %d bytes (raise max_payload on the NATS server)", busMax, maxPayload)
	}
	return n, nil
}

// StartCore starts serving cfg.Engine on the bus. The engine must not have
// been published to yet (its broadcasts from now on are relayed).
func StartCore(cfg CoreConfig) (*Core, error) {
	cfg.Cluster = cmp.Or(cfg.Cluster, DefaultCluster)
	cfg.Heartbeat = cmp.Or(cfg.Heartbeat, time.Second)
	cfg.EdgeTimeout = cmp.Or(cfg.EdgeTimeout, 3*cfg.Heartbeat)
	cfg.ReportTimeout = cmp.Or(cfg.ReportTimeout, 30*time.Second)
	cfg.QueueLength = cmp.Or(cfg.QueueLength, 4096)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Core{cfg: cfg, nc: cfg.Conn, eng: cfg.Engine, subj: subjects{cfg.Cluster}, shard: cfg.Engine.Shard(),
		instance: randomID(), queue: make(chan relayed, cfg.QueueLength), beat: make(chan struct{}, 1), fetching: make(chan struct{}, maxFetches), stop: make(chan struct{})}
	c.edges.init()
	c.lastRelayed.Store(c.eng.Health().LastMessageID)
	for subject, handle := range map[string]nats.MsgHandler{
		c.subj.reqAll(c.shard): c.serve,
		c.subj.report(c.shard): c.onReport,
		c.subj.acks(c.shard):   c.onAcks,
		c.subj.edgeAlive():     c.onEdgeAlive,
	} {
		sub, err := c.nc.Subscribe(subject, handle)
		if err != nil {
			c.unsubscribe()
			return nil, fmt.Errorf("subscribing to %s: %w", subject, err)
		}
		c.subs = append(c.subs, sub)
	}
	if err := c.nc.Flush(); err != nil {
		c.unsubscribe()
		return nil, fmt.Errorf("reaching NATS: %w", err)
	}
	c.eng.AddRelay(c)
	c.done.Add(1)
	go c.send()
	return c, nil
}

// Close stops serving; broadcasts committed meanwhile are still relayed
// (the caller closes the engine first). It does not close the connection.
func (c *Core) Close() {
	c.closeOnce.Do(func() {
		c.unsubscribe()
		close(c.stop)
		c.done.Wait()
		_ = c.nc.Flush()
	})
}

func (c *Core) unsubscribe() {
	for _, s := range c.subs {
		_ = s.Unsubscribe()
	}
}

// Edges returns how many edges the core hears from.
func (c *Core) Edges() int { return c.edges.count() }

// CoreStats are a core's bus figures.
type CoreStats struct {
	// Connected: the NATS connection is up.
	Connected bool
	// Edges is how many edges the core hears from.
	Edges int
	// LastRelayed is the newest broadcast id put on the bus, Queued how
	// many relays wait for it.
	LastRelayed uint64
	Queued      int
	// Parts counts the relay messages sent (more than the broadcasts
	// where large audiences were split).
	Parts uint64
	// Refused counts bus messages refused.
	Refused uint64
}

// Stats returns the core's bus figures.
func (c *Core) Stats() CoreStats {
	return CoreStats{Connected: c.nc.IsConnected(), Edges: c.edges.count(), LastRelayed: c.lastRelayed.Load(), Queued: len(c.queue), Parts: c.parts.Load(), Refused: c.refused.Load()}
}

// Refused counts bus messages the core refused (malformed, or from an
// unknown sender).
func (c *Core) Refused() uint64 { return c.refused.Load() }

func randomID() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:]) | 1
}

// Relay queues a committed broadcast for the bus (fanout.Relay). It runs
// on the engine's writer goroutine and waits only when the queue is full.
func (c *Core) Relay(r fanout.Relayed, done func(reached, failed *roaring.Bitmap)) {
	select {
	case c.queue <- relayed{r, done}:
	case <-c.stop:
		done(nil, nil)
	}
}

// send puts relays on the bus in commit order, and the heartbeat between
// them, so an edge that sees a heartbeat has seen every relay before it.
func (c *Core) send() {
	defer c.done.Done()
	tick := time.NewTicker(c.cfg.Heartbeat)
	defer tick.Stop()
	c.heartbeat()
	for {
		select {
		case q := <-c.queue:
			c.relay(q)
		case <-tick.C:
			c.heartbeat()
			c.edges.expire(time.Now().Add(-c.cfg.EdgeTimeout), time.Now())
		case <-c.beat:
			c.heartbeat()
		case <-c.stop:
			for {
				select {
				case q := <-c.queue:
					c.relay(q)
				default:
					c.heartbeat()
					c.edges.abandon()
					return
				}
			}
		}
	}
}

func (c *Core) heartbeat() {
	_ = c.nc.Publish(c.subj.coreAlive(c.shard), encodeCoreAlive(coreAlive{Instance: c.instance, Last: c.lastRelayed.Load()}))
}

func (c *Core) relay(q relayed) {
	parts, err := split(q.r, c.nc.MaxPayload())
	if err != nil {
		// Edges fetch it when the next heartbeat shows the gap, and fail
		// the same way; its recipients get it on catch-up.
		c.cfg.Logger.Error("relaying a broadcast", "message_id", q.r.ID, "error", err)
	}
	if q.r.ID != 0 {
		c.edges.expect(q.r.ID, len(parts), q.done, time.Now().Add(c.cfg.ReportTimeout))
	} else {
		q.done(nil, nil)
	}
	for i, p := range parts {
		msg := encodeRelay(relayMsg{Instance: c.instance, Part: uint16(i), Parts: uint16(len(parts)), Relayed: p})
		if err := c.nc.Publish(c.subj.relay(c.shard), msg); err != nil {
			c.cfg.Logger.Error("relaying a broadcast", "message_id", q.r.ID, "error", err)
		}
		c.parts.Add(1)
	}
	if q.r.ID != 0 {
		c.lastRelayed.Store(q.r.ID)
	}
}

// serve answers one request of an edge.
func (c *Core) serve(msg *nats.Msg) {
	method := c.subj.method(c.shard, msg.Subject)
	d, err := newDec(msg.Data)
	if err != nil {
		c.refuse(msg, err)
		return
	}
	answer := func(write func(*enc)) func(err error) {
		return func(err error) {
			e := newEnc(64)
			if err != nil {
				encError(e, err)
			} else {
				e.u8(answerOK)
				if write != nil {
					write(e)
				}
			}
			_ = msg.Respond(e.b)
		}
	}
	switch method {
	case mResume:
		q := decResume(d)
		if c.checked(msg, d) {
			c.eng.Resume(q, func(p engine.Page, err error) { answer(func(e *enc) { encPage(e, p) })(err) })
		}
	case mFollow, mUnfollow, mBlock, mUnblock:
		q := decMembership(d)
		if !c.checked(msg, d) {
			return
		}
		change := c.eng.Follow
		switch method {
		case mUnfollow:
			change = c.eng.Unfollow
		case mBlock:
			change = c.eng.Block
		case mUnblock:
			change = c.eng.Unblock
		}
		change(q, func(n int, err error) { answer(func(e *enc) { e.u32(uint32(n)) })(err) })
	case mAuth:
		q := decCredentials(d)
		if c.checked(msg, d) {
			c.eng.Authenticate(q, func(_ struct{}, err error) { answer(nil)(err) })
		}
	case mPublish:
		q, err := decPublish(d)
		if err == nil {
			err = d.check(method)
		}
		if err != nil {
			c.refuse(msg, err)
			return
		}
		if q.JobDone != "" {
			subject, token := q.JobDone, q.Token
			q.OnJobDone = func(r engine.JobReport) {
				_ = c.nc.Publish(subject, encJobDone(jobDoneMsg{Token: token, Report: r}))
			}
		}
		c.eng.Publish(q.PublishRequest, func(r engine.PublishResult, err error) {
			answer(func(e *enc) { encPublishResult(e, r) })(err)
		})
	case mRetract:
		q := decMessageRef(d)
		if c.checked(msg, d) {
			c.eng.Retract(q, func(_ struct{}, err error) { answer(nil)(err) })
		}
	case mStatus:
		q := decMessageRef(d)
		if c.checked(msg, d) {
			c.eng.Status(q, func(r engine.JobReport, err error) { answer(func(e *enc) { encJobReport(e, r) })(err) })
		}
	case mTag:
		q := decTagRequest(d)
		if c.checked(msg, d) {
			c.eng.Tag(q, func(t engine.Tag, err error) { answer(func(e *enc) { encTag(e, t) })(err) })
		}
	case mTags:
		account := d.u32()
		if c.checked(msg, d) {
			c.eng.Tags(account, func(ts []engine.Tag, err error) {
				answer(func(e *enc) { encList(e, ts, encTag) })(err)
			})
		}
	case mTemplate:
		q := decTemplateRequest(d)
		if c.checked(msg, d) {
			c.eng.Template(q, func(t wire.TemplateInfo, err error) { answer(func(e *enc) { encTemplateInfo(e, t) })(err) })
		}
	case mTemplates:
		account := d.u32()
		if c.checked(msg, d) {
			c.eng.Templates(account, func(ts []wire.TemplateInfo, err error) {
				answer(func(e *enc) { encList(e, ts, encTemplateInfo) })(err)
			})
		}
	case mConsent:
		q := decConsentRequest(d)
		if c.checked(msg, d) {
			c.eng.Consent(q, func(st engine.ConsentState, err error) { answer(func(e *enc) { encConsentState(e, st) })(err) })
		}
	case mConfirm:
		q := decConfirmRequest(d)
		if c.checked(msg, d) {
			c.eng.Confirm(q, func(_ struct{}, err error) { answer(nil)(err) })
		}
	case mConfirms:
		account := d.u32()
		if c.checked(msg, d) {
			c.eng.Confirmations(account, func(cs []engine.Confirmation, err error) {
				answer(func(e *enc) { encList(e, cs, encConfirmation) })(err)
			})
		}
	case mSchedule:
		q, err := decScheduleRequest(d)
		if err == nil {
			err = d.check(method)
		}
		if err != nil {
			c.refuse(msg, err)
			return
		}
		c.eng.Schedule(q, func(r engine.PublishResult, err error) { answer(func(e *enc) { encPublishResult(e, r) })(err) })
	case mCancel:
		q := decCancelRequest(d)
		if c.checked(msg, d) {
			c.eng.Cancel(q, func(_ struct{}, err error) { answer(nil)(err) })
		}
	case mSchedules:
		account := d.u32()
		if c.checked(msg, d) {
			c.eng.Schedules(account, func(ss []engine.ScheduledBroadcast, err error) {
				answer(func(e *enc) { encList(e, ss, encScheduled) })(err)
			})
		}
	case mWrite:
		q := decLetterRequest(d)
		if c.checked(msg, d) {
			c.eng.Write(q, func(seq uint64, err error) { answer(func(e *enc) { e.u64(seq) })(err) })
		}
	case mInbox:
		q := decInboxRequest(d)
		if c.checked(msg, d) {
			c.eng.Inbox(q, func(ls []engine.Letter, err error) { answer(func(e *enc) { encList(e, ls, encLetter) })(err) })
		}
	case mCreate:
		q := engine.NewAccount{Name: d.str(), Tier: d.str()}
		if c.checked(msg, d) {
			c.eng.CreateAccount(q, func(a engine.Account, err error) { answer(func(e *enc) { encAccount(e, a) })(err) })
		}
	case mAccount:
		id := d.u32()
		if c.checked(msg, d) {
			c.eng.Account(id, func(a engine.Account, err error) { answer(func(e *enc) { encAccount(e, a) })(err) })
		}
	case mAccounts:
		q := engine.PageRequest{From: d.u32(), Limit: int(d.u32())}
		if c.checked(msg, d) {
			c.eng.Accounts(q, func(as []engine.Account, err error) {
				answer(func(e *enc) { encList(e, as, encAccount) })(err)
			})
		}
	case mFollowers:
		q := engine.FollowersRequest{Account: d.u32(), PageRequest: engine.PageRequest{From: d.u32(), Limit: int(d.u32())}}
		if c.checked(msg, d) {
			c.eng.Followers(q, func(p engine.FollowerPage, err error) {
				answer(func(e *enc) { e.u32s(p.IDs); e.u64(p.Total) })(err)
			})
		}
	case mStats:
		q := decStatsRequest(d)
		if c.checked(msg, d) {
			c.eng.FollowerStats(q, func(days []engine.FollowerDay, err error) {
				answer(func(e *enc) { encList(e, days, encFollowerDay) })(err)
			})
		}
	case mFollowing:
		q := decMembership(d)
		if c.checked(msg, d) {
			c.eng.Following(q, func(n int, err error) { answer(func(e *enc) { e.u32(uint32(n)) })(err) })
		}
	case mBroadcasts:
		q := decBroadcastsRequest(d)
		if c.checked(msg, d) {
			c.eng.Broadcasts(q, func(rs []engine.JobReport, err error) {
				answer(func(e *enc) { encList(e, rs, encJobReport) })(err)
			})
		}
	case mReachDays:
		q := decStatsRequest(d)
		if c.checked(msg, d) {
			c.eng.BroadcastStats(engine.BroadcastStatsRequest(q), func(days []engine.BroadcastDay, err error) {
				answer(func(e *enc) { encList(e, days, encBroadcastDay) })(err)
			})
		}
	case mRotate:
		overlap := time.Duration(d.i64())
		if c.checked(msg, d) {
			c.eng.RotateTokenKey(overlap, func(t time.Time, err error) {
				if err == nil {
					_ = c.nc.Publish(c.subj.keys(c.shard), newEnc(0).b)
				}
				answer(func(e *enc) { e.i64(t.UnixMilli()) })(err)
			})
		}
	case mKeys:
		if c.checked(msg, d) {
			keys, err := c.eng.TokenKeys()
			answer(func(e *enc) { e.bytes(keys) })(err)
		}
	case mFetch:
		id, part := d.u64(), d.u16()
		if c.checked(msg, d) {
			// Reads of the log, off the subscription's goroutine; at most
			// maxFetches at once, and the rest wait their turn.
			c.fetching <- struct{}{}
			go func() {
				defer func() { <-c.fetching }()
				c.fetch(id, part, answer)
			}()
		}
	default:
		c.refuse(msg, errMalformed("unknown method "+method))
	}
}

// fetch answers one part of a committed broadcast an edge missed.
func (c *Core) fetch(id uint64, part uint16, answer func(func(*enc)) func(error)) {
	r, retracted, err := c.eng.Relayed(id)
	if err != nil {
		answer(nil)(err)
		return
	}
	m := relayMsg{Instance: c.instance, Parts: 1, Retracted: retracted, Relayed: r}
	if !retracted {
		parts, err := split(r, c.nc.MaxPayload())
		if err != nil {
			answer(nil)(err)
			return
		}
		if int(part) >= len(parts) {
			answer(nil)(fmt.Errorf("%w: broadcast %d has %d parts", engine.ErrBadRequest, id, len(parts)))
			return
		}
		m.Part, m.Parts, m.Relayed = part, uint16(len(parts)), parts[part]
	}
	answer(func(e *enc) { e.bytes(encodeRelay(m)) })(nil)
}

// checked reports whether the request decoded whole; if not it is refused.
func (c *Core) checked(msg *nats.Msg, d *dec) bool {
	if err := d.check(c.subj.method(c.shard, msg.Subject)); err != nil {
		c.refuse(msg, err)
		return false
	}
	return true
}

// refuse answers a malformed request with ErrBadRequest and counts it.
func (c *Core) refuse(msg *nats.Msg, err error) {
	c.refused.Add(1)
	c.cfg.Logger.Warn("refused a bus message", "subject", msg.Subject, "error", err)
	if msg.Reply != "" {
		e := newEnc(64)
		encError(e, fmt.Errorf("%w: %v", engine.ErrBadRequest, err))
		_ = msg.Respond(e.b)
	}
}

func (c *Core) onReport(msg *nats.Msg) {
	m, err := decodeReport(msg.Data)
	if err != nil {
		c.refuse(msg, err)
		return
	}
	if m.Instance != c.instance {
		return // relayed by this core's previous life: its job is gone
	}
	c.edges.report(m)
}

func (c *Core) onAcks(msg *nats.Msg) {
	acks, err := decodeAcks(msg.Data)
	if err != nil {
		c.refuse(msg, err)
		return
	}
	for _, a := range acks {
		if wire.ShardOf(a.ID) != c.shard {
			c.refuse(msg, errMalformed("an acknowledgement of another shard's message"))
			return
		}
	}
	for _, a := range acks {
		if a.Opened {
			c.eng.Open(a.User, a.ID)
		} else {
			c.eng.Acknowledge(a.User, a.ID, a.CaughtUp)
		}
	}
}

func (c *Core) onEdgeAlive(msg *nats.Msg) {
	m, err := decodeEdgeAlive(msg.Data)
	if err != nil {
		c.refuse(msg, err)
		return
	}
	if m.Leaving {
		c.edges.leave(m.Edge)
		return
	}
	if c.edges.alive(m.Edge, time.Now()) {
		select {
		case c.beat <- struct{}{}:
		default:
		}
	}
}
