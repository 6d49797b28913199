package fanout

import (
	"testing"
	"time"
)

// FuzzVerifyToken: any string is a valid token only if it is exactly what
// MintToken writes for its user and expiry; nothing panics.
func FuzzVerifyToken(f *testing.F) {
	key := make([]byte, 32)
	valid := MintToken(key, 42, time.Unix(2_000_000_000, 0))
	for _, seed := range []string{valid, valid + "\n", "", ".", "a.b", valid[:len(valid)-1], "AAAAAAAAAAAAAAAAAA.AAAA"} {
		f.Add(seed)
	}
	now := time.Unix(1_900_000_000, 0)
	f.Fuzz(func(t *testing.T, token string) {
		user, err := VerifyToken(key, token, now)
		if err != nil {
			return
		}
		if again := MintToken(key, user, expiryOf(token)); again != token {
			t.Fatalf("%q verified as user %d, but that token is %q", token, user, again)
		}
	})
}
