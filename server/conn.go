package server

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"

	"herald/wire"
)

type role uint8

const (
	roleClient role = iota
	rolePublisher
)

type connState uint8

const (
	stateHello connState = iota // waiting for HELLO
	stateReady                  // authenticated
)

// conn is one connection's state. Every field is touched only on its loop.
type conn struct {
	srv    *Server
	loop   *loopState
	c      gnet.Conn
	role   role
	state  connState
	parser *wire.Parser
	// proxyPending: a PROXY protocol header is still to come (Config.
	// ProxyProtocol); proxyBuf holds its beginning, remote the client's
	// address it gave.
	proxyPending bool
	proxyBuf     []byte
	remote       net.Addr
	// user (client role) or account (publisher role) once authenticated.
	user    uint32
	account uint32
	// opened, lastFrame and partialSince are Unix nanoseconds, for the
	// timeout sweep: the connection's start, the end of the last whole
	// frame received (liveness counts frames, not bytes), and the start of
	// the frame received in part (0: none).
	opened       int64
	lastFrame    int64
	partialSince int64
	// frames counts whole frames received; held is what the parser holds
	// for a partial frame, as counted in Server.partialBytes.
	frames uint64
	held   int
	// limited: counted in Server.conns (an authenticated connection).
	limited bool
	// online: in the loop's online index, receiving live pushes.
	online bool
	// compress: the client accepts S2-compressed PUSH payloads (HELLO).
	compress bool
	// version is the protocol version HELLO chose.
	version uint8
	// sniffed: the connection's first bytes were looked at; ws is set if
	// they began a WebSocket upgrade (client listener).
	sniffed bool
	ws      *wsConn
	// lastSent is, per shard, the highest message id this connection has
	// been sent or told it need not be sent (catch-up coverage); live
	// pushes at or below it are dropped, which keeps per-connection order
	// by id in each shard.
	lastSent wire.Cursor
	// caughtUp is lastSent when the connection went live: what it got on
	// catch-up pages (engine.Engine.Acknowledge).
	caughtUp wire.Cursor
	// inflight counts PUBLISHes waiting for the engine (publisher role).
	inflight int
	// watches are the broadcasts the publisher watches (watch.go).
	watches map[uint64]*watch
	// inboxWatch is the publisher's watch of its inbox (inbox_role.go).
	inboxWatch *inboxWatch
	// waiting: a publisher's HELLO or a RESUME waits for the engine, and
	// later frames are held in pending (heldFrames bytes) until it is
	// answered; resuming is the RESUME's progress.
	waiting    bool
	pending    []wire.Frame
	heldFrames int
	resuming   resumeState
	// closing: an ERROR was written and the close is queued; closed: gnet
	// has closed the connection.
	closing bool
	closed  bool
	scratch []byte
	// out accounts for the memory queued in gnet's outbound buffer;
	// cutHeld is what it held when the connection was cut off as a slow
	// consumer.
	out     outbound
	cutHeld int
	// corked: frames are gathered in gathered instead of written, to go
	// out in one writev when uncorked (see cork).
	corked   bool
	gathered [][]byte
}

func newConn(srv *Server, l *loopState, c gnet.Conn, r role) *conn {
	now := time.Now().UnixNano()
	return &conn{srv: srv, loop: l, c: c, role: r, parser: wire.NewParser(srv.cfg.maxFrame(r)), opened: now, lastFrame: now, proxyPending: srv.cfg.ProxyProtocol}
}

// Deliver implements engine.Sink: it writes shared PUSH frames, several in
// one writev.
func (cn *conn) Deliver(frames [][]byte, ids []uint64) bool {
	if cn.closing || cn.closed {
		return false
	}
	// Drop pushes that catch-up already covered; keep control frames (id
	// 0). The slices are the loop's scratch, so compact them in place.
	kept := 0
	for i, id := range ids {
		if id == 0 || !cn.lastSent.Covers(id) {
			frames[kept], ids[kept] = frames[i], id
			kept++
		}
	}
	frames, ids = frames[:kept], ids[:kept]
	if len(frames) == 0 {
		return true // catch-up already sent them
	}
	if !cn.enqueue(frames) {
		return false
	}
	for _, id := range ids {
		if id != 0 {
			cn.lastSent = cn.lastSent.Advance(id)
		}
	}
	return !cn.closed
}

