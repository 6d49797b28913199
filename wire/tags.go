package wire

import (
	"encoding/binary"

	"herald/internal/binread"
)

// TAG operations (the op byte).
const (
	TagCreate uint8 = 1 // create an empty tag called Name
	TagRename uint8 = 2 // rename Name to NewName (id and members stay)
	TagDelete uint8 = 3 // delete Name and its members
	TagAdd    uint8 = 4 // add Users to Name
	TagRemove uint8 = 5 // remove Users from Name
	TagList   uint8 = 6 // list every tag of the account (Name empty)
)

// MaxTagUsers is the most user ids one TAG add or remove carries.
const MaxTagUsers = 10000

// Tag asks for one change to the account's tags, or for their list.
type Tag struct {
	RequestID uint32
	Account   uint32
	Op        uint8
	Name      string
	NewName   string   // TagRename
	Users     []uint32 // TagAdd, TagRemove
}

// AppendTag appends a TAG frame.
func AppendTag(dst []byte, m Tag) []byte {
	start := len(dst)
	dst = AppendHeader(dst, TypeTag, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, m.RequestID)
	dst = binary.BigEndian.AppendUint32(dst, m.Account)
	dst = append(dst, m.Op)
	dst = appendStr8(dst, m.Name)
	switch m.Op {
	case TagRename:
		dst = appendStr8(dst, m.NewName)
	case TagAdd, TagRemove:
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(m.Users)))
		for _, u := range m.Users {
			dst = binary.BigEndian.AppendUint32(dst, u)
		}
	}
	return patchLength(dst, start)
}

// DecodeTag decodes a TAG body. It checks the layout only; names, the op
// and the number of users are checked by the server, which answers a bad
// one with BAD_REQUEST.
func DecodeTag(body []byte) (Tag, error) {
	r := binread.New(body)
	m := Tag{RequestID: r.U32(), Account: r.U32(), Op: r.U8(), Name: r.Str8(255)}
	switch m.Op {
	case TagRename:
		m.NewName = r.Str8(255)
	case TagAdd, TagRemove:
		m.Users = make([]uint32, min(int(r.U16()), r.Len()/4+1))
		for i := range m.Users {
			m.Users[i] = r.U32()
		}
	}
	return m, done(r, TypeTag)
}

// TagInfo is one tag in a TAGS answer.
type TagInfo struct {
	ID      uint32
	Members uint64
	Name    string
}

// Tags answers TAG: the tag changed (as it was, for a delete) or, for a
// list, every tag of the account.
type Tags struct {
	RequestID uint32
	Tags      []TagInfo
}

// AppendTags appends a TAGS frame.
func AppendTags(dst []byte, m Tags) []byte {
	start := len(dst)
	dst = AppendHeader(dst, TypeTags, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, m.RequestID)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(m.Tags)))
	for _, t := range m.Tags {
		dst = binary.BigEndian.AppendUint32(dst, t.ID)
		dst = binary.BigEndian.AppendUint64(dst, t.Members)
		dst = appendStr8(dst, t.Name)
	}
	return patchLength(dst, start)
}

// DecodeTags decodes a TAGS body.
func DecodeTags(body []byte) (Tags, error) {
	r := binread.New(body)
	m := Tags{RequestID: r.U32()}
	n := int(r.U16())
	for i := 0; i < n && !r.Short(); i++ {
		m.Tags = append(m.Tags, TagInfo{ID: r.U32(), Members: r.U64(), Name: r.Str8(255)})
	}
	return m, done(r, TypeTags)
}
