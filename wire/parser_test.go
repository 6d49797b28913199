package wire

import (
	"bytes"
	"errors"
	"testing"
)

// stream is three frames of different sizes back to back.
func stream() []byte {
	var b []byte
	b = AppendEmpty(b, TypePing)
	b = AppendPush(b, Push{MessageID: 1, Account: 2, TimeMillis: 3, ContentType: "t", Payload: bytes.Repeat([]byte("x"), 300)})
	b = AppendAck(b, 7)
	return b
}

// collect feeds the pieces of input to one parser and returns copies of the
// frames it produced.
func collect(p *Parser, pieces ...[]byte) ([]Frame, error) {
	var got []Frame
	for _, piece := range pieces {
		err := p.Feed(piece, func(f Frame) error {
			got = append(got, Frame{Type: f.Type, Flags: f.Flags, Body: bytes.Clone(f.Body)})
			return nil
		})
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

func TestParserSplitAtEveryByte(t *testing.T) {
	input := stream()
	want, err := collect(NewParser(0), input)
	if err != nil || len(want) != 3 {
		t.Fatalf("whole: %d frames, %v", len(want), err)
	}
	for cut := 0; cut <= len(input); cut++ {
		got, err := collect(NewParser(0), input[:cut], input[cut:])
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if len(got) != len(want) {
			t.Fatalf("cut %d: %d frames, want %d", cut, len(got), len(want))
		}
		for i := range got {
			if got[i].Type != want[i].Type || !bytes.Equal(got[i].Body, want[i].Body) {
				t.Fatalf("cut %d frame %d differs", cut, i)
			}
		}
	}
	// One byte at a time.
	p := NewParser(0)
	var pieces [][]byte
	for i := range input {
		pieces = append(pieces, input[i:i+1])
	}
	got, err := collect(p, pieces...)
	if err != nil || len(got) != 3 || p.Buffered() != 0 {
		t.Fatalf("bytewise: %d frames, %v, %d buffered", len(got), err, p.Buffered())
	}
}

func TestParserRejectsOversizedBeforeBody(t *testing.T) {
	p := NewParser(64)
	header := AppendHeader(nil, TypePublish, 0, 1000)
	_, err := collect(p, header[:4])
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err = %v, want ErrFrameTooLarge", err)
	}
	if CodeFor(err) != CodeFrameTooLarge {
		t.Fatalf("code = %v", CodeFor(err))
	}
	// The error is sticky.
	if _, err := collect(p, AppendEmpty(nil, TypePing)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("after error: %v", err)
	}
}

func TestParserRejectsShortLength(t *testing.T) {
	_, err := collect(NewParser(0), []byte{0, 0, 0, 1, 5})
	if !errors.Is(err, ErrMalformed) || CodeFor(err) != CodeMalformedFrame {
		t.Fatalf("err = %v", err)
	}
}

func TestParserPropagatesCallbackError(t *testing.T) {
	boom := errors.New("boom")
	p := NewParser(0)
	calls := 0
	err := p.Feed(stream(), func(Frame) error { calls++; return boom })
	if !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("err = %v, calls = %d", err, calls)
	}
}

func TestParserReleasesLargePartialBuffer(t *testing.T) {
	p := NewParser(0)
	big := AppendPush(nil, Push{MessageID: 1, Payload: make([]byte, 64<<10)})
	if _, err := collect(p, big[:100], big[100:]); err != nil {
		t.Fatal(err)
	}
	if p.Buffered() != 0 || cap(p.buf) != 0 {
		t.Fatalf("buffer kept: len %d cap %d", p.Buffered(), cap(p.buf))
	}
}

// TestParserHoldsNoMoreThanTheFrame: a frame trickled a byte at a time is
// buffered in at most its own length, and nothing is held between frames.
func TestParserHoldsNoMoreThanTheFrame(t *testing.T) {
	p := NewParser(0)
	frame := AppendPush(nil, Push{MessageID: 1, Payload: make([]byte, 4000)})
	most := 0
	for i := range frame {
		if err := p.Feed(frame[i:i+1], func(Frame) error { return nil }); err != nil {
			t.Fatal(err)
		}
		most = max(most, p.Held())
	}
	if most > len(frame) || p.Held() != 0 {
		t.Fatalf("held up to %d bytes for a %d-byte frame, %d after it", most, len(frame), p.Held())
	}
}
