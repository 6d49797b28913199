package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"herald/client"
	"herald/fanout"
	"herald/internal/testserver"
	"herald/internal/testutil"
	"herald/node"
	"herald/server"
	"herald/wire"
)

func TestBadInputGetsItsCodeAndOthersAreServed(t *testing.T) {
	h := testserver.Start(t, "", node.Config{Edge: server.Config{MaxFrame: 4096, AuthTimeout: 300 * time.Millisecond, Heartbeat: 400 * time.Millisecond}})
	account, secret := h.Account(1, 10)
	other, _ := h.Account(1, 10)
	healthy := h.Subscribe(1, 0)
	clientAddr, publisherAddr := h.Server.ClientAddr(), h.Server.PublisherAddr()

	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"malformed length", func(t *testing.T) {
			r := testutil.DialRaw(t, clientAddr)
			r.Welcome(0, h.Token(2))
			r.Send([]byte{0, 0, 0, 1, byte(wire.TypePing)})
			r.ExpectError(wire.CodeMalformedFrame, 0)
			r.ExpectClosed()
		}},
		{"malformed body", func(t *testing.T) {
			r := testutil.DialRaw(t, clientAddr)
			r.Welcome(0, h.Token(2))
			r.Send(wire.AppendFrame(nil, wire.TypeResume, 0, []byte{1, 2, 3}))
			r.ExpectError(wire.CodeMalformedFrame, 0)
			r.ExpectClosed()
		}},
		{"malformed hello", func(t *testing.T) {
			r := testutil.DialRaw(t, clientAddr)
			r.Send(wire.AppendFrame(nil, wire.TypeHello, 0, []byte{1}))
			r.ExpectError(wire.CodeMalformedFrame, 0)
			r.ExpectClosed()
		}},
		{"oversized frame", func(t *testing.T) {
			r := testutil.DialRaw(t, publisherAddr)
			r.Welcome(account, secret)
			r.Send(wire.AppendHeader(nil, wire.TypePublish, 0, 5000))
			r.ExpectError(wire.CodeFrameTooLarge, 0)
			r.ExpectClosed()
		}},
		{"frame before hello", func(t *testing.T) {
			r := testutil.DialRaw(t, clientAddr)
			r.Send(wire.AppendResume(nil, wire.Resume{}, 0))
			r.ExpectError(wire.CodeUnexpectedFrame, 0)
			r.ExpectClosed()
		}},
		{"unknown frame type", func(t *testing.T) {
			r := testutil.DialRaw(t, clientAddr)
			r.Welcome(0, h.Token(2))
			r.Send(wire.AppendFrame(nil, wire.Type(0x7f), 0, nil))
			r.ExpectError(wire.CodeUnexpectedFrame, 0)
			r.ExpectClosed()
		}},
		{"publisher frame on client listener", func(t *testing.T) {
			r := testutil.DialRaw(t, clientAddr)
			r.Welcome(0, h.Token(2))
			r.Send(wire.AppendPublish(nil, wire.Publish{RequestID: 1, Account: account, ClientMsgID: "x"}))
			r.ExpectError(wire.CodeUnexpectedFrame, 0)
			r.ExpectClosed()
		}},
		{"unsupported version", func(t *testing.T) {
			r := testutil.DialRaw(t, clientAddr)
			r.Send(wire.AppendHello(nil, wire.Hello{Version: 9, Credential: h.Token(2)}))
			r.ExpectError(wire.CodeUnsupportedVersion, 0)
			r.ExpectClosed()
		}},
		{"forged token", func(t *testing.T) {
			r := testutil.DialRaw(t, clientAddr)
			r.Send(wire.AppendHello(nil, wire.Hello{Version: wire.Version1, Credential: fanout.MintToken([]byte("not the secret"), 2, time.Now().Add(time.Hour))}))
			r.ExpectError(wire.CodeTokenInvalid, 0)
			r.ExpectClosed()
		}},
		{"garbage token", func(t *testing.T) {
			r := testutil.DialRaw(t, clientAddr)
			r.Send(wire.AppendHello(nil, wire.Hello{Version: wire.Version1, Credential: "garbage"}))
			r.ExpectError(wire.CodeTokenInvalid, 0)
			r.ExpectClosed()
		}},
		{"expired token", func(t *testing.T) {
			r := testutil.DialRaw(t, clientAddr)
			r.Send(wire.AppendHello(nil, wire.Hello{Version: wire.Version1, Credential: expiredToken(t, h, 2)}))
			r.ExpectError(wire.CodeTokenExpired, 0)
			r.ExpectClosed()
		}},
		{"wrong publisher secret", func(t *testing.T) {
			r := testutil.DialRaw(t, publisherAddr)
			r.Send(wire.AppendHello(nil, wire.Hello{Version: wire.Version1, Account: other, Credential: secret}))
			r.ExpectError(wire.CodeAuthFailed, 0)
			r.ExpectClosed()
		}},
		{"unknown account", func(t *testing.T) {
			_, err := client.DialPublisher(context.Background(), client.PublisherConfig{Addr: publisherAddr, Account: 999, Secret: secret})
			var e *client.Error
			if !errors.As(err, &e) || e.Code != wire.CodeAuthFailed {
				t.Fatalf("err = %v, want AUTH_FAILED", err)
			}
		}},
		{"publish to another account", func(t *testing.T) {
			r := testutil.DialRaw(t, publisherAddr)
			r.Welcome(account, secret)
			r.Send(wire.AppendPublish(nil, wire.Publish{RequestID: 7, Account: other, ClientMsgID: "x", Payload: []byte("p")}))
			r.ExpectError(wire.CodeForbidden, 7)
			// The connection stays usable.
			r.Send(wire.AppendPublish(nil, wire.Publish{RequestID: 8, Account: account, ClientMsgID: "ok-after-forbidden", Payload: []byte("p")}))
			f, err := r.Next(5 * time.Second)
			if err != nil || f.Type != wire.TypePublishAck {
				t.Fatalf("publish after FORBIDDEN answered by %s, %v", f.Type, err)
			}
		}},
		{"unsupported audience", func(t *testing.T) {
			r := testutil.DialRaw(t, publisherAddr)
			r.Welcome(account, secret)
			r.Send(wire.AppendPublish(nil, wire.Publish{RequestID: 3, Account: account, ClientMsgID: "aud", AudienceKind: 5}))
			r.ExpectError(wire.CodeBadRequest, 3)
		}},
		{"payload too large", func(t *testing.T) {
			big := testserver.Start(t, "", node.Config{Engine: fanoutConfigWithMaxPayload(100)})
			acct, sec := big.Account(1, 1)
			r := testutil.DialRaw(t, big.Server.PublisherAddr())
			r.Welcome(acct, sec)
			r.Send(wire.AppendPublish(nil, wire.Publish{RequestID: 4, Account: acct, ClientMsgID: "big", Payload: make([]byte, 200)}))
			r.ExpectError(wire.CodePayloadTooLarge, 4)
		}},
		{"auth timeout", func(t *testing.T) {
			r := testutil.DialRaw(t, clientAddr)
			r.ExpectError(wire.CodeAuthTimeout, 0)
			r.ExpectClosed()
		}},
		{"heartbeat timeout", func(t *testing.T) {
			r := testutil.DialRaw(t, clientAddr)
			r.Welcome(0, h.Token(3))
			r.ExpectError(wire.CodeHeartbeatTimeout, 0)
			r.ExpectClosed()
		}},
		{"ping is answered", func(t *testing.T) {
			r := testutil.DialRaw(t, clientAddr)
			r.Welcome(0, h.Token(3))
			r.Send(wire.AppendEmpty(nil, wire.TypePing))
			f, err := r.Next(5 * time.Second)
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

// expiredToken is a token the server signed for user that expired a
// minute ago.
func expiredToken(t *testing.T, h *testserver.Harness, user uint32) string {
	t.Helper()
	token, err := h.Engine.MintToken(user, time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return token
}
