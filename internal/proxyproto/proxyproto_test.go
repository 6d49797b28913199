package proxyproto

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
)

func v2(cmd, fam byte, body []byte) []byte {
	b := append([]byte(nil), v2Signature...)
	b = append(b, 0x20|cmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...)
}

func TestParse(t *testing.T) {
	ipv4 := []byte{10, 0, 0, 1, 127, 0, 0, 1, 0x30, 0x39, 0x1c, 0xe8} // 10.0.0.1:12345 → 127.0.0.1:7400
	cases := []struct {
		in   []byte
		src  string
		n    int
		err  error
		desc string
	}{
		{[]byte("PROXY TCP4 192.168.0.1 127.0.0.1 56324 7400\r\nhello"), "192.168.0.1:56324", 45, nil, "v1 TCP4"},
		{[]byte("PROXY TCP6 ::1 ::1 1 2\r\n"), "[::1]:1", 24, nil, "v1 TCP6"},
		{[]byte("PROXY UNKNOWN\r\n"), "", 15, nil, "v1 UNKNOWN"},
		{[]byte("PROXY TCP4 192.168.0.1"), "", 0, ErrIncomplete, "v1 cut"},
		{[]byte("PRO"), "", 0, ErrIncomplete, "v1 prefix"},
		{[]byte("PROXY TCP4 ::1 127.0.0.1 1 2\r\n"), "", 0, ErrInvalid, "v1 family mismatch"},
		{[]byte("PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n"), "", 0, ErrInvalid, "v1 leading zero"},
		{[]byte("PROXY TCP4 1.2.3.4 1.2.3.4 70000 2\r\n"), "", 0, ErrInvalid, "v1 port range"},
		{append([]byte("PROXY TCP4 "), make([]byte, 200)...), "", 0, ErrInvalid, "v1 no end"},
		{[]byte{0x10, 0, 0, 0, 1}, "", 0, ErrInvalid, "a Herald frame"},
		{v2(1, 0x11, ipv4), "10.0.0.1:12345", 28, nil, "v2 TCP4"},
		{v2(0, 0x00, nil), "", 16, nil, "v2 LOCAL"},
		{v2(1, 0x11, ipv4)[:20], "", 0, ErrIncomplete, "v2 cut"},
		{v2Signature[:5], "", 0, ErrIncomplete, "v2 prefix"},
		{v2(1, 0x11, ipv4[:8]), "", 0, ErrInvalid, "v2 short body"},
		{v2(3, 0x11, ipv4), "", 0, ErrInvalid, "v2 bad command"},
	}
	for _, c := range cases {
		h, n, err := Parse(c.in)
		if !errors.Is(err, c.err) || n != c.n {
			t.Fatalf("%s: n %d err %v, want %d %v", c.desc, n, err, c.n, c.err)
		}
		if c.src != "" && h.Source != netip.MustParseAddrPort(c.src) {
			t.Fatalf("%s: source %v", c.desc, h.Source)
		}
		if c.src == "" && h.Source.IsValid() {
			t.Fatalf("%s: source %v, want none", c.desc, h.Source)
		}
	}
}

// FuzzParse: no input panics; a header parsed is no longer than its input
// nor MaxHeader, and any prefix of it is incomplete or the same header.
func FuzzParse(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.168.0.1 127.0.0.1 56324 7400\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(v2(1, 0x11, []byte{10, 0, 0, 1, 127, 0, 0, 1, 0, 1, 0, 2}))
	f.Add(v2(1, 0x21, make([]byte, 36)))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := Parse(b)
		if err != nil {
			return
		}
		if n > len(b) || n > MaxHeader || n <= 0 {
			t.Fatalf("length %d of %d bytes", n, len(b))
		}
		for i := range n {
			if _, _, err := Parse(b[:i]); !errors.Is(err, ErrIncomplete) {
				t.Fatalf("prefix of %d bytes: %v", i, err)
			}
		}
		if again, m, err := Parse(b[:n]); err != nil || m != n || again != h {
			t.Fatalf("the header alone: %v %d %v", again, m, err)
		}
	})
}
