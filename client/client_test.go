package client_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"herald/client"
	"herald/fanout"
	"herald/internal/testserver"
	"herald/internal/testutil"
	"herald/node"
	"herald/wire"
)

// TestSubscriberSurvivesServerRestart: the SDK reconnects with backoff,
// resumes from the last message it delivered, and delivers the broadcasts
// published while it was away once each, in order.
func TestSubscriberSurvivesServerRestart(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 5)
	sub := h.Subscribe(3, 0)
	ctx := context.Background()
	pub := h.Publisher(account, secret)
	first, err := pub.Publish(ctx, client.Message{Payload: []byte("1")})
	if err != nil {
		t.Fatal(err)
	}
	if m := testserver.Receive(t, sub, 5*time.Second); m.ID != first.MessageID {
		t.Fatalf("got %d", m.ID)
	}

	h.Stop()
	h.Restart()
	// The publisher reconnects by itself too.
	var ids []uint64
	for i := 0; i < 3; i++ {
		res, err := pub.Publish(ctx, client.Message{Payload: []byte("after restart")})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.MessageID)
	}
	for _, want := range ids {
		if m := testserver.Receive(t, sub, 10*time.Second); m.ID != want {
			t.Fatalf("after restart got %d, want %d", m.ID, want)
		}
	}
	testserver.ExpectNone(t, sub)
	if sub.Err() != nil {
		t.Fatalf("subscriber stopped: %v", sub.Err())
	}
}

// TestPublishRetriesWithTheSameClientMsgID: a publish whose connection
// broke after the server had it, but before its acknowledgement came back,
// is retried by the SDK on a new connection with the client_msg_id it
// generated for the call, so it is stored once. (A retry with a new id
// would store it twice.)
func TestPublishRetriesWithTheSameClientMsgID(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 5)
	proxy := newCuttingProxy(t, h.Server.PublisherAddr())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pub, err := client.DialPublisher(ctx, client.PublisherConfig{Addr: proxy.addr, Account: account, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	proxy.cutAfterPublish.Store(true)
	res, err := pub.Publish(ctx, client.Message{Payload: []byte("x")}) // no ClientMsgID: the SDK makes one
	if err != nil {
		t.Fatal(err)
	}
	if proxy.cuts.Load() != 1 {
		t.Fatalf("the proxy cut %d connections, want 1", proxy.cuts.Load())
	}
	if !res.Duplicate || res.MessageID != 1 {
		t.Fatalf("the retried publish = %+v; want the duplicate of broadcast 1", res)
	}
	if got := h.Engine.Health().LastMessageID; got != 1 {
		t.Fatalf("log holds %d broadcasts, want 1", got)
	}
}

// cuttingProxy forwards connections to a server; once cutAfterPublish is
// set, the first connection that carries a PUBLISH is closed as soon as
// the server answers anything after it, so the answer is lost.
type cuttingProxy struct {
	addr            string
	cutAfterPublish atomic.Bool
	cuts            atomic.Int32
}

func newCuttingProxy(t *testing.T, server string) *cuttingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &cuttingProxy{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", server)
			if err != nil {
				c.Close()
				continue
			}
			go p.serve(c, s)
		}
	}()
	return p
}

