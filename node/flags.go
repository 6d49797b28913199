package node

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeValue is a byte count written as a number with an optional unit:
// 4096, 64KiB, 1MiB, 2GiB, or 1MB (decimal). Zero prints as nothing.
type sizeValue[T ~int | ~int64] struct{ n *T }

// size returns a flag value that sets *n.
func size[T ~int | ~int64](n *T) sizeValue[T] { return sizeValue[T]{n: n} }

var sizeUnits = []struct {
	suffix string
	bytes  int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
}

func (v sizeValue[T]) String() string {
	n := int64(*v.n)
	if n == 0 {
		return ""
	}
	for _, u := range []struct {
		suffix string
		bytes  int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n%u.bytes == 0 {
			return fmt.Sprintf("%d%s", n/u.bytes, u.suffix)
		}
	}
	return strconv.FormatInt(n, 10)
}

func (v sizeValue[T]) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	if int64(T(n)) != n {
		return fmt.Errorf("%q is too large", s)
	}
	*v.n = T(n)
	return nil
}

func (v sizeValue[T]) Type() string { return "size" }

// parseSize reads "1048576", "1MiB", "64 KiB", "1.5GiB" or "2MB".
func parseSize(s string) (int64, error) {
	text := strings.TrimSpace(s)
	unit := int64(1)
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(text, u.suffix); ok {
			text, unit = strings.TrimSpace(rest), u.bytes
			break
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || !(f >= 0) || f*float64(unit) > math.MaxInt64/2 { // !(f >= 0) refuses NaN too
		return 0, fmt.Errorf("%q is not a size (a number of bytes, or with a unit: 64KiB, 1MiB, 2GiB, 1MB)", s)
	}
	return int64(f * float64(unit)), nil
}
