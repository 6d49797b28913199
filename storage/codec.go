package storage

import "fmt"

// corrupt names the key whose value failed to decode.
func corrupt(key []byte, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", keyString(key), err)
}

// decodeAt runs a codec decoder on the value under key and names the key in
// its error.
func decodeAt[T any](key, v []byte, decode func([]byte) (T, error)) (T, error) {
	out, err := decode(v)
	return out, corrupt(key, err)
}
