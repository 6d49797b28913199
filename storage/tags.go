package storage

import (
	"errors"
	"fmt"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"

	"herald/storage/internal/codec"
)

// Tag is a named set of users within one account; see codec.Tag. Tag ids
// are global and never reused, so an id names one tag of one account for
// good; names are unique within an account.
type Tag = codec.Tag

// ErrExists: a tag of that name already exists in the account.
var ErrExists = errors.New("storage: already exists")

func tagMembers(tag uint32) chunkedSet { return chunkedSet{prefix: tagMembersPrefix(tag)} }

func readTag(r pebble.Reader, id uint32) (Tag, error) {
	key := tagKey(id)
	var t Tag
	found, err := get(r, key, func(v []byte) (err error) {
		t, err = codec.DecodeTag(v, id)
		return corrupt(key, err)
	})
	if err == nil && !found {
		err = fmt.Errorf("%w: tag #%d", ErrNotFound, id)
	}
	return t, err
}

func readTagByName(r pebble.Reader, account uint32, name string) (Tag, error) {
	key := tagNameKey(account, name)
	var id uint32
	found, err := get(r, key, func(v []byte) (err error) {
		id, err = decodeAt(key, v, codec.DecodeU32)
		return err
	})
	if err != nil {
		return Tag{}, err
	}
	if !found {
		return Tag{}, fmt.Errorf("%w: tag %q", ErrNotFound, name)
	}
	t, err := readTag(r, id)
	if err == nil && (t.Account != account || t.Name != name) {
		err = fmt.Errorf("%w: %s names tag #%d, which is %q of account %d", ErrCorrupt, keyString(key), id, t.Name, t.Account)
	}
	return t, err
}

func listTags(r pebble.Reader, account uint32) ([]Tag, error) {
	prefix := tagNamePrefix(account)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []Tag
	for valid := it.First(); valid; valid = it.Next() {
		t, err := readTagByName(r, account, string(it.Key()[len(prefix):]))
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, it.Error()
}

// Tag returns the committed tag with this id, or an error wrapping
// ErrNotFound.
func (s *Store) Tag(id uint32) (Tag, error) { return readTag(s.db, id) }

// TagMembers returns the committed members of a tag, shared with the set
// cache: the caller must not modify them.
func (s *Store) TagMembers(tag uint32) (*roaring.Bitmap, error) { return s.sharedSet(tagMembers(tag)) }

// CreateTag creates an empty tag; a name the account already uses is an
// error wrapping ErrExists. Names are checked by the caller.
func (b *Batch) CreateTag(account uint32, name string) (Tag, error) {
	if err := b.tagNameFree(account, name); err != nil {
		return Tag{}, err
	}
	b.lastTag++
	t := Tag{ID: b.lastTag, Account: account, Name: name}
	if err := b.set(metaKey("last-tag"), codec.EncodeU32(b.lastTag)); err != nil {
		return Tag{}, err
	}
	if err := b.set(tagNameKey(account, name), codec.EncodeU32(t.ID)); err != nil {
		return Tag{}, err
	}
	return t, b.set(tagKey(t.ID), codec.EncodeTag(t))
}

// tagNameFree fails with ErrExists when the account has a tag called name.
func (b *Batch) tagNameFree(account uint32, name string) error {
	_, err := readTagByName(b.batch, account, name)
	switch {
	case err == nil:
		return fmt.Errorf("%w: tag %q", ErrExists, name)
	case errors.Is(err, ErrNotFound):
		return nil
	}
	return err
}

// RenameTag gives the account's tag name the name to; its id and members
// stay.
func (b *Batch) RenameTag(account uint32, name, to string) (Tag, error) {
	t, err := readTagByName(b.batch, account, name)
	if err != nil || name == to {
		return t, err
	}
	if err := b.tagNameFree(account, to); err != nil {
		return Tag{}, err
	}
	if err := b.batch.Delete(tagNameKey(account, name), nil); err != nil {
		return Tag{}, err
	}
	t.Name = to
	if err := b.set(tagNameKey(account, to), codec.EncodeU32(t.ID)); err != nil {
		return Tag{}, err
	}
	return t, b.set(tagKey(t.ID), codec.EncodeTag(t))
}

// DeleteTag removes the account's tag and its members (a range delete) and
// returns it as it was.
func (b *Batch) DeleteTag(account uint32, name string) (Tag, error) {
	t, err := readTagByName(b.batch, account, name)
	if err != nil {
		return t, err
	}
	prefix := tagMembersPrefix(t.ID)
	if err := b.batch.DeleteRange(prefix, prefixEnd(prefix), nil); err != nil {
		return Tag{}, err
	}
	b.droppedSets = append(b.droppedSets, string(prefix))
	if err := b.batch.Delete(tagNameKey(account, name), nil); err != nil {
		return Tag{}, err
	}
	return t, b.batch.Delete(tagKey(t.ID), nil)
}

// ChangeTag adds users to (or removes them from) the account's tag and
// returns the tag with its new member count. users is sorted in place.
func (b *Batch) ChangeTag(account uint32, name string, users []uint32, add bool) (Tag, error) {
	t, err := readTagByName(b.batch, account, name)
	if err != nil {
		return t, err
	}
	changed, err := b.changeSet(tagMembers(t.ID), users, add, nil)
	if err != nil || changed == 0 {
		return t, err
	}
	if add {
		t.Members += uint64(changed)
	} else {
		t.Members -= min(t.Members, uint64(changed))
	}
	return t, b.set(tagKey(t.ID), codec.EncodeTag(t))
}
