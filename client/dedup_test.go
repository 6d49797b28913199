package client

import (
	"context"
	"errors"
	"testing"

	"github.com/klauspost/compress/s2"

	"herald/wire"
)

// TestSubscriberDropsDuplicates feeds PUSH frames straight to the handler:
// an id at or below the last delivered one is dropped.
func TestSubscriberDropsDuplicates(t *testing.T) {
	s := &Subscriber{messages: make(chan Push, 10), live: make(chan struct{})}
	s.ctx = context.Background()
	for _, id := range []uint64{5, 5, 4, 6, 6, 7} {
		frame := wire.AppendPush(nil, wire.Push{MessageID: id, Payload: []byte("p")})
		err := wire.NewParser(0).Feed(frame, func(f wire.Frame) error { return s.handle(nil, f) })
		if err != nil {
			t.Fatal(err)
		}
	}
	close(s.messages)
	var got []uint64
	for m := range s.messages {
		got = append(got, m.ID)
	}
	if len(got) != 3 || got[0] != 5 || got[1] != 6 || got[2] != 7 {
		t.Fatalf("delivered %v, want [5 6 7]", got)
	}
}

// TestSubscriberRefusesCompressionBombs: a compressed payload whose stated
// size is over the limit, or that does not decode, stops the subscriber
// with ErrBadPayload before anything is decoded, and reconnecting is not
// attempted.
func TestSubscriberRefusesCompressionBombs(t *testing.T) {
	s := &Subscriber{messages: make(chan Push, 10), live: make(chan struct{}), cfg: SubscriberConfig{MaxPayload: 1 << 20}}
	s.ctx = context.Background()
	bomb := s2.Encode(nil, make([]byte, 2<<20)) // 2 MiB of zeros: tiny, over the limit
	for name, payload := range map[string][]byte{"bomb": bomb, "garbage": {0xff, 0xff, 0xff, 0x0f, 1, 2}} {
		frame := wire.AppendPush(nil, wire.Push{MessageID: 1, Payload: payload, Compressed: true})
		err := wire.NewParser(0).Feed(frame, func(f wire.Frame) error { return s.handle(nil, f) })
		if !errors.Is(err, ErrBadPayload) || !permanent(err) {
			t.Fatalf("%s: err = %v, want a permanent ErrBadPayload", name, err)
		}
	}
	if len(s.messages) != 0 {
		t.Fatal("a refused payload was delivered")
	}
}
