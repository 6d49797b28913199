package server_test

import (
	"fmt"
	"testing"
	"time"

	"herald/fanout"
	"herald/internal/testserver"
	"herald/internal/testutil"
	"herald/node"
	"herald/wire"
)

// TestPipelinedFramesAreAnsweredInOrder: frames sent in one write behind a
// publisher's HELLO or a RESUME, which the engine answers off the loop,
// wait for that answer and are handled in the order sent: WELCOME before
// the PUBLISH's answer, RESUMED before the PONG, and the catch-up's PUSH
// before both; whether the engine answers from memory, within the call, or
// from the log, off the loop.
func TestPipelinedFramesAreAnsweredInOrder(t *testing.T) {
	for _, cache := range []int{0, -1} {
		t.Run(fmt.Sprintf("cache %d", cache), func(t *testing.T) { pipelined(t, node.Config{Engine: fanout.Config{CatchUpCache: cache}}) })
	}
}

func pipelined(t *testing.T, cfg node.Config) {
	h := testserver.Start(t, "", cfg)
	account, secret := h.Account(1, 3)

	pub := testutil.DialRaw(t, h.Server.PublisherAddr())
	var burst []byte
	burst = wire.AppendHello(burst, wire.Hello{Version: wire.Version1, Account: account, Credential: secret})
	burst = wire.AppendPublish(burst, wire.Publish{RequestID: 1, Account: account, ClientMsgID: "pipelined", Payload: []byte("p")})
	burst = wire.AppendEmpty(burst, wire.TypePing)
	pub.Send(burst)
	for _, want := range []wire.Type{wire.TypeWelcome, wire.TypePong, wire.TypePublishAck} {
		f, err := pub.Next(10 * time.Second)
		if err != nil || f.Type != want {
			t.Fatalf("publisher: got %v (%v), want %s", f.Type, err, want)
		}
	}

	sub := testutil.DialRaw(t, h.Server.ClientAddr())
	burst = wire.AppendHello(nil, wire.Hello{Version: wire.Version1, Credential: h.Token(2)})
	burst = wire.AppendResume(burst, wire.Resume{Cursor: 0}, 0)
	burst = wire.AppendEmpty(burst, wire.TypePing)
	sub.Send(burst)
	for _, want := range []wire.Type{wire.TypeWelcome, wire.TypePush, wire.TypeResumed, wire.TypePong} {
		f, err := sub.Next(10 * time.Second)
		if err != nil || f.Type != want {
			t.Fatalf("subscriber: got %v (%v), want %s", f.Type, err, want)
		}
	}
}

// TestFramesHeldForAnAnswerAreBounded: a connection that sends more than
// the server holds while it waits for the engine (a RESUME read from the
// log) is closed with OVERLOADED, and the server keeps serving.
func TestFramesHeldForAnAnswerAreBounded(t *testing.T) {
	// Without the catch-up cache every RESUME is answered off the loop.
	h := testserver.Start(t, "", node.Config{Engine: fanout.Config{CatchUpCache: -1}})
	account, secret := h.Account(1, 3)
	r := testutil.DialRaw(t, h.Server.ClientAddr())
	burst := wire.AppendHello(nil, wire.Hello{Version: wire.Version1, Credential: h.Token(2)})
	burst = wire.AppendResume(burst, wire.Resume{Cursor: 0}, 0)
	for len(burst) < 60<<10 { // one read; the client listener holds 4 KiB + 16 KiB
		burst = wire.AppendEmpty(burst, wire.TypePing)
	}
	r.Send(burst)
	for {
		f, err := r.Next(10 * time.Second)
		if err != nil {
			t.Fatalf("no OVERLOADED before the connection ended: %v", err)
		}
		if f.Type == wire.TypeError {
			e, err := wire.DecodeError(f.Body)
			if err != nil || e.Code != wire.CodeOverloaded {
				t.Fatalf("closed with %+v (%v), want OVERLOADED", e, err)
			}
			break
		}
	}
	h.Publisher(account, secret)
}
