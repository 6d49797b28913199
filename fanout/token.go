package fanout

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"time"
)

// Client tokens are
//
//	base64url(payload) "." base64url(HMAC-SHA256(secret, payload))
//
// with payload = version u8 (1) | user u32 | expiry u64 (Unix seconds),
// big-endian, and base64url without padding. The secret is created with the
// database and never leaves the server; tokens are minted by the admin API.
const tokenVersion = 1

// MintToken signs a token for user that expires at expiry.
func MintToken(secret []byte, user uint32, expiry time.Time) string {
	payload := make([]byte, 0, 13)
	payload = append(payload, tokenVersion)
	payload = binary.BigEndian.AppendUint32(payload, user)
	payload = binary.BigEndian.AppendUint64(payload, uint64(expiry.Unix()))
	mac := hmac.New(sha256.New, secret)
	mac.Write(payload)
	return tokenEncoding.EncodeToString(payload) + "." + tokenEncoding.EncodeToString(mac.Sum(nil))
}

// tokenEncoding is unpadded base64url, strict: a token has exactly one
// spelling, so no other string (a trailing newline, bits set past the
// data) is accepted in its place.
var tokenEncoding = base64.RawURLEncoding.Strict()

// VerifyToken checks a token's signature and expiry and returns its user.
// Anything but the exact characters MintToken writes is invalid.
func VerifyToken(secret []byte, token string, now time.Time) (uint32, error) {
	if strings.ContainsFunc(token, func(r rune) bool {
		return !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.')
	}) {
		return 0, ErrTokenInvalid // base64 decoders skip newlines
	}
	encPayload, encSig, ok := strings.Cut(token, ".")
	if !ok {
		return 0, ErrTokenInvalid
	}
	payload, err := tokenEncoding.DecodeString(encPayload)
	if err != nil || len(payload) != 13 || payload[0] != tokenVersion {
		return 0, ErrTokenInvalid
	}
	sig, err := tokenEncoding.DecodeString(encSig)
	if err != nil {
		return 0, ErrTokenInvalid
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(payload)
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return 0, ErrTokenInvalid
	}
	user := binary.BigEndian.Uint32(payload[1:])
	if expiry := binary.BigEndian.Uint64(payload[5:]); uint64(now.Unix()) >= expiry {
		return 0, ErrTokenExpired
	}
	return user, nil
}

// expiryOf returns the expiry a well-formed token carries (tests).
func expiryOf(token string) time.Time {
	payload, _, _ := strings.Cut(token, ".")
	b, err := tokenEncoding.DecodeString(payload)
	if err != nil || len(b) != 13 {
		return time.Time{}
	}
	return time.Unix(int64(binary.BigEndian.Uint64(b[5:])), 0)
}
