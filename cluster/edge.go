package cluster

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/nats-io/nats.go"

	"herald/engine"
	"herald/fanout"
	"herald/wire"
)

// EdgeConfig configures an edge's engine.
type EdgeConfig struct {
	// Conn is the edge's NATS connection; the caller closes it after
	// Close. Cluster names the cluster's subjects (DefaultCluster).
	Conn    *nats.Conn
	Cluster string
	// Shards is how many cores the cluster has (1): they own shards 0 to
	// Shards-1, and a catch-up asks each.
	Shards int
	// Name identifies the edge on the bus: letters, digits, '-' and '_'
	// (default: a random one).
	Name string
	// Heartbeat is how often the edge says it is alive (1 s); a core
	// silent for three heartbeats makes Health report it unavailable.
	Heartbeat time.Duration
	// RequestTimeout bounds a request to the core (5 s); a request that
	// times out answers engine.ErrUnavailable.
	RequestTimeout time.Duration
	// AckFlush is how often acknowledgements go to the core (200 ms).
	AckFlush time.Duration
	// PendingBytes bounds the relays received and not yet delivered (64
	// MiB); beyond it NATS drops them and the edge fetches them from the
	// core once it has caught up.
	PendingBytes int
	Logger       *slog.Logger
}

// Edge is the engine as an edge process sees it: engine.Engine over the
// bus. It owns no data: requests go to the core that owns their account
// (or, for catch-up, to every core), and the cores' relayed broadcasts are
// delivered on the edge's own loops (fanout.Hub), with the same per-loop
// path and the same going-live check as in one process.
type Edge struct {
	cfg   EdgeConfig
	nc    *nats.Conn
	subj  subjects
	hub   fanout.Hub
	links []*link // one per core, by shard
	subs  []*nats.Subscription
	stop  chan struct{}
	done  sync.WaitGroup
	// retractions counts the RETRACTED notices injected (engine.Page.Epoch
	// of this edge's pages); notices take a number and are injected under
	// notice, so the loops see them in that order.
	retractions atomic.Uint64
	notice      sync.Mutex
	// created spreads CreateAccount over the cores.
	created atomic.Uint32
	acks    struct {
		sync.Mutex
		m      map[ackKey]ack
		opened map[ackKey][]uint64
	}
	jobs struct {
		sync.Mutex
		next uint64
		m    map[uint64]pendingPublish
	}
	refused, recovered, lost atomic.Uint64
	closeOnce                sync.Once
}

// pendingPublish is a publish whose job report is to come. The report
// and the publish's answer travel on different subjects, so the report may
// arrive first: it then waits for the answer (the contract has OnJobDone
// after done, and a publisher reads JOB_DONE after PUBLISH_ACK).
type pendingPublish struct {
	done     func(engine.JobReport)
	asked    time.Time
	answered bool
	early    *engine.JobReport
}

// link is the edge's side of one core.
type link struct {
	shard uint8
	keys  fanout.KeyRing
	// coreLast and coreSeen are the last heartbeat's id and time (Unix ns).
	coreLast atomic.Uint64
	coreSeen atomic.Int64
	// mu is held by onCore: the link's subscription has one goroutine,
	// but one replaced (unsubscribed while a message is in flight, then
	// subscribed again) may briefly have two, and pos is theirs.
	mu  sync.Mutex
	pos position
	// delivered is pos.last, for Health.
	delivered atomic.Uint64
}

// ackKey is a user's acknowledgement in one shard.
type ackKey struct {
	user  uint32
	shard uint8
}

// position is how far the relays have been delivered: every broadcast up
// to last, and of broadcast cur (when not 0) its parts below next of parts.
type position struct {
	known       bool
	instance    uint64
	last, cur   uint64
	next, parts uint16
}

var _ engine.Engine = (*Edge)(nil)

