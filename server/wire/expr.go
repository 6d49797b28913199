package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"herald/internal/binread"
)

// ErrExpr: an audience expression that does not parse or decode. The text
// says where.
var ErrExpr = errors.New("wire: bad audience expression")

// AudienceTags is the audience kind of a tag expression: the audience bytes
// are an Expr in its compact (postfix) form, see AppendExpr.
const AudienceTags uint8 = 1

// Expression limits.
const (
	MaxExprOps = 1024 // operators and tag references in one expression
	MaxTagName = 64   // bytes in a tag name
)

// Expression opcodes of the compact form.
const (
	OpTagID   uint8 = 0x01 // push the members of the tag with this uint32 id
	OpTagName uint8 = 0x02 // push the members of the tag with this name (u8 length, UTF-8)
	OpAnd     uint8 = 0x03 // pop b, a; push a ∧ b
	OpOr      uint8 = 0x04 // pop b, a; push a ∨ b
	OpNot     uint8 = 0x05 // pop a; push ¬a (relative to the account's followers)
)

// ExprOp is one step of an expression in postfix order.
type ExprOp struct {
	Op    uint8
	TagID uint32 // OpTagID
	Name  string // OpTagName
}

// Expr is a boolean expression over an account's tags, in postfix order: a
// valid Expr leaves exactly one set on the stack. Its compact form
// (AppendExpr) is what PUBLISH carries; its text form (ParseExpr, String) is
// what people write.
type Expr []ExprOp

// AppendExpr appends the compact form: the ops in order, each an opcode
// followed by its operand (OpTagID: uint32; OpTagName: u8 length + bytes).
func AppendExpr(dst []byte, e Expr) []byte {
	for _, op := range e {
		dst = append(dst, op.Op)
		switch op.Op {
		case OpTagID:
			dst = binary.BigEndian.AppendUint32(dst, op.TagID)
		case OpTagName:
			dst = appendStr8(dst, op.Name)
		}
	}
	return dst
}

// DecodeExpr decodes and validates a compact expression: known opcodes,
// valid tag names, at most MaxExprOps ops, and a stack that never
// underflows and ends holding one set.
func DecodeExpr(b []byte) (Expr, error) {
	r := binread.New(b)
	var e Expr
	depth := 0
	for r.Len() > 0 {
		if len(e) == MaxExprOps {
			return nil, fmt.Errorf("%w: more than %d operations", ErrExpr, MaxExprOps)
		}
		op := ExprOp{Op: r.U8()}
		switch op.Op {
		case OpTagID:
			op.TagID = r.U32()
			depth++
		case OpTagName:
			op.Name = string(r.Take(int(r.U8())))
			if r.Short() {
				return nil, fmt.Errorf("%w: operation %d is cut short", ErrExpr, len(e)+1)
			}
			if err := CheckTagName(op.Name); err != nil {
				return nil, fmt.Errorf("%w: operation %d: %v", ErrExpr, len(e)+1, err)
			}
			depth++
		case OpAnd, OpOr:
			if depth < 2 {
				return nil, fmt.Errorf("%w: operation %d needs two operands", ErrExpr, len(e)+1)
			}
			depth--
		case OpNot:
			if depth < 1 {
				return nil, fmt.Errorf("%w: operation %d needs an operand", ErrExpr, len(e)+1)
			}
		default:
			return nil, fmt.Errorf("%w: unknown opcode %#x at operation %d", ErrExpr, op.Op, len(e)+1)
		}
		if r.Short() {
			return nil, fmt.Errorf("%w: operation %d is cut short", ErrExpr, len(e)+1)
		}
		e = append(e, op)
	}
	if depth != 1 {
		return nil, fmt.Errorf("%w: %d operations leave %d sets, not 1", ErrExpr, len(e), depth)
	}
	return e, nil
}

