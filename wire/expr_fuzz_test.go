package wire

import (
	"slices"
	"testing"
)

// FuzzParseExpr checks that the text parser never panics, and that whatever
// it accepts renders to text that parses to the same expression and
// survives the compact form.
func FuzzParseExpr(f *testing.F) {
	for _, s := range []string{"vip", "a AND (b OR NOT c)", "#7 or x", "((((a))))", "NOT", "a)(", "北京 AND 上海"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		e, err := ParseExpr(text)
		if err != nil {
			return
		}
		again, err := ParseExpr(e.String())
		if err != nil || !slices.Equal(again, e) {
			t.Fatalf("%q rendered as %q, which parses to %v, %v", text, e.String(), again, err)
		}
		decoded, err := DecodeExpr(AppendExpr(nil, e))
		if err != nil || !slices.Equal(decoded, e) {
			t.Fatalf("%q: compact form decodes to %v, %v", text, decoded, err)
		}
	})
}

// FuzzDecodeExpr checks that the compact decoder never panics and that
// whatever it accepts encodes back to the same bytes.
func FuzzDecodeExpr(f *testing.F) {
	f.Add([]byte{OpTagID, 0, 0, 0, 1})
	f.Add(AppendExpr(nil, Expr{{Op: OpTagName, Name: "a"}, {Op: OpTagID, TagID: 9}, {Op: OpNot}, {Op: OpAnd}}))
	f.Add([]byte{OpAnd, OpOr})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeExpr(b)
		if err != nil {
			return
		}
		if got := AppendExpr(nil, e); !slices.Equal(got, b) {
			t.Fatalf("%x decoded to %v, which encodes to %x", b, e, got)
		}
		if _, err := ParseExpr(e.String()); err != nil {
			t.Fatalf("%x decoded to %v, whose text %q does not parse: %v", b, e, e.String(), err)
		}
	})
}
