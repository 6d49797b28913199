package server

import (
	"errors"
	"net"

	"herald/internal/proxyproto"
	"herald/wire"
)

// proxyHeader reads the PROXY protocol header (Config.ProxyProtocol) at
// the start of a connection from data, keeping what has arrived of it
// until it is whole. It returns the bytes after the header, or ok false
// while the header is incomplete or after it failed (the connection is
// then closing).
func (cn *conn) proxyHeader(data []byte) (rest []byte, ok bool) {
	buf := data
	if cn.proxyBuf != nil {
		cn.proxyBuf = append(cn.proxyBuf, data...)
		buf = cn.proxyBuf
	}
	h, n, err := proxyproto.Parse(buf)
	switch {
	case errors.Is(err, proxyproto.ErrIncomplete):
		if cn.proxyBuf == nil {
			cn.proxyBuf = append(make([]byte, 0, proxyproto.MaxHeader), data...) // data is gnet's buffer
		}
		return nil, false
	case err != nil:
		cn.fail(closeWith(wire.CodeMalformedFrame, "the connection did not start with a PROXY protocol header (the server runs with --proxy-protocol)"))
		return nil, false
	}
	cn.proxyPending = false
	if h.Source.IsValid() {
		cn.remote = net.TCPAddrFromAddrPort(h.Source)
	}
	rest = buf[n:]
	cn.proxyBuf = nil
	return rest, true
}

// remoteAddr is the client's address: as the proxy said, or the peer's.
func (cn *conn) remoteAddr() net.Addr {
	if cn.remote != nil {
		return cn.remote
	}
	return cn.c.RemoteAddr()
}
