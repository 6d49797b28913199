package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/klauspost/compress/s2"

	"herald/wire"
)

// SubscriberConfig configures a Subscriber.
type SubscriberConfig struct {
	// Addr is the client listener, host:port; or a WebSocket URL of it
	// (ws://host:port/, wss:// through a TLS proxy) to speak the protocol
	// over WebSocket, as a browser does.
	Addr string
	// Addrs, if set, replaces Addr with several listeners (a cluster's
	// edges): the first connection goes to Addrs[0], and each reconnect
	// to the next, round the list, so a client whose edge is gone resumes
	// on another. Give each client its own order to spread them.
	Addrs []string
	// TLS, if set, speaks TLS to Addr (a front door such as HAProxy that
	// terminates it).
	TLS *tls.Config
	// LocalAddr, if set, is the address connections are made from (a load
	// test spreads clients over 127.0.0.x so that no source address runs
	// out of ports).
	LocalAddr net.Addr
	// Token authenticates the user; TokenFunc, if set, is asked for a fresh
	// one on every connect instead.
	Token     string
	TokenFunc func(ctx context.Context) (string, error)
	// Cursor is where the application is: per shard, the last message id
	// it already has (Subscriber.Handled, stored as its String and read
	// back with ParseCursor; CursorAt(id) for a single server's id). The
	// first connect replays what came after it. With StoredCursor the
	// server's copy of the user's last acknowledgements is used instead.
	Cursor       Cursor
	StoredCursor bool
	// Buffer is the capacity of the Messages channel (1024).
	Buffer int
	// NoCompression declines S2-compressed payloads (accepted by default).
	NoCompression bool
	// MaxPayload bounds a compressed payload's decoded size (16 MiB).
	MaxPayload int
	// OnHistoryMissed, if set, is called (from the reader goroutine) when a
	// resume finds the cursor older than the server's retained log: some
	// broadcasts were removed before this client caught up; or newer than
	// its newest message (CURSOR_AHEAD: the log is not the one the cursor
	// came from), after which the Subscriber resumes from 0.
	OnHistoryMissed func()
	// AckEvery is how often handled messages are acknowledged (1 s).
	AckEvery time.Duration
	// ManualAck: only Ack acknowledges messages. Without it a message is
	// taken as handled once the application receives the next one from
	// Messages, or calls Close (see Subscriber).
	ManualAck bool
	// MinBackoff and MaxBackoff bound reconnect delays (50 ms, 5 s).
	MinBackoff, MaxBackoff time.Duration
}

// Cursor is a position in every shard's log (see wire.Cursor): a single
// server has one shard, a cluster one per core, and message ids increase
// within a shard. Store it as its String; ParseCursor reads it back.
type Cursor = wire.Cursor

// CursorAt is the cursor at message id in its shard (for a single server,
// simply at id).
func CursorAt(id uint64) Cursor { return wire.CursorAt(id) }

// ParseCursor reads a Cursor's String (a single message id too).
func ParseCursor(s string) (Cursor, error) { return wire.ParseCursor(s) }

// Push is one broadcast received, or the news that one was withdrawn.
type Push struct {
	ID          uint64
	Account     uint32
	Time        time.Time
	ContentType string
	Payload     []byte
	// Retracted: the account withdrew broadcast ID; remove it if shown.
	// Only ID and Account are set. It may name a broadcast this client
	// never received.
	Retracted bool
	// Notification, if not nil, makes this a notification (a template
	// message): its template, fields and link. Payload and ContentType
	// are empty then.
	Notification *Notice
	// Reply: the account's reply to this user, within the service window
	// a Write opened.
	Reply bool
}

// Notice is a notification's content.
type Notice = wire.Notification

