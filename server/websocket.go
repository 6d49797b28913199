package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/gobwas/ws"

	"herald/wire"
)

// # WebSocket on the client listener
//
// A connection whose first byte is 'G' is an HTTP request: no Herald frame
// starts so (its length would be over a gigabyte). It must be a WebSocket
// upgrade (RFC 6455), read whole (at most wsMaxRequest bytes) and answered
// by github.com/gobwas/ws's Upgrader; an Origin header must be one of
// Config.WebSocketOrigins (a request without one is not a browser's and is
// let in). After the upgrade the connection runs the protocol of
// docs/PROTOCOL.md unchanged, inside binary WebSocket messages:
//
//   - from the client, the payloads of its binary messages, in order, are
//     the stream of Herald frames: a frame may span messages, a message
//     hold several frames;
//   - to the client, every write is one binary message holding one or more
//     whole Herald frames (a live delivery, a catch-up page, an answer):
//     one header computed for the write, then the shared frames
//     themselves, in one writev under the same slow-consumer cap;
//   - a ping is answered with a pong; a close is answered with a close and
//     the connection ends; an ERROR that closes the connection is followed
//     by a close frame whose code maps the Herald code (wsCloseCode).
//
// Nothing is waited for: the handshake is kept until it is whole, and
// frames are taken apart as their bytes arrive (wsReader).

// wsMaxRequest bounds a WebSocket upgrade request.
const wsMaxRequest = 8 << 10

type wsPhase uint8

const (
	wsHandshake wsPhase = iota
	wsOpen
	wsClosed // a close frame was sent
)

// wsConn is a WebSocket connection's own state.
type wsConn struct {
	phase   wsPhase
	request []byte // the upgrade request so far
	r       wsReader
	w       wsWriter
}

// framing reports whether what the connection writes must be wrapped in
// WebSocket frames.
func (w *wsConn) framing() bool { return w != nil && w.phase == wsOpen }

// wsStarts reports whether a client connection's first bytes are an HTTP
// request.
func wsStarts(data []byte) bool { return len(data) > 0 && data[0] == 'G' }

// wsTraffic takes what a WebSocket connection sent: the upgrade request,
// then frames. It returns the Herald bytes they carried (ok false when
// there are none to parse).
func (cn *conn) wsTraffic(data []byte) (herald []byte, ok bool) {
	w := cn.ws
	if w.phase == wsHandshake {
		if data, ok = cn.wsUpgrade(data); !ok {
			return nil, false
		}
	}
	if w.phase != wsOpen {
		return nil, false
	}
	herald, controls, err := w.r.feed(data)
	for _, c := range controls {
		switch c.op {
		case ws.OpPing:
			cn.put([][]byte{w.w.frame(ws.OpPong, c.payload)}, false)
		case ws.OpClose:
			cn.wsClosedByClient(c.payload)
			return nil, false
		}
	}
	if err != nil {
		var we *wsError
		if errors.As(err, &we) {
			cn.wsFail(we)
		}
		return nil, false
	}
	return herald, len(herald) > 0
}

// wsUpgrade gathers the upgrade request and answers it once whole; it
// returns the bytes that followed it.
func (cn *conn) wsUpgrade(data []byte) (rest []byte, ok bool) {
	w := cn.ws
	w.request = append(w.request, data...) // data is gnet's buffer
	end := bytes.Index(w.request, []byte("\r\n\r\n"))
	if end < 0 {
		if len(w.request) > wsMaxRequest {
			cn.wsRefuse("HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n", "an upgrade request over 8 KiB")
		}
		return nil, false
	}
	request, rest := w.request[:end+4], w.request[end+4:]
	w.request = nil
	var response bytes.Buffer
	u := ws.Upgrader{OnHeader: func(key, value []byte) error {
		if strings.EqualFold(string(key), "Origin") && !cn.srv.originAllowed(string(value)) {
			return ws.RejectConnectionError(ws.RejectionStatus(403), ws.RejectionReason("origin not allowed: "+string(value)))
		}
		return nil
	}}
	_, err := u.Upgrade(struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(request), &response})
	if err != nil {
		cn.wsRefuse(response.String(), "upgrade refused: "+err.Error())
		return nil, false
	}
	cn.put([][]byte{response.Bytes()}, false)
	w.phase = wsOpen
	return rest, true
}

