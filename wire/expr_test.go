package wire

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseExprPrecedenceAndRoundTrip(t *testing.T) {
	cases := []struct{ text, want string }{
		{"vip", "vip"},
		{"vip AND beijing OR shanghai", "vip AND beijing OR shanghai"},
		{"vip and (beijing or shanghai) and not churned", "vip AND (beijing OR shanghai) AND NOT churned"},
		{"NOT NOT a", "NOT NOT a"},
		{"NOT (a OR b)", "NOT (a OR b)"},
		{"((a))", "a"},
		{"a AND (b AND c)", "a AND (b AND c)"},
		{"a OR (b OR c)", "a OR (b OR c)"},
		{"#42 OR 北京", "#42 OR 北京"},
		{"region:eu-west/2 AND v1.2_x", "region:eu-west/2 AND v1.2_x"},
	}
	for _, c := range cases {
		e, err := ParseExpr(c.text)
		if err != nil {
			t.Fatalf("ParseExpr(%q): %v", c.text, err)
		}
		if got := e.String(); got != c.want {
			t.Errorf("ParseExpr(%q).String() = %q, want %q", c.text, got, c.want)
		}
		again, err := ParseExpr(e.String())
		if err != nil || !slices.Equal(again, e) {
			t.Errorf("%q does not parse back to the same expression: %v %v", e.String(), again, err)
		}
		decoded, err := DecodeExpr(AppendExpr(nil, e))
		if err != nil || !slices.Equal(decoded, e) {
			t.Errorf("%q does not decode back from its compact form: %v %v", c.text, decoded, err)
		}
	}
	// The postfix order is the tree: a AND b OR c is (a AND b) OR c.
	e, _ := ParseExpr("a AND b OR c")
	want := Expr{{Op: OpTagName, Name: "a"}, {Op: OpTagName, Name: "b"}, {Op: OpAnd}, {Op: OpTagName, Name: "c"}, {Op: OpOr}}
	if !slices.Equal(e, want) {
		t.Fatalf("a AND b OR c = %v, want %v", e, want)
	}
}

func TestParseExprErrors(t *testing.T) {
	for _, text := range []string{
		"", "AND", "a AND", "a b", "(a", "a)", "NOT", "a OR OR b", "#", "#99999999999",
		"a & b", "\"quoted\"", strings.Repeat("x", MaxTagName+1), strings.Repeat("(", 5000) + "a" + strings.Repeat(")", 5000),
		strings.Repeat("a OR ", MaxExprOps) + "a",
	} {
		if e, err := ParseExpr(text); !errors.Is(err, ErrExpr) {
			t.Errorf("ParseExpr(%.40q) = %v, %v; want ErrExpr", text, e, err)
		}
	}
}

func TestDecodeExprErrors(t *testing.T) {
	name := func(s string) []byte { return append([]byte{OpTagName, byte(len(s))}, s...) }
	for _, b := range [][]byte{
		nil,
		{OpAnd},
		{OpTagID, 0, 0},
		append(name("a"), name("b")...),
		append(name("a"), OpNot, OpOr),
		{0x09},
		name("AND"),
		name("a b"),
		{OpTagName, 5, 'a'},
	} {
		if e, err := DecodeExpr(b); !errors.Is(err, ErrExpr) {
			t.Errorf("DecodeExpr(%x) = %v, %v; want ErrExpr", b, e, err)
		}
	}
	long := name("a")
	for range MaxExprOps {
		long = append(long, OpNot)
	}
	if _, err := DecodeExpr(long); !errors.Is(err, ErrExpr) {
		t.Errorf("an expression of %d ops decoded", MaxExprOps+1)
	}
}

func TestCheckTagName(t *testing.T) {
	for _, ok := range []string{"vip", "北京", "a-b_c.d:e/f", "x1"} {
		if err := CheckTagName(ok); err != nil {
			t.Errorf("CheckTagName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "or", "Not", "a b", "a(b", "#1", string([]byte{0xff})} {
		if CheckTagName(bad) == nil {
			t.Errorf("CheckTagName(%q) accepted it", bad)
		}
	}
}
