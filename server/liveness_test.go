package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"herald/client"
	"herald/internal/testserver"
	"herald/internal/testutil"
	"herald/node"
	"herald/server"
	"herald/wire"
)

// trickle sends a frame header announcing length bytes, then one byte of
// its body every interval until the connection fails or stop closes.
func trickle(r *testutil.RawConn, length int, interval time.Duration, stop <-chan struct{}) {
	if _, err := r.Conn().Write(wire.AppendHeader(nil, wire.TypeResume, 0, length-2)); err != nil {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if _, err := r.Conn().Write([]byte{0}); err != nil {
				return
			}
		case <-stop:
			return
		}
	}
}

// TestTricklingBytesIsNotLiveness: bytes of a frame that never ends do not
// reset the heartbeat timer (only whole frames do), and a frame begun must
// end within the frame timeout, whichever comes first.
func TestTricklingBytesIsNotLiveness(t *testing.T) {
	tests := []struct {
		name string
		cfg  server.Config
		want wire.Code
	}{
		{"heartbeat first", server.Config{Heartbeat: 300 * time.Millisecond, FrameTimeout: time.Minute}, wire.CodeHeartbeatTimeout},
		{"frame timeout first", server.Config{Heartbeat: time.Minute, FrameTimeout: 300 * time.Millisecond}, wire.CodeFrameTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testserver.Start(t, "", node.Config{Edge: tt.cfg})
			r := testutil.DialRaw(t, h.Server.ClientAddr())
			r.Welcome(0, h.Token(2))
			stop := make(chan struct{})
			defer close(stop)
			go trickle(r, 1000, 20*time.Millisecond, stop)
			r.ExpectError(tt.want, 0)
			r.ExpectClosed()
		})
	}
}

// TestClientFramesAreSmall: the client listener announces and enforces its
// own, small maximum frame; the publisher listener keeps the large one.
func TestClientFramesAreSmall(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 1)
	for _, tc := range []struct {
		addr, credential string
		account          uint32
		want             uint32
	}{
		{h.Server.ClientAddr(), h.Token(1), 0, 4096},
		{h.Server.PublisherAddr(), secret, account, wire.DefaultMaxFrame},
	} {
		r := testutil.DialRaw(t, tc.addr)
		r.Send(wire.AppendHello(nil, wire.Hello{Version: wire.Version1, Account: tc.account, Credential: tc.credential}))
		f, err := r.Next(5 * time.Second)
		if err != nil || f.Type != wire.TypeWelcome {
			t.Fatalf("HELLO: %s, %v", f.Type, err)
		}
		w, _ := wire.DecodeWelcome(f.Body)
		if w.MaxFrame != tc.want {
			t.Fatalf("%s announces max_frame %d, want %d", tc.addr, w.MaxFrame, tc.want)
		}
	}
	r := testutil.DialRaw(t, h.Server.ClientAddr())
	r.Welcome(0, h.Token(1))
	r.Send(wire.AppendHeader(nil, wire.TypeAck, 0, 4096))
	r.ExpectError(wire.CodeFrameTooLarge, 0)
	r.ExpectClosed()
}

// TestConnectionsPerUserAreLimited: one connection past the limit is
// refused with CONNECTION_LIMIT (which the SDK retries), and accepted once
// another has closed.
func TestConnectionsPerUserAreLimited(t *testing.T) {
	h := testserver.Start(t, "", node.Config{Edge: server.Config{MaxConnsPerUser: 2, MaxConnsPerAccount: 1}})
	token := h.Token(9)
	first := testutil.DialRaw(t, h.Server.ClientAddr())
	first.Welcome(0, token)
	testutil.DialRaw(t, h.Server.ClientAddr()).Welcome(0, token)
	third := testutil.DialRaw(t, h.Server.ClientAddr())
	third.Send(wire.AppendHello(nil, wire.Hello{Version: wire.Version1, Credential: token}))
	third.ExpectError(wire.CodeConnectionLimit, 0)
	third.ExpectClosed()
	if !wire.CodeConnectionLimit.Reconnect() {
		t.Fatal("CONNECTION_LIMIT should be retried")
	}
	// Another user is not affected.
	testutil.DialRaw(t, h.Server.ClientAddr()).Welcome(0, h.Token(10))

	before := h.Server.Connections()
	_ = first.Conn().Close()
	testutil.WaitFor(t, 5*time.Second, "the first connection closed", func() bool { return h.Server.Connections() < before })
	testutil.DialRaw(t, h.Server.ClientAddr()).Welcome(0, token)

	// Publishers: per account.
	account, secret := h.Account(1, 1)
	h.Publisher(account, secret)
	_, err := client.DialPublisher(context.Background(), client.PublisherConfig{Addr: h.Server.PublisherAddr(), Account: account, Secret: secret})
	var e *client.Error
	if !errors.As(err, &e) || e.Code != wire.CodeConnectionLimit {
		t.Fatalf("second publisher connection: %v", err)
	}
}

// TestPartialFrameMemoryIsBounded: when frames received in part would hold
// more than MaxPartialBytes over all connections, the connection that
// grows past it is closed with OVERLOADED; the others finish their frames.
func TestPartialFrameMemoryIsBounded(t *testing.T) {
	h := testserver.Start(t, "", node.Config{Edge: server.Config{MaxPartialBytes: 96 << 10}})
	account, secret := h.Account(1, 1)
	frame := func(id uint32) []byte {
		return wire.AppendPublish(nil, wire.Publish{RequestID: id, Account: account, ClientMsgID: "big", Payload: make([]byte, 60<<10)})
	}
	a := testutil.DialRaw(t, h.Server.PublisherAddr())
	a.Welcome(account, secret)
	whole := frame(1)
	a.Send(whole[:50<<10])
	testutil.WaitFor(t, 5*time.Second, "the server holding the first partial frame", func() bool { return h.Server.PartialFrameBytes() >= 50<<10 })
	b := testutil.DialRaw(t, h.Server.PublisherAddr())
	b.Welcome(account, secret)
	b.Send(frame(2)[:50<<10])
	b.ExpectError(wire.CodeOverloaded, 0)
	b.ExpectClosed()
	a.Send(whole[50<<10:])
	f, err := a.Next(5 * time.Second)
	if err != nil || f.Type != wire.TypePublishAck {
		t.Fatalf("the first connection's PUBLISH: %s, %v", f.Type, err)
	}
}