// wsRefuse answers a request that is not an acceptable upgrade with an
// HTTP response and closes the connection.
func (cn *conn) wsRefuse(response, why string) {
	cn.closing = true
	cn.logDisconnect(wire.CodeMalformedFrame, why)
	_, _ = cn.c.Write([]byte(response))
	_ = cn.c.Close()
}

// wsFail closes a connection whose frames broke the rules with a close
// frame giving why.
func (cn *conn) wsFail(e *wsError) {
	cn.closing = true
	cn.logDisconnect(wire.CodeMalformedFrame, e.Error())
	cn.ws.phase = wsClosed
	_, _ = cn.c.Write(cn.ws.w.frame(ws.OpClose, ws.NewCloseFrameBody(e.code, e.text)))
	cn.srv.metrics.closedWithError.Add(1)
	_ = cn.c.Close()
}

// wsClosedByClient answers the client's close with a close of the same
// code, and ends the connection.
func (cn *conn) wsClosedByClient(payload []byte) {
	code, _ := ws.ParseCloseFrameData(payload)
	if code.Empty() {
		code = ws.StatusNormalClosure
	}
	cn.closing = true
	cn.ws.phase = wsClosed
	_, _ = cn.c.Write(cn.ws.w.frame(ws.OpClose, ws.NewCloseFrameBody(code, "")))
	_ = cn.c.Close()
}

// wsWrapClose turns the last frames a connection is sent before it is
// closed with code into one binary message and a close frame.
func (cn *conn) wsWrapClose(frames [][]byte, code wire.Code, text string) [][]byte {
	size := 0
	for _, f := range frames {
		size += len(f)
	}
	w := cn.ws
	out := append([][]byte{append([]byte(nil), w.w.header(ws.OpBinary, size)...)}, frames...)
	if len(text) > 100 {
		text = text[:100] // a close frame's payload is at most 125 bytes
	}
	w.phase = wsClosed
	return append(out, w.w.frame(ws.OpClose, ws.NewCloseFrameBody(wsCloseCode(code), text)))
}

// wsCloseCode maps a Herald code that closes the connection to a
// WebSocket close code of the private range: 2xxx to 40xx (2002
// SLOW_CONSUMER: 4002), 3xxx to 41xx (3006 TOKEN_INVALID: 4106); anything
// else is 1011 (internal error).
func wsCloseCode(code wire.Code) ws.StatusCode {
	switch c := int(code); {
	case c > 2000 && c < 2100:
		return ws.StatusCode(4000 + c - 2000)
	case c > 3000 && c < 3100:
		return ws.StatusCode(4100 + c - 3000)
	}
	return ws.StatusInternalServerError
}

// originAllowed reports whether a browser page of origin may connect: one
// of Config.WebSocketOrigins, or the demo page's own (the admin
// listener's).
func (s *Server) originAllowed(origin string) bool {
	for _, o := range s.cfg.WebSocketOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	if own := s.demoOrigins.Load(); own != nil {
		for _, o := range *own {
			if strings.EqualFold(o, origin) {
				return true
			}
		}
	}
	return false
}

// allowDemoOrigins lets the demo page (/demo/ on the admin listener at
// addr) open WebSockets: its origin as the listener's address, and as
// localhost for a loopback one.
func (s *Server) allowDemoOrigins(addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return
	}
	origins := []string{"http://" + net.JoinHostPort(host, port)}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		origins = append(origins, "http://localhost:"+port)
	}
	s.demoOrigins.Store(&origins)
}

// demoWebSocketURL is where the demo page, loaded by r, finds the client
// listener: its address, with the page's host name in place of an
// unspecified one (0.0.0.0).
func (s *Server) demoWebSocketURL(r *http.Request) string {
	host, port, _ := net.SplitHostPort(s.cfg.ClientAddr)
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		} else {
			host = r.Host
		}
	}
	return "ws://" + net.JoinHostPort(host, port) + "/"
}
