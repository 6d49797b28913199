package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/coder/websocket"
)

// isWebSocket reports whether addr is a WebSocket URL (ws:// or wss://)
// rather than a host:port: the SDK then speaks the same protocol inside
// binary WebSocket messages (docs/PROTOCOL.md, "WebSocket").
func isWebSocket(addr string) bool {
	return strings.HasPrefix(addr, "ws://") || strings.HasPrefix(addr, "wss://")
}

// dialWebSocket opens a WebSocket to url with d (and tlsConfig for wss://)
// and returns it as a byte stream: each Write is one binary message, and
// reads return the messages' bytes in order.
func dialWebSocket(ctx context.Context, url string, d *net.Dialer, tlsConfig *tls.Config) (net.Conn, error) {
	transport := &http.Transport{DialContext: d.DialContext, TLSClientConfig: tlsConfig, ForceAttemptHTTP2: false}
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: &http.Client{Transport: transport}})
	if err != nil {
		return nil, fmt.Errorf("client: websocket %s: %w", url, err)
	}
	c.SetReadLimit(-1) // frames are bounded by the Herald parser
	// The stream outlives the dial's context: closing it closes the socket.
	return websocket.NetConn(context.Background(), c, websocket.MessageBinary), nil
}
