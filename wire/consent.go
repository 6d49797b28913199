package wire

import (
	"encoding/binary"
	"fmt"

	"herald/internal/binread"
)

// CONSENT operations (the op byte).
const (
	ConsentGrant uint8 = 1 // allow Count more notifications of the template
	ConsentBan   uint8 = 2 // refuse the template for good, dropping grants left
	ConsentUnban uint8 = 3 // lift a ban (no grant comes with it)
)

// Limits on consents.
const (
	MaxGrant  = 100  // notifications one CONSENT grant allows
	MaxGrants = 1000 // grants a user may hold for one template
)

// Consent is a user's answer to an account's request to send one of its
// consent templates: a grant of Count notifications, a ban or its lifting.
// It is answered by OK (or ERROR).
type Consent struct {
	RequestID uint32
	Account   uint32
	Op        uint8
	Template  string
	Count     uint16 // ConsentGrant: 1 to MaxGrant; otherwise 0
}

// AppendConsent appends a CONSENT frame: request_id u32, account u32, op
// u8, template str8, count u16.
func AppendConsent(dst []byte, m Consent) []byte {
	start := len(dst)
	dst = AppendHeader(dst, TypeConsent, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, m.RequestID)
	dst = binary.BigEndian.AppendUint32(dst, m.Account)
	dst = append(dst, m.Op)
	dst = appendStr8(dst, m.Template)
	dst = binary.BigEndian.AppendUint16(dst, m.Count)
	return patchLength(dst, start)
}

// DecodeConsent decodes a CONSENT body and checks it: a known op, a valid
// template name, a count of 1 to MaxGrant for a grant and 0 otherwise.
func DecodeConsent(body []byte) (Consent, error) {
	r := binread.New(body)
	m := Consent{RequestID: r.U32(), Account: r.U32(), Op: r.U8(), Template: r.Str8(255), Count: r.U16()}
	if err := done(r, TypeConsent); err != nil {
		return m, err
	}
	switch {
	case m.Op < ConsentGrant || m.Op > ConsentUnban:
		return m, fmt.Errorf("%w: unknown consent operation %d", ErrInvalid, m.Op)
	case m.Op == ConsentGrant && (m.Count == 0 || m.Count > MaxGrant):
		return m, fmt.Errorf("%w: a grant allows 1 to %d notifications, not %d", ErrInvalid, MaxGrant, m.Count)
	case m.Op != ConsentGrant && m.Count != 0:
		return m, fmt.Errorf("%w: only a grant carries a count", ErrInvalid)
	}
	return m, CheckName("template", m.Template)
}
