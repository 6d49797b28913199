package client

import (
	"context"
	"fmt"

	"herald/wire"
)

// Tag is one of the account's tags.
type Tag struct {
	ID      uint32 // global and never reused; "#ID" names it in expressions
	Name    string
	Members uint64
}

// CreateTag creates an empty tag. Names are 1 to 64 bytes of letters,
// digits and _ - . : / (wire.CheckTagName). A create retried after a
// broken connection may answer TAG_EXISTS if the first attempt landed.
func (p *Publisher) CreateTag(ctx context.Context, name string) (Tag, error) {
	return p.tagCall(ctx, wire.Tag{Op: wire.TagCreate, Name: name})
}

// RenameTag renames a tag; its id and members stay.
func (p *Publisher) RenameTag(ctx context.Context, name, newName string) (Tag, error) {
	return p.tagCall(ctx, wire.Tag{Op: wire.TagRename, Name: name, NewName: newName})
}

// DeleteTag deletes a tag and its members, returning it as it was.
func (p *Publisher) DeleteTag(ctx context.Context, name string) (Tag, error) {
	return p.tagCall(ctx, wire.Tag{Op: wire.TagDelete, Name: name})
}

// TagUsers adds users to a tag, in requests of up to 10,000, and returns
// the tag as the last request left it. Users need not be followers yet:
// audiences are always intersected with the followers.
func (p *Publisher) TagUsers(ctx context.Context, name string, users []uint32) (Tag, error) {
	return p.changeTag(ctx, wire.TagAdd, name, users)
}

// UntagUsers removes users from a tag.
func (p *Publisher) UntagUsers(ctx context.Context, name string, users []uint32) (Tag, error) {
	return p.changeTag(ctx, wire.TagRemove, name, users)
}

// Tags lists the account's tags in name order.
func (p *Publisher) Tags(ctx context.Context) ([]Tag, error) {
	r, err := p.call(ctx, "list tags", func(id uint32) []byte {
		return wire.AppendTag(nil, wire.Tag{RequestID: id, Account: p.cfg.Account, Op: wire.TagList})
	})
	return r.tags, err
}

func (p *Publisher) changeTag(ctx context.Context, op uint8, name string, users []uint32) (Tag, error) {
	if len(users) == 0 {
		return Tag{}, fmt.Errorf("client: no users to change in tag %q", name)
	}
	var last Tag
	for start := 0; start < len(users); start += wire.MaxTagUsers {
		part := users[start:min(start+wire.MaxTagUsers, len(users))]
		t, err := p.tagCall(ctx, wire.Tag{Op: op, Name: name, Users: part})
		if err != nil {
			return last, err
		}
		last = t
	}
	return last, nil
}

func (p *Publisher) tagCall(ctx context.Context, m wire.Tag) (Tag, error) {
	if err := wire.CheckTagName(m.Name); err != nil {
		return Tag{}, fmt.Errorf("client: %w", err)
	}
	if m.Op == wire.TagRename {
		if err := wire.CheckTagName(m.NewName); err != nil {
			return Tag{}, fmt.Errorf("client: %w", err)
		}
	}
	m.Account = p.cfg.Account
	r, err := p.call(ctx, fmt.Sprintf("tag %q", m.Name), func(id uint32) []byte {
		m.RequestID = id
		return wire.AppendTag(nil, m)
	})
	if err != nil {
		return Tag{}, err
	}
	if len(r.tags) != 1 {
		return Tag{}, fmt.Errorf("client: TAGS answer with %d tags, want 1", len(r.tags))
	}
	return r.tags[0], nil
}