// StartEdge subscribes to the cluster's relays and fetches the token keys
// (if the core answers; otherwise when its heartbeat arrives).
func StartEdge(cfg EdgeConfig) (*Edge, error) {
	cfg.Cluster = cmp.Or(cfg.Cluster, DefaultCluster)
	cfg.Name = cmp.Or(cfg.Name, "edge-"+strconv.FormatUint(randomID(), 36))
	cfg.Heartbeat = cmp.Or(cfg.Heartbeat, time.Second)
	cfg.RequestTimeout = cmp.Or(cfg.RequestTimeout, 5*time.Second)
	cfg.AckFlush = cmp.Or(cfg.AckFlush, 200*time.Millisecond)
	cfg.PendingBytes = cmp.Or(cfg.PendingBytes, 64<<20)
	cfg.Shards = cmp.Or(cfg.Shards, 1)
	if cfg.Shards < 1 || cfg.Shards > wire.MaxShards {
		return nil, fmt.Errorf("a cluster of %d shards: 1 to %d", cfg.Shards, wire.MaxShards)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	for _, r := range cfg.Name {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
			return nil, fmt.Errorf("edge name %q: only letters, digits, '-' and '_'", cfg.Name)
		}
	}
	e := &Edge{cfg: cfg, nc: cfg.Conn, subj: subjects{cfg.Cluster}, stop: make(chan struct{})}
	e.acks.m = make(map[ackKey]ack)
	e.acks.opened = make(map[ackKey][]uint64)
	e.jobs.m = make(map[uint64]pendingPublish)
	var err error
	for k := range cfg.Shards {
		l := &link{shard: uint8(k)}
		e.links = append(e.links, l)
		var bus *nats.Subscription
		if bus, err = e.nc.Subscribe(e.subj.coreAll(l.shard), func(msg *nats.Msg) { e.onCore(l, msg) }); err != nil {
			break
		}
		e.subs = append(e.subs, bus)
		if err = bus.SetPendingLimits(-1, cfg.PendingBytes); err != nil {
			break
		}
	}
	if err == nil {
		var jobs *nats.Subscription
		if jobs, err = e.nc.Subscribe(e.subj.jobDone(cfg.Name), e.onJobDone); err == nil {
			e.subs = append(e.subs, jobs)
		}
	}
	if err == nil {
		err = e.nc.Flush()
	}
	if err != nil {
		e.unsubscribe()
		return nil, fmt.Errorf("subscribing to the cluster: %w", err)
	}
	for _, l := range e.links {
		if err := e.fetchKeys(l); err != nil {
			cfg.Logger.Warn("a core did not give its token keys yet; its tokens wait for its heartbeat", "shard", l.shard, "error", err)
		}
	}
	// A key rotation's notice sent while NATS was away is lost: fetch the
	// keys again on every reconnect.
	e.nc.SetReconnectHandler(func(*nats.Conn) {
		go func() {
			for _, l := range e.links {
				if err := e.fetchKeys(l); err != nil {
					cfg.Logger.Warn("fetching the token keys after a reconnect", "shard", l.shard, "error", err)
				}
			}
		}()
	})
	e.alive(false)
	e.done.Add(1)
	go e.tick()
	return e, nil
}

// Name is the edge's name on the bus.
func (e *Edge) Name() string { return e.cfg.Name }

// Close flushes the acknowledgements, says goodbye and unsubscribes. It
// does not close the connection.
func (e *Edge) Close() {
	e.closeOnce.Do(func() {
		close(e.stop)
		e.done.Wait()
		e.unsubscribe()
		e.flushAcks()
		e.alive(true)
		_ = e.nc.Flush()
	})
}

func (e *Edge) unsubscribe() {
	for _, s := range e.subs {
		_ = s.Unsubscribe()
	}
}

// Stats are an edge's bus counters.
type Stats struct {
	// Refused: bus messages that did not decode or answered out of turn.
	Refused uint64
	// Recovered: broadcast parts fetched from the core after a gap.
	Recovered uint64
	// Lost: parts the core could not give (past retention, or it did not
	// answer); their recipients on this edge get them on their next
	// catch-up.
	Lost uint64
}

// Stats returns the edge's bus counters.
func (e *Edge) Stats() Stats {
	return Stats{Refused: e.refused.Load(), Recovered: e.recovered.Load(), Lost: e.lost.Load()}
}

func (e *Edge) tick() {
	defer e.done.Done()
	beat := time.NewTicker(e.cfg.Heartbeat)
	defer beat.Stop()
	flush := time.NewTicker(e.cfg.AckFlush)
	defer flush.Stop()
	for {
		select {
		case <-beat.C:
			e.alive(false)
			e.forgetJobs(time.Now().Add(-10 * time.Minute))
		case <-flush.C:
			e.flushAcks()
		case <-e.stop:
			return
		}
	}
}

func (e *Edge) alive(leaving bool) {
	_ = e.nc.Publish(e.subj.edgeAlive(), encodeEdgeAlive(edgeAlive{Edge: e.cfg.Name, Leaving: leaving}))
}