func (p *cuttingProxy) serve(c, s net.Conn) {
	defer c.Close()
	defer s.Close()
	var published atomic.Bool
	go func() { // client → server, noting a PUBLISH once it is on its way
		parser := wire.NewParser(0)
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if _, werr := s.Write(buf[:n]); werr != nil {
					return
				}
				_ = parser.Feed(buf[:n], func(f wire.Frame) error {
					if f.Type == wire.TypePublish && p.cutAfterPublish.Load() {
						published.Store(true)
					}
					return nil
				})
			}
			if err != nil {
				s.Close()
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 && published.Load() && p.cutAfterPublish.CompareAndSwap(true, false) {
			p.cuts.Add(1)
			return // the answer is dropped with the connection
		}
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func TestPermanentErrorsStopRetrying(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, _ := h.Account(1, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := client.DialPublisher(ctx, client.PublisherConfig{Addr: h.Server.PublisherAddr(), Account: account, Secret: "wrong"})
	var e *client.Error
	if !errors.As(err, &e) || e.Code != wire.CodeAuthFailed || e.Code.Reconnect() {
		t.Fatalf("err = %v", err)
	}
	_, err = client.Subscribe(ctx, client.SubscriberConfig{Addr: h.Server.ClientAddr(), Token: "bad"})
	if !errors.As(err, &e) || e.Code != wire.CodeTokenInvalid {
		t.Fatalf("err = %v", err)
	}
	// A publisher that is closed says so.
	other, secret := h.Account(1, 1)
	pub := h.Publisher(other, secret)
	_ = pub.Close()
	if _, err := pub.Publish(ctx, client.Message{}); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("publish after close: %v", err)
	}
}

// TestSubscriberIsToldItMissedHistory: resuming from a cursor older than the
// retained log calls OnHistoryMissed and delivers what is retained.
func TestSubscriberIsToldItMissedHistory(t *testing.T) {
	clock := testutil.NewClock(time.Now())
	h := testserver.Start(t, "", node.Config{Engine: fanout.Config{Now: clock.Now, Retention: time.Hour, RetentionSweep: 10 * time.Millisecond}})
	account, secret := h.Account(1, 5)
	pub := h.Publisher(account, secret)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := pub.Publish(ctx, client.Message{Payload: []byte("old")}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(2 * time.Hour)
	kept, err := pub.Publish(ctx, client.Message{Payload: []byte("new")})
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "retention", func() bool { return h.Engine.Health().FirstRetained == kept.MessageID })
	missed := make(chan struct{}, 1)
	sub, err := client.Subscribe(ctx, client.SubscriberConfig{Addr: h.Server.ClientAddr(), Token: h.Token(3), Cursor: client.CursorAt(1),
		OnHistoryMissed: func() { missed <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if m := testserver.Receive(t, sub, 5*time.Second); m.ID != kept.MessageID {
		t.Fatalf("got %d, want %d", m.ID, kept.MessageID)
	}
	select {
	case <-missed:
	case <-time.After(5 * time.Second):
		t.Fatal("OnHistoryMissed not called")
	}
}

// TestSubscriberAcknowledgesOnlyWhatWasHandled: messages waiting in the
// Messages buffer when the application stops are not acknowledged, so a
// later subscriber resuming from the stored cursor receives them.
func TestSubscriberAcknowledgesOnlyWhatWasHandled(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 5)
	pub := h.Publisher(account, secret)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var ids []uint64
	for i := 0; i < 5; i++ {
		res, err := pub.Publish(ctx, client.Message{Payload: []byte("m")})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.MessageID)
	}
	subscribe := func(cfg client.SubscriberConfig) *client.Subscriber {
		cfg.Addr, cfg.Token, cfg.StoredCursor = h.Server.ClientAddr(), h.Token(3), true
		sub, err := client.Subscribe(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		// Catch-up's pages are all buffered once it is live.
		if err := sub.WaitLive(ctx); err != nil {
			t.Fatal(err)
		}
		return sub
	}
	expect := func(sub *client.Subscriber, want uint64) {
		t.Helper()
		if m := testserver.Receive(t, sub, 5*time.Second); m.ID != want {
			t.Fatalf("received %d, want %d", m.ID, want)
		}
	}

	// Takes one of five and closes: only that one is acknowledged.
	sub := subscribe(client.SubscriberConfig{})
	expect(sub, ids[0])
	_ = sub.Close()

	// Takes two but acknowledges (ManualAck) only the first of them.
	sub = subscribe(client.SubscriberConfig{ManualAck: true})
	expect(sub, ids[1])
	sub.Ack(ids[1])
	expect(sub, ids[2])
	_ = sub.Close()

	// The rest, from the stored cursor.
	sub = subscribe(client.SubscriberConfig{})
	for _, want := range ids[2:] {
		expect(sub, want)
	}
	_ = sub.Close()
}
