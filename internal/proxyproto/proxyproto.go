// Package proxyproto parses the header a TCP proxy (HAProxy's send-proxy
// and send-proxy-v2) writes at the start of a connection to say whose it
// is: version 1 (a text line) and version 2 (binary), as specified in
// https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt. It reads
// only what has arrived and never blocks, for an event loop.
package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// MaxHeader is the longest header accepted: a version 1 line is at most
// 107 bytes; a version 2 header carries at most this many bytes in all
// (addresses and TLVs), which is what HAProxy sends and more.
const MaxHeader = 16 + 520

// Errors. ErrIncomplete asks for more bytes; every other error means the
// connection did not start with a header and must be closed.
var (
	ErrIncomplete = errors.New("proxy protocol: header incomplete")
	ErrInvalid    = errors.New("proxy protocol: invalid header")
)

var v2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

// Header is what a proxy said about a connection. Source is the client's
// address; it is not valid for a proxy's own connection (version 2 LOCAL,
// or version 1 UNKNOWN: a health check), which is served as itself.
type Header struct {
	Source, Destination netip.AddrPort
}

// Parse reads the header at the start of b. It returns the header and its
// length, ErrIncomplete if b holds only a beginning of one, or ErrInvalid.
func Parse(b []byte) (Header, int, error) {
	switch {
	case len(b) >= len(v2Signature) && bytes.Equal(b[:len(v2Signature)], v2Signature):
		return parseV2(b)
	case len(b) < len(v2Signature) && bytes.HasPrefix(v2Signature, b):
		return Header{}, 0, ErrIncomplete
	case len(b) >= 6 && string(b[:6]) == "PROXY ":
		return parseV1(b)
	case len(b) < 6 && strings.HasPrefix("PROXY ", string(b)):
		return Header{}, 0, ErrIncomplete
	}
	return Header{}, 0, ErrInvalid
}

// parseV1 reads "PROXY TCP4|TCP6 src dst sport dport\r\n" or
// "PROXY UNKNOWN…\r\n".
func parseV1(b []byte) (Header, int, error) {
	const maxLine = 107
	end := bytes.Index(b[:min(len(b), maxLine)], []byte("\r\n"))
	if end < 0 {
		if len(b) >= maxLine {
			return Header{}, 0, ErrInvalid
		}
		return Header{}, 0, ErrIncomplete
	}
	fields := strings.Split(string(b[6:end]), " ")
	n := end + 2
	if fields[0] == "UNKNOWN" {
		return Header{}, n, nil
	}
	if len(fields) != 5 || fields[0] != "TCP4" && fields[0] != "TCP6" {
		return Header{}, 0, ErrInvalid
	}
	src, err1 := netip.ParseAddr(fields[1])
	dst, err2 := netip.ParseAddr(fields[2])
	sport, err3 := port(fields[3])
	dport, err4 := port(fields[4])
	if err := errors.Join(err1, err2, err3, err4); err != nil || src.Is4() != (fields[0] == "TCP4") || dst.Is4() != src.Is4() {
		return Header{}, 0, ErrInvalid
	}
	return Header{Source: netip.AddrPortFrom(src, sport), Destination: netip.AddrPortFrom(dst, dport)}, n, nil
}

// port parses a decimal port without sign or leading zeros.
func port(s string) (uint16, error) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, ErrInvalid
	}
	v, err := strconv.ParseUint(s, 10, 16)
	return uint16(v), err
}

// parseV2 reads the binary header: signature, version and command,
// family and transport, length, then the addresses (and TLVs, skipped).
func parseV2(b []byte) (Header, int, error) {
	if len(b) < 16 {
		return Header{}, 0, ErrIncomplete
	}
	verCmd, fam := b[12], b[13]
	length := int(binary.BigEndian.Uint16(b[14:16]))
	if verCmd>>4 != 2 || 16+length > MaxHeader {
		return Header{}, 0, ErrInvalid
	}
	if len(b) < 16+length {
		return Header{}, 0, ErrIncomplete
	}
	n, body := 16+length, b[16:16+length]
	switch verCmd & 0x0f {
	case 0: // LOCAL: the proxy's own connection
		return Header{}, n, nil
	case 1: // PROXY
	default:
		return Header{}, 0, ErrInvalid
	}
	switch fam {
	case 0x11: // TCP over IPv4
		if len(body) < 12 {
			return Header{}, 0, ErrInvalid
		}
		src := netip.AddrFrom4([4]byte(body[0:4]))
		dst := netip.AddrFrom4([4]byte(body[4:8]))
		return Header{Source: netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[8:])), Destination: netip.AddrPortFrom(dst, binary.BigEndian.Uint16(body[10:]))}, n, nil
	case 0x21: // TCP over IPv6
		if len(body) < 36 {
			return Header{}, 0, ErrInvalid
		}
		src := netip.AddrFrom16([16]byte(body[0:16]))
		dst := netip.AddrFrom16([16]byte(body[16:32]))
		return Header{Source: netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[32:])), Destination: netip.AddrPortFrom(dst, binary.BigEndian.Uint16(body[34:]))}, n, nil
	case 0x00: // UNSPEC: addresses unknown
		return Header{}, n, nil
	}
	return Header{}, 0, ErrInvalid
}
