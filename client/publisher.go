package client

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"herald/wire"
)

// PublisherConfig configures a Publisher.
type PublisherConfig struct {
	Addr string // publisher listener, host:port
	// Addrs, if set, replaces Addr with several listeners (a cluster's
	// edges): each new connection goes to the next, round the list.
	Addrs   []string
	Account uint32
	Secret  string
	// TLS, if set, speaks TLS to Addr (a front door such as HAProxy that
	// terminates it).
	TLS *tls.Config
	// MinBackoff and MaxBackoff bound reconnect delays (50 ms, 5 s).
	MinBackoff, MaxBackoff time.Duration
	// OnJobDone, if set, receives the delivery report of each broadcast
	// this Publisher published, once delivery has finished (called from
	// the connection's reader goroutine; must not block). A report is lost
	// if the connection breaks first: ask Status.
	OnJobDone func(JobReport)
}

// JobReport is a broadcast's delivery, per recipient: SentLive +
// PendingOffline + Errors = Total - Filtered.
type JobReport struct {
	MessageID      uint64
	Total          uint32
	Filtered       uint32
	SentLive       uint32 // written to a live connection
	PendingOffline uint32 // offline: will get it on resume
	Errors         uint32 // every live connection failed: will get it on resume
	// InProgress: delivery has not finished (Status only).
	InProgress bool
	// Interrupted: a server restart cut delivery short; live counts are
	// unknown and counted as pending (Status only).
	Interrupted bool
}

func jobReportFrom(m wire.JobDone, flags uint8) JobReport {
	return JobReport{MessageID: m.MessageID, Total: m.Total, Filtered: m.Filtered, SentLive: m.SentLive,
		PendingOffline: m.PendingOffline, Errors: m.Errors,
		InProgress: flags&wire.FlagInProgress != 0, Interrupted: flags&wire.FlagInterrupted != 0}
}

// Message is one broadcast to publish.
type Message struct {
	// ClientMsgID makes retries idempotent for 24 hours; empty: a random id
	// is generated, so retries inside this Publish call are still safe.
	ClientMsgID string
	ContentType string
	// TTL, if set, stops catch-up from delivering the broadcast after it.
	TTL     time.Duration
	Payload []byte
	// Preview, if not empty, sends the message only to these users (1 to
	// 100 test users, followers or not), outside any quota.
	Preview []uint32
	// Users, if not empty, narrows the audience to these users (at most
	// 10,000) among the followers, minus the blocklist.
	Users []uint32
	// Tags, if not empty, narrows the audience to the followers a boolean
	// expression over the account's tags selects, minus the blocklist:
	// for example "vip AND (beijing OR shanghai) AND NOT churned" (see
	// wire.ParseExpr; "#12" names a tag by id).
	Tags string
	// Speed, if set (1 to 5), paces live delivery at a speed level: 1 is
	// 800,000 deliveries a minute, 2 600,000, 3 400,000, 4 200,000, 5
	// 100,000; 0 is as fast as the server writes.
	Speed int
	// ReplyTo, if set, makes the message a reply to that one user, who
	// must have written to the account (Subscriber.Write) within the
	// service window (48 hours, 5 replies, by default): WINDOW_CLOSED
	// otherwise. A reply counts against no quota.
	ReplyTo uint32
	// DryRun only resolves and counts the audience: nothing is stored, sent
	// or counted against the quota; the result has MessageID 0.
	DryRun bool
}

// PublishResult is the server's durable acknowledgement.
type PublishResult struct {
	MessageID  uint64
	Total      uint32 // audience resolved
	Filtered   uint32 // removed by policy
	Recipients uint32 // Total - Filtered
	// Duplicate: the ClientMsgID was already published; MessageID is the
	// original and nothing was sent again.
	Duplicate bool
	// DryRun: the counts of a dry run; nothing was published.
	DryRun bool
	// Scheduled: the broadcast is scheduled (Schedule, or a Publish whose
	// ClientMsgID names a scheduled one): MessageID is 0 until it is
	// sent, then (with Duplicate) the id it was sent as.
	Scheduled bool
}

// Publisher publishes broadcasts for one account over one connection,
// reconnecting when it breaks. It is safe for concurrent use.
type Publisher struct {
	cfg PublisherConfig
	mu  struct {
		sync.Mutex
		conn    *pubConn
		closed  bool
		nextReq uint32
	}
	// dialing serialises reconnects; dials counts them (under dialing),
	// for Addrs.
	dialing sync.Mutex
	dials   int
}

// pubConn is one connection and its requests in flight.
type pubConn struct {
	fc        *frameConn
	stop      chan struct{}
	onJobDone func(JobReport)
	mu        struct {
		sync.Mutex
		pending  map[uint32]chan callResult
		watchers map[uint32]watcher // Watch's, by request id
		err      error              // set once the connection has failed
	}
}

