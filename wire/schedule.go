package wire

import (
	"encoding/binary"
	"fmt"

	"herald/internal/binread"
)

// Scheduled broadcasts: SCHEDULE is a PUBLISH to send at a time; its
// audience is resolved and its quota counted then. CANCEL withdraws one
// not sent yet. The client_msg_id names a scheduled broadcast.

// Schedule asks the server to send a broadcast at SendAtMillis.
type Schedule struct {
	SendAtMillis uint64
	// Publish is the broadcast, as a PUBLISH carries it (its RequestID is
	// the SCHEDULE's; DryRun is not allowed).
	Publish
}

// AppendSchedule appends a SCHEDULE frame: request_id u32, send_at_ms
// u64, then the rest of a PUBLISH body (account, client_msg_id, ttl,
// audience kind and bytes, content type, payload).
func AppendSchedule(dst []byte, m Schedule) []byte {
	start := len(dst)
	dst = AppendHeader(dst, TypeSchedule, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, m.RequestID)
	dst = binary.BigEndian.AppendUint64(dst, m.SendAtMillis)
	publish := AppendPublish(nil, m.Publish)
	dst = append(dst, publish[HeaderSize+4:]...)
	return patchLength(dst, start)
}

// DecodeSchedule decodes a SCHEDULE body's layout; Publish.Validate checks
// its fields.
func DecodeSchedule(body []byte) (Schedule, error) {
	if len(body) < 12 {
		return Schedule{}, fmt.Errorf("%w: bad %s body", ErrMalformed, TypeSchedule)
	}
	rest := append(append(make([]byte, 0, len(body)-8), body[:4]...), body[12:]...)
	p, err := DecodePublish(rest)
	if err != nil {
		return Schedule{}, fmt.Errorf("%w: bad %s body", ErrMalformed, TypeSchedule)
	}
	return Schedule{SendAtMillis: binary.BigEndian.Uint64(body[4:]), Publish: p}, nil
}

// Cancel withdraws a scheduled broadcast not sent yet.
type Cancel struct {
	RequestID   uint32
	Account     uint32
	ClientMsgID string
}

// AppendCancel appends a CANCEL frame: request_id u32, account u32,
// client_msg_id str8.
func AppendCancel(dst []byte, m Cancel) []byte {
	start := len(dst)
	dst = AppendHeader(dst, TypeCancel, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, m.RequestID)
	dst = binary.BigEndian.AppendUint32(dst, m.Account)
	dst = appendStr8(dst, m.ClientMsgID)
	return patchLength(dst, start)
}

// DecodeCancel decodes a CANCEL body.
func DecodeCancel(body []byte) (Cancel, error) {
	r := binread.New(body)
	m := Cancel{RequestID: r.U32(), Account: r.U32(), ClientMsgID: r.Str8(MaxClientMsgID)}
	if err := done(r, TypeCancel); err != nil {
		return m, err
	}
	if m.ClientMsgID == "" {
		return m, fmt.Errorf("%w: CANCEL names a client_msg_id", ErrInvalid)
	}
	return m, nil
}
