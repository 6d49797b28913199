package server_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"

	"herald/client"
	"herald/internal/testserver"
	"herald/internal/testutil"
	"herald/node"
	"herald/wire"
)

// TestCompressionIsNegotiated: clients that accept compression get large
// payloads as S2 blocks, live and on catch-up; others get them plain; small
// payloads are never compressed; every client reads the same bytes.
func TestCompressionIsNegotiated(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	compressing := h.Subscribe(1, 0) // the SDK accepts compression by default
	plain, err := client.Subscribe(ctx, client.SubscriberConfig{Addr: h.Server.ClientAddr(), Token: h.Token(2), NoCompression: true})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.WaitLive(ctx); err != nil {
		t.Fatal(err)
	}
	raw := testutil.DialRaw(t, h.Server.ClientAddr())
	raw.Send(wire.AppendHello(nil, wire.Hello{Version: wire.Version1, Credential: h.Token(3), Compress: true}))
	if f, err := raw.Next(5 * time.Second); err != nil || f.Type != wire.TypeWelcome {
		t.Fatalf("HELLO: %s %v", f.Type, err)
	}
	raw.Send(wire.AppendResume(nil, wire.Resume{}, 0))
	if f, err := raw.Next(5 * time.Second); err != nil || f.Type != wire.TypeResumed {
		t.Fatalf("RESUME: %s %v", f.Type, err)
	}

	big := []byte(strings.Repeat("breaking news: compress me once, send me everywhere. ", 80))
	small := []byte("short")
	pub := h.Publisher(account, secret)
	for _, payload := range [][]byte{big, small} {
		if _, err := pub.Publish(ctx, client.Message{Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	for _, sub := range []*client.Subscriber{compressing, plain} {
		for _, want := range [][]byte{big, small} {
			if m := testserver.Receive(t, sub, 5*time.Second); !bytes.Equal(m.Payload, want) {
				t.Fatalf("user %d got %d bytes, want %d", sub.User(), len(m.Payload), len(want))
			}
		}
	}
	checkRawPushes := func(r *testutil.RawConn) {
		t.Helper()
		for i, want := range [][]byte{big, small} {
			f, err := r.Next(5 * time.Second)
			if err != nil || f.Type != wire.TypePush {
				t.Fatalf("push %d: %s %v", i, f.Type, err)
			}
			p, err := wire.DecodePush(f.Body)
			if err != nil {
				t.Fatal(err)
			}
			compressed := f.Flags&wire.FlagCompressed != 0
			if compressed != (i == 0) {
				t.Fatalf("push %d compressed = %v", i, compressed)
			}
			got := p.Payload
			if compressed {
				if len(got) >= len(want)/4 {
					t.Fatalf("compressed payload is %d bytes for %d", len(got), len(want))
				}
				if got, err = s2.Decode(nil, got); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("push %d payload differs", i)
			}
		}
	}
	checkRawPushes(raw)

	// Catch-up compresses the same way.
	late := testutil.DialRaw(t, h.Server.ClientAddr())
	late.Send(wire.AppendHello(nil, wire.Hello{Version: wire.Version1, Credential: h.Token(4), Compress: true}))
	if f, err := late.Next(5 * time.Second); err != nil || f.Type != wire.TypeWelcome {
		t.Fatalf("HELLO: %s %v", f.Type, err)
	}
	late.Send(wire.AppendResume(nil, wire.Resume{}, 0))
	checkRawPushes(late)
}