// CheckTagName reports whether name can name a tag: 1 to MaxTagName bytes
// of letters, digits and _ - . : / (any script), and not one of the words
// AND, OR, NOT in any case.
func CheckTagName(name string) error {
	if name == "" || len(name) > MaxTagName {
		return fmt.Errorf("a tag name is 1 to %d bytes", MaxTagName)
	}
	if !utf8.ValidString(name) {
		return errors.New("a tag name must be UTF-8")
	}
	for _, c := range name {
		if !tagRune(c) {
			return fmt.Errorf("tag name %q: %q is not allowed (letters, digits, _ - . : /)", name, c)
		}
	}
	if keyword(name) != 0 {
		return fmt.Errorf("%q is an operator, not a tag name", name)
	}
	return nil
}

func tagRune(c rune) bool {
	return unicode.IsLetter(c) || unicode.IsDigit(c) || strings.ContainsRune("_-.:/", c)
}

func keyword(word string) uint8 {
	switch strings.ToUpper(word) {
	case "AND":
		return OpAnd
	case "OR":
		return OpOr
	case "NOT":
		return OpNot
	}
	return 0
}

// ParseExpr parses the text form:
//
//	expr   = term { "OR" term }
//	term   = factor { "AND" factor }
//	factor = "NOT" factor | "(" expr ")" | tag
//	tag    = a tag name, or "#" and a decimal tag id
//
// Operators are case-insensitive; NOT binds tighter than AND, AND tighter
// than OR. For example: vip AND (beijing OR shanghai) AND NOT churned.
func ParseExpr(text string) (Expr, error) {
	p := exprParser{text: text}
	p.next()
	p.parseOr(0)
	if p.err == nil && p.tok.kind != tokEnd {
		p.fail("unexpected %s", p.tok)
	}
	if p.err == nil && len(p.out) > MaxExprOps {
		p.err = fmt.Errorf("%w: more than %d operations", ErrExpr, MaxExprOps)
	}
	if p.err != nil {
		return nil, p.err
	}
	return p.out, nil
}

// String renders the text form, with parentheses only where needed.
func (e Expr) String() string {
	type part struct {
		text string
		prec int // 3 atom or NOT, 2 AND, 1 OR
	}
	var stack []part
	wrap := func(p part, min int) string {
		if p.prec < min {
			return "(" + p.text + ")"
		}
		return p.text
	}
	for _, op := range e {
		switch op.Op {
		case OpTagID:
			stack = append(stack, part{fmt.Sprintf("#%d", op.TagID), 3})
		case OpTagName:
			stack = append(stack, part{op.Name, 3})
		case OpNot:
			if len(stack) < 1 {
				return "<invalid>"
			}
			a := &stack[len(stack)-1]
			*a = part{"NOT " + wrap(*a, 3), 3}
		case OpAnd, OpOr:
			if len(stack) < 2 {
				return "<invalid>"
			}
			a, b := stack[len(stack)-2], stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if op.Op == OpAnd {
				// AND is associative, so a right operand of equal precedence
				// needs parentheses only to keep the tree as written.
				stack[len(stack)-1] = part{wrap(a, 2) + " AND " + wrap(b, 3), 2}
			} else {
				stack[len(stack)-1] = part{wrap(a, 1) + " OR " + wrap(b, 2), 1}
			}
		}
	}
	if len(stack) != 1 {
		return "<invalid>"
	}
	return stack[0].text
}

const (
	tokEnd = iota
	tokWord
	tokID
	tokOpen
	tokClose
)

type token struct {
	kind int
	text string
	id   uint32
	pos  int
}

func (t token) String() string {
	switch t.kind {
	case tokEnd:
		return "end of expression"
	case tokOpen:
		return fmt.Sprintf("'(' at %d", t.pos+1)
	case tokClose:
		return fmt.Sprintf("')' at %d", t.pos+1)
	}
	return fmt.Sprintf("%q at %d", t.text, t.pos+1)
}

type exprParser struct {
	text string
	pos  int
	tok  token
	out  Expr
	err  error
}