// enqueue writes frames (as one writev) unless the memory they would take
// in the outbound buffer passes the cap, in which case the connection is
// closed with SLOW_CONSUMER. Every byte sent to a connection but the ERROR
// that closes it goes through here.
func (cn *conn) enqueue(frames [][]byte) bool {
	if cn.closing || cn.closed {
		return false
	}
	if cn.corked {
		cn.gather(frames...)
		return true
	}
	return cn.put(frames, cn.ws.framing())
}

// put writes frames now, as enqueue does; wrap puts them in one binary
// WebSocket message (a WebSocket connection's Herald frames; not its
// handshake answer or control frames).
func (cn *conn) put(frames [][]byte, wrap bool) bool {
	if cn.closing || cn.closed {
		return false
	}
	buffered := cn.c.OutboundBuffered()
	pieces, extra := cn.loop.pieces[:0], 0
	if wrap {
		size := 0
		for _, f := range frames {
			size += len(f)
		}
		header := cn.ws.w.header(ws.OpBinary, size)
		pieces, extra = append(pieces, header), cost(len(header))
	}
	pieces, charge := split(pieces, frames)
	charge += extra
	cn.loop.pieces = pieces[:0]
	if held := cn.out.held(buffered); held+charge > cn.srv.cfg.MaxOutbound {
		cn.srv.metrics.slowConsumers.Add(1)
		cn.cutHeld = held
		cn.fail(closeWith(wire.CodeSlowConsumer, "over %d bytes queued for this connection", cn.srv.cfg.MaxOutbound))
		return false
	}
	cn.write(pieces, buffered, charge)
	return true
}

// write hands pieces (split by split, costing charge) to gnet, buffered
// bytes being queued before, and accounts for what gnet buffered of them.
func (cn *conn) write(pieces [][]byte, buffered, charge int) {
	size := 0
	for _, p := range pieces {
		size += len(p)
	}
	if len(pieces) == 1 {
		_, _ = cn.c.Write(pieces[0])
	} else {
		_, _ = cn.c.Writev(pieces)
	}
	if !cn.closed {
		cn.out.queued(cn.c.OutboundBuffered()-buffered, size, charge)
	}
}

// A connection is corked while it handles what one read brought, and
// while it waits for the engine to answer a RESUME, so that what it
// answers meanwhile goes out in one writev: a client that sends HELLO and
// RESUME together gets WELCOME, its catch-up and RESUMED in one write. The
// frames gathered are shared frames and copies of small ones, held only
// until the callback that ends the wait; the cap applies when they are
// written.

// cork starts gathering.
func (cn *conn) cork() { cn.corked = true }

// uncork writes what was gathered, in one writev under the cap.
func (cn *conn) uncork() {
	cn.corked = false
	frames := cn.gathered
	if len(frames) == 0 {
		return
	}
	// Detached first: a cut-off inside enqueue must not write them too.
	cn.gathered = nil
	cn.enqueue(frames)
	clear(frames)
	if l := cn.loop; cap(frames) <= 1024 && len(l.spare) < maxSpare {
		l.spare = append(l.spare, frames[:0])
	}
}

// gather adds frames to what a corked connection holds, in a slice the
// loop lent it: a connection keeps none while it is not corked, and a
// storm of resuming clients does not grow one per connection.
func (cn *conn) gather(frames ...[]byte) {
	if l := cn.loop; cn.gathered == nil && len(l.spare) > 0 {
		cn.gathered, l.spare = l.spare[len(l.spare)-1], l.spare[:len(l.spare)-1]
	}
	cn.gathered = append(cn.gathered, frames...)
}

// maxSpare is how many gathering slices a loop keeps for its connections.
const maxSpare = 64

