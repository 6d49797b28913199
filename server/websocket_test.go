package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"herald/client"
	"herald/internal/testserver"
	"herald/node"
	"herald/wire"
)

const testOrigin = "https://app.example"

// wsClient is a WebSocket client of a maintained library
// (github.com/coder/websocket) speaking Herald's frames in binary
// messages.
type wsClient struct {
	t      *testing.T
	c      *websocket.Conn
	parser *wire.Parser
	queue  []wire.Frame
}

func dialWS(t *testing.T, h *testserver.Harness, origin string) (*wsClient, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	opts := &websocket.DialOptions{}
	if origin != "" {
		opts.HTTPHeader = http.Header{"Origin": {origin}}
	}
	c, resp, err := websocket.Dial(ctx, "ws://"+h.Server.ClientAddr()+"/", opts)
	if err != nil {
		return nil, resp, err
	}
	c.SetReadLimit(2 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return &wsClient{t: t, c: c, parser: wire.NewParser(wire.DefaultMaxFrame)}, resp, nil
}

func (w *wsClient) send(frames ...[]byte) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var msg []byte
	for _, f := range frames {
		msg = append(msg, f...)
	}
	if err := w.c.Write(ctx, websocket.MessageBinary, msg); err != nil {
		w.t.Fatal(err)
	}
}

// next returns the next Herald frame; every message must hold whole
// frames.
func (w *wsClient) next() (wire.Frame, error) {
	for len(w.queue) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		typ, msg, err := w.c.Read(ctx)
		cancel()
		if err != nil {
			return wire.Frame{}, err
		}
		if typ != websocket.MessageBinary {
			return wire.Frame{}, fmt.Errorf("a %v message", typ)
		}
		if err := w.parser.Feed(msg, func(f wire.Frame) error {
			w.queue = append(w.queue, wire.Frame{Type: f.Type, Flags: f.Flags, Body: append([]byte(nil), f.Body...)})
			return nil
		}); err != nil {
			return wire.Frame{}, err
		}
		if w.parser.Buffered() != 0 {
			return wire.Frame{}, errors.New("a message ended inside a Herald frame")
		}
	}
	f := w.queue[0]
	w.queue = w.queue[1:]
	return f, nil
}

func (w *wsClient) expect(t wire.Type) wire.Frame {
	w.t.Helper()
	f, err := w.next()
	if err != nil || f.Type != t {
		w.t.Fatalf("got %s (%v), want %s", f.Type, err, t)
	}
	return f
}

func (w *wsClient) push() uint64 {
	w.t.Helper()
	p, err := wire.DecodePush(w.expect(wire.TypePush).Body)
	if err != nil {
		w.t.Fatal(err)
	}
	return p.MessageID
}

func startWS(t *testing.T, tune func(*node.Config)) *testserver.Harness {
	cfg := node.Config{}
	cfg.Edge.WebSocketOrigins = []string{testOrigin}
	if tune != nil {
		tune(&cfg)
	}
	return testserver.Start(t, "", cfg)
}