// Subscriber keeps one user's connection: catch-up on every connect, live
// pushes after, each message delivered once on Messages, in id order within
// each shard (a cluster's core; a single server is one shard).
//
// # Acknowledgement
//
// The server remembers, per user, the last message acknowledged (a
// Subscriber with StoredCursor, on any device, resumes after it). A
// Subscriber acknowledges only what the application has handled, never
// what is merely waiting in the Messages buffer, so stopping or crashing
// with unread messages loses none of them:
//
//   - by default a message counts as handled once the application has
//     received the next one from Messages, or has called Close: a crash
//     while handling a message gets that message again on the next start;
//   - with SubscriberConfig.ManualAck, only Ack does, and Close
//     acknowledges nothing more than Ack did.
//
// Handled messages are acknowledged every AckEvery and on Close, which
// waits (up to a second) until the server has the acknowledgement.
type Subscriber struct {
	cfg      SubscriberConfig
	messages chan Push
	live     chan struct{} // closed the first time catch-up completes
	liveOnce sync.Once
	ctx      context.Context
	cancel   context.CancelFunc
	done     chan struct{}
	// closing is closed when Close begins.
	closing   chan struct{}
	closeOnce sync.Once
	mu        struct {
		sync.Mutex
		conn    *frameConn
		user    uint32
		err     error
		waiters map[uint32]chan error
		nextReq uint32
		// queued holds the ids put on Messages, oldest first, that the
		// application may not have received yet (0 for a retraction):
		// the ones it has received are the first len(queued) -
		// len(messages).
		queued []uint64
		// handled is, per shard, the highest id the application is done
		// with.
		handled Cursor
		// opened are the ids Opened was called with, not yet sent.
		opened []uint64
	}
	// Touched only by the run goroutine (and by Subscribe before it).
	lastDelivered Cursor
	lastCovered   Cursor
	// resumed: a RESUME has been sent (only the first may use the stored
	// cursor). dials counts connection attempts, for Addrs.
	resumed bool
	dials   int
}

// Subscribe connects (failing fast on a rejected token) and starts
// delivering on Messages.
func Subscribe(ctx context.Context, cfg SubscriberConfig) (*Subscriber, error) {
	if cfg.Buffer <= 0 {
		cfg.Buffer = 1024
	}
	if cfg.AckEvery <= 0 {
		cfg.AckEvery = time.Second
	}
	if cfg.MaxPayload <= 0 {
		cfg.MaxPayload = 16 << 20
	}
	s := &Subscriber{cfg: cfg, messages: make(chan Push, cfg.Buffer), live: make(chan struct{}), done: make(chan struct{}), closing: make(chan struct{})}
	s.mu.waiters = make(map[uint32]chan error)
	s.lastCovered = cfg.Cursor.Clone()
	s.lastDelivered = cfg.Cursor.Clone()
	s.mu.handled = cfg.Cursor.Clone()
	fc, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.run(fc)
	return s, nil
}

// Messages delivers each broadcast once, in id order, and retractions as
// they happen (Push.Retracted). It is closed when the Subscriber stops; Err
// then says why.
func (s *Subscriber) Messages() <-chan Push { return s.messages }

// User is the user id the server authenticated.
func (s *Subscriber) User() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.user
}

// WaitLive blocks until the first catch-up has completed and live pushes
// flow, or ctx ends.
func (s *Subscriber) WaitLive(ctx context.Context) error {
	select {
	case <-s.live:
		return nil
	case <-s.done:
		return s.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Err returns the error that stopped the Subscriber, or nil while it runs.
func (s *Subscriber) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.err
}

// Ack acknowledges every message up to id in id's shard (cumulative): the
// application is done with them. It is what ManualAck subscribers call;
// without ManualAck it may still be used to acknowledge sooner. The
// acknowledgement reaches the server within AckEvery, or on Close.
func (s *Subscriber) Ack(id uint64) {
	s.mu.Lock()
	s.mu.handled = s.mu.handled.Advance(id)
	s.mu.Unlock()
}

// Handled returns where the application is: per shard, the highest id it
// is done with (as for acknowledgement; after Close, everything it
// received). It is the cursor to store and give back as
// SubscriberConfig.Cursor after a restart.
func (s *Subscriber) Handled() Cursor {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handledLocked(false).Clone()
}

// handledLocked returns, per shard, the highest id the application is done
// with: what it acknowledged, and without ManualAck every message it
// received before the last one it received (all it received, once
// closing). The cursor is the Subscriber's own: copy it to keep it.
func (s *Subscriber) handledLocked(closing bool) Cursor {
	if s.cfg.ManualAck {
		return s.mu.handled
	}
	received := len(s.mu.queued) - len(s.messages) // a lower bound: see queued
	if !closing {
		received-- // the last one received may be in hand still
	}
	for _, id := range s.mu.queued[:max(received, 0)] {
		if id != 0 {
			s.mu.handled = s.mu.handled.Advance(id)
		}
	}
	if received > 0 {
		s.mu.queued = append(s.mu.queued[:0], s.mu.queued[received:]...)
	}
	return s.mu.handled
}

// Close acknowledges what the application has handled, waits (up to a
// second) for the server to have it, stops the Subscriber and waits for it.
// Messages arriving meanwhile are not delivered (nor acknowledged).
func (s *Subscriber) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	s.mu.Lock()
	fc := s.mu.conn
	acks := s.appendOpenedLocked(appendAcks(nil, s.handledLocked(true), nil))
	s.mu.Unlock()
	if fc != nil && len(acks) > 0 && fc.write(acks) == nil {
		// The server answers frames in order: its PONG says the ACK is in.
		// The reader still runs (deliver no longer waits) to see it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = fc.roundTrip(ctx)
		cancel()
	}
	s.cancel()
	if fc != nil {
		fc.close()
	}
	<-s.done
	return nil
}

