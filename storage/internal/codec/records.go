package codec

import "fmt"

// Tier is an account's quota class (DESIGN.md, Quotas).
type Tier uint8

// Tiers. Their quotas are enforced by the fan-out engine.
const (
	TierSubscription Tier = 1
	TierVerified     Tier = 2
	TierService      Tier = 3
)

var tierNames = map[Tier]string{TierSubscription: "subscription", TierVerified: "verified", TierService: "service"}

func (t Tier) String() string {
	if name, ok := tierNames[t]; ok {
		return name
	}
	return fmt.Sprintf("tier-%d", uint8(t))
}

// Valid reports whether t can be stored: any tier but zero. Tiers beyond
// the three built in are named and given quotas by the server's
// configuration.
func (t Tier) Valid() bool { return t != 0 }

// ParseTier parses a tier name.
func ParseTier(name string) (Tier, error) {
	for t, n := range tierNames {
		if n == name {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown tier %q (want subscription, verified or service)", name)
}

// Account is a publishing account. SecretHash is the SHA-256 of its
// publisher secret; the secret itself is never stored.
type Account struct {
	ID            uint32
	Name          string
	Tier          Tier
	SecretHash    [32]byte
	CreatedMillis uint64
}

// EncodeAccount seals an account record (its id is the key).
func EncodeAccount(a Account) []byte {
	var w Writer
	w.U8(uint8(a.Tier))
	w.Raw(a.SecretHash[:])
	w.U64(a.CreatedMillis)
	w.Str(a.Name)
	return Seal(w.B)
}

// DecodeAccount checks and decodes the account stored under id.
func DecodeAccount(v []byte, id uint32) (Account, error) {
	body, err := Open(v)
	if err != nil {
		return Account{}, err
	}
	r := NewReader(body)
	a := Account{ID: id, Tier: Tier(r.U8())}
	copy(a.SecretHash[:], r.Take(32))
	a.CreatedMillis = r.U64()
	a.Name = r.Str()
	if err := r.Finish("account"); err != nil {
		return Account{}, err
	}
	if !a.Tier.Valid() {
		return Account{}, fmt.Errorf("%w: unknown tier %d", ErrCorrupt, a.Tier)
	}
	return a, nil
}

// Broadcast is one entry of the broadcast log. Its audience is stored beside
// it, frozen at publish time.
type Broadcast struct {
	ID          uint64
	Account     uint32
	TimeMillis  uint64
	TTLSeconds  uint32 // zero: kept for the whole retention period
	ClientMsgID string
	ContentType string
	Total       uint32 // audience resolved
	Filtered    uint32 // removed by policy
	// Retracted broadcasts keep their record, without payload, so that ids,
	// counts and idempotency still answer; catch-up skips them.
	Retracted bool
	// Preview: sent to listed test users, outside any quota.
	Preview bool
	// Notification: a template message; Payload is its encoding
	// (wire.AppendNotification).
	Notification bool
	// Reply: the account's reply to one user within the service window.
	Reply   bool
	Payload []byte
}

// Expired reports whether the broadcast's TTL has passed at nowMillis.
func (m Broadcast) Expired(nowMillis uint64) bool {
	return m.TTLSeconds > 0 && m.TimeMillis+uint64(m.TTLSeconds)*1000 <= nowMillis
}

// Broadcast record flags.
const (
	broadcastRetracted = 1 << 0
	broadcastPreview   = 1 << 1
	broadcastNotify    = 1 << 2
	broadcastReply     = 1 << 3
)

// EncodeBroadcast seals a broadcast record (its id is the key).
func EncodeBroadcast(m Broadcast) []byte {
	var w Writer
	w.U32(m.Account)
	w.U64(m.TimeMillis)
	w.U32(m.TTLSeconds)
	w.U32(m.Total)
	w.U32(m.Filtered)
	var flags uint8
	if m.Retracted {
		flags |= broadcastRetracted
	}
	if m.Preview {
		flags |= broadcastPreview
	}
	if m.Notification {
		flags |= broadcastNotify
	}
	if m.Reply {
		flags |= broadcastReply
	}
	w.U8(flags)
	w.Str(m.ClientMsgID)
	w.Str(m.ContentType)
	w.Raw(m.Payload)
	return Seal(w.B)
}

// DecodeBroadcast checks and decodes the broadcast stored under id.
func DecodeBroadcast(v []byte, id uint64) (Broadcast, error) {
	body, err := Open(v)
	if err != nil {
		return Broadcast{}, err
	}
	r := NewReader(body)
	m := Broadcast{ID: id, Account: r.U32(), TimeMillis: r.U64(), TTLSeconds: r.U32(), Total: r.U32(), Filtered: r.U32()}
	flags := r.U8()
	if flags&^(broadcastRetracted|broadcastPreview|broadcastNotify|broadcastReply) != 0 {
		return Broadcast{}, fmt.Errorf("%w: unknown broadcast flags %#x", ErrCorrupt, flags)
	}
	m.Retracted = flags&broadcastRetracted != 0
	m.Preview = flags&broadcastPreview != 0
	m.Notification = flags&broadcastNotify != 0
	m.Reply = flags&broadcastReply != 0
	m.ClientMsgID = r.Str()
	m.ContentType = r.Str()
	m.Payload = r.Rest()
	return m, r.Finish("broadcast")
}

// Idempotency maps a client_msg_id to the message it produced.
type Idempotency struct {
	MessageID uint64
	AtMillis  uint64
}

// EncodeIdempotency seals an idempotency record.
func EncodeIdempotency(rec Idempotency) []byte {
	var w Writer
	w.U64(rec.MessageID)
	w.U64(rec.AtMillis)
	return Seal(w.B)
}

// DecodeIdempotency checks and decodes an idempotency record.
func DecodeIdempotency(v []byte) (Idempotency, error) {
	body, err := Open(v)
	if err != nil {
		return Idempotency{}, err
	}
	r := NewReader(body)
	rec := Idempotency{MessageID: r.U64(), AtMillis: r.U64()}
	return rec, r.Finish("idempotency")
}

// Tag is a named set of users within one account. Members counts them, so
// listing tags reads no member chunk.
type Tag struct {
	ID      uint32
	Account uint32
	Name    string
	Members uint64
}

// EncodeTag seals a tag record (its id is the key).
func EncodeTag(t Tag) []byte {
	var w Writer
	w.U32(t.Account)
	w.U64(t.Members)
	w.Str(t.Name)
	return Seal(w.B)
}

// DecodeTag checks and decodes the tag stored under id.
func DecodeTag(v []byte, id uint32) (Tag, error) {
	body, err := Open(v)
	if err != nil {
		return Tag{}, err
	}
	r := NewReader(body)
	t := Tag{ID: id, Account: r.U32(), Members: r.U64(), Name: r.Str()}
	if err := r.Finish("tag"); err != nil {
		return Tag{}, err
	}
	if t.Account == 0 || t.Name == "" {
		return Tag{}, fmt.Errorf("%w: tag without account or name", ErrCorrupt)
	}
	return t, nil
}
