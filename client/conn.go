package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"herald/internal/sockopt"
	"herald/wire"
)

// frameConn is one protocol connection: framed reads on one goroutine,
// serialised writes from any.
type frameConn struct {
	nc      net.Conn
	parser  *wire.Parser
	buf     []byte
	welcome wire.Welcome
	wmu     sync.Mutex
	// pings counts PINGs written (under wmu), pongs the PONGs read; the
	// server answers in order, so pongs reaching n means every frame
	// written before the n-th PING has been handled.
	pings    uint64
	pongs    atomic.Uint64
	pongSeen chan struct{} // signalled on every PONG (buffered, 1)
	// early are the frames that came in the read that brought WELCOME,
	// after it (the answer to a RESUME sent with HELLO), in order.
	early []wire.Frame
}

// dial connects (from local, when not nil), sends HELLO and then, in the
// same write, after (a RESUME, say: the server handles it once WELCOME is
// out), and waits for WELCOME (or the ERROR that refuses the session).
func dial(ctx context.Context, addr string, local net.Addr, tlsConfig *tls.Config, hello wire.Hello, after []byte) (*frameConn, error) {
	d := net.Dialer{LocalAddr: local}
	if local != nil {
		d.Control = sockopt.BindNoPort
	}
	var nc net.Conn
	var err error
	switch {
	case isWebSocket(addr):
		nc, err = dialWebSocket(ctx, addr, &d, tlsConfig)
	case tlsConfig != nil:
		nc, err = (&tls.Dialer{NetDialer: &d, Config: tlsConfig}).DialContext(ctx, "tcp", addr)
	default:
		nc, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	fc := &frameConn{nc: nc, parser: wire.NewParser(wire.DefaultMaxFrame), buf: make([]byte, 8<<10), pongSeen: make(chan struct{}, 1)}
	if deadline, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(deadline)
	} else {
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	}
	hello.Version = wire.Version
	if err := fc.write(append(wire.AppendHello(nil, hello), after...)); err != nil {
		nc.Close()
		return nil, err
	}
	welcomed := false
	handle := func(f wire.Frame) error {
		switch {
		case welcomed:
			// The frames behind WELCOME in the same read: kept, as the
			// buffer they are read into is reused.
			fc.early = append(fc.early, wire.Frame{Type: f.Type, Flags: f.Flags, Body: append([]byte(nil), f.Body...)})
			return nil
		case f.Type == wire.TypeWelcome:
			w, err := wire.DecodeWelcome(f.Body)
			if err != nil {
				return err
			}
			fc.welcome, welcomed = w, true
			return nil
		case f.Type == wire.TypeError:
			m, err := wire.DecodeError(f.Body)
			if err != nil {
				return err
			}
			return errorFrom(m)
		default:
			return fmt.Errorf("client: %s before WELCOME", f.Type)
		}
	}
	for !welcomed {
		n, err := nc.Read(fc.buf)
		if n > 0 {
			if ferr := fc.parser.Feed(fc.buf[:n], handle); ferr != nil {
				nc.Close()
				return nil, ferr
			}
		}
		if err != nil && !welcomed {
			nc.Close()
			return nil, err
		}
		// A read error after WELCOME is the next read's to report.
	}
	_ = nc.SetDeadline(time.Time{})
	return fc, nil
}

// read feeds frames to fn until fn or the connection returns an error.
// The rest of the read in which fn returned an error is dropped: fn stops
// early only where nothing can follow yet (at WELCOME, before RESUME is
// sent) or where the connection ends. Once welcomed, a connection on which nothing arrives for two
// heartbeat intervals is dead (heartbeat PINGs are answered), and read
// returns a timeout error.
func (fc *frameConn) read(fn func(wire.Frame) error) error {
	for {
		if every := fc.welcome.HeartbeatMillis; every > 0 {
			_ = fc.nc.SetReadDeadline(time.Now().Add(2 * time.Duration(every) * time.Millisecond))
		}
		n, err := fc.nc.Read(fc.buf)
		if n > 0 {
			if ferr := fc.parser.Feed(fc.buf[:n], fn); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			return err
		}
	}
}

func (fc *frameConn) write(b []byte) error {
	fc.wmu.Lock()
	defer fc.wmu.Unlock()
	_ = fc.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := fc.nc.Write(b)
	return err
}

func (fc *frameConn) close() { _ = fc.nc.Close() }

// ping writes a PING and returns its number.
func (fc *frameConn) ping() (uint64, error) {
	fc.wmu.Lock()
	defer fc.wmu.Unlock()
	_ = fc.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := fc.nc.Write(wire.AppendEmpty(nil, wire.TypePing)); err != nil {
		return 0, err
	}
	fc.pings++
	return fc.pings, nil
}

// pong records a PONG; the connection's reader calls it.
func (fc *frameConn) pong() {
	fc.pongs.Add(1)
	select {
	case fc.pongSeen <- struct{}{}:
	default:
	}
}

// roundTrip sends a PING and waits for its PONG: then the server has
// handled every frame written before it. The reader must be running.
func (fc *frameConn) roundTrip(ctx context.Context) error {
	n, err := fc.ping()
	if err != nil {
		return err
	}
	for fc.pongs.Load() < n {
		select {
		case <-fc.pongSeen:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// heartbeat sends PING at the server's interval until stop closes.
func (fc *frameConn) heartbeat(stop <-chan struct{}) {
	every := time.Duration(fc.welcome.HeartbeatMillis) * time.Millisecond
	if every <= 0 {
		every = 30 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if _, err := fc.ping(); err != nil {
				return
			}
		case <-stop:
			return
		}
	}
}

// backoff is capped exponential backoff with full jitter.
type backoff struct {
	min, max, next time.Duration
}

func newBackoff(lo, hi time.Duration) backoff {
	if lo <= 0 {
		lo = 50 * time.Millisecond
	}
	if hi < lo {
		hi = 5 * time.Second
	}
	return backoff{min: lo, max: hi, next: lo}
}

// wait sleeps for a jittered interval or until ctx ends.
func (b *backoff) wait(ctx context.Context) error {
	d := b.min + rand.N(b.next)
	b.next = min(b.next*2, b.max)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *backoff) reset() { b.next = b.min }
