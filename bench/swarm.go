package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sync/errgroup"

	"herald/wire"
)

// swarm is the clients of one side: raw connections whose readers count
// PUSH frames per burst. It is the same code for Herald and the floor, so
// the client side costs the same in both measurements.
type swarm struct {
	conns []net.Conn
	// base is the message id of burst 0.
	base   atomic.Uint64
	bursts []arrivals
	errs   atomic.Int64
	done   sync.WaitGroup
	// ack: each client acknowledges the last PUSH of every read, as an
	// SDK would (Herald's analytics count what is acknowledged).
	ack bool
}

type arrivals struct {
	received atomic.Int64
	last     atomic.Int64 // Unix nanoseconds of the latest receipt
}

// dialSwarm connects n clients to addr. If handshake is not nil, client i
// first sends handshake(i) and waits for RESUMED (Herald); otherwise it
// only connects (the floor).
func dialSwarm(addr string, n, bursts int, handshake func(i int) []byte) (*swarm, error) {
	return dialSpread(func(int) string { return addr }, n, bursts, false, handshake)
}

// dialSpread is dialSwarm with client i connecting to addr(i) (the edges
// of a cluster).
func dialSpread(addr func(i int) string, n, bursts int, ack bool, handshake func(i int) []byte) (*swarm, error) {
	s := &swarm{conns: make([]net.Conn, n), bursts: make([]arrivals, bursts), ack: ack}
	var g errgroup.Group
	g.SetLimit(64)
	for i := range s.conns {
		g.Go(func() error {
			c, err := dialClient(addr(i))
			if err != nil {
				return err
			}
			s.conns[i] = c
			live := make(chan error, 1)
			if handshake == nil {
				live <- nil
			} else if _, err := c.Write(handshake(i)); err != nil {
				return err
			}
			s.done.Add(1)
			go s.read(c, live)
			select {
			case err := <-live:
				return err
			case <-time.After(30 * time.Second):
				return fmt.Errorf("client %d: not live within 30s", i)
			}
		})
	}
	if err := g.Wait(); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

var errStop = errors.New("stop")

// read parses frames until the connection closes, signalling live on
// RESUMED and counting PUSH frames.
func (s *swarm) read(c net.Conn, live chan error) {
	defer s.done.Done()
	parser := wire.NewParser(0)
	buf := make([]byte, 4096)
	var ackBuf []byte
	for {
		n, err := c.Read(buf)
		if n > 0 {
			var pushed uint64
			perr := parser.Feed(buf[:n], func(f wire.Frame) error {
				switch f.Type {
				case wire.TypePush:
					if len(f.Body) < 8 {
						return wire.ErrMalformed
					}
					pushed = binary.BigEndian.Uint64(f.Body)
					s.count(pushed)
				case wire.TypeResumed:
					select {
					case live <- nil:
					default:
					}
				case wire.TypeError:
					m, _ := wire.DecodeError(f.Body)
					select {
					case live <- fmt.Errorf("server error %s: %s", m.Code, m.Text):
					default:
					}
					return errStop
				}
				return nil
			})
			if perr != nil {
				s.errs.Add(1)
				return
			}
			if s.ack && pushed != 0 {
				ackBuf = wire.AppendAck(ackBuf[:0], pushed)
				if _, err := c.Write(ackBuf); err != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

func (s *swarm) count(id uint64) {
	i := id - s.base.Load()
	if i >= uint64(len(s.bursts)) {
		return
	}
	b := &s.bursts[i]
	now := time.Now().UnixNano()
	for {
		last := b.last.Load()
		if now <= last || b.last.CompareAndSwap(last, now) {
			break
		}
	}
	b.received.Add(1)
}

// wait blocks until every client has burst i, and returns when the last
// one received it.
func (s *swarm) wait(i int, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for s.bursts[i].received.Load() < int64(len(s.conns)) {
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("burst %d reached %d of %d clients within %v", i, s.bursts[i].received.Load(), len(s.conns), timeout)
		}
		time.Sleep(20 * time.Microsecond)
	}
	return time.Unix(0, s.bursts[i].last.Load()), nil
}

func (s *swarm) close() {
	for _, c := range s.conns {
		if c != nil {
			_ = c.Close()
		}
	}
	s.done.Wait()
}

// keepAlive sends PING on every connection at the given interval, as a
// real client would, until stop closes.
func (s *swarm) keepAlive(every time.Duration, stop <-chan struct{}) {
	ping := wire.AppendEmpty(nil, wire.TypePing)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			for _, c := range s.conns {
				_, _ = c.Write(ping)
			}
		case <-stop:
			return
		}
	}
}

// dialClient connects to addr: host:port over TCP, or a ws:// URL over
// WebSocket (github.com/coder/websocket), as a byte stream of Herald
// frames either way.
func dialClient(addr string) (net.Conn, error) {
	if !strings.HasPrefix(addr, "ws://") {
		return net.Dial("tcp", addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, addr, nil)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(-1)
	return websocket.NetConn(context.Background(), c, websocket.MessageBinary), nil
}