// TestWebSocketClient: a browser-like client (with an allowed Origin) on
// the client listener's own port sends HELLO and RESUME in one message,
// gets WELCOME, its catch-up and RESUMED, then live pushes, in id order,
// and its PING answered; the binary protocol on the same port is
// untouched.
func TestWebSocketClient(t *testing.T) {
	h := startWS(t, nil)
	account, secret := h.Account(1, 2)
	ctx := context.Background()
	pub := h.Publisher(account, secret)
	var missed []uint64
	for i := range 3 {
		res, err := pub.Publish(ctx, client.Message{Payload: fmt.Appendf(nil, "missed %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		missed = append(missed, res.MessageID)
	}
	w, _, err := dialWS(t, h, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	w.send(wire.AppendHello(nil, wire.Hello{Version: wire.Version2, Credential: h.Token(1)}),
		wire.AppendResumeV2(nil, wire.ResumeV2{Cursor: wire.Cursor{missed[0]}}, 0))
	w.expect(wire.TypeWelcome)
	for _, want := range missed[1:] {
		if got := w.push(); got != want {
			t.Fatalf("catch-up gave %d, want %d", got, want)
		}
	}
	r, err := wire.DecodeResumedV2(w.expect(wire.TypeResumed).Body)
	if err != nil || r.Count != 2 {
		t.Fatalf("RESUMED %+v %v", r, err)
	}
	sdk := h.Subscribe(2, 0) // a TCP client beside it
	for i := range 3 {
		res, err := pub.Publish(ctx, client.Message{Payload: fmt.Appendf(nil, "live %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if got := w.push(); got != res.MessageID {
			t.Fatalf("live gave %d, want %d", got, res.MessageID)
		}
	}
	for range 3 + 3 {
		testserver.Receive(t, sdk, 5*time.Second)
	}
	w.send(wire.AppendEmpty(nil, wire.TypePing))
	w.expect(wire.TypePong)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// A WebSocket ping (the library's) is answered with a pong; Ping
	// needs a reader running.
	w.c.CloseRead(pctx)
	if err := w.c.Ping(pctx); err != nil {
		t.Fatalf("websocket ping: %v", err)
	}
}

// TestWebSocketRefusals: an upgrade from a page of another origin gets
// HTTP 403; a bad token gets ERROR TOKEN_INVALID, then the close code that
// maps it (4106); a request that is not an upgrade gets HTTP 400.
func TestWebSocketRefusals(t *testing.T) {
	h := startWS(t, nil)
	if _, resp, err := dialWS(t, h, "https://evil.example"); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("another origin: %v, %v; want 403", resp, err)
	}
	w, _, err := dialWS(t, h, "") // not a browser: no Origin
	if err != nil {
		t.Fatal(err)
	}
	w.send(wire.AppendHello(nil, wire.Hello{Version: wire.Version2, Credential: "not a token"}))
	m, err := wire.DecodeError(w.expect(wire.TypeError).Body)
	if err != nil || m.Code != wire.CodeTokenInvalid {
		t.Fatalf("ERROR %+v %v", m, err)
	}
	if _, err := w.next(); websocket.CloseStatus(err) != 4106 {
		t.Fatalf("after the ERROR: %v, want close 4106", err)
	}
	nc, err := net.Dial("tcp", h.Server.ClientAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, _ = nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	status, err := bufio.NewReader(nc).ReadString('\n')
	if err != nil || !strings.Contains(status, " 400 ") {
		t.Fatalf("a plain GET: %q %v, want 400", status, err)
	}
}

// TestWebSocketSlowConsumer: a WebSocket client that stops reading is cut
// off at the cap like any other; the server's memory for it stays bounded.
func TestWebSocketSlowConsumer(t *testing.T) {
	h := startWS(t, func(c *node.Config) { c.Edge.MaxOutbound = 1 << 20 })
	account, secret := h.Account(1, 1)
	w, _, err := dialWS(t, h, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	w.send(wire.AppendHello(nil, wire.Hello{Version: wire.Version2, Credential: h.Token(1)}), wire.AppendResumeV2(nil, wire.ResumeV2{}, 0))
	w.expect(wire.TypeWelcome)
	w.expect(wire.TypeResumed)
	pub := h.Publisher(account, secret)
	payload := make([]byte, 200<<10)
	for i := 0; ; i++ {
		if _, err := pub.Publish(context.Background(), client.Message{Payload: payload}); err != nil {
			t.Fatal(err)
		}
		if h.Server.Connections() == 1 { // only the publisher is left
			health, err := h.Admin.Health(context.Background())
			if err != nil || health.SlowConsumers != 1 {
				t.Fatalf("health %+v %v, want one slow consumer", health, err)
			}
			return
		}
		if i > 2000 {
			t.Fatal("never cut off")
		}
	}
}

// rawWS is a WebSocket connection driven by hand, for frames no library
// would send.
type rawWS struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func dialRawWS(t *testing.T, h *testserver.Harness) *rawWS {
	t.Helper()
	nc, err := net.Dial("tcp", h.Server.ClientAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = nc.Write([]byte("GET /ws HTTP/1.1\r\nHost: herald\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	r := bufio.NewReader(nc)
	status, err := r.ReadString('\n')
	if err != nil || !strings.Contains(status, " 101 ") {
		t.Fatalf("upgrade: %q %v", status, err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			return &rawWS{t: t, nc: nc, r: r}
		}
	}
}

// frame builds a client frame: first byte as given, masked unless
// unmasked, with payload.
func wsFrame(first byte, masked bool, payload []byte) []byte {
	b := []byte{first}
	n := len(payload)
	var maskBit byte
	if masked {
		maskBit = 0x80
	}
	switch {
	case n < 126:
		b = append(b, maskBit|byte(n))
	default:
		b = append(b, maskBit|126, byte(n>>8), byte(n))
	}
	if !masked {
		return append(b, payload...)
	}
	mask := []byte{1, 2, 3, 4}
	b = append(b, mask...)
	for i, c := range payload {
		b = append(b, c^mask[i%4])
	}
	return b
}

// closeCode reads server frames until a close and returns its code.
func (w *rawWS) closeCode() int {
	w.t.Helper()
	for {
		var hdr [2]byte
		if _, err := ioReadFull(w.r, hdr[:]); err != nil {
			w.t.Fatalf("no close frame: %v", err)
		}
		n := int(hdr[1] & 0x7f)
		switch n {
		case 126:
			var ext [2]byte
			_, _ = ioReadFull(w.r, ext[:])
			n = int(ext[0])<<8 | int(ext[1])
		case 127:
			w.t.Fatal("unexpected 64-bit length from the server")
		}
		payload := make([]byte, n)
		if _, err := ioReadFull(w.r, payload); err != nil {
			w.t.Fatal(err)
		}
		if hdr[0]&0x0f == 0x8 {
			if len(payload) < 2 {
				return 0
			}
			return int(payload[0])<<8 | int(payload[1])
		}
	}
}

func ioReadFull(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestWebSocketMalformedFrames: frames that break RFC 6455, or Herald's
// binary-only use of it, are answered by a close frame with the code that
// says why; a client's close is answered with its own code.
func TestWebSocketMalformedFrames(t *testing.T) {
	h := startWS(t, nil)
	hello := wire.AppendHello(nil, wire.Hello{Version: wire.Version2, Credential: h.Token(1)})
	big := make([]byte, 126)
	for _, tc := range []struct {
		name  string
		bytes []byte
		code  int
	}{
		{"unmasked", wsFrame(0x82, false, hello), 1002},
		{"text", wsFrame(0x81, true, []byte("hello")), 1003},
		{"fragmented ping", wsFrame(0x09, true, []byte("p")), 1002},
		{"control over 125 bytes", wsFrame(0x89, true, big), 1002},
		{"reserved opcode", wsFrame(0x83, true, nil), 1002},
		{"reserved bit", wsFrame(0xc2, true, hello), 1002},
		{"continuation first", wsFrame(0x80, true, hello), 1002},
		{"new message inside one", append(wsFrame(0x02, true, hello[:3]), wsFrame(0x82, true, hello[3:])...), 1002},
		{"length with its top bit", []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}, 1002},
		{"a Herald frame too large inside", wsFrame(0x82, true, []byte{0, 1, 0, 0, 1, 0}), 4102},
		{"the client's close", wsFrame(0x88, true, []byte{0x03, 0xe8}), 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := dialRawWS(t, h)
			if _, err := w.nc.Write(tc.bytes); err != nil {
				t.Fatal(err)
			}
			if got := w.closeCode(); got != tc.code {
				t.Fatalf("close %d, want %d", got, tc.code)
			}
		})
	}
	// A Herald session inside fragments split anywhere still works.
	w := dialRawWS(t, h)
	msg := append(hello, wire.AppendResumeV2(nil, wire.ResumeV2{}, 0)...)
	frames := append(wsFrame(0x02, true, msg[:5]), wsFrame(0x89, true, []byte("ping"))...) // a ping between fragments
	frames = append(frames, wsFrame(0x80, true, msg[5:])...)
	for _, b := range frames {
		if _, err := w.nc.Write([]byte{b}); err != nil { // a byte at a time
			t.Fatal(err)
		}
	}
	var got []byte
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(string(got), "\x00\x00\x00") || len(got) < 20 {
		b, err := w.r.ReadByte()
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("after %x: %v", got, err)
		}
		got = append(got, b)
	}
	if got[0] != 0x8a || got[1] != 4 || string(got[2:6]) != "ping" || got[6] != 0x82 {
		t.Fatalf("answer %x: want the pong, then a binary message", got)
	}
}

// TestWebSocketHandshakeTimesOut: an upgrade request that never ends is
// closed at the auth timeout, like a connection that never sends HELLO.
func TestWebSocketHandshakeTimesOut(t *testing.T) {
	h := startWS(t, func(c *node.Config) { c.Edge.AuthTimeout = 200 * time.Millisecond })
	nc, err := net.Dial("tcp", h.Server.ClientAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n")); err != nil { // no blank line: unfinished
		t.Fatal(err)
	}
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	n, err := nc.Read(make([]byte, 64))
	if n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read %d bytes, %v: want the connection closed with nothing said", n, err)
	}
}
