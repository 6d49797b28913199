package wire

import (
	"encoding/binary"
	"fmt"
)

// Parser splits a byte stream into frames. It is a two-state machine:
//
//   - stateIdle: no partial frame is held; whole frames are sliced straight
//     out of the caller's input with no copy.
//   - statePartial: the input ended inside a frame; its bytes so far are
//     copied into buf, and the next Feed completes it from the front of its
//     input before returning to stateIdle.
//
// Only a frame split across reads is ever copied; the copy grows no larger
// than the frame (so a peer that trickles a frame holds at most its own
// length), and is released once the frame completes, so a connection
// between frames holds no buffer. A Parser is not safe for concurrent use.
type Parser struct {
	maxFrame int
	buf      []byte
	err      error
}

// NewParser returns a parser that rejects frames whose length field exceeds
// maxFrame (DefaultMaxFrame if maxFrame <= 0).
func NewParser(maxFrame int) *Parser {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	return &Parser{maxFrame: maxFrame}
}

// Buffered returns how many bytes of a partial frame the parser holds.
func (p *Parser) Buffered() int { return len(p.buf) }

// Held returns the bytes of memory the parser holds for a partial frame
// (its buffer's capacity): zero between frames.
func (p *Parser) Held() int { return cap(p.buf) }

// Feed consumes data and calls fn for every complete frame, in order. The
// frame's Body is valid only during fn. Feed stops at the first error, from
// framing or from fn, and returns it; a framing error is sticky, since the
// stream's frame boundaries are lost.
func (p *Parser) Feed(data []byte, fn func(Frame) error) error {
	if p.err != nil {
		return p.err
	}
	if len(p.buf) > 0 {
		var done bool
		data, done = p.fill(data)
		if p.err != nil {
			return p.err
		}
		if !done {
			return nil
		}
		frame := p.buf
		err := fn(Frame{Type: Type(frame[4]), Flags: frame[5], Body: frame[HeaderSize:]})
		p.buf = nil
		if err != nil {
			return err
		}
	}
	total := 4 // until a length is read
	for len(data) >= 4 {
		var err error
		if total, err = p.frameLen(data); err != nil {
			return err
		}
		if len(data) < total {
			break
		}
		if err := fn(Frame{Type: Type(data[4]), Flags: data[5], Body: data[HeaderSize:total]}); err != nil {
			return err
		}
		data = data[total:]
		total = 4
	}
	if len(data) > 0 {
		p.hold(data, total)
	}
	return nil
}

// hold appends b to the partial frame, growing the buffer at most to total,
// the frame's whole size (4 while its length is not known).
func (p *Parser) hold(b []byte, total int) {
	if need := len(p.buf) + len(b); need > cap(p.buf) {
		grown := make([]byte, len(p.buf), max(need, min(2*cap(p.buf), total)))
		copy(grown, p.buf)
		p.buf = grown
	}
	p.buf = append(p.buf, b...)
}

// fill appends to the partial frame in buf from data and reports whether the
// frame is complete, returning the rest of data.
func (p *Parser) fill(data []byte) ([]byte, bool) {
	if len(p.buf) < 4 {
		take := min(4-len(p.buf), len(data))
		p.hold(data[:take], 4)
		data = data[take:]
		if len(p.buf) < 4 {
			return data, false
		}
	}
	total, err := p.frameLen(p.buf)
	if err != nil {
		return data, false
	}
	take := min(total-len(p.buf), len(data))
	p.hold(data[:take], total)
	return data[take:], len(p.buf) == total
}

// frameLen validates the length field at the front of b (at least 4 bytes)
// and returns the whole frame's size including the field.
func (p *Parser) frameLen(b []byte) (int, error) {
	length := binary.BigEndian.Uint32(b)
	switch {
	case length < 2:
		p.err = fmt.Errorf("%w: length %d below 2", ErrMalformed, length)
	case uint64(length) > uint64(p.maxFrame):
		p.err = fmt.Errorf("%w: length %d over maximum %d", ErrFrameTooLarge, length, p.maxFrame)
	default:
		return 4 + int(length), nil
	}
	return 0, p.err
}
