package fanout

import (
	"errors"
	"fmt"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/server/wire"
	"herald/storage"
)

// Audience resolution: followers ∧ expression (or ∧ listed users) minus
// the blocklist, from committed state; the per-follower monthly cap is
// applied later, by the writer (see publishOp.applyCap), because it depends
// on earlier broadcasts of the same group commit.

// resolveAudience returns the audience of a publish before quota
// filtering. Previews go to their listed users, followers or not.
func resolveAudience(s *storage.Store, req *PublishRequest) (*roaring.Bitmap, error) {
	if len(req.Preview) > 0 {
		return roaring.BitmapOf(req.Preview...), nil
	}
	audience, err := s.Followers(req.Account)
	if err != nil {
		return nil, err
	}
	if len(req.Expr) > 0 {
		set, negated, err := evalExpr(s, req.Account, req.Expr)
		if err != nil {
			return nil, err
		}
		if negated {
			audience.AndNot(set)
		} else {
			audience.And(set)
		}
	}
	if len(req.Users) > 0 {
		audience.And(roaring.BitmapOf(req.Users...))
	}
	blocked, err := s.Blocked(req.Account)
	if err != nil {
		return nil, err
	}
	audience.AndNot(blocked)
	return audience, nil
}

// term is a set, or (negated) the complement of one relative to the
// followers, so that NOT never materialises a complement over 2^32 ids.
type term struct {
	set     *roaring.Bitmap
	negated bool
}

// evalExpr evaluates a postfix expression over the account's tags. Each tag
// is read once however often it appears; the result is the set or, when
// negated, the set to remove from the followers.
func evalExpr(s *storage.Store, account uint32, expr wire.Expr) (*roaring.Bitmap, bool, error) {
	members := map[uint32]*roaring.Bitmap{}
	var stack []term
	for _, op := range expr {
		switch op.Op {
		case wire.OpTagID, wire.OpTagName:
			set, err := tagSet(s, account, op, members)
			if err != nil {
				return nil, false, err
			}
			stack = append(stack, term{set: set})
		case wire.OpNot:
			stack[len(stack)-1].negated = !stack[len(stack)-1].negated
		case wire.OpAnd, wire.OpOr:
			a, b := stack[len(stack)-2], stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if op.Op == wire.OpOr {
				// a ∨ b = ¬(¬a ∧ ¬b)
				a, b = term{a.set, !a.negated}, term{b.set, !b.negated}
			}
			r := and(a, b)
			if op.Op == wire.OpOr {
				r.negated = !r.negated
			}
			stack[len(stack)-1] = r
		}
	}
	if len(stack) != 1 {
		return nil, false, fmt.Errorf("%w: expression leaves %d sets", ErrBadRequest, len(stack))
	}
	return stack[0].set, stack[0].negated, nil
}

// and combines two terms without modifying either set (a tag read once may
// appear in both).
func and(a, b term) term {
	switch {
	case !a.negated && !b.negated:
		return term{set: roaring.And(a.set, b.set)}
	case !a.negated:
		return term{set: roaring.AndNot(a.set, b.set)}
	case !b.negated:
		return term{set: roaring.AndNot(b.set, a.set)}
	default: // ¬a ∧ ¬b = ¬(a ∨ b)
		return term{set: roaring.Or(a.set, b.set), negated: true}
	}
}

// tagSet reads a tag's members, naming the tag in its errors: one the
// account does not have is ErrUnknownTag, another account's is
// ErrForbidden.
func tagSet(s *storage.Store, account uint32, op wire.ExprOp, cache map[uint32]*roaring.Bitmap) (*roaring.Bitmap, error) {
	var tag storage.Tag
	var err error
	if op.Op == wire.OpTagName {
		tag, err = s.TagByName(account, op.Name)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("%w: account %d has no tag %q", ErrUnknownTag, account, op.Name)
		}
	} else {
		tag, err = s.Tag(op.TagID)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("%w: no tag #%d", ErrUnknownTag, op.TagID)
		}
		if err == nil && tag.Account != account {
			return nil, fmt.Errorf("%w: tag #%d belongs to another account", ErrForbidden, op.TagID)
		}
	}
	if err != nil {
		return nil, err
	}
	if set, ok := cache[tag.ID]; ok {
		return set, nil
	}
	set, err := s.TagMembers(tag.ID)
	if err != nil {
		return nil, err
	}
	cache[tag.ID] = set
	return set, nil
}
