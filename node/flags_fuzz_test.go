package node

import (
	"strings"
	"testing"
)

// FuzzParseSize: a size parses to a non-negative byte count or is refused;
// nothing panics, and the sizes the help prints parse back to themselves.
func FuzzParseSize(f *testing.F) {
	for _, seed := range []string{"4096", "1MiB", "2 GiB", "1.5KiB", "64K", "1MB", "", "-1", "1e400", "NaN", "InfGiB"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("%q parsed to %d", s, n)
		}
		var v int64 = n
		printed := size(&v).String()
		if printed == "" {
			return // zero prints as no default
		}
		back, err := parseSize(printed)
		if err != nil || back != n || strings.TrimSpace(printed) != printed {
			t.Fatalf("%q → %d prints as %q, which parses to %d, %v", s, n, printed, back, err)
		}
	})
}
