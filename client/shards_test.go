package client_test

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"herald/client"
	"herald/wire"
)

// TestSubscriberKeepsAPlacePerShard: against a server of two shards (a
// cluster's edge, played here by a listener), the SDK resumes from its
// cursor's id in each shard, drops a push at or below its shard's last
// (though above another shard's), delivers the rest, and on Close
// acknowledges each shard with its own ACK; Handled is then the cursor to
// store.
func TestSubscriberKeepsAPlacePerShard(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s1 := wire.ShardBase(1)
	start := wire.Cursor{5, s1 + 7}
	type seen struct {
		resume wire.Cursor
		acks   []uint64
	}
	served := make(chan seen, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- seen{}
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		var got seen
		defer func() { served <- got }()
		parser, buf := wire.NewParser(0), make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			_ = parser.Feed(buf[:n], func(f wire.Frame) error {
				switch f.Type {
				case wire.TypeResume:
					r, _ := wire.DecodeResumeV2(f.Body)
					got.resume = r.Cursor
					reply := wire.AppendWelcome(nil, wire.Welcome{Version: wire.Version2, ID: 7, HeartbeatMillis: 30000, MaxFrame: 4096})
					for _, id := range []uint64{6, s1 + 7, s1 + 8, 7} { // s1+7 the client has
						reply = wire.AppendPush(reply, wire.Push{MessageID: id, Account: 1, Payload: []byte("m")})
					}
					reply = wire.AppendResumedV2(reply, wire.ResumedV2{Count: 4, Last: wire.Cursor{7, s1 + 9}}, 0)
					_, _ = c.Write(reply)
				case wire.TypeAck:
					id, _ := wire.DecodeAck(f.Body)
					got.acks = append(got.acks, id)
				case wire.TypePing:
					_, _ = c.Write(wire.AppendEmpty(nil, wire.TypePong))
				}
				return nil
			})
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sub, err := client.Subscribe(ctx, client.SubscriberConfig{Addr: ln.Addr().String(), Token: "t", Cursor: start, AckEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for range 3 {
		select {
		case m := <-sub.Messages():
			ids = append(ids, m.ID)
		case <-ctx.Done():
			t.Fatalf("received %x only", ids)
		}
	}
	if want := []uint64{6, s1 + 8, 7}; !slices.Equal(ids, want) {
		t.Fatalf("delivered %x, want %x (s1+7 was the client's already)", ids, want)
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	got := <-served
	if !got.resume.Equal(start) {
		t.Fatalf("resumed from %x, want %x", got.resume, start)
	}
	if !slices.Equal(got.acks, []uint64{7, s1 + 8}) {
		t.Fatalf("acknowledged %x, want one ACK per shard: 7 and s1+8", got.acks)
	}
	if h := sub.Handled(); !h.Equal(wire.Cursor{7, s1 + 8}) {
		t.Fatalf("handled %x", h)
	}
}
