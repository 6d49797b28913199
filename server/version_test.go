package server_test

import (
	"context"
	"testing"
	"time"

	"herald/client"
	"herald/internal/testserver"
	"herald/internal/testutil"
	"herald/node"
	"herald/wire"
)

// TestBothProtocolVersions: a single server speaks version 1 (one cursor
// id) and version 2 (a cursor per shard; a single server is shard 0) to
// clients side by side: the same catch-up, the same RESUMED, in each
// version's layout, and WELCOME echoes the version. A version 2 cursor
// naming another shard comes from another history: CURSOR_AHEAD.
func TestBothProtocolVersions(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pub := h.Publisher(account, secret)
	var ids []uint64
	for range 3 {
		ack, err := pub.Publish(ctx, client.Message{Payload: []byte("missed")})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ack.MessageID)
	}

	hello := func(user uint32, version uint8) *testutil.RawConn {
		r := testutil.DialRaw(t, h.Server.ClientAddr())
		r.Send(wire.AppendHello(nil, wire.Hello{Version: version, Credential: h.Token(user)}))
		f, err := r.Next(5 * time.Second)
		if err != nil || f.Type != wire.TypeWelcome {
			t.Fatalf("HELLO version %d: %s %v", version, f.Type, err)
		}
		if w, err := wire.DecodeWelcome(f.Body); err != nil || w.Version != version {
			t.Fatalf("WELCOME to version %d: %+v %v", version, w, err)
		}
		return r
	}
	// pushes reads PUSH frames up to RESUMED and returns their ids and
	// RESUMED's body.
	pushes := func(r *testutil.RawConn) ([]uint64, []byte) {
		var got []uint64
		for {
			f, err := r.Next(5 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			switch f.Type {
			case wire.TypePush:
				p, err := wire.DecodePush(f.Body)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, p.MessageID)
			case wire.TypeResumed:
				return got, f.Body
			default:
				t.Fatalf("unexpected %s", f.Type)
			}
		}
	}

	v1 := hello(1, wire.Version1)
	v1.Send(wire.AppendResume(nil, wire.Resume{Cursor: ids[0]}, 0))
	got, body := pushes(v1)
	r1, err := wire.DecodeResumed(body)
	if err != nil || len(got) != 2 || got[0] != ids[1] || r1.Count != 2 || r1.LastID != ids[2] {
		t.Fatalf("version 1: pushes %v, RESUMED %+v %v; want %v and last %d", got, r1, err, ids[1:], ids[2])
	}

	v2 := hello(2, wire.Version2)
	v2.Send(wire.AppendResumeV2(nil, wire.ResumeV2{Cursor: wire.Cursor{ids[0]}}, 0))
	got, body = pushes(v2)
	r2, err := wire.DecodeResumedV2(body)
	if err != nil || len(got) != 2 || got[0] != ids[1] || r2.Count != 2 || !r2.Last.Equal(wire.Cursor{ids[2]}) {
		t.Fatalf("version 2: pushes %v, RESUMED %+v %v; want %v and last [%d]", got, r2, err, ids[1:], ids[2])
	}
	// Both are live now, and an ACK in version 2 is the same ACK.
	v2.Send(wire.AppendAck(nil, ids[2]))

	elsewhere := hello(3, wire.Version2)
	elsewhere.Send(wire.AppendResumeV2(nil, wire.ResumeV2{Cursor: wire.Cursor{ids[0], wire.ShardBase(1) + 7}}, 0))
	elsewhere.ExpectError(wire.CodeCursorAhead, 0)
	elsewhere.ExpectClosed()

	// A version 2 RESUME sent by a version 1 session is malformed.
	mixed := hello(3, wire.Version1)
	mixed.Send(wire.AppendResumeV2(nil, wire.ResumeV2{Cursor: wire.Cursor{ids[0]}}, 0))
	mixed.ExpectError(wire.CodeMalformedFrame, 0)
}