// Sync waits until the server has answered a PING sent now. The server
// answers in order, so when Sync returns, every frame it sent before — a
// PUSH it had written to this connection — has been delivered on Messages
// (or, for a full buffer, is being). It fails if the connection breaks
// first.
func (s *Subscriber) Sync(ctx context.Context) error {
	s.mu.Lock()
	fc := s.mu.conn
	s.mu.Unlock()
	if fc == nil {
		return errors.New("client: not connected; try again")
	}
	return fc.roundTrip(ctx)
}

// Follow makes the user follow account; it returns once that is durable.
func (s *Subscriber) Follow(ctx context.Context, account uint32) error {
	return s.follow(ctx, wire.TypeFollow, account)
}

// FollowFrom is Follow giving where the follow came from (a short code such
// as "qr", "search", "share", or one of the account's own: letters,
// digits, '-', '_', '.', ':'; at most 32 bytes), counted in the account's
// daily figures.
func (s *Subscriber) FollowFrom(ctx context.Context, account uint32, source string) error {
	if err := wire.ValidSource(source); err != nil {
		return err
	}
	return s.request(ctx, func(id uint32) []byte { return wire.AppendFollowFrom(nil, id, account, source) })
}

// Unfollow is the inverse of Follow.
func (s *Subscriber) Unfollow(ctx context.Context, account uint32) error {
	return s.follow(ctx, wire.TypeUnfollow, account)
}

func (s *Subscriber) follow(ctx context.Context, t wire.Type, account uint32) error {
	return s.request(ctx, func(id uint32) []byte { return wire.AppendFollow(nil, t, id, account) })
}

// request sends the frame build makes for a new request id and waits for
// its OK or ERROR.
func (s *Subscriber) request(ctx context.Context, build func(id uint32) []byte) error {
	s.mu.Lock()
	fc := s.mu.conn
	if fc == nil {
		s.mu.Unlock()
		return errors.New("client: not connected; try again")
	}
	if s.mu.nextReq++; s.mu.nextReq == 0 {
		s.mu.nextReq = 1 // request id 0 is reserved
	}
	id := s.mu.nextReq
	done := make(chan error, 1)
	s.mu.waiters[id] = done
	s.mu.Unlock()
	if err := fc.write(build(id)); err != nil {
		s.answer(id, err)
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		s.answer(id, nil)
		return ctx.Err()
	}
}

func (s *Subscriber) answer(id uint32, err error) {
	s.mu.Lock()
	done, ok := s.mu.waiters[id]
	delete(s.mu.waiters, id)
	s.mu.Unlock()
	if ok {
		done <- err
	}
}

// connect dials and authenticates.
func (s *Subscriber) connect(ctx context.Context) (*frameConn, error) {
	token := s.cfg.Token
	if s.cfg.TokenFunc != nil {
		var err error
		if token, err = s.cfg.TokenFunc(ctx); err != nil {
			return nil, err
		}
	}
	// RESUME goes with HELLO: the server answers WELCOME, the catch-up and
	// RESUMED in one write, a round trip sooner.
	var flags uint8
	if !s.resumed && s.cfg.StoredCursor {
		flags = wire.FlagFromStored
	}
	resume := wire.AppendResumeV2(nil, wire.ResumeV2{Cursor: s.resumeFrom()}, flags)
	addr := s.cfg.Addr
	if n := len(s.cfg.Addrs); n > 0 {
		addr = s.cfg.Addrs[s.dials%n]
	}
	s.dials++
	fc, err := dial(ctx, addr, s.cfg.LocalAddr, s.cfg.TLS, wire.Hello{Credential: token, Compress: !s.cfg.NoCompression}, resume)
	if err != nil {
		return nil, err
	}
	s.resumed = true
	s.mu.Lock()
	s.mu.conn = fc
	s.mu.user = fc.welcome.ID
	s.mu.Unlock()
	return fc, nil
}

