package server

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/gobwas/ws"
)

// wsReader takes a client's WebSocket frames (RFC 6455) apart as their
// bytes arrive, without waiting for a whole frame: it unmasks each data
// frame's payload in place and hands it on as part of the stream of Herald
// frames (which may cross WebSocket frame and message boundaries), and
// gathers each control frame (at most 125 bytes) until it is whole. It
// keeps at most a frame header (14 bytes) and a control payload; frame
// headers are read with github.com/gobwas/ws.
type wsReader struct {
	hdr    [ws.MaxHeaderSize]byte
	hdrLen int
	// The frame being read: its header, the payload bytes still to come
	// and how many came before (the mask's offset).
	cur       ws.Header
	inPayload bool
	remaining int64
	offset    int
	// inMessage: a fragmented data message has begun and continues.
	inMessage bool
	control   []byte
	reader    bytes.Reader
	scratch   [ws.MaxHeaderSize - 2]byte
}

// wsControl is a whole control frame received.
type wsControl struct {
	op      ws.OpCode
	payload []byte
}

// wsError is a frame that breaks RFC 6455 or Herald's use of it: the
// connection is closed with code.
type wsError struct {
	code ws.StatusCode
	text string
}

func (e *wsError) Error() string { return fmt.Sprintf("websocket: %s (close %d)", e.text, e.code) }

func wsFail(code ws.StatusCode, format string, args ...any) error {
	return &wsError{code: code, text: fmt.Sprintf(format, args...)}
}

// feed reads data (modifying it: payloads are unmasked and moved forward
// in place) and returns the Herald bytes it held, in order, and the
// control frames it completed. After an error the reader must not be fed
// again.
func (r *wsReader) feed(data []byte) (herald []byte, controls []wsControl, err error) {
	out := data[:0]
	for len(data) > 0 {
		if !r.inPayload {
			var ok bool
			if data, ok, err = r.header(data); err != nil || !ok {
				return out, controls, err
			}
			if r.remaining > 0 {
				continue
			}
		} else {
			n := int(min(int64(len(data)), r.remaining))
			chunk := data[:n]
			ws.Cipher(chunk, r.cur.Mask, r.offset)
			if r.cur.OpCode.IsControl() {
				r.control = append(r.control, chunk...)
			} else {
				out = append(out, chunk...) // never past what was read: in place
			}
			r.offset += n
			r.remaining -= int64(n)
			data = data[n:]
			if r.remaining > 0 {
				continue
			}
		}
		// The frame is whole.
		r.inPayload = false
		if r.cur.OpCode.IsControl() {
			controls = append(controls, wsControl{op: r.cur.OpCode, payload: append([]byte(nil), r.control...)})
			r.control = r.control[:0]
		}
	}
	return out, controls, nil
}

// header gathers and checks the next frame header from data, returning
// what follows it; ok is false while the header is incomplete.
func (r *wsReader) header(data []byte) (rest []byte, ok bool, err error) {
	need := 2
	for {
		if r.hdrLen >= 2 {
			need = 2
			if r.hdr[1]&0x80 != 0 {
				need += 4
			}
			switch r.hdr[1] & 0x7f {
			case 126:
				need += 2
			case 127:
				need += 8
			}
		}
		if r.hdrLen >= need {
			break
		}
		if len(data) == 0 {
			return data, false, nil
		}
		n := copy(r.hdr[r.hdrLen:need], data)
		r.hdrLen += n
		data = data[n:]
	}
	r.reader.Reset(r.hdr[:r.hdrLen])
	h, err := ws.ReadHeaderBuffer(&r.reader, r.scratch[:])
	r.hdrLen = 0
	if err != nil {
		return nil, false, wsFail(ws.StatusProtocolError, "%v", err)
	}
	if err := r.check(h); err != nil {
		return nil, false, err
	}
	r.cur, r.inPayload, r.remaining, r.offset = h, true, h.Length, 0
	if h.OpCode.IsData() || h.OpCode == ws.OpContinuation {
		r.inMessage = !h.Fin
	}
	return data, true, nil
}

// errWSText: Herald's frames are binary.
var errWSText = errors.New("text messages are not Herald frames; send binary messages")

// check applies RFC 6455's rules for a frame from a client, and Herald's:
// binary data only, no extensions.
func (r *wsReader) check(h ws.Header) error {
	switch {
	case h.Rsv != 0:
		return wsFail(ws.StatusProtocolError, "reserved bits set with no extension negotiated")
	case !h.Masked:
		return wsFail(ws.StatusProtocolError, "a client's frame must be masked")
	case h.OpCode.IsReserved():
		return wsFail(ws.StatusProtocolError, "reserved opcode %#x", byte(h.OpCode))
	case h.OpCode.IsControl() && (!h.Fin || h.Length > 125):
		return wsFail(ws.StatusProtocolError, "a control frame must be whole and at most 125 bytes")
	case h.OpCode == ws.OpText:
		return wsFail(ws.StatusUnsupportedData, "%v", errWSText)
	case h.OpCode == ws.OpContinuation && !r.inMessage:
		return wsFail(ws.StatusProtocolError, "a continuation frame with no message begun")
	case h.OpCode == ws.OpBinary && r.inMessage:
		return wsFail(ws.StatusProtocolError, "a new message before the last one ended")
	}
	return nil
}

// wsWriter builds the headers of a server's frames: unmasked, whole.
type wsWriter struct {
	buf [ws.MaxHeaderSize]byte
	w   sliceWriter
}

// header returns the header of a frame of n payload bytes; it is valid
// until the next call.
func (w *wsWriter) header(op ws.OpCode, n int) []byte {
	// WriteHeaderBuffer builds the header in buf and writes it to w, whose
	// slice is buf too: the write copies it onto itself.
	w.w.b = w.buf[:0]
	_ = ws.WriteHeaderBuffer(&w.w, ws.Header{Fin: true, OpCode: op, Length: int64(n)}, w.buf[:])
	return w.w.b
}

// frame returns a whole control frame (a copy).
func (w *wsWriter) frame(op ws.OpCode, payload []byte) []byte {
	return append(append([]byte(nil), w.header(op, len(payload))...), payload...)
}

// sliceWriter appends what is written to b (which has room for it).
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
