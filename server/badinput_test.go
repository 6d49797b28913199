package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"herald/client"
	"herald/internal/testserver"
	"herald/server"
	"herald/wire"
)

// rawConn speaks the protocol byte by byte, for sending what the SDK never
// would.
type rawConn struct {
	t      *testing.T
	nc     net.Conn
	parser *wire.Parser
	frames []wire.Frame
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, parser: wire.NewParser(0)}
}

func (r *rawConn) send(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// next returns the next frame, or fails the test after timeout.
func (r *rawConn) next(timeout time.Duration) (wire.Frame, error) {
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

// expectError reads until an ERROR frame and checks its code and request id.
func (r *rawConn) expectError(code wire.Code, requestID uint32) {
	r.t.Helper()
	for {
		f, err := r.next(5 * time.Second)
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

// expectClosed checks that the server closes the connection.
func (r *rawConn) expectClosed() {
	r.t.Helper()
	for {
		f, err := r.next(5 * time.Second)
		if errors.Is(err, io.EOF) || isReset(err) {
			return
		}
		if err != nil {
			r.t.Fatalf("waiting for close: %v", err)
		}
		r.t.Logf("frame %s before close", f.Type)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// welcome sends HELLO and expects WELCOME.
func (r *rawConn) welcome(account uint32, credential string) {
	r.t.Helper()
	r.send(wire.AppendHello(nil, wire.Hello{Version: wire.Version, Account: account, Credential: credential}))
	f, err := r.next(5 * time.Second)
	if err != nil || f.Type != wire.TypeWelcome {
		r.t.Fatalf("HELLO answered by %s, %v", f.Type, err)
	}
}

func TestBadInputGetsItsCodeAndOthersAreServed(t *testing.T) {
	h := testserver.Start(t, "", server.Config{MaxFrame: 4096, AuthTimeout: 300 * time.Millisecond, Heartbeat: 400 * time.Millisecond})
	account, secret := h.Account(1, 10)
	other, _ := h.Account(1, 10)
	healthy := h.Subscribe(1, 0)
	secretKey := h.Server.TokenSigningKey()
	clientAddr, publisherAddr := h.Server.ClientAddr(), h.Server.PublisherAddr()

	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"malformed length", func(t *testing.T) {
			r := dialRaw(t, clientAddr)
			r.welcome(0, h.Token(2))
			r.send([]byte{0, 0, 0, 1, byte(wire.TypePing)})
			r.expectError(wire.CodeMalformedFrame, 0)
			r.expectClosed()
		}},
		{"malformed body", func(t *testing.T) {
			r := dialRaw(t, clientAddr)
			r.welcome(0, h.Token(2))
			r.send(wire.AppendFrame(nil, wire.TypeResume, 0, []byte{1, 2, 3}))
			r.expectError(wire.CodeMalformedFrame, 0)
			r.expectClosed()
		}},
		{"malformed hello", func(t *testing.T) {
			r := dialRaw(t, clientAddr)
			r.send(wire.AppendFrame(nil, wire.TypeHello, 0, []byte{1}))
			r.expectError(wire.CodeMalformedFrame, 0)
			r.expectClosed()
		}},
		{"oversized frame", func(t *testing.T) {
			r := dialRaw(t, publisherAddr)
			r.welcome(account, secret)
			r.send(wire.AppendHeader(nil, wire.TypePublish, 0, 5000))
			r.expectError(wire.CodeFrameTooLarge, 0)
			r.expectClosed()
		}},
		{"frame before hello", func(t *testing.T) {
			r := dialRaw(t, clientAddr)
			r.send(wire.AppendResume(nil, wire.Resume{}, 0))
			r.expectError(wire.CodeUnexpectedFrame, 0)
			r.expectClosed()
		}},
		{"unknown frame type", func(t *testing.T) {
			r := dialRaw(t, clientAddr)
			r.welcome(0, h.Token(2))
			r.send(wire.AppendFrame(nil, wire.Type(0x7f), 0, nil))
			r.expectError(wire.CodeUnexpectedFrame, 0)
			r.expectClosed()
		}},
		{"publisher frame on client listener", func(t *testing.T) {
			r := dialRaw(t, clientAddr)
			r.welcome(0, h.Token(2))
			r.send(wire.AppendPublish(nil, wire.Publish{RequestID: 1, Account: account, ClientMsgID: "x"}))
			r.expectError(wire.CodeUnexpectedFrame, 0)
			r.expectClosed()
		}},
		{"unsupported version", func(t *testing.T) {
			r := dialRaw(t, clientAddr)
			r.send(wire.AppendHello(nil, wire.Hello{Version: 9, Credential: h.Token(2)}))
			r.expectError(wire.CodeUnsupportedVersion, 0)
			r.expectClosed()
		}},
		{"forged token", func(t *testing.T) {
			r := dialRaw(t, clientAddr)
			r.send(wire.AppendHello(nil, wire.Hello{Version: wire.Version, Credential: server.MintToken([]byte("not the secret"), 2, time.Now().Add(time.Hour))}))
			r.expectError(wire.CodeTokenInvalid, 0)
			r.expectClosed()
		}},
		{"garbage token", func(t *testing.T) {
			r := dialRaw(t, clientAddr)
			r.send(wire.AppendHello(nil, wire.Hello{Version: wire.Version, Credential: "garbage"}))
			r.expectError(wire.CodeTokenInvalid, 0)
			r.expectClosed()
		}},
		{"expired token", func(t *testing.T) {
			r := dialRaw(t, clientAddr)
			r.send(wire.AppendHello(nil, wire.Hello{Version: wire.Version, Credential: server.MintToken(secretKey, 2, time.Now().Add(-time.Minute))}))
			r.expectError(wire.CodeTokenExpired, 0)
			r.expectClosed()
		}},
		{"wrong publisher secret", func(t *testing.T) {
			r := dialRaw(t, publisherAddr)
			r.send(wire.AppendHello(nil, wire.Hello{Version: wire.Version, Account: other, Credential: secret}))
			r.expectError(wire.CodeAuthFailed, 0)
			r.expectClosed()
		}},
		{"unknown account", func(t *testing.T) {
			_, err := client.DialPublisher(context.Background(), client.PublisherConfig{Addr: publisherAddr, Account: 999, Secret: secret})
			var e *client.Error
			if !errors.As(err, &e) || e.Code != wire.CodeAuthFailed {
				t.Fatalf("err = %v, want AUTH_FAILED", err)
			}
		}},
		{"publish to another account", func(t *testing.T) {
			r := dialRaw(t, publisherAddr)
			r.welcome(account, secret)
			r.send(wire.AppendPublish(nil, wire.Publish{RequestID: 7, Account: other, ClientMsgID: "x", Payload: []byte("p")}))
			r.expectError(wire.CodeForbidden, 7)
			// The connection stays usable.
			r.send(wire.AppendPublish(nil, wire.Publish{RequestID: 8, Account: account, ClientMsgID: "ok-after-forbidden", Payload: []byte("p")}))
			f, err := r.next(5 * time.Second)
			if err != nil || f.Type != wire.TypePublishAck {
				t.Fatalf("publish after FORBIDDEN answered by %s, %v", f.Type, err)
			}
		}},
		{"unsupported audience", func(t *testing.T) {
			r := dialRaw(t, publisherAddr)
			r.welcome(account, secret)
			r.send(wire.AppendPublish(nil, wire.Publish{RequestID: 3, Account: account, ClientMsgID: "aud", AudienceKind: 5}))
			r.expectError(wire.CodeBadRequest, 3)
		}},
		{"payload too large", func(t *testing.T) {
			big := testserver.Start(t, "", server.Config{Engine: fanoutConfigWithMaxPayload(100)})
			acct, sec := big.Account(1, 1)
			r := dialRaw(t, big.Server.PublisherAddr())
			r.welcome(acct, sec)
			r.send(wire.AppendPublish(nil, wire.Publish{RequestID: 4, Account: acct, ClientMsgID: "big", Payload: make([]byte, 200)}))
			r.expectError(wire.CodePayloadTooLarge, 4)
		}},
		{"auth timeout", func(t *testing.T) {
			r := dialRaw(t, clientAddr)
			r.expectError(wire.CodeAuthTimeout, 0)
			r.expectClosed()
		}},
		{"heartbeat timeout", func(t *testing.T) {
			r := dialRaw(t, clientAddr)
			r.welcome(0, h.Token(3))
			r.expectError(wire.CodeHeartbeatTimeout, 0)
			r.expectClosed()
		}},
		{"ping is answered", func(t *testing.T) {
			r := dialRaw(t, clientAddr)
			r.welcome(0, h.Token(3))
			r.send(wire.AppendEmpty(nil, wire.TypePing))
			f, err := r.next(5 * time.Second)
			if err != nil || f.Type != wire.TypePong {
				t.Fatalf("PING answered by %s, %v", f.Type, err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.run)
	}

	// The healthy subscriber (heartbeating through the SDK) is still served.
	pub := h.Publisher(account, secret)
	res, err := pub.Publish(context.Background(), client.Message{Payload: []byte("still here")})
	if err != nil {
		t.Fatal(err)
	}
	// It also got the publish made after FORBIDDEN, first.
	for _, want := range []uint64{res.MessageID - 1, res.MessageID} {
		if m := testserver.Receive(t, healthy, 5*time.Second); m.ID != want {
			t.Fatalf("healthy subscriber got %d, want %d", m.ID, want)
		}
	}
}