func (p *exprParser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("%w: %s", ErrExpr, fmt.Sprintf(format, args...))
	}
}

func (p *exprParser) next() {
	for p.pos < len(p.text) && strings.ContainsRune(" \t\r\n", rune(p.text[p.pos])) {
		p.pos++
	}
	start := p.pos
	if p.pos == len(p.text) {
		p.tok = token{kind: tokEnd, pos: start}
		return
	}
	switch p.text[p.pos] {
	case '(':
		p.pos++
		p.tok = token{kind: tokOpen, pos: start}
		return
	case ')':
		p.pos++
		p.tok = token{kind: tokClose, pos: start}
		return
	case '#':
		p.pos++
		n, digits := uint64(0), 0
		for p.pos < len(p.text) && p.text[p.pos] >= '0' && p.text[p.pos] <= '9' {
			n = n*10 + uint64(p.text[p.pos]-'0')
			p.pos++
			if digits++; n > 1<<32-1 {
				p.fail("tag id at %d is over 2^32-1", start+1)
				break
			}
		}
		if digits == 0 {
			p.fail("'#' at %d must be followed by a tag id", start+1)
		}
		p.tok = token{kind: tokID, text: p.text[start:p.pos], id: uint32(n), pos: start}
		return
	}
	for p.pos < len(p.text) {
		c, size := utf8.DecodeRuneInString(p.text[p.pos:])
		if !tagRune(c) {
			break
		}
		p.pos += size
	}
	if p.pos == start {
		c, _ := utf8.DecodeRuneInString(p.text[p.pos:])
		p.fail("%q at %d is not allowed (tag names are letters, digits, _ - . : /)", c, start+1)
		p.tok = token{kind: tokEnd, pos: start}
		return
	}
	p.tok = token{kind: tokWord, text: p.text[start:p.pos], pos: start}
}

// parseOr, parseAnd and parseNot recurse once per nesting level; depth is
// bounded by the text's length, which the callers bound (PUBLISH frames,
// command lines), and ops beyond MaxExprOps stop the parse.
func (p *exprParser) parseOr(depth int) {
	p.parseAnd(depth)
	for p.err == nil && p.tok.kind == tokWord && keyword(p.tok.text) == OpOr {
		p.next()
		p.parseAnd(depth)
		p.emit(ExprOp{Op: OpOr})
	}
}

func (p *exprParser) parseAnd(depth int) {
	p.parseNot(depth)
	for p.err == nil && p.tok.kind == tokWord && keyword(p.tok.text) == OpAnd {
		p.next()
		p.parseNot(depth)
		p.emit(ExprOp{Op: OpAnd})
	}
}

func (p *exprParser) parseNot(depth int) {
	if p.err != nil {
		return
	}
	if depth > MaxExprOps {
		p.fail("nested more than %d deep", MaxExprOps)
		return
	}
	switch t := p.tok; {
	case t.kind == tokWord && keyword(t.text) == OpNot:
		p.next()
		p.parseNot(depth + 1)
		p.emit(ExprOp{Op: OpNot})
	case t.kind == tokOpen:
		p.next()
		p.parseOr(depth + 1)
		if p.err == nil && p.tok.kind != tokClose {
			p.fail("expected ')' to close %s, found %s", t, p.tok)
			return
		}
		p.next()
	case t.kind == tokID:
		p.emit(ExprOp{Op: OpTagID, TagID: t.id})
		p.next()
	case t.kind == tokWord && keyword(t.text) == 0:
		if err := CheckTagName(t.text); err != nil {
			p.fail("%v", err)
			return
		}
		p.emit(ExprOp{Op: OpTagName, Name: t.text})
		p.next()
	default:
		p.fail("expected a tag, NOT or '(' but found %s", t)
	}
}

func (p *exprParser) emit(op ExprOp) {
	if p.err == nil {
		p.out = append(p.out, op)
	}
}
