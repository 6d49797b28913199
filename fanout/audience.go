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
// With a memo, a publish to all followers or to an expression whose sets
// did not change since the account's last such publish gets that
// publish's audience again, and its encoded chunks (encoded; otherwise
// empty): the result is then shared, and nobody may modify it.
func resolveAudience(s *storage.Store, memo *audienceMemo, req *PublishRequest, left *leftOut) (audience *roaring.Bitmap, encoded storage.EncodedSet, err error) {
	if len(req.Preview) > 0 {
		return roaring.BitmapOf(req.Preview...), encoded, nil
	}
	var followers uint64
	if len(req.Users) > 0 {
		if audience, err = s.FollowersAmong(req.Account, roaring.BitmapOf(req.Users...)); err == nil && left != nil {
			followers, err = s.FollowerCount(req.Account)
		}
		if err != nil {
			return nil, encoded, err
		}
		sel, err := readFilters(s, req.Account, req.Expr)
		if err != nil {
			return nil, encoded, err
		}
		audience, err = sel.apply(audience, req.Expr, followers, left)
		return audience, encoded, err
	}
	sel, err := readSelection(s, req.Account, req.Expr)
	if err != nil {
		return nil, encoded, err
	}
	key := memoKey{account: req.Account, expr: string(wire.AppendExpr(nil, req.Expr))}
	if hit := memo.get(key, sel); hit != nil {
		if left != nil {
			*left = hit.left
		}
		return hit.audience, hit.encoded, nil
	}
	var counted leftOut
	if audience, err = sel.apply(sel.followers.Clone(), req.Expr, sel.followers.GetCardinality(), &counted); err != nil {
		return nil, encoded, err
	}
	if left != nil {
		*left = counted
	}
	if memo.worth(audience) {
		if encoded, err = storage.EncodeSet(audience); err != nil {
			return nil, encoded, err
		}
		memo.put(key, &memoEntry{sel: sel, audience: audience, encoded: encoded, left: counted})
	}
	return audience, encoded, nil
}

// selection is what an audience is resolved from: the follower set, the
// sets of the expression's tags (tags[i] is the tag of expr[i]) and the
// blocklist, as the store's set cache shares them (never modified).
type selection struct {
	followers *roaring.Bitmap
	tags      []uint32
	sets      map[uint32]*roaring.Bitmap
	blocked   *roaring.Bitmap
}

func readSelection(s *storage.Store, account uint32, expr wire.Expr) (selection, error) {
	sel, err := readFilters(s, account, expr)
	if err == nil {
		sel.followers, err = s.FollowersShared(account)
	}
	return sel, err
}

// readFilters reads a selection's tag sets and blocklist, not its
// followers (a publish to listed users reads only those).
func readFilters(s *storage.Store, account uint32, expr wire.Expr) (sel selection, err error) {
	if sel.tags, sel.sets, err = readExprSets(s, account, expr); err != nil {
		return sel, err
	}
	sel.blocked, err = s.Blocked(account)
	return sel, err
}

// apply narrows audience (owned, changed in place) to the expression and
// removes the blocked; followers is how many the account has, for left.
func (sel selection) apply(audience *roaring.Bitmap, expr wire.Expr, followers uint64, left *leftOut) (*roaring.Bitmap, error) {
	if len(expr) > 0 {
		set, negated, err := evalExpr(expr, sel.tags, sel.sets)
		if err != nil {
			return nil, err
		}
		if negated {
			audience.AndNot(set)
		} else {
			audience.And(set)
		}
	}
	selected := audience.GetCardinality()
	audience.AndNot(sel.blocked)
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

// readExprSets resolves every tag of an expression (errors come before
// any set is read) and reads each tag's members once however often it
// appears: tags[i] is expr[i]'s tag, sets its members, shared with the
// store's set cache.
func readExprSets(s *storage.Store, account uint32, expr wire.Expr) (tags []uint32, sets map[uint32]*roaring.Bitmap, err error) {
	if len(expr) == 0 {
		return nil, nil, nil
	}
	tags = make([]uint32, len(expr))
	for i, op := range expr {
		if op.Op == wire.OpTagID || op.Op == wire.OpTagName {
			if tags[i], err = tagID(s, account, op); err != nil {
				return nil, nil, err
			}
		}
	}
	sets = map[uint32]*roaring.Bitmap{}
	for i, op := range expr {
		if op.Op == wire.OpTagID || op.Op == wire.OpTagName {
			if _, ok := sets[tags[i]]; !ok {
				if sets[tags[i]], err = s.TagMembers(tags[i]); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	return tags, sets, nil
}

// evalExpr evaluates a postfix expression over the tags' sets (read by
// readExprSets, never changed in place): the result is the set or, when
// negated, the set to remove from the followers.
func evalExpr(expr wire.Expr, tags []uint32, sets map[uint32]*roaring.Bitmap) (*roaring.Bitmap, bool, error) {
	var stack []term
	for i, op := range expr {
		switch op.Op {
		case wire.OpTagID, wire.OpTagName:
			stack = append(stack, term{set: sets[tags[i]]}) // shared with the store's set cache
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
