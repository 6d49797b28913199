package server

import (
	"context"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"

	"herald/engine"
	"herald/wire"
)

// handler is the gnet event handler shared by both listeners.
type handler struct {
	gnet.BuiltinEventEngine
	srv           *Server
	publisherPort int
	booted        chan gnet.Engine
	mu            struct {
		sync.Mutex
		loops map[gnet.EventLoop]*loopState
	}
}

// loopState is one event loop's view: its online index and its connections
// (for the timeout sweep). Fields other than el are touched only on the loop.
type loopState struct {
	el    gnet.EventLoop
	index engine.LoopIndex
	conns map[*conn]struct{}
	// pieces is scratch for the frames of one write, split (outbound.go).
	pieces [][]byte
	// spare holds emptied slices for corked connections to gather in
	// (conn.gather).
	spare [][][]byte
}

// Execute implements engine.Loop.
func (l *loopState) Execute(fn func()) error {
	return l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		fn()
		return nil
	}))
}

// loopFor returns the state of el, creating it on the loop's first
// connection.
func (h *handler) loopFor(el gnet.EventLoop) *loopState {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l, ok := h.mu.loops[el]; ok {
		return l
	}
	l := &loopState{el: el, conns: make(map[*conn]struct{})}
	l.index = h.srv.engine.RegisterLoop(l)
	h.mu.loops[el] = l
	return l
}

func (h *handler) loops() []*loopState {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*loopState, 0, len(h.mu.loops))
	for _, l := range h.mu.loops {
		out = append(out, l)
	}
	return out
}

func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	h.booted <- eng
	return gnet.None
}

func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	role := roleClient
	if addrPort(c.LocalAddr()) == h.publisherPort {
		role = rolePublisher
	}
	l := h.loopFor(c.EventLoop())
	cn := newConn(h.srv, l, c, role)
	l.conns[cn] = struct{}{}
	c.SetContext(cn)
	h.srv.metrics.connections[role].Add(1)
	return nil, gnet.None
}

func (h *handler) OnClose(c gnet.Conn, _ error) gnet.Action {
	cn, ok := c.Context().(*conn)
	if !ok {
		return gnet.None
	}
	cn.closed = true
	cn.endWatches()
	if cn.online {
		cn.loop.index.Remove(cn.user, cn)
		cn.online = false
	}
	cn.released()
	delete(cn.loop.conns, cn)
	h.srv.metrics.connections[cn.role].Add(-1)
	return gnet.None
}

func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	cn, ok := c.Context().(*conn)
	if !ok {
		return gnet.Close
	}
	data, _ := c.Next(-1)
	if cn.closing {
		return gnet.None // an ERROR is on its way out; ignore the rest
	}
	cn.traffic(data, time.Now().UnixNano())
	return gnet.None
}

// OnTick sweeps every loop for connections past their auth or heartbeat
// deadline. The sweep runs on each loop, so it touches no shared state.
func (h *handler) OnTick() (time.Duration, gnet.Action) {
	now := time.Now().UnixNano()
	for _, l := range h.loops() {
		l := l
		_ = l.Execute(func() { h.sweep(l, now) })
	}
	return h.srv.tick, gnet.None
}

func (h *handler) sweep(l *loopState, now int64) {
	cfg := &h.srv.cfg
	idle := 2 * cfg.Heartbeat.Nanoseconds()
	for cn := range l.conns {
		switch {
		case cn.closing:
		case cn.state == stateHello && now > cn.opened+cfg.AuthTimeout.Nanoseconds():
			cn.fail(closeWith(wire.CodeAuthTimeout, "no HELLO within %v", cfg.AuthTimeout))
		case cn.partialSince != 0 && now > cn.partialSince+cfg.FrameTimeout.Nanoseconds():
			cn.fail(closeWith(wire.CodeFrameTimeout, "a frame was begun and not finished within %v", cfg.FrameTimeout))
		case cn.state == stateReady && now > cn.lastFrame+idle:
			cn.fail(closeWith(wire.CodeHeartbeatTimeout, "no whole frame received for %v", time.Duration(idle)))
		}
	}
}

// shutdown sends SHUTTING_DOWN to every connection, on its loop, and waits
// for the loops to have done so.
func (h *handler) shutdown() {
	var wg sync.WaitGroup
	for _, l := range h.loops() {
		l := l
		wg.Add(1)
		if err := l.Execute(func() {
			defer wg.Done()
			for cn := range l.conns {
				if !cn.closing {
					cn.fail(closeWith(wire.CodeShuttingDown, "server stopping"))
				}
			}
		}); err != nil {
			wg.Done()
		}
	}
	wg.Wait()
}