// onCore handles a core's relays and heartbeats, in the order sent. A
// message naming another shard's ids is refused.
func (e *Edge) onCore(l *link, msg *nats.Msg) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch msg.Subject {
	case e.subj.relay(l.shard):
		m, err := decodeRelay(msg.Data)
		if err == nil && m.ID != 0 && wire.ShardOf(m.ID) != l.shard {
			err = errMalformed("a relay of another shard's broadcast")
		}
		if err != nil {
			e.refuse(msg.Subject, err)
			return
		}
		l.coreSeen.Store(time.Now().UnixNano())
		e.onRelay(l, m)
	case e.subj.coreAlive(l.shard):
		m, err := decodeCoreAlive(msg.Data)
		if err == nil && wire.ShardOf(m.Last) != l.shard {
			err = errMalformed("a heartbeat with another shard's id")
		}
		if err != nil {
			e.refuse(msg.Subject, err)
			return
		}
		e.onCoreAlive(l, m)
	case e.subj.keys(l.shard):
		if err := e.fetchKeys(l); err != nil {
			e.cfg.Logger.Error("fetching the new token keys", "shard", l.shard, "error", err)
		}
	default:
		e.refuse(msg.Subject, errMalformed("unknown subject"))
	}
}

func (e *Edge) refuse(subject string, err error) {
	e.refused.Add(1)
	e.cfg.Logger.Warn("refused a bus message", "subject", subject, "error", err)
}

func (e *Edge) onCoreAlive(l *link, m coreAlive) {
	l.coreLast.Store(m.Last)
	l.coreSeen.Store(time.Now().UnixNano())
	p := &l.pos
	if p.instance != m.Instance {
		if p.instance != 0 {
			e.cfg.Logger.Info("a core restarted", "shard", l.shard, "last_message_id", m.Last)
		}
		p.instance = m.Instance
		// A core that restarts may have been given other keys, and a
		// rotation's notice may have been missed meanwhile.
		if err := e.fetchKeys(l); err != nil {
			e.cfg.Logger.Error("fetching the token keys", "shard", l.shard, "error", err)
		}
	}
	if !p.known {
		p.known, p.last = true, m.Last
		return
	}
	if m.Last < p.last && p.cur == 0 {
		e.cfg.Logger.Warn("a core's log is behind this edge's (restored from a backup?)", "shard", l.shard, "core", m.Last, "edge", p.last)
		p.last = m.Last
		return
	}
	if m.Last > p.last || p.cur != 0 {
		e.fill(l, m.Last+1, 0)
	}
}

// onRelay delivers one relayed part after everything before it.
func (e *Edge) onRelay(l *link, m relayMsg) {
	p := &l.pos
	if m.ID == 0 {
		e.notice.Lock()
		e.hub.Inject(m.Relayed, e.retractions.Add(1), nil)
		e.notice.Unlock()
		return
	}
	if !p.known {
		p.known, p.last = true, m.ID-1
	}
	switch {
	case m.ID <= p.last, m.ID == p.cur && m.Part < p.next:
		return // delivered already (fetched after a gap)
	}
	e.fill(l, m.ID, m.Part)
	e.inject(l, m)
}

// inject delivers one part on the edge's loops, reports its outcome to the
// core, and advances the position.
func (e *Edge) inject(l *link, m relayMsg) {
	p := &l.pos
	if !m.Retracted {
		id, part, instance := m.ID, m.Part, m.Instance
		e.hub.Inject(m.Relayed, 0, func(reached, failed *roaring.Bitmap) {
			e.report(l.shard, reportMsg{Edge: e.cfg.Name, Instance: instance, ID: id, Part: part, Reached: reached, Failed: failed})
		})
	}
	if p.cur != m.ID {
		p.cur, p.parts = m.ID, m.Parts
	}
	p.next = m.Part + 1
	if p.next >= p.parts {
		p.last, p.cur, p.next, p.parts = m.ID, 0, 0, 0
		l.delivered.Store(m.ID)
	}
}

// report sends one part's outcome to the core: its bitmaps compacted
// (users online on an edge are often ranges), and cut into user id ranges
// over several messages if they would not fit one.
func (e *Edge) report(shard uint8, m reportMsg) {
	m.Reached.RunOptimize()
	m.Failed.RunOptimize()
	msg := encodeReport(m)
	limit := e.nc.MaxPayload()
	if int64(len(msg)) <= limit {
		_ = e.nc.Publish(e.subj.report(shard), msg)
		return
	}
	budget := (limit - 256 - int64(len(m.Edge))) / 2
	reached, err1 := splitBitmap(m.Reached, budget)
	failed, err2 := splitBitmap(m.Failed, budget)
	if err := errors.Join(err1, err2); err != nil {
		e.cfg.Logger.Error("reporting a broadcast's outcome", "message_id", m.ID, "error", err)
		return // the core's report times out; its recipients here count as pending
	}
	n := max(len(reached), len(failed))
	for i := range n {
		chunk := m
		chunk.Reached, chunk.Failed, chunk.More = roaring.New(), roaring.New(), i < n-1
		if i < len(reached) {
			chunk.Reached = reached[i]
		}
		if i < len(failed) {
			chunk.Failed = failed[i]
		}
		_ = e.nc.Publish(e.subj.report(shard), encodeReport(chunk))
	}
}

