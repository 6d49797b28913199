package fanout

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Client tokens are signed with the newest of the server's token keys and
// verified against every key still accepted: the newest, and the ones a
// rotation replaced until their overlap ends. So a rotation disconnects
// nobody: tokens signed before it keep working for the overlap (by default
// as long as the default token lifetime), and tokens minted after it use
// the new key.
//
// The keys live in DataDir/token.keys (0600, JSON), never in the database,
// so that their permission is the file's own and can be checked:
//
//	{"keys": [{"key": "<base64 of 32 bytes>", "created": "…", "retires": "…"}]}
//
// newest first; "retires" is absent on the newest.
const tokenKeysName = "token.keys"

// tokenKey is one HMAC key. Retires is zero for the signing key.
type tokenKey struct {
	Key     []byte    `json:"key"`
	Created time.Time `json:"created"`
	Retires time.Time `json:"retires,omitzero"`
}

type tokenKeyFile struct {
	Keys []tokenKey `json:"keys"`
}

// tokenKeys is the server's key ring. Reads (every HELLO) take the current
// snapshot without a lock; rotations replace it under mu.
type tokenKeys struct {
	path string // "" in memory
	keys atomic.Pointer[[]tokenKey]
	mu   sync.Mutex
}

// loadTokenKeys reads DataDir/token.keys, creating it on first start with
// legacy as its key when that is not nil (a database from before the keys
// had their own file) or a random one. path "" keeps the keys in memory.
func loadTokenKeys(path string, legacy []byte) (*tokenKeys, error) {
	k := &tokenKeys{path: path}
	if path != "" {
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			var f tokenKeyFile
			if err := json.Unmarshal(b, &f); err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrTokenKeys, path, err)
			}
			if err := validKeys(f.Keys); err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrTokenKeys, path, err)
			}
			k.keys.Store(&f.Keys)
			return k, nil
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%w: %v", ErrTokenKeys, err)
		}
	}
	key := legacy
	if key == nil {
		var err error
		if key, err = newTokenKey(); err != nil {
			return nil, err
		}
	}
	keys := []tokenKey{{Key: key, Created: time.Now().UTC().Truncate(time.Second)}}
	if err := k.save(keys); err != nil {
		return nil, err
	}
	k.keys.Store(&keys)
	return k, nil
}

func validKeys(keys []tokenKey) error {
	if len(keys) == 0 {
		return errors.New("no keys")
	}
	for i, key := range keys {
		if len(key.Key) != 32 {
			return fmt.Errorf("key %d has %d bytes, not 32", i, len(key.Key))
		}
		if i > 0 && key.Retires.IsZero() {
			return fmt.Errorf("key %d (not the newest) has no retire time", i)
		}
	}
	return nil
}

func newTokenKey() ([]byte, error) {
	key := make([]byte, 32)
	_, err := rand.Read(key)
	return key, err
}

// signing returns the key new tokens are signed with.
func (k *tokenKeys) signing() []byte { return (*k.keys.Load())[0].Key }

// verify checks a token against every key accepted at now.
func (k *tokenKeys) verify(token string, now time.Time) (uint32, error) {
	for _, key := range *k.keys.Load() {
		if !key.Retires.IsZero() && !now.Before(key.Retires) {
			continue
		}
		user, verr := VerifyToken(key.Key, token, now)
		if verr == nil || errors.Is(verr, ErrTokenExpired) {
			return user, verr
		}
	}
	return 0, ErrTokenInvalid
}

// rotate makes a new signing key; the one it replaces is accepted for
// overlap more, and keys whose overlap has ended are dropped. It returns
// when the replaced key retires.
func (k *tokenKeys) rotate(overlap time.Duration, now time.Time) (time.Time, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	fresh, err := newTokenKey()
	if err != nil {
		return time.Time{}, err
	}
	now = now.UTC().Truncate(time.Second)
	old := *k.keys.Load()
	retires := now.Add(overlap)
	keys := []tokenKey{{Key: fresh, Created: now}}
	for i, key := range old {
		if i == 0 {
			key.Retires = retires
		}
		if key.Retires.After(now) {
			keys = append(keys, key)
		}
	}
	if err := k.save(keys); err != nil {
		return time.Time{}, err
	}
	k.keys.Store(&keys)
	return retires, nil
}

// save writes the keys to a temporary file, fsyncs it and renames it over
// the old one, so a crash leaves either the old keys or the new.
func (k *tokenKeys) save(keys []tokenKey) error {
	if k.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(tokenKeyFile{Keys: keys}, "", "  ")
	if err != nil {
		return err
	}
	tmp := k.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fileMode)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrTokenKeys, err)
	}
	_, werr := f.Write(append(b, '\n'))
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, k.path)
	}
	if werr == nil {
		werr = syncDir(filepath.Dir(k.path))
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("%w: writing %s: %v", ErrTokenKeys, k.path, werr)
	}
	return nil
}

// syncDir fsyncs a directory, making a rename in it durable.
func syncDir(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// TokenKeys returns the accepted token keys in token.keys' form (JSON,
// newest first), for the edges of a cluster, which verify and sign client
// tokens with them. They are secret.
func (e *Engine) TokenKeys() ([]byte, error) {
	return json.Marshal(tokenKeyFile{Keys: *e.tokenKeys.keys.Load()})
}

// KeyRing verifies and signs client tokens with keys an engine handed out
// (Engine.TokenKeys). Its zero value holds no key: it answers ErrUnavailable
// until Set.
type KeyRing struct{ k tokenKeys }

// Set replaces the keys by those in b (Engine.TokenKeys' form).
func (r *KeyRing) Set(b []byte) error {
	var f tokenKeyFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("%w: %v", ErrTokenKeys, err)
	}
	if err := validKeys(f.Keys); err != nil {
		return fmt.Errorf("%w: %v", ErrTokenKeys, err)
	}
	r.k.keys.Store(&f.Keys)
	return nil
}

// Verify checks a token against the keys accepted at now (ErrUnavailable
// before Set).
func (r *KeyRing) Verify(token string, now time.Time) (uint32, error) {
	if r.k.keys.Load() == nil {
		return 0, fmt.Errorf("%w: no token keys yet", ErrUnavailable)
	}
	return r.k.verify(token, now)
}

// Mint signs a token with the newest key (ErrUnavailable before Set).
func (r *KeyRing) Mint(user uint32, expires time.Time) (string, error) {
	if r.k.keys.Load() == nil {
		return "", fmt.Errorf("%w: no token keys yet", ErrUnavailable)
	}
	return MintToken(r.k.signing(), user, expires), nil
}
