package wire

import (
	"encoding/binary"
	"fmt"

	"herald/internal/binread"
)

// Limits on notifications (template messages).
const (
	MaxNotifyUsers = 100  // recipients one NOTIFY lists
	MaxFieldValue  = 1024 // bytes of one field's value
	MaxLink        = 2048 // bytes of a notification's link
)

// Field is one named value of a notification.
type Field struct {
	Name, Value string
}

// Notification is what a template message carries: the template it
// fills, its fields by name and an optional link. Its encoding
// (AppendNotification) is the payload of a PUSH with FlagNotification.
type Notification struct {
	Template string
	Link     string
	Fields   []Field
}

// AppendNotification appends a notification's encoding: template str8,
// link str16, a field count u8 and each field's name str8 and value str16.
func AppendNotification(dst []byte, n Notification) []byte {
	dst = appendStr8(dst, n.Template)
	dst = appendStr16(dst, n.Link)
	dst = append(dst, byte(len(n.Fields)))
	for _, f := range n.Fields {
		dst = appendStr8(dst, f.Name)
		dst = appendStr16(dst, f.Value)
	}
	return dst
}

// DecodeNotification decodes a notification (a PUSH payload with
// FlagNotification, after decompression) and checks it (Validate).
func DecodeNotification(b []byte) (Notification, error) {
	r := binread.New(b)
	n := readNotification(r)
	if !r.OK() {
		return Notification{}, fmt.Errorf("%w: bad notification", ErrMalformed)
	}
	return n, n.Validate()
}

func readNotification(r *binread.Reader) Notification {
	n := Notification{Template: r.Str8(MaxName), Link: r.Str16(MaxLink)}
	count := int(r.U8())
	if count > MaxFields {
		r.Fail()
		return n
	}
	for i := 0; i < count && !r.Short(); i++ {
		n.Fields = append(n.Fields, Field{Name: r.Str8(MaxName), Value: r.Str16(MaxFieldValue)})
	}
	return n
}

// Validate checks a notification against the protocol's rules: a valid
// template name (CheckName), at most MaxFields fields with valid, distinct
// names and values of at most MaxFieldValue bytes, a link of at most
// MaxLink bytes. Whether the template has those fields is the server's
// check (UNKNOWN_TEMPLATE).
func (n Notification) Validate() error {
	if err := CheckName("template", n.Template); err != nil {
		return err
	}
	if len(n.Link) > MaxLink {
		return fmt.Errorf("%w: a link is at most %d bytes, not %d", ErrInvalid, MaxLink, len(n.Link))
	}
	if len(n.Fields) > MaxFields {
		return fmt.Errorf("%w: a notification has at most %d fields, not %d", ErrInvalid, MaxFields, len(n.Fields))
	}
	for i, f := range n.Fields {
		if err := CheckName("field", f.Name); err != nil {
			return err
		}
		if len(f.Value) > MaxFieldValue {
			return fmt.Errorf("%w: field %q: a value is at most %d bytes, not %d", ErrInvalid, f.Name, MaxFieldValue, len(f.Value))
		}
		for _, g := range n.Fields[:i] {
			if g.Name == f.Name {
				return fmt.Errorf("%w: field %q given twice", ErrInvalid, f.Name)
			}
		}
	}
	return nil
}

// Notify asks the server to store and send one notification to listed
// users. It is answered like PUBLISH: PUBLISH_ACK once durable (or
// ERROR), then JOB_DONE.
type Notify struct {
	// DryRun is FlagDryRun in the frame header: check and count only.
	DryRun      bool
	RequestID   uint32
	Account     uint32
	ClientMsgID string
	TTLSeconds  uint32
	Users       []uint32
	Notification
}

// AppendNotify appends a NOTIFY frame: request_id u32, account u32,
// client_msg_id str8, ttl_seconds u32, a user count u16 and that many
// u32 ids, then the notification (AppendNotification).
func AppendNotify(dst []byte, m Notify) []byte {
	start := len(dst)
	var flags uint8
	if m.DryRun {
		flags = FlagDryRun
	}
	dst = AppendHeader(dst, TypeNotify, flags, 0)
	dst = binary.BigEndian.AppendUint32(dst, m.RequestID)
	dst = binary.BigEndian.AppendUint32(dst, m.Account)
	dst = appendStr8(dst, m.ClientMsgID)
	dst = binary.BigEndian.AppendUint32(dst, m.TTLSeconds)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(m.Users)))
	for _, u := range m.Users {
		dst = binary.BigEndian.AppendUint32(dst, u)
	}
	dst = AppendNotification(dst, m.Notification)
	return patchLength(dst, start)
}

// DecodeNotify decodes a NOTIFY body's layout; Validate checks its
// fields.
func DecodeNotify(body []byte) (Notify, error) {
	r := binread.New(body)
	m := Notify{RequestID: r.U32(), Account: r.U32(), ClientMsgID: r.Str8(255), TTLSeconds: r.U32()}
	n := int(r.U16())
	if n > r.Len()/4 {
		r.Fail()
	} else {
		m.Users = make([]uint32, n)
		for i := range m.Users {
			m.Users[i] = r.U32()
		}
	}
	m.Notification = readNotification(r)
	return m, done(r, TypeNotify)
}

// Validate checks a decoded NOTIFY: the client_msg_id (as PUBLISH's), 1 to
// MaxNotifyUsers users, and the notification (Notification.Validate).
func (m Notify) Validate() error {
	switch {
	case len(m.ClientMsgID) == 0 || len(m.ClientMsgID) > MaxClientMsgID:
		return fmt.Errorf("%w: client_msg_id is 1 to %d bytes, not %d", ErrInvalid, MaxClientMsgID, len(m.ClientMsgID))
	case len(m.Users) == 0 || len(m.Users) > MaxNotifyUsers:
		return fmt.Errorf("%w: a notification goes to 1 to %d users, not %d", ErrInvalid, MaxNotifyUsers, len(m.Users))
	}
	return m.Notification.Validate()
}