// fill fetches and delivers every part before part of broadcast id that
// has not been delivered.
func (e *Edge) fill(l *link, id uint64, part uint16) {
	p := &l.pos
	for {
		var want uint64
		var wantPart uint16
		if p.cur != 0 {
			want, wantPart = p.cur, p.next
		} else {
			want = p.last + 1
		}
		if want > id || want == id && wantPart >= part {
			return
		}
		m, err := e.fetch(l.shard, want, wantPart)
		if err != nil {
			e.lost.Add(1)
			e.cfg.Logger.Error("a broadcast missed on the bus could not be fetched; its recipients here get it on catch-up",
				"message_id", want, "part", wantPart, "error", err)
			if p.cur == want {
				p.last, p.cur, p.next, p.parts = want, 0, 0, 0
			} else {
				p.last = want
			}
			continue
		}
		e.recovered.Add(1)
		if p.cur == want && m.Parts != p.parts {
			// The core split it differently (a restart with another
			// payload limit): the parts delivered are a subset of some of
			// these; deliver them all again, the sinks drop what they had.
			p.next = 0
		}
		e.inject(l, m)
	}
}

// fetch asks the core for one part of a committed broadcast, three times
// at most.
func (e *Edge) fetch(shard uint8, id uint64, part uint16) (relayMsg, error) {
	q := newEnc(10)
	q.u64(id)
	q.u16(part)
	var err error
	for range 3 {
		var raw []byte
		raw, err = roundTrip(e, shard, mFetch, q.b, func(d *dec) []byte { return d.ownBytes() })
		if err != nil {
			continue
		}
		m, derr := decodeRelay(raw)
		if derr == nil && (m.ID != id || m.Part != part) && !m.Retracted {
			derr = errMalformed("fetch answered another broadcast")
		}
		if derr != nil {
			e.refused.Add(1)
			return relayMsg{}, derr
		}
		if m.Retracted {
			m.ID, m.Part, m.Parts = id, part, max(part+1, 1)
		}
		return m, nil
	}
	return relayMsg{}, err
}

func (e *Edge) fetchKeys(l *link) error {
	keys, err := roundTrip(e, l.shard, mKeys, newEnc(0).b, func(d *dec) []byte { return d.ownBytes() })
	if err != nil {
		return err
	}
	return l.keys.Set(keys)
}

func (e *Edge) onJobDone(msg *nats.Msg) {
	m, err := decodeJobDone(msg.Data)
	if err != nil {
		e.refuse(msg.Subject, err)
		return
	}
	e.jobs.Lock()
	p, ok := e.jobs.m[m.Token]
	switch {
	case ok && !p.answered:
		p.early = &m.Report
		e.jobs.m[m.Token] = p
		ok = false
	case ok:
		delete(e.jobs.m, m.Token)
	}
	e.jobs.Unlock()
	if !ok {
		if p.early == nil {
			e.refuse(msg.Subject, errMalformed("job report for no publish of this edge"))
		}
		return
	}
	p.done(m.Report)
}

// answered marks a publish answered and hands over its job report if it
// came first; failed publishes have none.
func (e *Edge) answered(token uint64, failed bool) {
	e.jobs.Lock()
	p, ok := e.jobs.m[token]
	switch {
	case !ok:
	case failed || p.early != nil:
		delete(e.jobs.m, token)
	default:
		p.answered = true
		e.jobs.m[token] = p
	}
	e.jobs.Unlock()
	if ok && !failed && p.early != nil {
		p.done(*p.early)
	}
}

func (e *Edge) forgetJobs(before time.Time) {
	e.jobs.Lock()
	defer e.jobs.Unlock()
	for token, p := range e.jobs.m {
		if p.asked.Before(before) {
			delete(e.jobs.m, token)
		}
	}
}

func (e *Edge) flushAcks() {
	e.acks.Lock()
	if len(e.acks.m) == 0 && len(e.acks.opened) == 0 {
		e.acks.Unlock()
		return
	}
	batches := make(map[uint8][]ack)
	for k, a := range e.acks.m {
		batches[k.shard] = append(batches[k.shard], a)
	}
	for k, ids := range e.acks.opened {
		for _, id := range ids {
			batches[k.shard] = append(batches[k.shard], ack{User: k.user, ID: id, Opened: true})
		}
	}
	clear(e.acks.m)
	clear(e.acks.opened)
	e.acks.Unlock()
	const perMessage = 50_000
	for shard, batch := range batches {
		for len(batch) > 0 {
			n := min(len(batch), perMessage)
			_ = e.nc.Publish(e.subj.acks(shard), encodeAcks(batch[:n]))
			batch = batch[n:]
		}
	}
}
