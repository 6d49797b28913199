package server

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
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// VerifyToken checks a token's signature and expiry and returns its user.
func VerifyToken(secret []byte, token string, now time.Time) (uint32, error) {
	encPayload, encSig, ok := strings.Cut(token, ".")
	if !ok {
		return 0, ErrTokenInvalid
	}
	payload, err := base64.RawURLEncoding.DecodeString(encPayload)
	if err != nil || len(payload) != 13 || payload[0] != tokenVersion {
		return 0, ErrTokenInvalid
	}
	sig, err := base64.RawURLEncoding.DecodeString(encSig)
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