type callResult struct {
	ack   wire.PublishAck
	flags uint8 // of the PUBLISH_ACK
	job   JobReport
	tags  []Tag // of a TAGS answer
	// templates of a TEMPLATES answer
	templates []Template
	// letters of a LETTERS answer, and its MORE flag
	letters []Letter
	more    bool
	reach   Reach // of a REACH answer
	err     error // *Error for request errors; a connection error otherwise
	conn    bool  // err is a connection failure: retry elsewhere
}

// DialPublisher connects and authenticates; a wrong secret fails here.
func DialPublisher(ctx context.Context, cfg PublisherConfig) (*Publisher, error) {
	p := &Publisher{cfg: cfg}
	if _, err := p.connection(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// connection returns the live connection, dialling one if needed.
func (p *Publisher) connection(ctx context.Context) (*pubConn, error) {
	p.dialing.Lock()
	defer p.dialing.Unlock()
	p.mu.Lock()
	pc, closed := p.mu.conn, p.mu.closed
	p.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if pc != nil && pc.failed() == nil {
		return pc, nil
	}
	addr := p.cfg.Addr
	if n := len(p.cfg.Addrs); n > 0 {
		addr = p.cfg.Addrs[p.dials%n]
	}
	p.dials++
	fc, err := dial(ctx, addr, nil, p.cfg.TLS, wire.Hello{Account: p.cfg.Account, Credential: p.cfg.Secret}, nil)
	if err != nil {
		return nil, err
	}
	pc = &pubConn{fc: fc, stop: make(chan struct{}), onJobDone: p.cfg.OnJobDone}
	pc.mu.pending = make(map[uint32]chan callResult)
	go pc.readLoop()
	go fc.heartbeat(pc.stop)
	p.mu.Lock()
	p.mu.conn = pc
	p.mu.Unlock()
	return pc, nil
}

// Publish stores and sends one broadcast, returning once the server has
// made it durable. Connection failures are retried with backoff, with the
// same ClientMsgID, until ctx ends; errors the server reports are returned.
func (p *Publisher) Publish(ctx context.Context, m Message) (PublishResult, error) {
	req, err := p.publishFrame(&m)
	if err != nil {
		return PublishResult{}, err
	}
	r, err := p.call(ctx, "publish "+m.ClientMsgID, func(id uint32) []byte {
		req.RequestID = id
		return wire.AppendPublish(nil, req)
	})
	if err != nil {
		return PublishResult{}, err
	}
	return publishResultFrom(r), nil
}

func publishResultFrom(r callResult) PublishResult {
	return PublishResult{MessageID: r.ack.MessageID, Total: r.ack.Total, Filtered: r.ack.Filtered, Recipients: r.ack.Recipients,
		Duplicate: r.flags&wire.FlagDuplicate != 0, DryRun: r.flags&wire.FlagDryRun != 0, Scheduled: r.flags&wire.FlagScheduled != 0}
}

// publishFrame checks m and builds its PUBLISH (without a request id),
// giving m a random ClientMsgID if it has none.
func (p *Publisher) publishFrame(m *Message) (wire.Publish, error) {
	if m.ClientMsgID == "" {
		raw := make([]byte, 16)
		_, _ = rand.Read(raw)
		m.ClientMsgID = hex.EncodeToString(raw)
	}
	if m.TTL < 0 || m.TTL > time.Duration(1<<32-1)*time.Second {
		return wire.Publish{}, fmt.Errorf("client: TTL %v out of range", m.TTL)
	}
	if len(m.Preview) > wire.MaxPreview {
		return wire.Publish{}, fmt.Errorf("client: a preview lists at most %d users, not %d", wire.MaxPreview, len(m.Preview))
	}
	if len(m.Users) > wire.MaxListed {
		return wire.Publish{}, fmt.Errorf("client: Users lists at most %d users, not %d", wire.MaxListed, len(m.Users))
	}
	set := 0
	for _, on := range []bool{len(m.Preview) > 0, len(m.Users) > 0, m.Tags != "", m.ReplyTo != 0} {
		if on {
			set++
		}
	}
	if set > 1 {
		return wire.Publish{}, fmt.Errorf("client: set one of Preview, Users, Tags and ReplyTo")
	}
	kind, audience := wire.AudienceAll, []byte(nil)
	switch {
	case m.ReplyTo != 0:
		kind, audience = wire.AudienceReply, wire.EncodeReply(m.ReplyTo)
	case m.Tags != "":
		expr, err := wire.ParseExpr(m.Tags)
		if err != nil {
			return wire.Publish{}, fmt.Errorf("client: %w", err)
		}
		kind, audience = wire.AudienceTags, wire.AppendExpr(nil, expr)
	case len(m.Preview) > 0:
		kind, audience = wire.AudiencePreview, wire.EncodeUsers(m.Preview)
	case len(m.Users) > 0:
		kind, audience = wire.AudienceList, wire.EncodeUsers(m.Users)
	}
	if m.Speed < 0 || m.Speed > wire.MaxSpeed {
		return wire.Publish{}, fmt.Errorf("client: speed level %d; the levels are 0 to %d", m.Speed, wire.MaxSpeed)
	}
	req := wire.Publish{
		DryRun:        m.DryRun,
		Speed:         uint8(m.Speed),
		Account:       p.cfg.Account,
		ClientMsgID:   m.ClientMsgID,
		TTLSeconds:    uint32(m.TTL / time.Second),
		AudienceKind:  kind,
		AudienceBytes: audience,
		ContentType:   m.ContentType,
		Payload:       m.Payload,
	}
	if err := req.Validate(); err != nil {
		return wire.Publish{}, fmt.Errorf("client: %w", err)
	}
	return req, nil
}

// Status asks for the delivery report of one of the account's retained
// broadcasts.
func (p *Publisher) Status(ctx context.Context, messageID uint64) (JobReport, error) {
	r, err := p.call(ctx, fmt.Sprint("status ", messageID), func(id uint32) []byte {
		return wire.AppendStatus(nil, wire.Status{RequestID: id, Account: p.cfg.Account, MessageID: messageID})
	})
	return r.job, err
}

// Block adds users to the account's blocklist: they receive none of its
// broadcasts published afterwards, followers or not. Any number of users is
// sent in requests of up to 10,000; blocking twice is not an error.
func (p *Publisher) Block(ctx context.Context, users []uint32) error {
	return p.changeBlocklist(ctx, wire.TypeBlock, users)
}

// Unblock removes users from the account's blocklist.
func (p *Publisher) Unblock(ctx context.Context, users []uint32) error {
	return p.changeBlocklist(ctx, wire.TypeUnblock, users)
}

func (p *Publisher) changeBlocklist(ctx context.Context, t wire.Type, users []uint32) error {
	for start := 0; start < len(users); start += wire.MaxBlockUsers {
		part := users[start:min(start+wire.MaxBlockUsers, len(users))]
		if _, err := p.call(ctx, t.String(), func(id uint32) []byte {
			return wire.AppendBlock(nil, t, wire.Block{RequestID: id, Account: p.cfg.Account, Users: part})
		}); err != nil {
			return err
		}
	}
	return nil
}

// Retract withdraws one of the account's broadcasts: online followers are
// told, and catch-up no longer delivers it. Retracting twice is not an
// error.
func (p *Publisher) Retract(ctx context.Context, messageID uint64) error {
	_, err := p.call(ctx, fmt.Sprint("retract ", messageID), func(id uint32) []byte {
		return wire.AppendRetract(nil, wire.Retract{RequestID: id, Account: p.cfg.Account, MessageID: messageID})
	})
	return err
}

// call sends one request (a frame built for a fresh request id) and waits
// for its answer. Every request a Publisher makes is idempotent, so a broken
// connection or UNAVAILABLE is retried with backoff, on a new connection if
// need be, until ctx ends; other errors are returned.
func (p *Publisher) call(ctx context.Context, what string, build func(id uint32) []byte) (callResult, error) {
	bo := newBackoff(p.cfg.MinBackoff, p.cfg.MaxBackoff)
	for {
		r, retry, err := p.attempt(ctx, build)
		if !retry {
			return r, err
		}
		if werr := bo.wait(ctx); werr != nil {
			return callResult{}, fmt.Errorf("client: %s: %w (last error: %v)", what, werr, err)
		}
	}
}

// attempt makes one try of a request; retry reports whether another can
// help.
func (p *Publisher) attempt(ctx context.Context, build func(id uint32) []byte) (callResult, bool, error) {
	pc, err := p.connection(ctx)
	if err != nil {
		return callResult{}, !permanent(err) && !errors.Is(err, ErrClosed) && ctx.Err() == nil, err
	}
	id := p.nextRequestID()
	done := make(chan callResult, 1)
	if err := pc.register(id, done); err != nil {
		return callResult{}, true, err
	}
	if err := pc.fc.write(build(id)); err != nil {
		pc.fail(err)
	}
	select {
	case r := <-done:
		if r.conn {
			return callResult{}, true, r.err
		}
		if r.err != nil {
			var e *Error
			retry := errors.As(r.err, &e) && e.Code == wire.CodeUnavailable
			return callResult{}, retry, r.err
		}
		return r, false, nil
	case <-ctx.Done():
		pc.unregister(id)
		return callResult{}, false, ctx.Err()
	}
}

// Close closes the connection; publishes in flight fail with ErrClosed.
func (p *Publisher) Close() error {
	p.mu.Lock()
	pc := p.mu.conn
	p.mu.closed = true
	p.mu.Unlock()
	if pc != nil {
		pc.fail(ErrClosed)
	}
	return nil
}

func (pc *pubConn) register(id uint32, done chan callResult) error {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.mu.err != nil {
		return pc.mu.err
	}
	pc.mu.pending[id] = done
	return nil
}

func (pc *pubConn) unregister(id uint32) {
	pc.mu.Lock()
	delete(pc.mu.pending, id)
	pc.mu.Unlock()
}

func (pc *pubConn) failed() error {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.mu.err
}

// answer hands a result to the call waiting on id and reports whether one
// was.
func (pc *pubConn) answer(id uint32, r callResult) bool {
	pc.mu.Lock()
	done, ok := pc.mu.pending[id]
	delete(pc.mu.pending, id)
	pc.mu.Unlock()
	if ok {
		done <- r
	}
	return ok
}

// fail closes the connection and fails every pending call as retryable
// (unless err is permanent).
func (pc *pubConn) fail(err error) {
	pc.mu.Lock()
	if pc.mu.err != nil {
		pc.mu.Unlock()
		return
	}
	pc.mu.err = err
	pending, watchers := pc.mu.pending, pc.mu.watchers
	pc.mu.pending, pc.mu.watchers = nil, nil
	pc.mu.Unlock()
	close(pc.stop)
	pc.fc.close()
	for _, done := range pending {
		done <- callResult{err: err, conn: !permanent(err) && !errors.Is(err, ErrClosed)}
	}
	for _, w := range watchers {
		w.ended <- err
	}
}

func (pc *pubConn) readLoop() {
	err := pc.fc.read(func(f wire.Frame) error {
		switch f.Type {
		case wire.TypePublishAck:
			ack, err := wire.DecodePublishAck(f.Body)
			if err != nil {
				return err
			}
			pc.answer(ack.RequestID, callResult{ack: ack, flags: f.Flags})
		case wire.TypeOK:
			id, err := wire.DecodeOK(f.Body)
			if err != nil {
				return err
			}
			pc.answer(id, callResult{})
		case wire.TypeJobDone:
			m, err := wire.DecodeJobDone(f.Body)
			if err != nil {
				return err
			}
			// A STATUS is waiting on its request id; a PUBLISH's was
			// answered by PUBLISH_ACK already, so this is its report.
			if !pc.answer(m.RequestID, callResult{job: jobReportFrom(m, f.Flags)}) && pc.onJobDone != nil {
				pc.onJobDone(jobReportFrom(m, f.Flags))
			}
		case wire.TypeError:
			m, err := wire.DecodeError(f.Body)
			if err != nil {
				return err
			}
			if m.RequestID == 0 {
				return errorFrom(m) // the server is closing the connection
			}
			if !pc.watched(m.RequestID, Reach{}, errorFrom(m)) {
				pc.answer(m.RequestID, callResult{err: errorFrom(m)})
			}
		case wire.TypeReach:
			m, err := wire.DecodeReach(f.Body)
			if err != nil {
				return err
			}
			r := reachFrom(m, f.Flags)
			if !pc.watched(m.RequestID, r, nil) {
				pc.answer(m.RequestID, callResult{reach: r})
			}
		case wire.TypeTags:
			m, err := wire.DecodeTags(f.Body)
			if err != nil {
				return err
			}
			tags := make([]Tag, len(m.Tags))
			for i, t := range m.Tags {
				tags[i] = Tag{ID: t.ID, Name: t.Name, Members: t.Members}
			}
			pc.answer(m.RequestID, callResult{tags: tags})
		case wire.TypeLetters:
			m, err := wire.DecodeLetters(f.Body)
			if err != nil {
				return err
			}
			letters := make([]Letter, len(m.Letters))
			for i, l := range m.Letters {
				letters[i] = letterFrom(l)
			}
			if !pc.watchedLetters(m.RequestID, letters) {
				pc.answer(m.RequestID, callResult{letters: letters, more: f.Flags&wire.FlagMore != 0})
			}
		case wire.TypeTemplates:
			m, err := wire.DecodeTemplates(f.Body)
			if err != nil {
				return err
			}
			pc.answer(m.RequestID, callResult{templates: m.Templates})
		case wire.TypePong:
			pc.fc.pong()
		case wire.TypePing:
		default:
			return fmt.Errorf("client: unexpected %s from server", f.Type)
		}
		return nil
	})
	pc.fail(err)
}

// nextRequestID returns a request id not in use on the connection (0 is
// reserved).
func (p *Publisher) nextRequestID() uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.nextReq++; p.mu.nextReq == 0 {
		p.mu.nextReq = 1
	}
	return p.mu.nextReq
}
