package fanout

import "herald/storage"

// followRun is adjacent follow (or unfollow) ops of one account in a group,
// applied as one set change: each chunk is read and rewritten once for the
// whole run instead of once per follow. Each op still gets its own count.
type followRun struct {
	ops []*followOp
}

// mergeFollows replaces runs of adjacent follower ops with the same account
// and direction by followRuns; other ops keep their place, so order across
// kinds of ops is unchanged.
func mergeFollows(group []op) []op {
	out := group[:0]
	for i := 0; i < len(group); {
		first, ok := group[i].(*followOp)
		if !ok || first.blocklist {
			out = append(out, group[i])
			i++
			continue
		}
		j := i + 1
		for j < len(group) {
			next, ok := group[j].(*followOp)
			if !ok || next.blocklist || next.account != first.account || next.add != first.add {
				break
			}
			j++
		}
		if j-i == 1 {
			out = append(out, first)
		} else {
			run := &followRun{}
			for _, o := range group[i:j] {
				run.ops = append(run.ops, o.(*followOp))
			}
			out = append(out, run)
		}
		i = j
	}
	return out
}

func (r *followRun) apply(e *Engine, b *storage.Batch, _ uint64) error {
	first := r.ops[0]
	if _, err := accountIn(b, first.account); err != nil {
		return err
	}
	// The first op listing a user is the one that changed it.
	owner := make(map[uint32]*followOp)
	var users []uint32
	for _, o := range r.ops {
		o.changed = 0
		for _, u := range o.users {
			if _, seen := owner[u]; !seen {
				owner[u] = o
			}
		}
		users = append(users, o.users...)
	}
	if _, err := b.ChangeFollowers(first.account, users, first.add, func(u uint32) { owner[u].changed++ }); err != nil {
		return err
	}
	// The day's figures, one write per source.
	bySource := map[string]int{}
	for _, o := range r.ops {
		bySource[o.countedSource()] += o.changed
	}
	for source, n := range bySource {
		if err := countFollows(e, b, first.account, first.add, source, n); err != nil {
			return err
		}
	}
	return nil
}

func (r *followRun) finish(err error) {
	for _, o := range r.ops {
		o.finish(err)
	}
}

func (r *followRun) delivery() *delivery { return nil }
