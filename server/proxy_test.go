package server_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"herald/internal/testserver"
	"herald/internal/testutil"
	"herald/node"
	"herald/server"
	"herald/wire"
)

// TestProxyProtocol: with ProxyProtocol, a connection is served after a
// PROXY header (version 1 here, arriving in pieces, with HELLO in the
// same write as its end) and is known by the address the header gives;
// one without a header is closed with MALFORMED_FRAME.
func TestProxyProtocol(t *testing.T) {
	logs := &testutil.SyncBuffer{}
	h := testserver.Start(t, "", node.Config{Edge: server.Config{ProxyProtocol: true,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}})
	token := h.Token(1)

	r := testutil.DialRaw(t, h.Server.ClientAddr())
	header := "PROXY TCP4 203.0.113.7 127.0.0.1 5555 7400\r\n"
	r.Send([]byte(header[:10]))
	r.Send([]byte(header[10:30]))
	r.Send(append([]byte(header[30:]), wire.AppendHello(nil, wire.Hello{Version: wire.Version1, Credential: token})...))
	if f, err := r.Next(5 * time.Second); err != nil || f.Type != wire.TypeWelcome {
		t.Fatalf("after the header: %v %v", f.Type, err)
	}
	r.Send([]byte{0, 0, 0, 1, byte(wire.TypePing)}) // a malformed frame: the server logs who sent it
	r.ExpectError(wire.CodeMalformedFrame, 0)
	r.ExpectClosed()
	if !strings.Contains(logs.String(), "remote=203.0.113.7:5555") {
		t.Fatalf("the server did not name the proxied client:\n%s", logs.String())
	}

	direct := testutil.DialRaw(t, h.Server.ClientAddr())
	direct.Send(wire.AppendHello(nil, wire.Hello{Version: wire.Version1, Credential: token}))
	direct.ExpectError(wire.CodeMalformedFrame, 0)
	direct.ExpectClosed()
}
