package node

import "testing"

func TestSizesParse(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "2MiB": 2 << 20, "64KiB": 64 << 10, "1 GiB": 1 << 30, "1MB": 1e6, "1.5KiB": 1536, "16M": 16 << 20} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "2 parsecs", "1e30GiB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) succeeded", in)
		}
	}
}