// send writes a frame built in the connection's scratch buffer (a copy of
// it, when corked).
func (cn *conn) send(build func(dst []byte) []byte) {
	if cn.closing || cn.closed {
		return
	}
	if cn.corked {
		cn.gather(build(nil))
		return
	}
	cn.scratch = build(cn.scratch[:0])
	cn.enqueue([][]byte{cn.scratch})
	if cap(cn.scratch) > 4096 {
		cn.scratch = nil
	}
}

// sendError answers one request with an ERROR frame; the connection stays.
func (cn *conn) sendError(requestID uint32, code wire.Code, text string) {
	cn.sendErrorAt(requestID, code, 0, text)
}

// sendErrorAt is sendError with the time (Unix ms) a retry can succeed.
func (cn *conn) sendErrorAt(requestID uint32, code wire.Code, retryAtMillis uint64, text string) {
	cn.srv.metrics.countError(code)
	cn.send(func(dst []byte) []byte {
		return wire.AppendError(dst, wire.Error{RequestID: requestID, Code: code, RetryAtMillis: retryAtMillis, Text: text})
	})
}

// fail ends the connection: an ERROR frame with the code err carries (or the
// parser's code), then a close that flushes it.
func (cn *conn) fail(err error) {
	if cn.closing || cn.closed {
		return
	}
	var ce *closeError
	if !errors.As(err, &ce) {
		ce = &closeError{code: wire.CodeFor(err), text: err.Error()}
	}
	cn.closing = true
	cn.srv.metrics.countError(ce.code)
	cn.logDisconnect(ce.code, ce.text)
	// Past the cap if need be: it is one small frame, and the last, after
	// what was gathered (a WELCOME, say; never more than a page).
	frames := append(cn.gathered, wire.AppendError(nil, wire.Error{Code: ce.code, Text: ce.text}))
	cn.gathered, cn.corked = nil, false
	switch {
	case cn.ws.framing():
		frames = cn.wsWrapClose(frames, ce.code, ce.text)
	case cn.ws != nil:
		frames = nil // not upgraded: nothing to say in Herald's words
	}
	if len(frames) > 0 {
		_, _ = cn.c.Writev(frames)
	}
	cn.srv.metrics.closedWithError.Add(1)
	_ = cn.c.Close()
}

// traffic feeds bytes read at now (Unix ns) to the parser, then brings the
// liveness and partial-frame bookkeeping up to date.
func (cn *conn) traffic(data []byte, now int64) {
	if cn.proxyPending {
		var ok bool
		if data, ok = cn.proxyHeader(data); !ok {
			return
		}
	}
	if !cn.sniffed {
		cn.sniffed = true
		if cn.role == roleClient && wsStarts(data) {
			cn.ws = &wsConn{}
		}
	}
	if cn.ws != nil {
		var ok bool
		if data, ok = cn.wsTraffic(data); !ok {
			return
		}
	}
	frames := cn.frames
	cn.cork()
	if err := cn.parser.Feed(data, cn.handleFrame); err != nil {
		cn.fail(err)
	}
	if !cn.waiting {
		cn.uncork()
	}
	if cn.frames != frames {
		cn.lastFrame = now
	}
	switch {
	case cn.parser.Buffered() == 0:
		cn.partialSince = 0
	case cn.partialSince == 0 || cn.frames != frames:
		cn.partialSince = now // a new frame has begun
	}
	if held := cn.parser.Held(); held != cn.held {
		total := cn.srv.partialBytes.Add(int64(held - cn.held))
		grew := held > cn.held
		cn.held = held
		if grew && total > int64(cn.srv.cfg.MaxPartialBytes) {
			cn.fail(cn.srv.overloaded())
		}
	}
}

// released undoes a closed connection's share of the server-wide counts.
func (cn *conn) released() {
	if cn.cutHeld > 0 {
		cn.srv.reclaim.release(cn.cutHeld)
	}
	cn.srv.partialBytes.Add(int64(-cn.held))
	cn.held = 0
	cn.unhold(cn.heldFrames)
	cn.pending = nil
	if cn.limited {
		cn.srv.conns.release(connKey{role: cn.role, id: cn.id()})
		cn.limited = false
	}
}

