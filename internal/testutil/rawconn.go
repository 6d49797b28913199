package testutil

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"herald/wire"
)

// RawConn speaks the protocol byte by byte, for sending what the SDK never
// would.
type RawConn struct {
	t      testing.TB
	nc     net.Conn
	parser *wire.Parser
	frames []wire.Frame
}

// DialRaw connects to addr; the connection is closed when the test ends.
func DialRaw(t testing.TB, addr string) *RawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &RawConn{t: t, nc: nc, parser: wire.NewParser(0)}
}

func (r *RawConn) Send(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// Next returns the next frame, or fails the test after timeout.
func (r *RawConn) Next(timeout time.Duration) (wire.Frame, error) {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 64<<10)
	for len(r.frames) == 0 {
		n, err := r.nc.Read(buf)
		if n > 0 {
			if perr := r.parser.Feed(buf[:n], func(f wire.Frame) error {
				r.frames = append(r.frames, wire.Frame{Type: f.Type, Flags: f.Flags, Body: append([]byte(nil), f.Body...)})
				return nil
			}); perr != nil {
				return wire.Frame{}, perr
			}
		}
		if err != nil && len(r.frames) == 0 {
			return wire.Frame{}, err
		}
	}
	f := r.frames[0]
	r.frames = r.frames[1:]
	return f, nil
}

// ExpectError reads until an ERROR frame and checks its code and request id.
func (r *RawConn) ExpectError(code wire.Code, requestID uint32) {
	r.t.Helper()
	for {
		f, err := r.Next(5 * time.Second)
		if err != nil {
			r.t.Fatalf("waiting for %s: %v", code, err)
		}
		if f.Type != wire.TypeError {
			continue
		}
		m, err := wire.DecodeError(f.Body)
		if err != nil {
			r.t.Fatal(err)
		}
		if m.Code != code || m.RequestID != requestID {
			r.t.Fatalf("got %s (request %d, %q), want %s (request %d)", m.Code, m.RequestID, m.Text, code, requestID)
		}
		return
	}
}

// ExpectClosed checks that the server closes the connection.
func (r *RawConn) ExpectClosed() {
	r.t.Helper()
	for {
		f, err := r.Next(5 * time.Second)
		if errors.Is(err, io.EOF) || IsReset(err) {
			return
		}
		if err != nil {
			r.t.Fatalf("waiting for close: %v", err)
		}
		r.t.Logf("frame %s before close", f.Type)
	}
}

// IsReset reports whether err is a connection reset (a close with unread
// data), as opposed to a timeout.
func IsReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// Welcome sends HELLO and expects WELCOME.
func (r *RawConn) Welcome(account uint32, credential string) {
	r.t.Helper()
	r.Send(wire.AppendHello(nil, wire.Hello{Version: wire.Version1, Account: account, Credential: credential}))
	f, err := r.Next(5 * time.Second)
	if err != nil || f.Type != wire.TypeWelcome {
		r.t.Fatalf("HELLO answered by %s, %v", f.Type, err)
	}
}

// Conn is the underlying connection.
func (r *RawConn) Conn() net.Conn { return r.nc }
