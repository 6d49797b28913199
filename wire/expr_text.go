package wire

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// The text form of audience expressions, as people write them (see
// ParseExpr); expr.go has the compact form PUBLISH carries.

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