// id is the authenticated user (client role) or account (publisher role).
func (cn *conn) id() uint32 {
	if cn.role == roleClient {
		return cn.user
	}
	return cn.account
}

// handleFrame takes one whole frame from the parser: it is handled now, or
// held while an earlier frame waits for the engine.
func (cn *conn) handleFrame(f wire.Frame) error {
	if cn.closing {
		return nil
	}
	cn.frames++
	if cn.waiting {
		return cn.hold(f)
	}
	return cn.dispatch(f)
}

// hold keeps a copy of a frame that arrived while a publisher's HELLO or a
// RESUME waits for the engine: a connection's frames are handled in the
// order sent, so nothing overtakes the answer they wait for. What is held
// counts with partly received frames against MaxPartialBytes, and a
// connection may hold at most its largest frame and heldMargin more.
func (cn *conn) hold(f wire.Frame) error {
	size := len(f.Body) + wire.HeaderSize
	if limit := cn.srv.cfg.maxFrame(cn.role) + heldMargin; cn.heldFrames+size > limit {
		return closeWith(wire.CodeOverloaded, "over %d bytes of frames sent while the server had not yet answered HELLO or RESUME", limit)
	}
	if total := cn.srv.partialBytes.Add(int64(size)); total > int64(cn.srv.cfg.MaxPartialBytes) {
		cn.srv.partialBytes.Add(int64(-size))
		return cn.srv.overloaded()
	}
	cn.heldFrames += size
	f.Body = append([]byte(nil), f.Body...)
	cn.pending = append(cn.pending, f)
	return nil
}

// overloaded is the error of a connection whose partial or held frames
// would pass the server's MaxPartialBytes.
func (s *Server) overloaded() error {
	return closeWith(wire.CodeOverloaded, "the server holds %d bytes of partly received frames, its limit", s.cfg.MaxPartialBytes)
}

// heldMargin is what one connection may send, besides one frame of the
// largest size, while it waits for the engine's answer to HELLO or RESUME.
const heldMargin = 16 << 10

// proceed ends a wait for the engine: the frames held meanwhile are
// handled in order, until one of them waits again.
func (cn *conn) proceed() {
	cn.waiting = false
	cn.cork()
	defer func() {
		if !cn.waiting {
			cn.uncork()
		}
	}()
	for len(cn.pending) > 0 && !cn.waiting && !cn.closing && !cn.closed {
		f := cn.pending[0]
		cn.pending[0] = wire.Frame{}
		cn.pending = cn.pending[1:]
		cn.unhold(len(f.Body) + wire.HeaderSize)
		if err := cn.dispatch(f); err != nil {
			cn.fail(err)
		}
	}
	if len(cn.pending) == 0 {
		cn.pending = nil
	}
}

func (cn *conn) unhold(size int) {
	cn.heldFrames -= size
	cn.srv.partialBytes.Add(int64(-size))
}

// dispatch handles one frame by state and role.
func (cn *conn) dispatch(f wire.Frame) error {
	if id, ok := wire.RequestID(f.Type, f.Body); ok && id == 0 {
		// An answer to request 0 would read as the connection's end.
		return closeWith(wire.CodeMalformedFrame, "%s with request id 0: request ids start at 1", f.Type)
	}
	if err := wire.CheckFlags(f.Type, f.Flags); err != nil {
		return cn.invalid(f, err)
	}
	if cn.state == stateHello {
		if f.Type != wire.TypeHello {
			return closeWith(wire.CodeUnexpectedFrame, "%s before HELLO", f.Type)
		}
		return cn.hello(f)
	}
	switch f.Type {
	case wire.TypePing, wire.TypePong:
		if err := wire.CheckEmpty(f.Type, f.Body); err != nil {
			return cn.invalid(f, err)
		}
		if f.Type == wire.TypePing {
			cn.send(func(dst []byte) []byte { return wire.AppendEmpty(dst, wire.TypePong) })
		}
		return nil
	}
	if cn.role == rolePublisher {
		return cn.publisherFrame(f)
	}
	return cn.clientFrame(f)
}

