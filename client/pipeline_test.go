package client_test

import (
	"context"
	"net"
	"testing"
	"time"

	"herald/client"
	"herald/wire"
)

// TestSubscriberSendsResumeWithHello: the SDK does not wait for WELCOME
// before RESUME (a server that answers nothing until it has both still
// gets them), and what arrives in the same read as WELCOME (the catch-up
// and RESUMED) is delivered.
func TestSubscriberSendsResumeWithHello(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		parser, buf := wire.NewParser(0), make([]byte, 4096)
		var got []wire.Type
		var cursor uint64
		for len(got) < 2 {
			n, err := c.Read(buf)
			if err != nil {
				served <- err // no RESUME without WELCOME: the old SDK waits here
				return
			}
			_ = parser.Feed(buf[:n], func(f wire.Frame) error {
				got = append(got, f.Type)
				if f.Type == wire.TypeResume {
					r, _ := wire.DecodeResumeV2(f.Body)
					cursor = r.Cursor.At(0)
				}
				return nil
			})
		}
		if got[0] != wire.TypeHello || got[1] != wire.TypeResume || cursor != 41 {
			t.Errorf("frames before any answer: %v, cursor %d; want HELLO, RESUME from 41", got, cursor)
		}
		reply := wire.AppendWelcome(nil, wire.Welcome{Version: wire.Version, ID: 7, HeartbeatMillis: 30000, MaxFrame: 4096})
		reply = wire.AppendPush(reply, wire.Push{MessageID: 42, Account: 1, Payload: []byte("missed")})
		reply = wire.AppendResumedV2(reply, wire.ResumedV2{Count: 1, Last: wire.Cursor{42}}, 0)
		_, err = c.Write(reply) // one write: one read on the other side
		served <- err
		for { // answer the PING of the subscriber's Close, until it is gone
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			_ = parser.Feed(buf[:n], func(f wire.Frame) error {
				if f.Type == wire.TypePing {
					_, _ = c.Write(wire.AppendEmpty(nil, wire.TypePong))
				}
				return nil
			})
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sub, err := client.Subscribe(ctx, client.SubscriberConfig{Addr: ln.Addr().String(), Token: "t", Cursor: client.CursorAt(41)})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-sub.Messages():
		if m.ID != 42 || string(m.Payload) != "missed" {
			t.Fatalf("got %d %q, want 42 \"missed\"", m.ID, m.Payload)
		}
	case <-ctx.Done():
		t.Fatal("the PUSH that came with WELCOME was not delivered")
	}
	if err := sub.WaitLive(ctx); err != nil {
		t.Fatalf("RESUMED that came with WELCOME: %v", err)
	}
}