// run serves connections until Close or a permanent error.
func (s *Subscriber) run(fc *frameConn) {
	defer close(s.done)
	defer close(s.messages)
	bo := newBackoff(s.cfg.MinBackoff, s.cfg.MaxBackoff)
	for {
		err := s.serve(fc)
		s.failWaiters(err)
		if s.ctx.Err() != nil {
			return
		}
		if permanent(err) {
			s.stop(err)
			return
		}
		for {
			if werr := bo.wait(s.ctx); werr != nil {
				return
			}
			fc, err = s.connect(s.ctx)
			if err == nil {
				bo.reset()
				break
			}
			if permanent(err) {
				s.stop(err)
				return
			}
		}
	}
}

func (s *Subscriber) stop(err error) {
	s.mu.Lock()
	s.mu.err = err
	s.mu.Unlock()
}

func (s *Subscriber) failWaiters(err error) {
	s.mu.Lock()
	waiters := s.mu.waiters
	s.mu.waiters = make(map[uint32]chan error)
	s.mu.conn = nil
	s.mu.Unlock()
	for _, done := range waiters {
		done <- fmt.Errorf("client: connection lost: %w", err)
	}
}

// serve runs one connection (RESUME was sent with HELLO): frames until it
// breaks.
func (s *Subscriber) serve(fc *frameConn) error {
	defer fc.close()
	stop := make(chan struct{})
	defer close(stop)
	// Close may run while a reconnect completes, before this connection
	// is the one it would close: the end of the Subscriber's context
	// closes it too.
	go func() {
		select {
		case <-s.ctx.Done():
			fc.close()
		case <-stop:
		}
	}()
	go fc.heartbeat(stop)
	go s.acknowledge(fc, stop)
	// RESUME went with HELLO (connect); what came with WELCOME is first.
	early := fc.early
	fc.early = nil
	for _, f := range early {
		if err := s.handle(fc, f); err != nil {
			return err
		}
	}
	return fc.read(func(f wire.Frame) error { return s.handle(fc, f) })
}

func (s *Subscriber) handle(fc *frameConn, f wire.Frame) error {
	switch f.Type {
	case wire.TypePush:
		p, err := wire.DecodePush(f.Body)
		if err != nil {
			return err
		}
		if s.lastDelivered.Covers(p.MessageID) {
			return nil // a duplicate after reconnecting
		}
		payload, err := s.payload(p.Payload, f.Flags&wire.FlagCompressed != 0)
		if err != nil {
			return fmt.Errorf("message %d: %w", p.MessageID, err)
		}
		msg := Push{ID: p.MessageID, Account: p.Account, Time: time.UnixMilli(int64(p.TimeMillis)),
			ContentType: p.ContentType, Payload: payload}
		msg.Reply = f.Flags&wire.FlagReply != 0
		if f.Flags&wire.FlagNotification != 0 {
			n, err := wire.DecodeNotification(payload)
			if err != nil {
				return fmt.Errorf("message %d: %w", p.MessageID, err)
			}
			msg.Notification, msg.Payload = &n, nil
		}
		if err := s.deliver(msg); err != nil {
			return err
		}
		s.lastDelivered = s.lastDelivered.Advance(p.MessageID)
	case wire.TypeRetracted:
		r, err := wire.DecodeRetracted(f.Body)
		if err != nil {
			return err
		}
		if err := s.deliver(Push{ID: r.MessageID, Account: r.Account, Retracted: true}); err != nil {
			return err
		}
	case wire.TypeResumed:
		r, err := wire.DecodeResumedV2(f.Body)
		if err != nil {
			return err
		}
		if f.Flags&wire.FlagHistoryMissed != 0 && s.cfg.OnHistoryMissed != nil {
			s.cfg.OnHistoryMissed()
		}
		s.lastCovered = s.lastCovered.Merge(r.Last)
		if f.Flags&wire.FlagMore != 0 {
			return fc.write(wire.AppendResumeV2(nil, wire.ResumeV2{Cursor: s.resumeFrom()}, 0))
		}
		s.liveOnce.Do(func() { close(s.live) })
	case wire.TypeOK:
		id, err := wire.DecodeOK(f.Body)
		if err != nil {
			return err
		}
		s.answer(id, nil)
	case wire.TypeError:
		m, err := wire.DecodeError(f.Body)
		if err != nil {
			return err
		}
		if m.RequestID == 0 {
			if m.Code == wire.CodeCursorAhead {
				s.forgetHistory()
			}
			return errorFrom(m)
		}
		s.answer(m.RequestID, errorFrom(m))
	case wire.TypePong:
		fc.pong()
	case wire.TypePing:
	default:
		return fmt.Errorf("client: unexpected %s from server", f.Type)
	}
	return nil
}