// invalid answers a well-framed frame that broke the protocol's rules (see
// wire/rules.go): a request frame with its request id gets
// BAD_REQUEST and the connection stays; any other frame closes it with
// MALFORMED_FRAME.
func (cn *conn) invalid(f wire.Frame, err error) error {
	if id, ok := wire.RequestID(f.Type, f.Body); ok {
		cn.sendError(id, wire.CodeBadRequest, fmt.Sprintf("%s: %v", f.Type, err))
		return nil
	}
	return closeWith(wire.CodeMalformedFrame, "%s: %v", f.Type, err)
}

// hello authenticates the connection for its role: a client's token on the
// loop, a publisher's secret by the engine (welcome follows its answer).
func (cn *conn) hello(f wire.Frame) error {
	h, err := wire.DecodeHello(f.Body)
	if err != nil {
		return closeWith(wire.CodeMalformedFrame, "%v", err)
	}
	if h.Version != wire.Version1 && h.Version != wire.Version2 {
		return closeWith(wire.CodeUnsupportedVersion, "version %d; this server speaks %d and %d", h.Version, wire.Version1, wire.Version2)
	}
	cn.version = h.Version
	if h.Version == wire.Version1 && cn.role == roleClient && cn.srv.shards > 1 {
		return closeWith(wire.CodeUnsupportedVersion, "this server is a cluster of %d shards: one cursor id cannot say where a client is in each; speak version %d", cn.srv.shards, wire.Version2)
	}
	if cn.role == rolePublisher {
		cn.authenticatePublisher(h)
		return nil
	}
	user, err := cn.authenticateClient(h)
	if err != nil {
		return err
	}
	return cn.welcome(user, f.Flags&wire.FlagCompress != 0)
}

// welcome admits an authenticated connection within its connection limit
// and answers WELCOME.
func (cn *conn) welcome(id uint32, compress bool) error {
	limit, who := cn.srv.cfg.MaxConnsPerUser, "user"
	if cn.role == rolePublisher {
		limit, who = cn.srv.cfg.MaxConnsPerAccount, "account"
	}
	if !cn.srv.conns.acquire(connKey{role: cn.role, id: id}, limit) {
		return closeWith(wire.CodeConnectionLimit, "%s %d already holds %d connections, the most allowed", who, id, limit)
	}
	cn.limited = true
	cn.compress = compress
	cn.state = stateReady
	cn.send(func(dst []byte) []byte {
		return wire.AppendWelcome(dst, wire.Welcome{
			Version:         cn.version,
			ID:              id,
			HeartbeatMillis: uint32(cn.srv.cfg.Heartbeat.Milliseconds()),
			MaxFrame:        uint32(cn.srv.cfg.maxFrame(cn.role)),
		})
	})
	return nil
}

// reply runs fn on the connection's loop if the connection is still open;
// engine callbacks use it to answer from the writer goroutine.
func (cn *conn) reply(fn func()) {
	_ = cn.loop.Execute(func() {
		if !cn.closed {
			fn()
		}
	})
}

// answerOK returns an engine callback that answers requestID with OK, or
// with the ERROR for err, on the connection's loop.
func (cn *conn) answerOK(requestID uint32) func(error) {
	return func(err error) {
		cn.reply(func() {
			if err != nil {
				cn.sendErrorAt(requestID, codeFor(err), retryAt(err), err.Error())
				return
			}
			cn.send(func(dst []byte) []byte { return wire.AppendOK(dst, requestID) })
		})
	}
}

// addrPort returns the port of a TCP address, or -1.
func addrPort(a net.Addr) int {
	if tcp, ok := a.(*net.TCPAddr); ok {
		return tcp.Port
	}
	return -1
}
