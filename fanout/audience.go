package fanout

import (
	"errors"
	"fmt"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/storage"
	"herald/wire"
)

// Audience resolution: followers ∧ expression (or ∧ listed users) minus
// the blocklist, from committed state; the per-follower monthly cap is
// applied later, by the writer (see publishOp.applyCap), because it depends
// on earlier broadcasts of the same group commit.

// resolveAudience returns the audience of a publish before quota
// filtering. Previews go to their listed users, followers or not.
// If left is not nil it is set to how many followers the list or
// expression left out, and how many selected ones the blocklist removed.
func resolveAudience(s *storage.Store, req *PublishRequest, left *leftOut) (*roaring.Bitmap, error) {
	if len(req.Preview) > 0 {
		return roaring.BitmapOf(req.Preview...), nil
	}
	var audience *roaring.Bitmap
	var followers uint64
	var err error
	if len(req.Users) > 0 {
		if audience, err = s.FollowersAmong(req.Account, roaring.BitmapOf(req.Users...)); err == nil && left != nil {
			followers, err = s.FollowerCount(req.Account)
		}
	} else {
		audience, err = s.Followers(req.Account)
		followers = audience.GetCardinality()
	}
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
	blocked, err := s.Blocked(req.Account)
	if err != nil {
		return nil, err
	}
	selected := audience.GetCardinality()
	audience.AndNot(blocked)
	if left != nil {
		left.notSelected = uint32(max(followers, selected) - selected)
		left.blocked = uint32(selected - audience.GetCardinality())
	}
	return audience, nil
}

// leftOut counts the followers a publish's filters removed before the cap.
type leftOut struct{ notSelected, blocked uint32 }

// term is a set, or (negated) the complement of one relative to the
// followers, so that NOT never materialises a complement over 2^32 ids.
// An owned set is referenced by nothing else and may be changed in place.
type term struct {
	set     *roaring.Bitmap
	negated bool
	owned   bool
}

// evalExpr evaluates a postfix expression over the account's tags. Each tag
// is read once however often it appears; the result is the set or, when
// negated, the set to remove from the followers.
func evalExpr(s *storage.Store, account uint32, expr wire.Expr) (*roaring.Bitmap, bool, error) {
	// Resolve every tag first, so that errors come before any set is read
	// and a tag named more than once (by name or id) is read once and
	// never changed in place.
	tags := make([]uint32, len(expr))
	refs := map[uint32]int{}
	for i, op := range expr {
		if op.Op == wire.OpTagID || op.Op == wire.OpTagName {
			id, err := tagID(s, account, op)
			if err != nil {
				return nil, false, err
			}
			tags[i] = id
			refs[id]++
		}
	}
	shared := map[uint32]*roaring.Bitmap{}
	var stack []term
	for i, op := range expr {
		switch op.Op {
		case wire.OpTagID, wire.OpTagName:
			id := tags[i]
			set, ok := shared[id]
			if !ok {
				var err error
				if set, err = s.TagMembers(id); err != nil {
					return nil, false, err
				}
				if refs[id] > 1 {
					shared[id] = set
				}
			}
			stack = append(stack, term{set: set}) // shared with the store's set cache
		case wire.OpNot:
			stack[len(stack)-1].negated = !stack[len(stack)-1].negated
		case wire.OpAnd, wire.OpOr:
			a, b := stack[len(stack)-2], stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if op.Op == wire.OpOr {
				// a ∨ b = ¬(¬a ∧ ¬b)
				a.negated, b.negated = !a.negated, !b.negated
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

// and combines two terms, changing an owned set in place rather than
// allocating a new one.
func and(a, b term) term {
	switch {
	case !a.negated && !b.negated:
		return inPlace(a, b, (*roaring.Bitmap).And, roaring.And)
	case !a.negated:
		return inPlace(a, b, (*roaring.Bitmap).AndNot, roaring.AndNot)
	case !b.negated:
		return inPlace(b, a, (*roaring.Bitmap).AndNot, roaring.AndNot)
	default: // ¬a ∧ ¬b = ¬(a ∨ b)
		r := inPlace(a, b, (*roaring.Bitmap).Or, roaring.Or)
		r.negated = true
		return r
	}
}

// inPlace applies x op y into x's set when x owns it, else into a new set.
func inPlace(x, y term, op func(x, y *roaring.Bitmap), fresh func(x, y *roaring.Bitmap) *roaring.Bitmap) term {
	if x.owned {
		op(x.set, y.set)
		return term{set: x.set, owned: true}
	}
	return term{set: fresh(x.set, y.set), owned: true}
}

// tagID resolves a tag reference, naming the tag in its errors: one the
// account does not have is ErrUnknownTag, another account's is
// ErrForbidden.
func tagID(s *storage.Store, account uint32, op wire.ExprOp) (uint32, error) {
	if op.Op == wire.OpTagName {
		tag, err := s.TagByName(account, op.Name)
		if errors.Is(err, storage.ErrNotFound) {
			return 0, fmt.Errorf("%w: account %d has no tag %q", ErrUnknownTag, account, op.Name)
		}
		return tag.ID, err
	}
	tag, err := s.Tag(op.TagID)
	if errors.Is(err, storage.ErrNotFound) {
		return 0, fmt.Errorf("%w: no tag #%d", ErrUnknownTag, op.TagID)
	}
	if err == nil && tag.Account != account {
		return 0, fmt.Errorf("%w: tag #%d belongs to another account", ErrForbidden, op.TagID)
	}
	return tag.ID, err
}
