package wire

import (
	"encoding/binary"

	"herald/internal/binread"
)

// CurvePoints is how many points a broadcast's delivery curve has.
const CurvePoints = 5

// CurveSeconds are the delivery curve's points: delivered within 1 s,
// 10 s, 1 min, 1 h and 1 day of the publish.
var CurveSeconds = [CurvePoints]uint32{1, 10, 60, 3600, 86400}

// Flags on STATUS and REACH.
const (
	// FlagReach on STATUS: answer with REACH rather than JOB_DONE.
	FlagReach uint8 = 1 << 0
	// FlagWatch on STATUS (with FlagReach): after the answer, send REACH
	// again, with the same request id, whenever the counts change, until
	// a STATUS of the same message with FlagUnwatch.
	FlagWatch uint8 = 1 << 1
	// FlagUnwatch on STATUS (with FlagReach): end the watch of the message
	// (if any), answering one REACH.
	FlagUnwatch uint8 = 1 << 2
	// FlagRetracted on REACH: the broadcast was retracted.
	FlagRetracted uint8 = 1 << 2
	// FlagPreview on REACH: the broadcast is a preview.
	FlagPreview uint8 = 1 << 3
	// FlagNotKept on REACH: no analytics were kept for the broadcast
	// (published with analytics off); only the JOB_DONE counts are set.
	FlagNotKept uint8 = 1 << 4
)

// MaxWatches is the most broadcasts one publisher connection watches at
// once (STATUS with FlagWatch); one more is LIMIT_EXCEEDED.
const MaxWatches = 16

// Reach is a broadcast's delivery report and analytics, each recipient
// counted once (REACH). Flags: FlagInProgress and FlagInterrupted as on
// JOB_DONE, FlagRetracted, FlagPreview, FlagNotKept.
type Reach struct {
	RequestID       uint32
	MessageID       uint64
	PublishedMillis uint64
	Total           uint32 // audience resolved, as in PUBLISH_ACK
	Filtered        uint32 // at the per-follower cap, as in PUBLISH_ACK
	NotSelected     uint32 // followers the list or expression left out
	Blocked         uint32 // selected followers on the blocklist
	SentLive        uint32 // as in JOB_DONE
	Errors          uint32 // as in JOB_DONE
	Delivered       uint32 // recipients whose cumulative ACK covers it
	CaughtUp        uint32 // of Delivered, those sent it on a catch-up page
	Opened          uint32 // recipients whose client sent OPENED for it
	Curve           [CurvePoints]uint32
}

// reachSize is a REACH body's length.
const reachSize = 4 + 8 + 8 + 9*4 + CurvePoints*4

// AppendReach appends a REACH frame.
func AppendReach(dst []byte, m Reach, flags uint8) []byte {
	dst = AppendHeader(dst, TypeReach, flags, reachSize)
	dst = binary.BigEndian.AppendUint32(dst, m.RequestID)
	dst = binary.BigEndian.AppendUint64(dst, m.MessageID)
	dst = binary.BigEndian.AppendUint64(dst, m.PublishedMillis)
	for _, v := range []uint32{m.Total, m.Filtered, m.NotSelected, m.Blocked, m.SentLive, m.Errors, m.Delivered, m.CaughtUp, m.Opened} {
		dst = binary.BigEndian.AppendUint32(dst, v)
	}
	for _, v := range m.Curve {
		dst = binary.BigEndian.AppendUint32(dst, v)
	}
	return dst
}

// DecodeReach decodes a REACH body.
func DecodeReach(body []byte) (Reach, error) {
	r := binread.New(body)
	m := Reach{RequestID: r.U32(), MessageID: r.U64(), PublishedMillis: r.U64()}
	for _, p := range []*uint32{&m.Total, &m.Filtered, &m.NotSelected, &m.Blocked, &m.SentLive, &m.Errors, &m.Delivered, &m.CaughtUp, &m.Opened} {
		*p = r.U32()
	}
	for i := range m.Curve {
		m.Curve[i] = r.U32()
	}
	return m, done(r, TypeReach)
}

// AppendStatusFlags appends a STATUS frame with flags (FlagReach,
// FlagWatch).
func AppendStatusFlags(dst []byte, m Status, flags uint8) []byte {
	start := len(dst)
	dst = AppendStatus(dst, m)
	dst[start+5] = flags
	return dst
}

// AppendOpened appends an OPENED frame: the user opened broadcast id.
func AppendOpened(dst []byte, id uint64) []byte {
	dst = AppendHeader(dst, TypeOpened, 0, 8)
	return binary.BigEndian.AppendUint64(dst, id)
}

// DecodeOpened decodes an OPENED body.
func DecodeOpened(body []byte) (uint64, error) {
	r := binread.New(body)
	id := r.U64()
	return id, done(r, TypeOpened)
}
