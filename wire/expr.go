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
