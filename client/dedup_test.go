package client

import (
	"context"
	"testing"

	"herald/server/wire"
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