// forgetHistory starts over from cursor 0 on the next connect: the server
// says the cursor is beyond its newest message, so its log is not the one
// the ids came from, and ids already seen say nothing about new ones.
func (s *Subscriber) forgetHistory() {
	s.lastDelivered, s.lastCovered = nil, nil
	s.mu.Lock()
	s.mu.handled, s.mu.queued = nil, nil
	s.mu.Unlock()
	if s.cfg.OnHistoryMissed != nil {
		s.cfg.OnHistoryMissed()
	}
}

// deliver puts m on Messages and records it as queued for the application.
func (s *Subscriber) deliver(m Push) error {
	select {
	case s.messages <- m:
	case <-s.closing:
		return nil // Close has begun: dropped, so not acknowledged either
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
	if s.cfg.ManualAck {
		return nil
	}
	id := m.ID
	if m.Retracted {
		id = 0 // names an earlier broadcast: acknowledges nothing
	}
	s.mu.Lock()
	s.mu.queued = append(s.mu.queued, id)
	s.mu.Unlock()
	return nil
}

// payload returns a copy of a PUSH payload, decoded if it is compressed. The
// decoded size is checked before anything is decoded.
func (s *Subscriber) payload(p []byte, compressed bool) ([]byte, error) {
	if !compressed {
		return append([]byte(nil), p...), nil
	}
	n, err := s2.DecodedLen(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPayload, err)
	}
	if n > s.cfg.MaxPayload {
		return nil, fmt.Errorf("%w: decodes to %d bytes, limit %d", ErrBadPayload, n, s.cfg.MaxPayload)
	}
	out, err := s2.Decode(make([]byte, n), p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPayload, err)
	}
	return out, nil
}

// acknowledge periodically sends a cumulative ACK for what the application
// has handled.
func (s *Subscriber) acknowledge(fc *frameConn, stop <-chan struct{}) {
	t := time.NewTicker(s.cfg.AckEvery)
	defer t.Stop()
	var acked Cursor // per connection: re-acknowledging after a reconnect is harmless
	for {
		select {
		case <-t.C:
			s.mu.Lock()
			acks := appendAcks(nil, s.handledLocked(false), acked)
			handled := s.mu.handled.Clone()
			opened := len(s.mu.opened)
			acks = s.appendOpenedLocked(acks)
			s.mu.Unlock()
			if len(acks) > 0 && fc.write(acks) == nil {
				acked = handled
				s.mu.Lock()
				s.mu.opened = s.mu.opened[opened:]
				s.mu.Unlock()
			}
		case <-stop:
			return
		}
	}
}

// resumeFrom is the cursor the next RESUME carries: per shard, the later
// of what was delivered and what the server said it covered.
func (s *Subscriber) resumeFrom() Cursor {
	return s.lastDelivered.Clone().Merge(s.lastCovered)
}

// maxOpened bounds the openings a Subscriber keeps while it cannot send
// them; beyond it the oldest are dropped.
const maxOpened = 4096

// Opened tells the server that the application opened (showed, read)
// message id: it counts once per user in the broadcast's opened figure,
// which its publisher sees (never who opened it). It is sent with the
// next acknowledgements (within AckEvery, or on Close).
func (s *Subscriber) Opened(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.mu.opened) >= maxOpened {
		s.mu.opened = s.mu.opened[1:]
	}
	s.mu.opened = append(s.mu.opened, id)
}

// appendOpenedLocked appends an OPENED frame for each opening not yet
// sent; the caller drops them once the write succeeded (or, closing,
// whatever happens).
func (s *Subscriber) appendOpenedLocked(dst []byte) []byte {
	for _, id := range s.mu.opened {
		dst = wire.AppendOpened(dst, id)
	}
	return dst
}

// appendAcks appends an ACK for each shard in which handled is past
// acked (ACK is cumulative within one shard).
func appendAcks(dst []byte, handled, acked Cursor) []byte {
	for _, id := range handled {
		if !acked.Covers(id) {
			dst = wire.AppendAck(dst, id)
		}
	}
	return dst
}
